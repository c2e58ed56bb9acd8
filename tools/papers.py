"""Paper tools: ``search_papers`` and ``get_paper``."""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
from typing import Annotated, Any, Literal

from pydantic import Field

from scholar_catalog.db import term_docs, title_words
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.db.normalize import normalize_name, normalize_title
from scholar_catalog.db.schema import BM25_WEIGHTS
from scholar_catalog.db.terms import STOPWORDS, fold
from scholar_catalog.db.titles import MIN_FUZZY_LENGTH

from .common import (
    MAX_LIMIT,
    PAPER_COLUMNS,
    ToolInputError,
    ambiguous_error,
    check_limit,
    clean_text,
    decode_cursor,
    encode_cursor,
    fingerprint,
    paper_summary,
    require_data,
    resolve_person,
)
from .models import Listing, PaperAuthor, PaperDetail, PaperSummary, Resolution, SearchPapersResult
from .profiles import frequencies

Sort = Literal["relevance", "date", "score"]

MAX_TERMS = 32
MIN_YEAR, MAX_YEAR = 1900, 2100
FUZZY_CUTOFF = 75.0
FUZZY_CANDIDATES = 300  # titles a misspelt query scores in full, at each step
MAX_PHRASES = 16  # spellings of a misspelt query tried as phrases
COUNT_CAP = 10_000  # totals above this are reported as "more than"
RANK_CANDIDATES = 5_000  # most matches BM25 ranks in one query (about 3 ms)
_TERM_RE = re.compile(r'"([^"]*)"?|(\S+)')
_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)  # FTS5 (unicode61) splits words at "_" too


def fts_query(text: str) -> str:
    """Turn what a user typed into a safe FTS5 query: every word and "quoted phrase" as a quoted string.

    Only word characters survive inside the quotes, so no input can reach FTS5
    syntax (``OR``, ``NEAR(``, ``*``, ``col:``, unbalanced quotes are all plain words).
    Terms are ANDed.
    """
    parts: list[str] = []
    for phrase, word in _TERM_RE.findall(text):
        words = _WORD_RE.findall(phrase if phrase else word)
        if words:
            parts.append('"' + " ".join(words) + '"')
        if len(parts) >= MAX_TERMS:
            break
    return " ".join(parts)


