"""How ``search_papers`` (and ``topic_trends``) read the full-text index: the query, the plan, its guesses.

``fts_query`` turns typed text into a safe FTS5 query; ``Plan`` holds one search's FROM/WHERE and
runs its counts and pages; the guesses pick the cheaper of two plans that give the same answer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from scholar_catalog.db import term_docs, title_words
from scholar_catalog.db.catalog import Catalog, Connection
from scholar_catalog.db.normalize import normalize_title
from scholar_catalog.db.schema import BM25_WEIGHTS
from scholar_catalog.db.terms import fold

from .common import PAPER_COLUMNS
from .profiles import frequencies

MAX_TERMS = 32
COUNT_CAP = 10_000  # totals above this are reported as "more than"
_TERM_RE = re.compile(r'"([^"]*)"?|(\S+)')
WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)  # FTS5 (unicode61) splits words at "_" too
PHRASE_RE = re.compile(r'"([^"]*)"')  # the phrases of an fts_query


def fts_query(text: str) -> str:
    """Turn what a user typed into a safe FTS5 query: every word and "quoted phrase" as a quoted string.

    Only word characters survive inside the quotes, so no input can reach FTS5
    syntax (``OR``, ``NEAR(``, ``*``, ``col:``, unbalanced quotes are all plain words).
    Terms are ANDed.
    """
    parts: list[str] = []
    for phrase, word in _TERM_RE.findall(text):
        words = WORD_RE.findall(phrase if phrase else word)
        if words:
            parts.append('"' + " ".join(words) + '"')
        if len(parts) >= MAX_TERMS:
            break
    return " ".join(parts)


def has_index(conn: Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", [name]).fetchone() is not None


@dataclass(frozen=True)
class Score:
    """A relevance score as SQL: the expression over ``papers_fts`` and its parameters."""

    sql: str
    params: tuple[object, ...] = ()


def compiled(weights: tuple[float, ...]) -> Score:
    """FTS5's own ``bm25()`` with these column weights."""
    return Score(f"bm25(papers_fts, {', '.join(str(float(w)) for w in weights)})")


@dataclass
class Ranked:
    """The first matches of a search in order, as (paper id, sort key), and how many matches there are."""

    first: list[tuple[int, Any]]
    total: int

    @property
    def ids(self) -> list[int]:
        return [r[0] for r in self.first]


class Plan:
    """The FROM/WHERE of one search, with the join order chosen for it.

    With an author filter the author's papers drive the query (few rows); otherwise the
    full-text matches do (``CROSS JOIN`` fixes the order: SQLite would otherwise scan
    papers by an index and probe the full-text index once per row). The columns filters and
    sorts read are joined as ``p``, from the narrow ``facets`` table (db/facets.py), only when a
    filter or the sort needs them; without words and without an author, ``p`` is ``papers`` read
    through its indexes.
    """

    def __init__(
        self,
        match: str,
        author_id: int | None,
        filters: str,
        params: list[object],
        ids: tuple[int, int] | None = None,
    ) -> None:
        self.match = match
        self.author_id = author_id
        self.filters = filters
        self.params = params
        self.ids = ids  # only the matches with a paper id in this range (both ends included)

    def within(self, first: int, last: int) -> Plan:
        """The same search over the matches whose paper id is from *first* to *last* (needs a match)."""
        return Plan(self.match, self.author_id, self.filters, self.params, (first, last))

    def _from(self, sort: str, dense: bool = False) -> tuple[str, list[object]]:
        base, params = self._source(sort, dense)
        if self.ids is None:
            return base, params
        # SQLite hands the range to the full-text index, which then reads only those ids' postings.
        return f"{base} AND papers_fts.rowid BETWEEN ? AND ?", [*params, *self.ids]

    def _source(self, sort: str, dense: bool) -> tuple[str, list[object]]:
        needs_papers = bool(self.filters) or sort != "relevance" or not self.match
        head: list[object] = []
        if dense and self.match and self.author_id is None:
            # Words in a large share of papers, newest first: walk papers by date and probe the
            # full-text index for each; a match comes every few rows, so a page costs a few probes.
            source = "papers p INDEXED BY idx_papers_date CROSS JOIN papers_fts ON papers_fts.rowid = p.id"
            return f"FROM {source} WHERE papers_fts MATCH ?{self.filters}", [self.match, *self.params]
        if self.author_id is not None:
            source = "paper_authors pa CROSS JOIN facets p ON p.id = pa.paper_id"
            conditions = ["pa.author_id = ?"]
            head.append(self.author_id)
            if self.match:
                source += " CROSS JOIN papers_fts ON papers_fts.rowid = p.id"
                conditions.append("papers_fts MATCH ?")
                head.append(self.match)
        elif self.match:
            joined = " CROSS JOIN facets p ON p.id = papers_fts.rowid"
            source = "papers_fts" + (joined if needs_papers else "")
            conditions = ["papers_fts MATCH ?"]
            head.append(self.match)
        else:
            source, conditions = "papers p", ["1"]
        return f"FROM {source} WHERE {' AND '.join(conditions)}{self.filters}", [*head, *self.params]

    def count(self, conn: Connection, cap: int = COUNT_CAP) -> tuple[int, bool]:
        """(number of matches, exact?): counting stops past *cap* (then the total is *cap*, not exact)."""
        base, params = self._from("relevance")
        total = conn.execute(f"SELECT count(*) FROM (SELECT 1 {base} LIMIT ?)", [*params, cap + 1]).fetchone()[0]
        return (cap, False) if total > cap else (total, True)

    def count_by(self, conn: Connection, column: str) -> list[tuple[object, int, int]]:
        """(value of *column*, matches, matches with code) for every match, grouped by a column of ``p``."""
        base, params = self._from("date")  # any sort but relevance joins p
        if self.match or self.author_id is not None or column != "p.year":
            return conn.execute(
                f"SELECT {column}, count(*), sum(p.has_code) {base} GROUP BY {column}", params
            ).fetchall()
        # Every paper (or those passing filters) per year: grouped by category first, in the order of the
        # papers_filters index, so no sort of every row is needed (115 -> 34 ms at 250,000 papers).
        inner = f"SELECT p.category, p.year, count(*) AS n, sum(p.has_code) AS k {base} GROUP BY p.category, p.year"
        return conn.execute(f"SELECT year, sum(n), sum(k) FROM ({inner}) GROUP BY year", params).fetchall()

    def page(self, conn: Connection, sort: str, limit: int, offset: int, dense: bool = False) -> list[tuple[Any, ...]]:
        """One page of result rows (:data:`PAPER_COLUMNS` + snippet), in order.

        The ids are chosen first and the wide columns read only for them. *dense*: the words
        match a large share of all papers (only used with ``sort="date"``).
        """
        if sort == "relevance" and self.match:
            order = "bm25(papers_fts, {}, {}, {}), papers_fts.rowid DESC".format(*BM25_WEIGHTS)
            key = "papers_fts.rowid"
        elif sort == "score":
            order = "(SELECT max(l.score) FROM listings l WHERE l.paper_id = p.id) IS NULL, "
            order += "(SELECT max(l.score) FROM listings l WHERE l.paper_id = p.id) DESC, p.date DESC, p.id DESC"
            key = "p.id"
        else:
            order = "p.date DESC, p.id DESC"
            key = "p.id"
        # A catalog's first ingest makes idx_papers_date at its end: until then, without the dense plan.
        dense = dense and sort == "date" and has_index(conn, "idx_papers_date")
        base, params = self._from(sort, dense=dense)
        ids = [
            r[0]
            for r in conn.execute(f"SELECT {key} {base} ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, offset])
        ]
        return self.rows(conn, ids)

    def newest_first(self, conn: Connection, cap: int, top: int) -> Ranked | None:
        """The first *top* matches in :meth:`page`'s date order and the number of matches, in one pass
        (None: more than *cap* matches). Counting the matches and then sorting them for a page would
        join each to ``papers`` twice."""
        base, params = self._from("date")
        every = f"SELECT p.id AS id, p.date AS key {base} LIMIT ?"
        return self._first(conn, every, "key DESC, id DESC", [*params, cap + 1], cap, top)

    def ranked(
        self, conn: Connection, cap: int, top: int, count_first: bool = True, score: Score | None = None
    ) -> Ranked | None:
        """The first *top* matches in :meth:`page`'s relevance order and the number of matches, in one
        pass (None: more than *cap* matches; page would score them all again to sort them).

        *count_first*: more than *cap* matches are likely, so a count without scores comes first, which
        stops at *cap* (scoring costs more per match, and FTS5's bm25 walks every phrase's whole posting
        list at its first row).
        """
        if count_first and not self.count(conn, cap)[1]:
            return None
        base, params = self._from("relevance")
        score = score or compiled(BM25_WEIGHTS)
        every = f"SELECT papers_fts.rowid AS id, {score.sql} AS key {base} LIMIT ?"
        return self._first(conn, every, "key, id DESC", [*score.params, *params, cap + 1], cap, top)

    @staticmethod
    def _first(conn: Connection, every: str, order: str, params: list[object], cap: int, top: int) -> Ranked | None:
        # SQLite sorts and counts the rows itself and hands over only the first ones (with their sort
        # keys, which put two rankings together): a row fetched costs Python more than a row sorted.
        rows = conn.execute(
            f"SELECT id, key, count(*) OVER () FROM ({every}) ORDER BY {order} LIMIT ?", [*params, top]
        ).fetchall()
        total = rows[0][2] if rows else 0
        return None if total > cap else Ranked([(r[0], r[1]) for r in rows], total)

    def rows(self, conn: Connection, ids: list[int]) -> list[tuple[Any, ...]]:
        """The result rows (:data:`PAPER_COLUMNS` + snippet) of the papers *ids*, in that order."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = {r[0]: r for r in conn.execute(f"SELECT {PAPER_COLUMNS} FROM papers p WHERE p.id IN ({marks})", ids)}
        snippets: dict[int, str] = {}
        if self.match:
            snippets = dict(
                conn.execute(
                    f"""SELECT rowid, snippet(papers_fts, 1, '[', ']', '…', 16) FROM papers_fts
                        WHERE papers_fts MATCH ? AND rowid IN ({marks})""",
                    [self.match, *ids],
                ).fetchall()
            )
        return [(*rows[i], snippets.get(i)) for i in ids if i in rows]


def titles_likely_over(catalog: Catalog, conn: Connection, match: str, cap: int, **filters: Any) -> bool:
    """Whether more than *cap* titles likely hold every phrase of *match* and pass the *filters*, by each
    phrase's share of titles (``title_words``; see :func:`_guess`). Only a guess at which plan is cheaper;
    both give the same answer."""
    return likely_titles(catalog, conn, match, **filters) > cap


def likely_titles(catalog: Catalog, conn: Connection, match: str, **filters: Any) -> float:
    """How many titles likely hold every phrase of *match* and pass the *filters* (see :func:`_guess`)."""
    phrases = [set(normalize_title(phrase).split()) for phrase in PHRASE_RE.findall(match)]
    counts = title_words.papers_with(conn, set().union(*phrases))
    return _guess(catalog, conn, counts, phrases, filters)


def matches_likely_at_most(catalog: Catalog, conn: Connection, match: str, cap: int, **filters: Any) -> bool:
    """Whether at most *cap* papers likely hold every phrase of *match* and pass the *filters*, by each
    phrase's share of papers (``term_docs``; see :func:`_guess`). Only a guess at which plan is cheaper;
    both give the same answer."""
    return likely_matches(catalog, conn, match, **filters) <= cap


def likely_matches(catalog: Catalog, conn: Connection, match: str, **filters: Any) -> float:
    """How many papers likely hold every phrase of *match* and pass the *filters* (see :func:`_guess`);
    infinite while ``term_docs`` lags the index (its counts would come from walking every posting list)."""
    if term_docs.is_stale(conn):
        return math.inf
    phrases = phrase_terms(match)
    counts = frequencies(catalog, conn, set().union(*phrases))
    return _guess(catalog, conn, counts, phrases, filters)


def phrase_terms(match: str) -> list[set[str]]:
    """Each phrase of an :func:`fts_query` as the ``term_docs`` terms of its words (folded, kept)."""
    return [
        {word for word in (fold(w) for w in WORD_RE.findall(phrase)) if term_docs.kept(word)}
        for phrase in PHRASE_RE.findall(match)
    ]


def _guess(
    catalog: Catalog,
    conn: Connection,
    counts: dict[str, int],
    phrases: list[set[str]],
    filters: dict[str, Any],
) -> float:
    """The number of papers times each of *phrases*' share of them and the *filters*' share
    (:func:`_share`), as if all were independent. A phrase's share is its rarest word's (*counts*: papers
    holding a word): every paper with the phrase has each of its words, and the words of a phrase such as
    "hardware-aware" mostly come together, so multiplying their shares would guess far too few (and
    send a search of thousands of matches down the plan for a few). The number of papers is the largest
    paper id (a removed paper leaves a gap), remembered until the catalog changes: counting the rows is a
    pass over an index (~0.1 s at 1.25 M papers, on a server's first search)."""
    papers = max(largest_paper_id(catalog, conn), 1)
    estimate = papers * _share(catalog, conn, papers, **filters)
    for words in phrases:
        if words:
            estimate *= min(counts.get(word, 0) for word in words) / papers
    return estimate


def largest_paper_id(catalog: Catalog, conn: Connection) -> int:
    """The largest paper id (0: no paper), remembered until the catalog changes."""
    return catalog.cached("largest_paper_id", lambda: conn.execute("SELECT max(id) FROM papers").fetchone()[0]) or 0


def _share(
    catalog: Catalog,
    conn: Connection,
    papers: int,
    category: str | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
    has_code: bool | None = None,
) -> float:
    """The share of the *papers* passing these filters, the category taken as independent of the rest
    (the other filters, such as an affiliation, count as passing every paper)."""
    share = 1.0
    if category is not None:
        share *= catalog.categories().get(category, 0) / papers
    if year_from is not None or year_to is not None or has_code is not None:
        passing = sum(
            n if has_code is None else k if has_code else n - k
            for year, n, k in papers_by(catalog, conn, "p.year")
            if (year_from is None or year >= year_from) and (year_to is None or year <= year_to)  # type: ignore[operator]
        )
        share *= passing / papers
    return share


def papers_by(catalog: Catalog, conn: Connection, column: str) -> list[tuple[object, int, int]]:
    """(value of *column*, papers, papers with code) over every paper, remembered until the catalog changes."""
    return catalog.cached(f"papers_by_{column}", lambda: Plan("", None, "", []).count_by(conn, column))
