"""The ``term_docs`` table: how many papers hold each term, and how many in their title, kept exact at ingest.

FTS5 can say how many papers contain a term (``fts5vocab``'s ``doc``), but only by walking the
term's whole posting list: ~4 s for the ~200 terms of one ``get_author`` at 1.25 M papers. So
ingest keeps the answer in a table, for every indexed term that can be a topic term (see
:func:`kept`; stopwords too, so a changed stopword list needs no new catalog): ``docs`` counts a paper
once whichever of its indexed columns hold the term (what ``fts5vocab``'s ``row`` table says),
``title_docs`` the papers holding it in their title (its ``col`` table's row for ``title``), which is
what FTS5's ``bm25()`` counts for a word searched in titles (tools/scoring.py).

Each batch's sync (:meth:`~scholar_catalog.db.ingest_fts.FtsUpkeep._sync_fts`) applies the
change of its touched papers by delta: their old texts and their new ones are each counted by FTS5
itself, in a contentless temporary index with the catalog's tokenizer, never by a Python imitation of it
(they part at the edges: combining marks, Unicode versions).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

import apsw

TABLE = "term_docs"
TOKENIZER = "unicode61 remove_diacritics 2"  # the catalog's (schema.create_schema)
MIN_TERM, MAX_TERM = 2, 40
# Counting a changed text costs about as much as recounting 4-5 papers from the catalog's own index
# (0.047 vs 0.010 ms here): with that many more texts than papers, ``apply`` recounts instead.
RECOUNT_RATIO = 4
_DELTA, _DELTA_ROWS, _DELTA_COLS = "temp.term_docs_delta", "temp.term_docs_delta_rows", "temp.term_docs_delta_cols"
# A meta key present while the counts lag the index: an ingest that changes so much of the catalog
# that one recount beats its batches' deltas (a new catalog) counts once, at its end. Readers meanwhile
# count from the index itself (terms.document_frequencies), so answers are right at every commit.
STALE_KEY = "term_docs_stale"


def kept(term: str) -> bool:
    """Whether *term* has a row: 2 to 40 characters and not all digits (what a topic term can be)."""
    return MIN_TERM <= len(term) <= MAX_TERM and not term.isdigit()


def create(conn: sqlite3.Connection) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} "
        "(term TEXT PRIMARY KEY, docs INTEGER NOT NULL, title_docs INTEGER NOT NULL) WITHOUT ROWID"
    )


def fill(conn: sqlite3.Connection) -> None:
    """Count every kept term from the full-text index (a new catalog at the end of its ingest, or a batch
    that changed so much of a small catalog that this is cheaper than a delta)."""
    create(conn)
    conn.execute(f"DELETE FROM {TABLE}")
    conn.execute("CREATE VIRTUAL TABLE temp.term_docs_titles USING fts5vocab(main, papers_fts, col)")
    try:
        # Far fewer terms than the index's (titles' words): held while the other table streams.
        titles = dict(conn.execute("SELECT term, doc FROM temp.term_docs_titles WHERE col = 'title'").fetchall())
    finally:
        conn.execute("DROP TABLE temp.term_docs_titles")
    conn.execute("CREATE VIRTUAL TABLE temp.term_docs_fill USING fts5vocab(main, papers_fts, row)")
    rows = conn.execute("SELECT term, doc FROM temp.term_docs_fill")  # streamed, in term order
    try:
        conn.executemany(
            f"INSERT INTO {TABLE}(term, docs, title_docs) VALUES (?, ?, ?)",
            ((term, docs, titles.get(term, 0)) for term, docs in rows if kept(term)),
        )
    finally:
        rows.close()  # an unfinished read would keep the table locked
        conn.execute("DROP TABLE temp.term_docs_fill")


def rebuild(conn: sqlite3.Connection) -> None:
    """Make the table again with this version's columns and count it (a catalog of schema 3 to 5)."""
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    fill(conn)
    conn.execute("DELETE FROM meta WHERE key = ?", [STALE_KEY])


def in_titles(conn: sqlite3.Connection | apsw.Connection, terms: Iterable[str]) -> dict[str, int]:
    """How many papers hold each of *terms* in their title: 0 for one no title holds, and for one the
    table does not keep (:func:`kept`; its 0 is no count). Valid only while the counts do not lag the
    index (:func:`is_stale`)."""
    wanted = sorted(set(terms))
    found = dict(
        conn.execute(
            f"SELECT term, title_docs FROM {TABLE} WHERE term IN (SELECT value FROM json_each(?))", [json.dumps(wanted)]
        ).fetchall()
    )
    return {term: found.get(term, 0) for term in wanted}


