"""The counted BM25 score (``db/bm25.py``) is FTS5's ``bm25()`` to the last bit, and ``tools/scoring.py``
chooses it only as a cheaper way to the same ranking."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import apsw
import pytest

from conftest import EXAMPLES, build_catalog, ingest_elsewhere, traced
from scholar_catalog.db import bm25
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.db.connection import open_readonly
from scholar_catalog.db.schema import BM25_WEIGHTS
from scholar_catalog.tools import papers, scoring
from scholar_catalog.tools.papers import search_papers
from scholar_catalog.tools.search_plan import PHRASE_RE, fts_query

MATCHES = [
    '"retrieval"',
    '"language models"',
    '"for" "models"',
    '"dense" "retrieval" "for"',
    '"the" "of" "and"',
    'title : ("retrieval")',
    'title : ("for" "models")',
    'title : ("language models" "for")',
]
WEIGHTS = [BM25_WEIGHTS, (3.0, 1.0, 0.0), (1.0, 1.0, 1.0), (0.0, 5.0, 2.0)]


@pytest.fixture(scope="module")
def catalog(example_db: Path) -> Iterator[Catalog]:
    catalog = Catalog(example_db)
    yield catalog
    catalog.close()


def phrase_counts(conn: apsw.Connection, match: str) -> list[int]:
    """Each phrase's rows, counted by FTS5 (what bm25() counts before its first score)."""
    column = "title : " if match.startswith("title") else ""
    return [
        conn.execute("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ?", [f'{column}"{p}"']).fetchone()[0]
        for p in PHRASE_RE.findall(match)
    ]


def both_scores(db: Path, match: str, weights: tuple[float, ...]) -> tuple[list[Any], list[Any]]:
    with closing(open_readonly(db)) as conn:
        hits = phrase_counts(conn, match)
        listed = ", ".join(map(str, weights))
        fts5 = conn.execute(
            f"SELECT rowid, bm25(papers_fts, {listed}) FROM papers_fts WHERE papers_fts MATCH ? ORDER BY rowid",
            [match],
        ).fetchall()
        marks = ", ".join("?" * (len(weights) + len(hits)))
        counted = conn.execute(
            f"SELECT rowid, {bm25.NAME}(papers_fts, {marks}) FROM papers_fts WHERE papers_fts MATCH ? ORDER BY rowid",
            [*weights, *hits, match],
        ).fetchall()
    return fts5, counted


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("match", MATCHES)
def test_counted_score_is_fts5_bm25_bit_for_bit_on_the_examples(
    example_db: Path, match: str, weights: tuple[float, ...]
) -> None:
    fts5, counted = both_scores(example_db, match, weights)
    assert fts5, match
    assert counted == fts5  # floats compared with ==: the same numbers, not close ones


@pytest.mark.parametrize("match", ['"learning"', '"large language models"', 'title : ("for" "learning")', '"data"'])
def test_counted_score_is_fts5_bm25_bit_for_bit_on_the_real_seed_profiles(seed_db: Path, match: str) -> None:
    fts5, counted = both_scores(seed_db, match, BM25_WEIGHTS)
    assert fts5, match
    assert counted == fts5


def test_counted_score_refuses_counts_that_are_not_one_per_phrase(example_db: Path) -> None:
    with (
        closing(open_readonly(example_db)) as conn,
        pytest.raises(bm25.CountMismatch, match="1 phrase counts given for 2"),
    ):
        conn.execute(
            f"SELECT {bm25.NAME}(papers_fts, 10.0, 1.0, 3.0, 5) FROM papers_fts WHERE papers_fts MATCH ?",
            ['"for" "models"'],
        ).fetchall()


def test_counted_score_refuses_weights_that_are_not_whole_numbers(example_db: Path) -> None:
    refused = pytest.raises(bm25.CountMismatch, match="whole numbers")
    with closing(open_readonly(example_db)) as conn, refused:
        conn.execute(
            f"SELECT {bm25.NAME}(papers_fts, 10.5, 1.0, 3.0, 5) FROM papers_fts WHERE papers_fts MATCH ?", ['"for"']
        ).fetchall()


def test_this_sqlites_bm25_agrees_with_the_counted_score_and_the_check_would_notice_a_last_bit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bm25.agrees_with_fts5.cache_clear()
    assert bm25.agrees_with_fts5()
    monkeypatch.setattr(bm25, "K1", 1.2000000000000002)  # the next double above 1.2: scores move by a few bits
    bm25.agrees_with_fts5.cache_clear()
    try:
        assert not bm25.agrees_with_fts5()
    finally:
        bm25.agrees_with_fts5.cache_clear()


