"""The indexes ingest never reads (``schema.READ_INDEXES``): a first ingest makes them at its end.

While a catalog is first built they are absent, so readers must do without them; a build stopped
before its end leaves them to the next ingest, which makes them with its first batch.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from fault_helpers import canonical_dump, dump_differences, make_corpus

from conftest import AS_OF, build_catalog
from scholar_catalog import tools
from scholar_catalog.db import ingest as ingest_mod
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.db.connection import open_writable
from scholar_catalog.db.schema import READ_INDEXES
from scholar_catalog.tools.search_plan import Plan, fts_query

N_PROFILES = 30


def indexes(db: Path) -> dict[str, str]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))


def conn_count(db: Path) -> int:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT count(*) FROM profiles").fetchone()[0]


def new_catalog_indexes(tmp_path: Path) -> dict[str, str]:
    """The indexes of an empty catalog, as create_schema makes them."""
    database = open_writable(tmp_path / "empty.db")
    database.conn.close()
    return indexes(tmp_path / "empty.db")


@pytest.fixture
def corpus_folder(tmp_path: Path) -> Path:
    corpus = make_corpus(N_PROFILES, seed=7)
    folder = tmp_path / "profiles"
    corpus.write(folder, dict.fromkeys(corpus.profiles, 0))
    return folder


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_mod, "BATCH_FILES", 4)
    monkeypatch.setattr(ingest_mod, "BATCH_SECONDS", 1e9)


def answers(db: Path) -> list[str]:
    """Answers of the tools whose queries the read indexes serve (dates, authors, affiliations, filters)."""
    catalog = Catalog(db)
    try:
        with catalog.connection() as conn:
            owner = conn.execute("SELECT name FROM profiles ORDER BY id LIMIT 1").fetchone()[0]
            affiliation = conn.execute("SELECT name_norm FROM affiliations ORDER BY id LIMIT 1").fetchone()
            category = conn.execute("SELECT category FROM papers ORDER BY id LIMIT 1").fetchone()[0]
            word = conn.execute("SELECT title FROM papers ORDER BY id LIMIT 1").fetchone()[0].split()[0]
            # search_papers takes this plan only past 10,000 matches: run it directly
            dense = Plan(fts_query(word), None, "", []).page(conn, "date", 5, 0, dense=True)
        results = [
            tools.search_papers(catalog, query=word, sort="date").model_dump_json(),
            tools.search_papers(catalog, author=owner).model_dump_json(),
            tools.search_papers(catalog, category=category, year_from=2020).model_dump_json(),
            tools.get_author(catalog, name=owner).model_dump_json(),
            tools.topic_trends(catalog, query=word, category=category).model_dump_json(),
            str([tuple(r) for r in dense]),
        ]
        if affiliation is not None:
            results.append(tools.search_papers(catalog, affiliation=affiliation[0]).model_dump_json())
        return results
    finally:
        catalog.close()


def test_a_first_ingest_makes_the_tool_only_indexes_at_its_end_and_readers_do_without_them_meanwhile(
    tmp_path: Path, corpus_folder: Path, small_batches: None
) -> None:
    db = tmp_path / "catalog.db"
    during: list[set[str]] = []

    def look(outcome: ingest_mod.FileOutcome) -> None:
        if not during and conn_count(db) > 0:  # a batch is committed, the build goes on
            during.append(set(indexes(db)))
            answers(db)  # raises if a query needs an index that is not there yet

    database = open_writable(db)
    try:
        report = ingest_mod.ingest(database, [corpus_folder], as_of=AS_OF, on_file=look)
    finally:
        database.conn.close()
    assert report.ok and report.applied == N_PROFILES
    assert during, "no batch was committed before the last file"
    assert not set(READ_INDEXES) & during[0]
    assert indexes(db) == new_catalog_indexes(tmp_path)


def test_a_first_build_stopped_before_its_end_is_served_and_the_next_ingest_makes_its_indexes_first(
    tmp_path: Path, corpus_folder: Path, small_batches: None
) -> None:
    db = tmp_path / "catalog.db"
    seen = 0

    def stop_after_ten(outcome: ingest_mod.FileOutcome) -> None:
        nonlocal seen
        seen += 1
        if seen == 10:
            raise KeyboardInterrupt

    database = open_writable(db)
    try:
        with pytest.raises(KeyboardInterrupt):
            ingest_mod.ingest(database, [corpus_folder], as_of=AS_OF, on_file=stop_after_ten)
    finally:
        database.conn.close()
    assert conn_count(db) == 8  # two batches of four committed, the third rolled back
    assert not set(READ_INDEXES) & set(indexes(db))
    partial = answers(db)
    assert all(partial)

    made_first: list[set[str]] = []

    def look(outcome: ingest_mod.FileOutcome) -> None:
        if not made_first and conn_count(db) > 8:
            made_first.append(set(indexes(db)))

    database = open_writable(db)
    try:
        assert ingest_mod.ingest(database, [corpus_folder], as_of=AS_OF, on_file=look).ok
    finally:
        database.conn.close()
    assert made_first and set(READ_INDEXES) <= made_first[0], "made only at the end of the run"
    assert indexes(db) == new_catalog_indexes(tmp_path)
    clean = build_catalog(tmp_path / "clean.db", corpus_folder)
    assert dump_differences(canonical_dump(db), canonical_dump(clean)) == []
    assert answers(db) == answers(clean)


def test_a_first_ingest_sorts_its_deferred_indexes_with_a_small_page_cache_and_then_restores_its_own(
    tmp_path: Path, corpus_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite's sorter keeps up to a page cache's worth of keys in memory: the indexes made at the end of a
    # build are sorted with a small one (peak memory), the rest of the run keeps the ingest's larger one.
    at_indexes: list[int] = []
    at_commits: list[int] = []
    make_indexes, sync_words = ingest_mod.create_read_indexes, ingest_mod.title_words.sync

    def making(conn: sqlite3.Connection) -> None:
        at_indexes.append(conn.execute("PRAGMA cache_size").fetchone()[0])
        make_indexes(conn)

    def committing(conn: sqlite3.Connection, before: dict[int, str | None]) -> None:
        at_commits.append(conn.execute("PRAGMA cache_size").fetchone()[0])
        sync_words(conn, before)

    monkeypatch.setattr(ingest_mod, "create_read_indexes", making)
    monkeypatch.setattr(ingest_mod.title_words, "sync", committing)
    database = open_writable(tmp_path / "catalog.db")
    try:
        own = database.conn.execute("PRAGMA cache_size").fetchone()[0]
        assert ingest_mod.ingest(database, [corpus_folder], as_of=AS_OF).ok
        assert database.conn.execute("PRAGMA cache_size").fetchone()[0] == own
    finally:
        database.conn.close()
    assert at_indexes == [ingest_mod.SORT_CACHE_SIZE]
    assert at_commits and set(at_commits) == {ingest_mod.INGEST_PRAGMAS["cache_size"]}
    assert ingest_mod.SORT_CACHE_SIZE != ingest_mod.INGEST_PRAGMAS["cache_size"] != own