def _texts(values: tuple[Any, ...], title: int) -> tuple[str, str]:
    """A paper's indexed values as its title (``values[title]``) and the rest as one text (a space ends
    every token, so none spans two values)."""
    rest = values[:title] + values[title + 1 :]
    return "" if values[title] is None else str(values[title]), " ".join(str(v) for v in rest if v is not None)


def is_stale(conn: sqlite3.Connection | apsw.Connection) -> bool:
    """Whether the counts lag the index (an ingest deferred them to its end and has not reached it)."""
    return conn.execute("SELECT 1 FROM meta WHERE key = ?", [STALE_KEY]).fetchone() is not None


def apply(
    conn: sqlite3.Connection,
    changes: Iterable[tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]],
    *,
    title: int,
    final: bool = False,
) -> None:
    """Move the counts by the papers whose indexed values changed from ``old`` to ``new`` (None: no paper),
    each a tuple of the index's columns in its order, the title at position *title*.

    Call it with the index already updated (a recount reads it), *final* at an ingest's last batch.
    Where a recount is cheaper than the delta (a new catalog's batches), the counts are marked stale
    and recounted once, at the final batch (or the next ingest's, if this one stops first). Runs
    inside the caller's transaction, so a failure after it takes its changes back too.
    """
    stale = is_stale(conn)
    if stale and not final:
        return
    if stale:
        fill(conn)
        conn.execute("DELETE FROM meta WHERE key = ?", [STALE_KEY])
        return
    changed = [(old, new) for old, new in changes if old != new]
    if not changed:
        return
    texts = sum((old is not None) + (new is not None) for old, new in changed)
    papers = conn.execute("SELECT max(rowid) FROM papers").fetchone()[0] or 0
    if texts * RECOUNT_RATIO >= papers:  # the first batches of a new catalog: a recount is cheaper
        if final:
            fill(conn)
        else:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, '1')", [STALE_KEY])
        return
    delta: dict[str, tuple[int, int]] = {}
    for side, sign in ((0, -1), (1, 1)):
        for term, docs, titles in _counts(
            conn, [_texts(pair[side], title) for pair in changed if pair[side] is not None]
        ):
            was_docs, was_titles = delta.get(term, (0, 0))
            delta[term] = (was_docs + sign * docs, was_titles + sign * titles)
    rows = sorted((term, *d) for term, d in delta.items() if any(d) and kept(term))  # in key order: fewer pages
    conn.executemany(
        f"""INSERT INTO {TABLE}(term, docs, title_docs) VALUES (?, ?, ?) ON CONFLICT(term)
            DO UPDATE SET docs = docs + excluded.docs, title_docs = title_docs + excluded.title_docs""",
        rows,
    )
    conn.executemany(f"DELETE FROM {TABLE} WHERE term = ? AND docs <= 0", [(term,) for term, d, _ in rows if d < 0])


def _counts(conn: sqlite3.Connection, texts: list[tuple[str, str]]) -> list[tuple[str, int, int]]:
    """(term, how many of *texts* hold it, how many in their title) for (title, rest) pairs, tokenized by
    FTS5 (contentless, columns without positions: the cheapest index that still tells them apart)."""
    if not texts:
        return []
    conn.execute(
        f"CREATE VIRTUAL TABLE {_DELTA} USING fts5(title, rest, content='', detail=column, tokenize='{TOKENIZER}')"
    )
    try:
        conn.executemany(f"INSERT INTO {_DELTA}(title, rest) VALUES (?, ?)", texts)
        conn.execute(f"CREATE VIRTUAL TABLE {_DELTA_COLS} USING fts5vocab(temp, term_docs_delta, col)")
        conn.execute(f"CREATE VIRTUAL TABLE {_DELTA_ROWS} USING fts5vocab(temp, term_docs_delta, row)")
        titles = dict(conn.execute(f"SELECT term, doc FROM {_DELTA_COLS} WHERE col = 'title'").fetchall())
        rows = conn.execute(f"SELECT term, doc FROM {_DELTA_ROWS}").fetchall()
        return [(term, docs, titles.get(term, 0)) for term, docs in rows]
    finally:
        for table in (_DELTA_ROWS, _DELTA_COLS, _DELTA):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