def counted(catalog: Catalog, match: str) -> scoring.Score:
    """The counted score the scorer picks for *match* once its phrase counts are remembered."""
    with catalog.connection() as conn:
        _, worth = scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0)
        scoring.remember(catalog, conn, worth)
        score, worth = scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0)
    assert not worth and score.sql.startswith(bm25.NAME), (match, score)
    return score


@pytest.mark.parametrize("match", MATCHES)
def test_each_phrase_count_the_scorer_is_told_is_what_fts5_counts(catalog: Catalog, match: str) -> None:
    score = counted(catalog, match)
    with catalog.connection() as conn:
        assert list(score.params) == [*BM25_WEIGHTS, *phrase_counts(conn, match)]


@pytest.mark.parametrize("match", MATCHES)
def test_the_scores_the_scorer_chooses_are_fts5s_row_by_row(catalog: Catalog, match: str) -> None:
    score = counted(catalog, match)
    with catalog.connection() as conn:
        mine = conn.execute(
            f"SELECT rowid, {score.sql} FROM papers_fts WHERE papers_fts MATCH ? ORDER BY rowid", [*score.params, match]
        ).fetchall()
        compiled = scoring.compiled(BM25_WEIGHTS).sql
        fts5 = conn.execute(
            f"SELECT rowid, {compiled} FROM papers_fts WHERE papers_fts MATCH ? ORDER BY rowid", [match]
        ).fetchall()
    assert fts5 and mine == fts5


def test_a_title_phrase_is_counted_once_for_later_calls_and_not_on_the_way_to_this_one(example_db: Path) -> None:
    match = 'title : ("language models")'
    with closing(Catalog(example_db)) as catalog, catalog.connection() as conn:
        with traced(conn) as first:
            score, worth = scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0)
        assert score == scoring.compiled(BM25_WEIGHTS) and worth == ['title : "language models"']
        scoring.remember(catalog, conn, worth)
        with traced(conn) as again:
            score, worth = scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0)
        assert score.params[3:] == tuple(phrase_counts(conn, match)) and not worth
    assert not [s for s in first + again if "papers_fts MATCH" in s]


def test_single_words_in_titles_are_counted_from_term_docs_without_walking_the_index(example_db: Path) -> None:
    match = 'title : ("for" "models" "retrieval")'
    with closing(Catalog(example_db)) as catalog, catalog.connection() as conn:
        with traced(conn) as statements:
            score, worth = scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0)
        assert score.params[3:] == tuple(phrase_counts(conn, match)) and not worth
        assert score.params[3:] != tuple(phrase_counts(conn, '"for" "models" "retrieval"'))  # titles, not anywhere
    assert not [s for s in statements if "papers_fts MATCH" in s]


def test_title_counts_are_read_from_term_docs_and_follow_the_catalog_as_it_changes(tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    shutil.copytree(EXAMPLES, folder)
    db = build_catalog(tmp_path / "c.db", folder)
    match = 'title : ("compression" "for")'
    with closing(Catalog(db)) as catalog:
        with catalog.connection() as conn:
            first = scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0)[0].params[3:]
            assert first == tuple(phrase_counts(conn, match))
        chen = folder / "ex03_chen-ming.txt"
        title = "Mixed-Precision Quantization Search as Knapsack Optimization"
        chen.write_text(chen.read_text("utf-8").replace(title, title + " for Compression", 1), "utf-8")
        ingest_elsewhere(db, folder, prune=True)  # one more title holds "compression" (a new paper)
        with catalog.connection() as conn:
            again = scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0)[0].params[3:]
            assert again == tuple(phrase_counts(conn, match)) and again[0] == first[0] + 1
        edit = "UPDATE term_docs SET title_docs = 12345 WHERE term = 'compression'"
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"import sqlite3; c = sqlite3.connect({str(db)!r}); c.execute({edit!r}); c.commit()",
            ],
            check=True,
        )
        with catalog.connection() as conn:
            assert scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0)[0].params[3:] == (12345, again[1])


def test_a_common_title_word_beside_an_uncounted_phrase_is_scored_from_counts_at_once(example_db: Path) -> None:
    """The walk of "for"'s postings is what the counted score saves; the other phrase's count costs its own
    walk, which FTS5's bm25() would make too."""
    match = 'title : ("language models" "for")'
    with closing(Catalog(example_db)) as catalog, catalog.connection() as conn:
        with traced(conn) as first:
            score, worth = scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0)
        assert score.params[3:] == tuple(phrase_counts(conn, match)) and not worth
        with traced(conn) as again:
            assert scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0) == (score, [])
    assert [s for s in first if "papers_fts MATCH" in s] == [
        "SELECT count(*) FROM papers_fts WHERE papers_fts MATCH 'title : \"language models\"'"
    ]
    assert not [s for s in again if "papers_fts MATCH" in s]


