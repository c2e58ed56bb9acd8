"""Title keys and the ``title_words`` table: what finds a paper by its title, and every word titles use.

A paper is one row per normalized title (``papers.title_norm``). Ingest finds the paper a listing's title
already is through ``papers.title_key``, a 64-bit hash of that key, indexed (``idx_papers_title_key``)
and compared with the key itself on a match, so two titles sharing a hash stay two papers. An index of
the keys themselves held ~110 bytes a paper and, its entries landing all over it, had most of its pages
written again by every ingest batch; the hash's entries are a fifth of that.

The misspelt search needs every distinct word of those keys (:class:`~scholar_catalog.db.titles.TitleVocabulary`):
``title_words`` holds each with the number of papers whose key has it, moved by each ingest batch as its
papers come and go (:func:`sync`), so the vocabulary is read from a table of ~120,000 rows at 250,000
profiles instead of from every title.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import chain

TABLE = "title_words"
READ_PART = 2_000  # papers read back at a time
UPGRADE_PART = 20_000  # papers given their key by one statement of an upgrade


def title_hash(key: str) -> int:
    """The 64-bit signed integer ``papers.title_key`` holds for the normalized title *key*."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


def words(key: str) -> set[str]:
    """The distinct words of a normalized title."""
    return set(key.split())


def count(keys: Iterable[str]) -> Counter[str]:
    """Each word's number of the normalized titles *keys* that hold it."""
    return Counter(chain.from_iterable(map(words, keys)))  # counted in C (a loop of updates took 1.5x as long)


def create(conn: sqlite3.Connection) -> None:
    conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (word TEXT PRIMARY KEY, papers INTEGER NOT NULL) WITHOUT ROWID")


def fill(conn: sqlite3.Connection) -> None:
    """Count every word from the papers' keys (a catalog made before the table)."""
    create(conn)
    conn.execute(f"DELETE FROM {TABLE}")
    counts = count(key for (key,) in conn.execute("SELECT title_norm FROM papers"))
    conn.executemany(f"INSERT INTO {TABLE} (word, papers) VALUES (?, ?)", sorted(counts.items()))


def upgrade(conn: sqlite3.Connection) -> None:
    """Give a catalog made before title keys (schema 4) its ``title_key`` column, index and word table.

    Runs in the caller's transaction. The full-text triggers are set aside meanwhile: writing every
    paper's key is no change to what the index holds, and they would re-index every paper.
    """
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'papers'"
    ).fetchall()
    for name, _ in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    conn.create_function("title_hash", 1, title_hash, deterministic=True)
    try:
        conn.execute("ALTER TABLE papers ADD COLUMN title_key INTEGER")
        top = conn.execute("SELECT max(id) FROM papers").fetchone()[0] or 0
        # By ranges of ids: one statement over every paper held ~all of their pages in memory (500 MB at 50k).
        for start in range(0, top, UPGRADE_PART):
            conn.execute(
                "UPDATE papers SET title_key = title_hash(title_norm) WHERE id > ? AND id <= ?",
                [start, start + UPGRADE_PART],
            )
    finally:
        conn.create_function("title_hash", 1, None)
    conn.execute("DROP INDEX IF EXISTS idx_papers_title_norm")
    conn.execute("CREATE INDEX idx_papers_title_key ON papers (title_key)")
    for _, sql in triggers:
        conn.execute(sql)
    fill(conn)


def sync(conn: sqlite3.Connection, before: Mapping[int, str | None]) -> None:
    """Move the counts by the papers of a batch: *before* maps each paper id the batch inserted or deleted
    to its key when the batch began (None: no such paper then); their keys now are read here.

    A file whose savepoint was rolled back left its papers as they were, so they count for nothing.
    """
    delta: Counter[str] = Counter()
    ids = sorted(before)
    for start in range(0, len(ids), READ_PART):
        part = ids[start : start + READ_PART]
        now = dict(
            conn.execute(
                "SELECT id, title_norm FROM papers WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(part)]
            )
        )
        for paper_id in part:
            old, new = before[paper_id], now.get(paper_id)
            if old == new:
                continue
            if old is not None:
                delta.subtract(words(old))
            if new is not None:
                delta.update(words(new))
    apply(conn, delta.items())


def apply(conn: sqlite3.Connection, delta: Iterable[tuple[str, int]]) -> None:
    """Add each word's change of count; a word no paper's key has any more loses its row."""
    rows = sorted((word, d) for word, d in delta if d)  # in key order: fewer pages
    conn.executemany(
        f"INSERT INTO {TABLE} (word, papers) VALUES (?, ?) "
        "ON CONFLICT (word) DO UPDATE SET papers = papers + excluded.papers",
        rows,
    )
    conn.executemany(f"DELETE FROM {TABLE} WHERE word = ? AND papers <= 0", [(word,) for word, d in rows if d < 0])


def papers_with(conn: sqlite3.Connection, words: Iterable[str]) -> dict[str, int]:
    """Each of *words* that some paper's key has -> the number of papers whose key has it."""
    sql = f"SELECT word, papers FROM {TABLE} WHERE word IN (SELECT value FROM json_each(?))"
    return dict(conn.execute(sql, [json.dumps(list(words))]).fetchall())


def vocabulary(conn: sqlite3.Connection) -> frozenset[str]:
    """Every word of the papers' keys."""
    return frozenset(word for (word,) in conn.execute(f"SELECT word FROM {TABLE}"))
