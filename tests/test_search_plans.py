"""search_papers' query plans for many matches give the answers of the plain query they stand for.

A search whose words match more papers than are counted (``COUNT_CAP``) or ranked (``RANK_CANDIDATES``)
takes other paths: newest first it walks papers by date; by relevance it ranks the papers with the
words in their title. The caps are lowered here so the small example catalog takes every path, and
each page is compared with the ``ORDER BY`` it must equal.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scholar_catalog.db import term_docs
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.db.schema import BM25_WEIGHTS
from scholar_catalog.tools import papers, search_plan
from scholar_catalog.tools.papers import search_papers
from scholar_catalog.tools.search_plan import fts_query


@pytest.fixture(scope="module")
def catalog(example_db: Path) -> Iterator[Catalog]:
    catalog = Catalog(example_db)
    yield catalog
    catalog.close()


def every_page(catalog: Catalog, **arguments: Any) -> tuple[list[int], list[Any]]:
    """The paper ids of every page, in order, and each page's result."""
    ids: list[int] = []
    pages = []
    cursor = None
    while True:
        result = search_papers(catalog, limit=3, cursor=cursor, **arguments)
        pages.append(result)
        ids += [r.paper_id for r in result.results]
        cursor = result.next_cursor
        if cursor is None:
            return ids, pages


def newest_matches(catalog: Catalog, query: str, where: str = "1", params: tuple[Any, ...] = ()) -> list[int]:
    with catalog.connection() as conn:
        return [
            row[0]
            for row in conn.execute(
                f"""SELECT p.id FROM papers p WHERE p.id IN (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?)
                    AND {where} ORDER BY p.date DESC, p.id DESC""",
                [fts_query(query), *params],
            )
        ]


CASES = [
    ("retrieval", {}, "1", ()),
    ("retrieval", {"category": "IR"}, "p.category = ?", ("IR",)),
    ("models", {"year_from": 2025}, "p.year >= ?", (2025,)),
    ("models", {"year_to": 2024}, "p.year <= ?", (2024,)),
    ("while", {"has_code": True}, "p.has_code = 1", ()),
    ("small", {"category": "IR"}, "p.category = ?", ("IR",)),
]


@pytest.mark.parametrize("cap", [1_000, 4])
@pytest.mark.parametrize(("query", "filters", "where", "params"), CASES)
def test_newest_first_pages_are_the_matches_by_date_whether_or_not_all_are_counted(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, cap: int, query: str, filters: dict, where: str, params: tuple
) -> None:
    monkeypatch.setattr(papers, "COUNT_CAP", cap)
    expected = newest_matches(catalog, query, where, params)
    assert len(expected) > 4, (query, filters)  # with cap 4, more than are counted
    ids, pages = every_page(catalog, query=query, sort="date", **filters)
    assert ids == expected
    first = pages[0]
    assert (first.total, first.total_exact) == ((len(expected), True) if cap > len(expected) else (cap, False))