def search_papers(
    catalog: Catalog,
    query: Annotated[
        str,
        Field(
            description='Plain words and "quoted phrases", all required (AND). Searches titles (weighted highest), '
            "abstracts and author names. Operators are not interpreted. Empty: list papers by the filters."
        ),
    ] = "",
    author: Annotated[
        str | None,
        Field(description="Only papers by this person (name; typos and missing accents are tolerated)."),
    ] = None,
    category: Annotated[
        str | None, Field(description="Only this two-letter category code, e.g. 'CL', 'LG', 'CV'.")
    ] = None,
    year_from: Annotated[int | None, Field(description="Only papers dated in or after this year.")] = None,
    year_to: Annotated[int | None, Field(description="Only papers dated in or before this year.")] = None,
    has_code: Annotated[bool | None, Field(description="true: only papers with code; false: only without.")] = None,
    min_score: Annotated[
        float | None, Field(description="Only papers some profile scored at least this (0-100).")
    ] = None,
    affiliation: Annotated[
        str | None, Field(description="Only papers with an affiliation containing this text, e.g. 'nvidia'.")
    ] = None,
    sort: Annotated[
        Sort, Field(description="relevance (default; date when there is no query), date (newest first), score.")
    ] = "relevance",
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Results per page (1-100).")] = 10,
    cursor: Annotated[str | None, Field(description="`next_cursor` from the previous page.")] = None,
    author_profile_id: Annotated[
        str | None,
        Field(description="Like `author`, but by profile_id: use it when several profiles share a name."),
    ] = None,
) -> SearchPapersResult:
    """Find papers by topic words, author, category, year, code availability, score or affiliation.

    Start here for "what has X published on T since 2025, with code?" (query="T",
    author="X", year_from=2025, has_code=true). Results are compact summaries
    (newest-first or by relevance) with `paper_id`s: call get_paper for a full
    record. `authors` lists the named authors, then profile owners hidden by
    "et al.". When no paper contains all the words, the closest titles are
    returned instead and `fuzzy_fallback` is true. Page with `cursor`.
    """
    query = clean_text(query or "", "query")
    check_limit(limit)
    check_years(year_from, year_to)
    if min_score is not None and not 0 <= min_score <= 100:
        raise ToolInputError(f"`min_score` must be between 0 and 100 (got {min_score}).")

    with catalog.connection() as conn:
        require_data(catalog)
        where, params, author_id, resolution = paper_filters(
            catalog,
            conn,
            category=category,
            year_from=year_from,
            year_to=year_to,
            has_code=has_code,
            min_score=min_score,
            affiliation=affiliation,
            author=author,
            author_profile_id=author_profile_id,
        )
        match = fts_query(query)
        key_of_query = fingerprint(
            match, author, author_profile_id, category, year_from, year_to, has_code, min_score, affiliation, sort
        )
        offset = decode_cursor(cursor, key_of_query)
        note = None
        if query and not match:
            note = "The query has no words to search for; listing papers by the other filters."
        plan = Plan(match, author_id, "".join(f" AND {w}" for w in where), params)
        by_date = bool(match) and sort == "date" and author_id is None
        newest = plan.newest_first(conn, COUNT_CAP) if by_date else None
        ranked = None
        filtered = {"category": category and clean_text(category, "category").upper(), "year_from": year_from}
        filtered |= {"year_to": year_to, "has_code": has_code}
        relevance = bool(match) and sort == "relevance" and author_id is None
        if relevance and _matches_likely_at_most(catalog, conn, match, RANK_CANDIDATES, **filtered):
            # Few matches: one pass scores and counts them (a count and then a page would walk them twice).
            ranked = plan.ranked(conn, RANK_CANDIDATES, count_first=False)
        if by_date:
            total, exact = (len(newest), True) if newest is not None else (COUNT_CAP, False)
        elif ranked is not None:
            total, exact = len(ranked), True
        else:
            total, exact = plan.count(conn, COUNT_CAP)
        if newest is not None:
            rows = plan.rows(conn, newest[offset : offset + limit])
        elif ranked is not None:
            rows = plan.rows(conn, ranked[offset : offset + limit])
        elif by_date and year_to is None:
            # More matches than are counted: walking papers newest first finds a page within a few rows
            # each (not with year_to, whose matches lie behind every newer paper).
            rows = plan.page(conn, "date", limit, offset, dense=True)
        elif match and sort == "relevance" and total > RANK_CANDIDATES:
            # Scoring every match of very common words costs more than it tells: rank by BM25 among the
            # papers with the words in their title, or failing that list the newest.
            titled = Plan(f"title : ({match})", author_id, plan.filters, params)
            ranked = titled.ranked(
                conn,
                RANK_CANDIDATES,
                count_first=relevance and _titles_likely_over(catalog, conn, match, RANK_CANDIDATES, **filtered),
            )
            if ranked:
                rows = titled.rows(conn, ranked[offset : offset + limit])
                note = (
                    f"These words are very common ({total:,}{'' if exact else '+'} papers): "
                    "ranked among papers with them in the title. Add words or filters to narrow the search."
                )
                total, exact = len(ranked), True
            else:
                rows = plan.page(conn, "date", limit, offset, dense=True)
                note = (
                    "These words are too common to rank by relevance; newest papers first. "
                    "Add words or filters to narrow the search."
                )
        else:
            rows = plan.page(conn, sort, limit, offset)
        results = [paper_summary(r, r[8]) for r in rows]

        fuzzy = False
        unfiltered = 0
        if total == 0 and match and offset == 0 and (plan.filters or author_id is not None):
            unfiltered, _ = Plan(match, None, "", []).count(conn)
        if unfiltered:
            shown = f"{unfiltered:,}" if unfiltered < COUNT_CAP else f"more than {COUNT_CAP:,}"
            note = f"{shown} papers contain these words, but none passes the filters; relax a filter."
        elif total == 0 and match and offset == 0:
            results, total = _fuzzy_titles(catalog, conn, query, plan.filters, params, limit, author_id)
            exact = True
            fuzzy = bool(results)
            note = (
                "No paper contains all these words; these are the closest titles (fuzzy match)."
                if fuzzy
                else "No paper matches; try fewer or different words, or drop a filter."
            )
        next_offset = offset + len(results)
        more = next_offset < total or (not exact and len(results) == limit)
        return SearchPapersResult(
            results=results,
            total=total,
            total_exact=exact,
            next_cursor=encode_cursor(next_offset, key_of_query) if results and more and not fuzzy else None,
            query_used=match or None,
            author_resolved=resolution,
            fuzzy_fallback=fuzzy,
            note=note,
        )