def test_single_words_anywhere_are_counted_from_term_docs_without_walking_the_index(example_db: Path) -> None:
    match = '"dense" "retrieval" "for"'
    with closing(Catalog(example_db)) as catalog, catalog.connection() as conn:
        with traced(conn) as statements:
            score, worth = scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0)
        assert score.params[3:] == tuple(phrase_counts(conn, match)) and not worth
    assert not [s for s in statements if "papers_fts MATCH" in s]


def test_many_matches_of_rare_words_keep_fts5s_own_bm25(catalog: Catalog) -> None:
    with catalog.connection() as conn:
        score, worth = scoring.relevance(catalog, conn, '"retrieval"', BM25_WEIGHTS, matches=1_000)
    assert score == scoring.compiled(BM25_WEIGHTS) and not worth
    assert score.sql == "bm25(papers_fts, 10.0, 1.0, 3.0)" and not score.params


@pytest.mark.parametrize("match", ['"a" OR "b"', '{title} : ("models")', '"models"*', "", '"for" "\u19b0" "models"'])
def test_queries_of_other_shapes_and_phrases_fts5_makes_no_term_of_keep_fts5s_own_bm25(
    catalog: Catalog, match: str
) -> None:
    with catalog.connection() as conn:
        score, worth = scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0)
    assert score == scoring.compiled(BM25_WEIGHTS) and not worth


def test_a_sqlite_whose_bm25_rounds_otherwise_keeps_fts5s_own_bm25(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bm25, "agrees_with_fts5", lambda: False)
    with catalog.connection() as conn:
        score, _ = scoring.relevance(catalog, conn, '"dense" "retrieval" "for"', BM25_WEIGHTS, matches=0)
    assert score == scoring.compiled(BM25_WEIGHTS)


SEARCHES = [
    ("retrieval", {}),
    ("language models", {}),
    ("for models", {}),
    ("training", {}),
    ("models", {"year_from": 2025}),
    ("for", {"category": "IR"}),
    ("retrieval for", {"has_code": True}),
    ("the of", {"year_to": 2025}),
]


def every_page(catalog: Catalog, query: str, filters: dict[str, Any]) -> list[Any]:
    pages = [search_papers(catalog, query=query, limit=3, **filters)]
    while pages[-1].next_cursor:
        pages.append(search_papers(catalog, query=query, limit=3, cursor=pages[-1].next_cursor, **filters))
    return pages


@pytest.mark.parametrize("rank_candidates", [5_000, 3])
@pytest.mark.parametrize(("query", "filters"), SEARCHES)
def test_search_pages_are_the_same_scored_either_way(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, rank_candidates: int, query: str, filters: dict[str, Any]
) -> None:
    """Every page, ranked among all matches or (with few RANK_CANDIDATES) among title matches, is the same
    whichever function scores it; and the counted one does score them when chosen (from the second
    search on, where a phrase's count is made beside the first)."""
    monkeypatch.setattr(papers, "RANK_CANDIDATES", rank_candidates)
    scorers: list[str] = []
    ranked = papers.Plan.ranked

    def spy(self: papers.Plan, conn: Any, *args: Any, score: Any = None, **kwargs: Any) -> Any:
        scorers.append(score.sql.split("(")[0] if score else "bm25")
        return ranked(self, conn, *args, score=score, **kwargs)

    monkeypatch.setattr(papers.Plan, "ranked", spy)
    pages = {}
    for name, walk_us, row_us in (("bm25", 0.0, 1.0), (bm25.NAME, 1.0, 0.0)):
        monkeypatch.setattr(scoring, "WALK_US", walk_us)
        monkeypatch.setattr(scoring, "ROW_US", row_us)
        every_page(catalog, query, filters)
        scorers.clear()
        pages[name] = every_page(catalog, query, filters)
        assert scorers and set(scorers) == {name}, (query, name, scorers)
    assert pages[bm25.NAME] == pages["bm25"]
    assert pages["bm25"][0].results, (query, filters)
    assert fts_query(query) == pages["bm25"][0].query_used


@pytest.mark.parametrize("rank_candidates", [5_000, 3])
def test_a_word_fts5_makes_no_term_of_is_searched_as_fts5_drops_it(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, rank_candidates: int
) -> None:
    """A word of letters FTS5's tokenizer skips (U+19B0) is a phrase FTS5 drops from the query; the
    search answers as without it, where the counted score would have been told one count too many."""
    monkeypatch.setattr(papers, "RANK_CANDIDATES", rank_candidates)
    monkeypatch.setattr(scoring, "ROW_US", 0.0)
    for _ in range(2):  # the second time with every other count remembered
        odd = every_page(catalog, "for \u19b0 models", {})
    plain = every_page(catalog, "for models", {})
    assert [page.results for page in odd] == [page.results for page in plain]
    assert odd[0].results and odd[0].total == plain[0].total