def test_dense_date_walk_is_used_only_where_the_matches_are_not_counted(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    walks: list[bool] = []
    page = papers.Plan.page

    def spy(self: papers.Plan, conn: Any, sort: str, limit: int, offset: int, dense: bool = False) -> Any:
        walks.append(dense)
        return page(self, conn, sort, limit, offset, dense)

    monkeypatch.setattr(papers.Plan, "page", spy)
    search_papers(catalog, query="retrieval", sort="date")
    assert walks == []  # counted: ordered from the one pass that counted them
    monkeypatch.setattr(papers, "COUNT_CAP", 4)
    search_papers(catalog, query="retrieval", sort="date")
    search_papers(catalog, query="models", sort="date", year_to=2024)
    assert walks == [True, False]  # year_to: its matches lie behind every newer paper, so no walk


@pytest.mark.parametrize(("filters", "where", "params"), [({}, "1", ()), ({"year_to": 2024}, "p.year <= ?", (2024,))])
def test_very_common_words_rank_among_title_matches_by_bm25(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, filters: dict, where: str, params: tuple
) -> None:
    monkeypatch.setattr(papers, "RANK_CANDIDATES", 3)
    query = "training"
    assert len(newest_matches(catalog, query, where, params)) > 3
    with catalog.connection() as conn:
        scored = conn.execute(
            f"""SELECT p.id FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid
                WHERE papers_fts MATCH ? AND {where}
                ORDER BY bm25(papers_fts, {", ".join(map(str, BM25_WEIGHTS))}), p.id DESC""",
            [f"title : ({fts_query(query)})", *params],
        ).fetchall()
    expected = [row[0] for row in scored]
    assert 0 < len(expected) <= 3
    ids, pages = every_page(catalog, query=query, **filters)
    assert ids == expected
    assert pages[0].total == len(expected) and "very common" in (pages[0].note or "")


@pytest.mark.parametrize(
    ("query", "filters"),
    [
        ("training", {}),
        ("language models", {}),
        ("models", {}),
        ("retrieval", {}),
        ("models", {"year_from": 2025}),
        ("for", {"category": "IR"}),
        ("for", {"has_code": True, "year_to": 2025}),
    ],
)
def test_title_ranking_gives_the_same_pages_whether_or_not_it_counts_first(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, query: str, filters: dict
) -> None:
    """The guess of how many titles match picks the cheaper plan only: with at most or more than
    RANK_CANDIDATES title matches, both plans give every page alike."""
    monkeypatch.setattr(papers, "RANK_CANDIDATES", 3)
    assert search_papers(catalog, query=query, sort="date", **filters).total > 3
    answers = []
    for guess in (True, False):
        monkeypatch.setattr(papers, "titles_likely_over", lambda *_, guess=guess, **__: guess)
        ids, pages = every_page(catalog, query=query, **filters)
        answers.append((ids, [p.model_dump() for p in pages]))
    assert answers[0] == answers[1]


def test_the_title_guess_is_the_papers_times_each_words_share_of_titles(catalog: Catalog) -> None:
    with catalog.connection() as conn:
        n = conn.execute("SELECT count(*) FROM papers").fetchone()[0]
        share = dict(conn.execute("SELECT word, papers FROM title_words WHERE word IN ('for', 'retrieval')"))
        assert share["for"] > share["retrieval"] > 1
        likely = search_plan.titles_likely_over
        assert likely(catalog, conn, '"For"', share["for"] - 1)
        assert not likely(catalog, conn, '"For"', share["for"] + 1)
        both = share["for"] * share["retrieval"] / n
        assert likely(catalog, conn, '"retrieval" "for"', int(both) - 1)
        assert not likely(catalog, conn, '"retrieval" "for"', int(both) + 1)
        assert not likely(catalog, conn, '"for" "zzzunknownword"', 0)
        titled = conn.execute(
            """SELECT count(*) FROM papers p WHERE category = 'IR' AND p.id IN
               (SELECT rowid FROM papers_fts WHERE papers_fts MATCH 'title : "for"')"""
        ).fetchone()[0]
        ir = conn.execute("SELECT count(*) FROM papers WHERE category = 'IR'").fetchone()[0]
        guess = share["for"] * ir / n
        assert 0 < titled < share["for"] and 0 < guess < share["for"]
        assert likely(catalog, conn, '"for"', int(guess) - 1, category="IR")
        assert not likely(catalog, conn, '"for"', int(guess) + 1, category="IR")


RELEVANCE_CASES = [
    ("retrieval", {}, "1", ()),
    ("retrieval", {"category": "IR"}, "p.category = ?", ("IR",)),
    ("models", {"year_from": 2025}, "p.year >= ?", (2025,)),
    ("models", {"year_to": 2024, "has_code": False}, "p.year <= ? AND p.has_code = 0", (2024,)),
    ("language models", {"has_code": True}, "p.has_code = 1", ()),
    ("while", {"category": "cl"}, "p.category = ?", ("CL",)),
    ("zzzunknownword", {"category": "IR"}, "p.category = ?", ("IR",)),
]


@pytest.mark.parametrize("cap", [5_000, 3])
@pytest.mark.parametrize(("query", "filters", "where", "params"), RELEVANCE_CASES)
def test_relevance_pages_are_the_same_whether_or_not_few_matches_are_guessed(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, cap: int, query: str, filters: dict, where: str, params: tuple
) -> None:
    """Guessing few matches scores and counts them in one pass; guessing many counts first. Either way,
    and with more matches than are ranked (cap 3), every page is alike."""
    monkeypatch.setattr(papers, "RANK_CANDIDATES", cap)
    matches = len(newest_matches(catalog, query, where, params))
    answers = []
    counts: list[int] = []
    count = papers.Plan.count

    def counting(self: papers.Plan, conn: Any, cap: int = papers.COUNT_CAP) -> tuple[int, bool]:
        counts.append(cap)
        return count(self, conn, cap)

    monkeypatch.setattr(papers.Plan, "count", counting)
    for guess in (True, False):
        counts.clear()
        monkeypatch.setattr(papers, "matches_likely_at_most", lambda *_, guess=guess, **__: guess)
        ids, pages = every_page(catalog, query=query, **filters)
        answers.append((ids, [p.model_dump() for p in pages]))
        if guess and 0 < matches <= cap:
            assert counts == []  # one pass scored and counted them
            assert (pages[0].total, pages[0].total_exact) == (matches, True)
    assert answers[0] == answers[1]


def test_the_match_guess_is_the_papers_times_each_words_share_and_each_filters_share(catalog: Catalog) -> None:
    likely = search_plan.matches_likely_at_most
    with catalog.connection() as conn:
        n = conn.execute("SELECT count(*) FROM papers").fetchone()[0]
        docs = dict(conn.execute("SELECT term, docs FROM term_docs WHERE term IN ('retrieval', 'models')"))
        assert docs["models"] > docs["retrieval"] > 1
        assert likely(catalog, conn, '"Retrieval"', docs["retrieval"])
        assert not likely(catalog, conn, '"Retrieval"', docs["retrieval"] - 1)
        both = docs["retrieval"] * docs["models"] / n
        assert likely(catalog, conn, '"retrieval" "models"', int(both) + 1)
        assert not likely(catalog, conn, '"retrieval" "models"', int(both) - 1)
        assert likely(catalog, conn, '"zzzunknownword"', 0)

        def share(where: str, *params: object) -> float:
            return conn.execute(f"SELECT count(*) FROM papers WHERE {where}", params).fetchone()[0] / n

        for filters, where, params in [
            ({"category": "IR"}, "category = ?", ("IR",)),
            ({"year_from": 2025}, "year >= ?", (2025,)),
            ({"year_to": 2024, "has_code": True}, "year <= ? AND has_code = 1", (2024,)),
            ({"has_code": False}, "has_code = 0", ()),
        ]:
            guess = docs["models"] * share(where, *params)
            assert 0 < guess < docs["models"], filters
            assert likely(catalog, conn, '"models"', int(guess) + 1, **filters), filters
            assert not likely(catalog, conn, '"models"', int(guess) - 1, **filters), filters


def test_a_phrase_is_guessed_as_common_as_its_rarest_word(catalog: Catalog) -> None:
    """The words of a phrase ("hardware-aware") mostly come together: multiplying their shares would guess
    a handful of matches for a phrase in thousands of papers."""
    with catalog.connection() as conn:
        docs = dict(conn.execute("SELECT term, docs FROM term_docs WHERE term IN ('language', 'models')"))
        titles = dict(conn.execute("SELECT word, papers FROM title_words WHERE word IN ('language', 'models')"))
        n = conn.execute("SELECT count(*) FROM papers").fetchone()[0]
        assert docs["models"] > docs["language"] > docs["language"] * docs["models"] / n + 1
        assert titles["models"] > titles["language"] >= 1
        at_most, over = search_plan.matches_likely_at_most, search_plan.titles_likely_over
        for match in ('"language models"', '"Language-Models"'):
            assert at_most(catalog, conn, match, docs["language"])
            assert not at_most(catalog, conn, match, docs["language"] - 1)
            assert over(catalog, conn, match, titles["language"] - 1)
            assert not over(catalog, conn, match, titles["language"])
        # Separate phrases are still taken as independent of each other.
        both = docs["language"] * docs["models"] / n
        assert at_most(catalog, conn, '"language" "models"', int(both) + 1)
        assert not at_most(catalog, conn, '"language" "models"', int(both) - 1)


def test_the_match_guess_counts_first_while_an_ingest_has_deferred_the_term_counts(
    example_db: Path, tmp_path: Path
) -> None:
    """Without ``term_docs``' counts the guess would walk every word's postings: it says "many" instead."""
    copy = tmp_path / "catalog.db"
    shutil.copy(example_db, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES (?, '1')", [term_docs.STALE_KEY])
    stale = Catalog(copy)
    try:
        with stale.connection() as conn:
            assert not search_plan.matches_likely_at_most(stale, conn, '"zzzunknownword"', 1_000_000)
        assert search_papers(stale, query="retrieval").total > 0
    finally:
        stale.close()