def check_years(year_from: int | None, year_to: int | None) -> None:
    for argument, year in (("year_from", year_from), ("year_to", year_to)):
        if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
            raise ToolInputError(f"`{argument}` must be a year between {MIN_YEAR} and {MAX_YEAR} (got {year}).")
    if year_from is not None and year_to is not None and year_from > year_to:
        raise ToolInputError(f"`year_from` ({year_from}) is after `year_to` ({year_to}); swap them.")


def paper_filters(
    catalog: Catalog,
    conn: sqlite3.Connection,
    *,
    category: str | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
    has_code: bool | None = None,
    min_score: float | None = None,
    affiliation: str | None = None,
    author: str | None = None,
    author_profile_id: str | None = None,
) -> tuple[list[str], list[object], int | None, Resolution | None]:
    """The WHERE conditions on ``papers p`` (and params) for search filters, and the author filter's person.

    Shared by every tool that filters papers as search_papers does. Arguments are checked here:
    an unknown category, an unresolvable or ambiguous author, an empty affiliation are errors.
    """
    where: list[str] = []
    params: list[object] = []
    resolution = None
    if category is not None:
        code = clean_text(category, "category").upper()
        known = catalog.categories()
        if code not in known:
            raise ToolInputError(
                f"Unknown category {category!r}. Categories in this catalog: {', '.join(sorted(known))}."
            )
        where.append("p.category = ?")
        params.append(code)
    if year_from is not None:
        where.append("p.year >= ?")
        params.append(year_from)
    if year_to is not None:
        where.append("p.year <= ?")
        params.append(year_to)
    if has_code is not None:
        where.append("p.has_code = ?")
        params.append(int(has_code))
    if min_score is not None:
        where.append("EXISTS (SELECT 1 FROM listings l WHERE l.paper_id = p.id AND l.score >= ?)")
        params.append(min_score)
    author_id = None
    if author or author_profile_id:
        person, resolution, others = resolve_person(catalog, conn, author or "", author_profile_id, "author")
        if others:
            raise ambiguous_error(conn, person, others, "author_profile_id")
        author_id = person.author_id
    if affiliation is not None:
        key = normalize_name(clean_text(affiliation, "affiliation"))
        if not key:
            raise ToolInputError("`affiliation` has no letters or digits; give an organisation name.")
        pattern = "%" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            """p.id IN (SELECT pa.paper_id FROM paper_affiliations pa
               JOIN affiliations a ON a.id = pa.affiliation_id WHERE a.name_norm LIKE ? ESCAPE '\\')"""
        )
        params.append(pattern)
    return where, params, author_id, resolution


