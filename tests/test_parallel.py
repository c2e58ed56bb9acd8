"""A call's statements on two cores: ``Catalog.in_parallel`` and the searches run as two halves of the ids.

Running part of a call on a second connection must change nothing but the time it takes: the
helper only reads, keeps the call's time limit, is stopped when the call fails, and every answer
is the one the whole statement gives.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw
import pytest

from scholar_catalog.db import catalog as catalog_module
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.db.limits import CallTooLong, call_time_limit
from scholar_catalog.tools import halves, papers, similar, topics
from scholar_catalog.tools.papers import search_papers
from scholar_catalog.tools.similar import similar_authors, similar_papers
from scholar_catalog.tools.topics import find_experts
from scholar_catalog.tools.trends import topic_trends

COUNT_PAPERS = "SELECT count(*) FROM papers"
ENDLESS = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"


@pytest.fixture
def catalog(example_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Catalog]:
    monkeypatch.setattr(catalog_module, "_cores", lambda: 2)
    catalog = Catalog(example_db)
    yield catalog
    catalog.close()


def test_a_calls_two_statements_run_at_once_on_two_read_only_connections(catalog: Catalog) -> None:
    together = threading.Barrier(2, timeout=30)  # passes only if both sides are running at the same time

    def side(conn: catalog_module.Connection) -> tuple[catalog_module.Connection, int, int]:
        together.wait()
        return conn, threading.get_ident(), conn.execute(COUNT_PAPERS).fetchone()[0]

    with catalog.connection() as conn:
        (first, first_thread, first_count), (second, second_thread, second_count) = catalog.in_parallel(side, side)
    assert first is conn and second is not conn
    assert first_thread == threading.get_ident() != second_thread
    assert first_count == second_count > 0
    with pytest.raises(apsw.ReadOnlyError):
        second.execute("CREATE TABLE planted (x)")


def test_with_one_core_the_second_statement_runs_after_the_first_on_the_same_connection(
    example_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module, "_cores", lambda: 1)
    order: list[tuple[str, sqlite3.Connection, int]] = []
    catalog = Catalog(example_db)
    try:
        with catalog.connection() as conn:
            catalog.in_parallel(
                lambda c: order.append(("here", c, threading.get_ident())),
                lambda c: order.append(("there", c, threading.get_ident())),
            )
        me = threading.get_ident()
        assert order == [("here", conn, me), ("there", conn, me)]
    finally:
        catalog.close()


def test_an_in_memory_catalog_runs_both_on_its_one_connection() -> None:
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    catalog = Catalog.from_connection(conn)
    seen: list[sqlite3.Connection] = []
    assert catalog.in_parallel(lambda c: seen.append(c) or 1, lambda c: seen.append(c) or 2) == (1, 2)
    assert seen == [conn, conn]


def test_the_helpers_statement_keeps_the_calls_time_limit(catalog: Catalog) -> None:
    with catalog.connection() as conn:
        too_long = pytest.raises(CallTooLong, match="topic_trends took longer than")
        with too_long, call_time_limit(0.2, "topic_trends"):
            catalog.in_parallel(lambda c: c.execute(COUNT_PAPERS).fetchone(), lambda c: c.execute(ENDLESS).fetchone())
        # Both connections still answer afterwards.
        counts = catalog.in_parallel(
            lambda c: c.execute(COUNT_PAPERS).fetchone()[0], lambda c: c.execute(COUNT_PAPERS).fetchone()[0]
        )
        assert counts[0] == counts[1] == conn.execute(COUNT_PAPERS).fetchone()[0]


def test_a_failing_first_statement_stops_the_helpers_and_is_the_error_raised(catalog: Catalog) -> None:
    started = threading.Event()
    helper: list[str] = []
    # Long enough (half a minute or more) that the helper finishing on its own shows as "finished".
    long = "WITH RECURSIVE n(x) AS (SELECT started() UNION ALL SELECT x + 1 FROM n WHERE x < 200000000) "
    long += "SELECT count(*) FROM n"

    def there(conn: catalog_module.Connection) -> None:
        conn.create_scalar_function("started", lambda: started.set() or 1, 0)
        try:
            conn.execute(long).fetchone()
            helper.append("finished")
        except apsw.InterruptError as err:
            helper.append(str(err))
            raise

    def here(conn: catalog_module.Connection) -> None:
        assert started.wait(30)
        raise ValueError("the first statement failed")

    with catalog.connection(), pytest.raises(ValueError, match="the first statement failed"):
        catalog.in_parallel(here, there)
    assert helper == ["interrupted"]


def test_closing_the_catalog_closes_the_helpers_connection(example_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog_module, "_cores", lambda: 2)
    catalog = Catalog(example_db)
    with catalog.connection():
        _, helper = catalog.in_parallel(lambda c: c, lambda c: c)
    catalog.close()
    with pytest.raises(apsw.ConnectionClosedError):
        helper.execute(COUNT_PAPERS)


def every_page(catalog: Catalog, **arguments: Any) -> list[dict]:
    pages = []
    cursor = None
    while True:
        result = search_papers(catalog, limit=2, cursor=cursor, **arguments)
        pages.append(result.model_dump())
        cursor = result.next_cursor
        if cursor is None:
            return pages


SEARCHES = [
    ("retrieval", {}),
    ("retrieval", {"sort": "date"}),
    ("retrieval", {"category": "IR"}),
    ("language models", {}),
    ("models", {"year_from": 2025}),
    ("models", {"year_to": 2024, "sort": "date"}),
    ("for", {}),
    ("for", {"has_code": True}),
    ("for the", {"sort": "date"}),
    ("training", {"year_to": 2025}),
    ("zzzunknownword", {"category": "IR"}),
]


@pytest.mark.parametrize("caps", [(10_000, 5_000), (4, 3)])
def test_searches_and_trends_answer_alike_whole_or_in_two_halves(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, caps: tuple[int, int]
) -> None:
    """Lowered caps send the example catalog down every plan: counted or not, ranked whole or by title."""
    monkeypatch.setattr(papers, "COUNT_CAP", caps[0])
    monkeypatch.setattr(papers, "RANK_CANDIDATES", caps[1])
    splits: list[bool] = []
    split = halves.split

    def spy(*args: Any) -> Any:
        result = split(*args)
        splits.append(result is not None)
        return result

    monkeypatch.setattr(halves, "split", spy)
    answers = []
    for postings in (10**12, 0):  # never split, then every search with words
        monkeypatch.setattr(halves, "SPLIT_POSTINGS", postings)
        splits.clear()
        searches = [every_page(catalog, query=query, **filters) for query, filters in SEARCHES]
        trends = [
            topic_trends(catalog, query=query, group_by=group_by).model_dump()
            for query in ("for", "retrieval", "language models", "zzzunknownword", "")
            for group_by in ("year", "category")
        ]
        answers.append((searches, trends))
        assert any(splits) == (postings == 0)
    assert answers[0] == answers[1]
    assert sum(len(page["results"]) for pages in answers[0][0] for page in pages) > 40


TOPICS = [("retrieval", {}), ("language models", {"category": "CL"}), ("models", {}), ("graph", {"year_from": 2025})]


@pytest.mark.parametrize("candidates", [1000, 3])
def test_topic_tools_answer_alike_whole_or_in_two_halves(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, candidates: int
) -> None:
    """With 3 candidates a paper's place depends on the halves' rows being merged in bm25 order."""
    monkeypatch.setattr(topics, "CANDIDATE_PAPERS", candidates)
    monkeypatch.setattr(similar, "SIMILAR_CANDIDATES", candidates)
    parallel = catalog.in_parallel
    calls: list[int] = []

    def counted(*args: Any) -> Any:
        calls.append(1)
        return parallel(*args)

    monkeypatch.setattr(catalog, "in_parallel", counted)
    with catalog.connection() as conn:
        paper_ids = [r[0] for r in conn.execute("SELECT id FROM papers ORDER BY id LIMIT 6")]
        profile_ids = [r[0] for r in conn.execute("SELECT id FROM profiles ORDER BY id LIMIT 4")]
    answers = []
    for postings in (10**12, 0):  # never split, then every candidate search
        monkeypatch.setattr(halves, "TOPIC_SPLIT_POSTINGS", postings)
        calls.clear()
        answers.append(
            (
                [find_experts(catalog, topic=topic, **filters).model_dump() for topic, filters in TOPICS],
                [similar_papers(catalog, paper_id=paper_id).model_dump() for paper_id in paper_ids],
                [similar_authors(catalog, profile_id=profile_id).model_dump() for profile_id in profile_ids],
            )
        )
        assert (len(calls) >= len(TOPICS) + len(paper_ids) + len(profile_ids)) == (postings == 0)
    assert answers[0] == answers[1]
    experts, papers_like, people_like = answers[0]
    assert all(answer["results"] for answer in experts)
    assert sum(len(answer["results"]) for answer in papers_like + people_like) > 20
