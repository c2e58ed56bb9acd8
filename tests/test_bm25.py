"""The counted BM25 score (``db/bm25.py``) is FTS5's ``bm25()`` to the last bit, and ``tools/scoring.py``
chooses it only as a cheaper way to the same ranking."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import apsw
import pytest

from conftest import traced
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


@pytest.mark.parametrize("match", MATCHES)
def test_each_phrase_count_the_scorer_is_told_is_what_fts5_counts(catalog: Catalog, match: str) -> None:
    with catalog.connection() as conn:
        chosen = scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0)
        assert chosen.sql.startswith(bm25.NAME)  # no match to score: counting costs more
        assert list(chosen.params) == [*BM25_WEIGHTS, *phrase_counts(conn, match)]


def test_a_phrase_count_fts5_makes_is_remembered_until_the_catalog_changes(catalog: Catalog) -> None:
    match = 'title : ("language models" "for")'
    with catalog.connection() as conn:
        scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0)  # counted (or remembered) here
        with traced(conn) as statements:
            again = scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0)
        assert again.params[3:] == tuple(phrase_counts(conn, match))
    assert not [s for s in statements if "papers_fts MATCH" in s]


def test_single_words_anywhere_are_counted_from_term_docs_without_walking_the_index(catalog: Catalog) -> None:
    with catalog.connection() as conn:
        with traced(conn) as statements:
            chosen = scoring.relevance(catalog, conn, '"dense" "retrieval" "for"', BM25_WEIGHTS, matches=0)
        assert chosen.params[3:] == tuple(phrase_counts(conn, '"dense" "retrieval" "for"'))
    assert not [s for s in statements if "papers_fts MATCH" in s]


def test_many_matches_of_rare_words_keep_fts5s_own_bm25(catalog: Catalog) -> None:
    with catalog.connection() as conn:
        chosen = scoring.relevance(catalog, conn, '"retrieval"', BM25_WEIGHTS, matches=1_000)
    assert chosen == scoring.compiled(BM25_WEIGHTS)
    assert chosen.sql == "bm25(papers_fts, 10.0, 1.0, 3.0)" and not chosen.params


@pytest.mark.parametrize("match", ['"a" OR "b"', '{title} : ("models")', '"models"*', ""])
def test_queries_of_other_shapes_keep_fts5s_own_bm25(catalog: Catalog, match: str) -> None:
    with catalog.connection() as conn:
        assert scoring.relevance(catalog, conn, match, BM25_WEIGHTS, matches=0) == scoring.compiled(BM25_WEIGHTS)


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


@pytest.mark.parametrize("rank_candidates", [5_000, 3])
@pytest.mark.parametrize(("query", "filters"), SEARCHES)
def test_search_pages_are_the_same_scored_either_way(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, rank_candidates: int, query: str, filters: dict
) -> None:
    """Every page, ranked among all matches or (with few RANK_CANDIDATES) among title matches, is the same
    whichever function scores it; and the counted one does score them when chosen."""
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
        scorers.clear()
        pages[name] = [search_papers(catalog, query=query, limit=3, **filters)]
        while pages[name][-1].next_cursor:
            pages[name].append(
                search_papers(catalog, query=query, limit=3, cursor=pages[name][-1].next_cursor, **filters)
            )
        assert scorers and set(scorers) == {name}, (query, name, scorers)
    assert pages[bm25.NAME] == pages["bm25"]
    assert pages["bm25"][0].results, (query, filters)
    assert fts_query(query) == pages["bm25"][0].query_used