def has_index(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", [name]).fetchone() is not None


class Plan:
    """The FROM/WHERE of one search, with the join order chosen for it.

    With an author filter the author's papers drive the query (few rows); otherwise the
    full-text matches do (``CROSS JOIN`` fixes the order: SQLite would otherwise scan
    papers by an index and probe the full-text index once per row). ``papers`` is
    joined only when a filter or the sort needs its columns.
    """

    def __init__(self, match: str, author_id: int | None, filters: str, params: list[object]) -> None:
        self.match = match
        self.author_id = author_id
        self.filters = filters
        self.params = params

    def _from(self, sort: str, dense: bool = False) -> tuple[str, list[object]]:
        needs_papers = bool(self.filters) or sort != "relevance" or not self.match
        head: list[object] = []
        if dense and self.match and self.author_id is None:
            # Words in a large share of papers, newest first: walk papers by date and probe the
            # full-text index for each; a match comes every few rows, so a page costs a few probes.
            source = "papers p INDEXED BY idx_papers_date CROSS JOIN papers_fts ON papers_fts.rowid = p.id"
            return f"FROM {source} WHERE papers_fts MATCH ?{self.filters}", [self.match, *self.params]
        if self.author_id is not None:
            source = "paper_authors pa CROSS JOIN papers p ON p.id = pa.paper_id"
            conditions = ["pa.author_id = ?"]
            head.append(self.author_id)
            if self.match:
                source += " CROSS JOIN papers_fts ON papers_fts.rowid = p.id"
                conditions.append("papers_fts MATCH ?")
                head.append(self.match)
        elif self.match:
            joined = " CROSS JOIN papers p INDEXED BY papers_facets ON p.id = papers_fts.rowid"
            source = "papers_fts" + (joined if needs_papers else "")
            conditions = ["papers_fts MATCH ?"]
            head.append(self.match)
        else:
            source, conditions = "papers p", ["1"]
        return f"FROM {source} WHERE {' AND '.join(conditions)}{self.filters}", [*head, *self.params]

    def count(self, conn: sqlite3.Connection, cap: int = COUNT_CAP) -> tuple[int, bool]:
        """(number of matches, exact?): counting stops past *cap* (then the total is *cap*, not exact)."""
        base, params = self._from("relevance")
        total = conn.execute(f"SELECT count(*) FROM (SELECT 1 {base} LIMIT ?)", [*params, cap + 1]).fetchone()[0]
        return (cap, False) if total > cap else (total, True)

    def count_by(self, conn: sqlite3.Connection, column: str) -> list[tuple[object, int, int]]:
        """(value of *column*, matches, matches with code) for every match, grouped by a ``papers p`` column."""
        base, params = self._from("date")  # any sort but relevance joins papers
        if self.match or self.author_id is not None or column != "p.year":
            return conn.execute(
                f"SELECT {column}, count(*), sum(p.has_code) {base} GROUP BY {column}", params
            ).fetchall()
        # Every paper (or those passing filters) per year: grouped by category first, in the order of the
        # papers_filters index, so no sort of every row is needed (115 -> 34 ms at 250,000 papers).
        inner = f"SELECT p.category, p.year, count(*) AS n, sum(p.has_code) AS k {base} GROUP BY p.category, p.year"
        return conn.execute(f"SELECT year, sum(n), sum(k) FROM ({inner}) GROUP BY year", params).fetchall()

    def page(
        self, conn: sqlite3.Connection, sort: str, limit: int, offset: int, dense: bool = False
    ) -> list[sqlite3.Row]:
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

    def newest_first(self, conn: sqlite3.Connection, cap: int) -> list[int] | None:
        """Every match's id in :meth:`page`'s date order, in one pass (None: more than *cap*).

        Counting the matches and then sorting them for a page would join each to ``papers`` twice.
        """
        base, params = self._from("date")
        rows = conn.execute(f"SELECT p.id, p.date {base} LIMIT ?", [*params, cap + 1]).fetchall()
        if len(rows) > cap:
            return None
        rows.sort(key=lambda r: (r[1], r[0]), reverse=True)  # ORDER BY p.date DESC, p.id DESC
        return [r[0] for r in rows]

    def ranked(self, conn: sqlite3.Connection, cap: int, count_first: bool = True) -> list[int] | None:
        """Every match's id in :meth:`page`'s relevance order; None when there are more than *cap*.

        One pass scores and counts the matches (page would score them all again to sort them).
        *count_first*: more than *cap* matches are likely, so a count without scores comes first, which
        stops at *cap* (scoring costs more per match, and FTS5's bm25 walks every phrase's whole posting
        list at its first row).
        """
        if count_first and not self.count(conn, cap)[1]:
            return None
        base, params = self._from("relevance")
        score = "bm25(papers_fts, {}, {}, {})".format(*BM25_WEIGHTS)
        scored = conn.execute(f"SELECT papers_fts.rowid, {score} {base} LIMIT ?", [*params, cap + 1]).fetchall()
        if len(scored) > cap:
            return None
        scored.sort(key=lambda r: (r[1], -r[0]))
        return [r[0] for r in scored]

    def rows(self, conn: sqlite3.Connection, ids: list[int]) -> list[sqlite3.Row]:
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


def _titles_likely_over(catalog: Catalog, conn: sqlite3.Connection, match: str, cap: int, **filters: Any) -> bool:
    """Whether more than *cap* titles likely hold every word of *match* and pass the *filters*, by each
    word's share of titles (``title_words``; see :func:`_guess`). Only a guess at which plan is cheaper;
    both give the same answer."""
    words = {w for phrase in _WORD_RE.findall(match) for w in normalize_title(phrase).split()}
    return _guess(catalog, conn, title_words.papers_with(conn, words), words, filters) > cap


def _matches_likely_at_most(catalog: Catalog, conn: sqlite3.Connection, match: str, cap: int, **filters: Any) -> bool:
    """Whether at most *cap* papers likely hold every word of *match* and pass the *filters*, by each word's
    share of papers (``term_docs``; see :func:`_guess`). Only a guess at which plan is cheaper; both give
    the same answer."""
    if term_docs.is_stale(conn):  # its counts would come from walking every word's posting list
        return False
    words = {word for word in (fold(w) for w in _WORD_RE.findall(match)) if term_docs.kept(word)}
    return _guess(catalog, conn, frequencies(catalog, conn, words), words, filters) <= cap


def _guess(
    catalog: Catalog, conn: sqlite3.Connection, counts: dict[str, int], words: set[str], filters: dict[str, Any]
) -> float:
    """The number of papers times each of *words*' share of them (*counts*: papers holding it) and the
    *filters*' share (:func:`_share`), as if all were independent. The number of papers is the largest
    paper id (a removed paper leaves a gap), remembered until the catalog changes: counting the rows is a
    pass over an index (~0.1 s at 1.25 M papers, on a server's first search)."""
    papers = catalog.cached("largest_paper_id", lambda: conn.execute("SELECT max(id) FROM papers").fetchone()[0])
    papers = max(papers or 0, 1)
    estimate = papers * _share(catalog, conn, papers, **filters)
    for word in words:
        estimate *= counts.get(word, 0) / papers
    return estimate


def _share(
    catalog: Catalog,
    conn: sqlite3.Connection,
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


def papers_by(catalog: Catalog, conn: sqlite3.Connection, column: str) -> list[tuple[object, int, int]]:
    """(value of *column*, papers, papers with code) over every paper, remembered until the catalog changes."""
    return catalog.cached(f"papers_by_{column}", lambda: Plan("", None, "", []).count_by(conn, column))


def _fuzzy_titles(
    catalog: Catalog,
    conn: sqlite3.Connection,
    query: str,
    filters: str,
    params: list[object],
    limit: int,
    author_id: int | None,
) -> tuple[list[PaperSummary], int]:
    """The titles closest to a query no paper matches word for word, best first (at most *limit*).

    Each query word stands for itself or the title words one edit from it. Candidates are the titles
    holding the corrected words as a phrase; failing that, every corrected content word; failing that,
    any of them (newest FUZZY_CANDIDATES at each step). They are scored as the whole title list once
    was: ``partial_ratio``, the query aligned with the best-matching stretch of a title, so a misspelt
    title (or a piece of one) matches, and sharing one common word ("for") does not.
    """
    from rapidfuzz import fuzz

    key = normalize_title(query)
    vocabulary = catalog.titles()
    spelt: list[list[str]] = []  # each word's spellings in titles, the word as typed first
    content: list[list[str]] = []  # the same for words that can mark a title (no function words)
    for word in dict.fromkeys(key.split()[:MAX_TERMS]):
        found = vocabulary.variants(word) if len(word) >= MIN_FUZZY_LENGTH else []
        if word not in STOPWORDS:
            found = [w for w in found if w not in STOPWORDS]
        if not found and word in vocabulary.words:
            found = [word]
        if found:
            spelt.append(found)
            if word not in STOPWORDS and len(found[0]) >= MIN_FUZZY_LENGTH - 1:
                content.append(found)
    searches = []
    phrases = list(itertools.islice(itertools.product(*spelt), MAX_PHRASES))
    if len(spelt) > 1 and phrases:
        searches.append(" OR ".join('"' + " ".join(words) + '"' for words in phrases))
    if content:
        searches.append(" AND ".join("(" + " OR ".join(f'"{w}"' for w in group) + ")" for group in content))
        if len(content) > 1:
            searches.append(" OR ".join(f'"{w}"' for group in content for w in group))
    for search in searches:
        candidates = _title_candidates(conn, "{title} : (" + search + ")", author_id, filters, params)
        scored = sorted(
            (-fuzz.partial_ratio(key, title_norm), rank, paper_id)
            for rank, (paper_id, title_norm) in enumerate(candidates)
        )
        ranked = [paper_id for score, _, paper_id in scored if -score >= FUZZY_CUTOFF][:limit]
        if ranked:
            marks = ",".join("?" * len(ranked))
            rows = {
                r[0]: r
                for r in conn.execute(f"SELECT {PAPER_COLUMNS}, NULL FROM papers p WHERE p.id IN ({marks})", ranked)
            }
            return [paper_summary(rows[i]) for i in ranked if i in rows], len(ranked)
    return [], 0


def _title_candidates(
    conn: sqlite3.Connection, match: str, author_id: int | None, filters: str, params: list[object]
) -> list[tuple[int, str]]:
    """(paper_id, title_norm) of the newest FUZZY_CANDIDATES papers passing the filters that *match*."""
    base, args = Plan(match, author_id, filters, params)._from("date")  # any sort but relevance joins papers
    select = f"SELECT p.id, p.title_norm {base}"
    if author_id is not None:
        return conn.execute(f"{select} ORDER BY p.id DESC LIMIT ?", [*args, FUZZY_CANDIDATES]).fetchall()
    # Most corrected words are in a few titles: take them all in the index's order and sort them here. A
    # common one is in thousands: then the index walks its matches newest first (its rowid is p.id) and
    # stops at the limit, instead of all of them being sorted (90 -> 2 ms for a word in 3,000 titles at
    # 50,000 profiles). Walking backwards costs more per match, so only then.
    rows = conn.execute(f"{select} LIMIT ?", [*args, FUZZY_CANDIDATES + 1]).fetchall()
    if len(rows) <= FUZZY_CANDIDATES:
        return sorted(rows, key=lambda row: row[0], reverse=True)
    return conn.execute(f"{select} ORDER BY papers_fts.rowid DESC LIMIT ?", [*args, FUZZY_CANDIDATES]).fetchall()


def get_paper(
    catalog: Catalog,
    paper_id: Annotated[
        int, Field(ge=1, le=2**63 - 1, description="A paper_id from search_papers, get_author or another tool.")
    ],
) -> PaperDetail:
    """Full record of one paper: abstract, every known author, affiliations, and the profiles listing it.

    Each author says how it is known: named in the author list (`listed`), or an
    author because the paper is in their own profile (`profile_owner`), or both.
    `listed_in` gives each listing profile's score, category and date.
    """
    with catalog.connection() as conn:
        require_data(catalog)
        row = conn.execute(
            """SELECT id, title, date, category, has_code, abstract, authors_truncated, affiliations
               FROM papers WHERE id = ?""",
            [paper_id],
        ).fetchone()
        if row is None:
            top = conn.execute("SELECT max(id) FROM papers").fetchone()[0]
            raise ToolInputError(
                f"No paper with paper_id {paper_id} (ids run from 1 to {top}, with gaps). "
                "Use search_papers to find papers and their ids."
            )
        authors = []
        for name, position, profile_id, is_owner in conn.execute(
            """SELECT a.name, pa.position, a.profile_id, pa.is_owner FROM paper_authors pa
               JOIN authors a ON a.id = pa.author_id WHERE pa.paper_id = ?
               ORDER BY pa.position IS NULL, pa.position, a.name""",
            [paper_id],
        ):
            known_as = (
                "listed_profile_owner"
                if position is not None and is_owner
                else "listed"
                if position is not None
                else "profile_owner"
            )
            authors.append(PaperAuthor(name=name, position=position, profile_id=profile_id, known_as=known_as))
        listings = [
            Listing(
                profile_id=r[0],
                profile_name=r[1],
                score=r[2],
                category=r[3],
                date=r[4],
                date_raw=r[5],
                has_code=bool(r[6]),
            )
            for r in conn.execute(
                """SELECT l.profile_id, pr.name, l.score, l.category, l.date, l.date_raw, l.has_code
                   FROM listings l JOIN profiles pr ON pr.id = l.profile_id
                   WHERE l.paper_id = ? ORDER BY l.profile_id""",
                [paper_id],
            )
        ]
        return PaperDetail(
            paper_id=row[0],
            title=row[1],
            date=row[2],
            category=row[3],
            has_code=bool(row[4]),
            abstract=row[5],
            authors=authors,
            authors_truncated=bool(row[6]),
            affiliations=json.loads(row[7] or "[]"),
            listed_in=listings,
        )
