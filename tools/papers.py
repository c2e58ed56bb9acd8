"""Paper tools: ``search_papers`` and ``get_paper``."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field

from scholar_catalog.db.catalog import Catalog, Connection
from scholar_catalog.db.schema import BM25_WEIGHTS

from . import halves, scoring
from .common import (
    MAX_LIMIT,
    ToolInputError,
    check_limit,
    clean_text,
    decode_cursor,
    encode_cursor,
    fingerprint,
    paper_summary,
    require_data,
)
from .filters import check_years, paper_filters
from .fuzzy_titles import fuzzy_titles
from .models import Listing, PaperAuthor, PaperDetail, SearchPapersResult
from .search_plan import (
    COUNT_CAP,
    Plan,
    Ranked,
    Score,
    fts_query,
    likely_matches,
    likely_titles,
    matches_likely_at_most,
    titles_likely_over,
)

Sort = Literal["relevance", "date", "score"]

RANK_CANDIDATES = 5_000  # most matches BM25 ranks in one query (about 3 ms)


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
        top = offset + limit  # the matches a page needs ranked
        newest = halves.newest_first(catalog, conn, plan, COUNT_CAP, top) if by_date else None
        ranked: Ranked | None = None
        filtered = {"category": category and clean_text(category, "category").upper(), "year_from": year_from}
        filtered |= {"year_to": year_to, "has_code": has_code}
        relevance = bool(match) and sort == "relevance" and author_id is None
        few = relevance and matches_likely_at_most(catalog, conn, match, RANK_CANDIDATES, **filtered)
        if few:
            # Few matches: one pass scores and counts them (a count and then a page would walk them twice).
            likely = likely_matches(catalog, conn, match, **filtered)
            score, _ = scoring.relevance(catalog, conn, match, BM25_WEIGHTS, likely)
            ranked = halves.ranked(catalog, conn, plan, RANK_CANDIDATES, top, count_first=False, score=score)
        titled = Plan(f"title : ({match})", author_id, plan.filters, params)
        title_ranking: Ranked | None = None
        title_ranked = False
        if by_date:
            total, exact = (newest.total, True) if newest is not None else (COUNT_CAP, False)
        elif ranked is not None:
            total, exact = ranked.total, True
        elif relevance and not few:
            # Likely more matches than are ranked: they are counted while, on another core, the papers
            # with the words in their title are ranked (below), which the count then most likely calls for.
            title_first = titles_likely_over(catalog, conn, match, RANK_CANDIDATES, **filtered)
            title_score, worth = _title_score(catalog, conn, match, filtered)

            def count(c: Connection) -> tuple[int, bool]:
                counted = plan.count(c, COUNT_CAP)
                scoring.remember(catalog, c, worth)  # phrase counts for later calls, while the ranking runs
                return counted

            (total, exact), title_ranking = catalog.in_parallel(
                count, lambda c: titled.ranked(c, RANK_CANDIDATES, top, count_first=title_first, score=title_score)
            )
            title_ranked = True
        else:
            total, exact = halves.count(catalog, conn, plan, COUNT_CAP)
        if newest is not None:
            rows = plan.rows(conn, newest.ids[offset:top])
        elif ranked is not None:
            rows = plan.rows(conn, ranked.ids[offset:top])
        elif by_date and year_to is None:
            # More matches than are counted: walking papers newest first finds a page within a few rows
            # each (not with year_to, whose matches lie behind every newer paper).
            rows = plan.page(conn, "date", limit, offset, dense=True)
        elif match and sort == "relevance" and total > RANK_CANDIDATES:
            # Scoring every match of very common words costs more than it tells: rank by BM25 among the
            # papers with the words in their title, or failing that list the newest.
            ranked = (
                title_ranking
                if title_ranked
                else halves.ranked(
                    catalog,
                    conn,
                    titled,
                    RANK_CANDIDATES,
                    top,
                    count_first=relevance and titles_likely_over(catalog, conn, match, RANK_CANDIDATES, **filtered),
                    score=_title_score(catalog, conn, match, filtered)[0] if relevance else None,
                )
            )
            if ranked is not None and ranked.total:
                rows = titled.rows(conn, ranked.ids[offset:top])
                note = (
                    f"These words are very common ({total:,}{'' if exact else '+'} papers): "
                    "ranked among papers with them in the title. Add words or filters to narrow the search."
                )
                total, exact = ranked.total, True
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
            unfiltered, _ = halves.count(catalog, conn, Plan(match, None, "", []), COUNT_CAP)
        if unfiltered:
            shown = f"{unfiltered:,}" if unfiltered < COUNT_CAP else f"more than {COUNT_CAP:,}"
            note = f"{shown} papers contain these words, but none passes the filters; relax a filter."
        elif total == 0 and match and offset == 0:
            results, total = fuzzy_titles(catalog, conn, query, plan.filters, params, limit, author_id)
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


def _title_score(catalog: Catalog, conn: Connection, match: str, filtered: dict[str, Any]) -> tuple[Score, list[str]]:
    """How the papers with *match*'s words in their title are scored (:func:`.scoring.relevance`)."""
    likely = likely_titles(catalog, conn, match, **filtered)
    return scoring.relevance(catalog, conn, f"title : ({match})", BM25_WEIGHTS, likely)


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
