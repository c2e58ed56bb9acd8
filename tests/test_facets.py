"""The ``facets`` table (db/facets.py): every paper's filter columns, equal to those of ``papers`` whatever
writes them, and what searches, trends and people rankings join their matches to."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from conftest import build_catalog, facet_rows, reingest
from scholar_catalog import tools
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.db.connection import CatalogError, open_readonly, open_writable
from scholar_catalog.db.ingest_fts import FTS_TRIGGERS

HENRIK = "ex08_henrik-solberg.txt"
LINE, EDITED = "77.2OSJun 2, 2025Code", "77.2DBMar 3, 2021"
TITLE = "Userspace Page-Fault Handling for Disaggregated Memory"


def paper_facets(db: Path, title: str) -> tuple[str, int, int, str]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT category, year, has_code, date FROM papers WHERE title = ?", [title]).fetchone()


def test_a_first_ingest_fills_facets_with_every_paper_filter_columns(folder: Path, tmp_path: Path) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    rows = facet_rows(db)
    assert rows == facet_rows(db, "papers") and len(rows) > 50
    with closing(sqlite3.connect(db)) as conn:
        triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert triggers == FTS_TRIGGERS | {"facets_ai", "facets_au", "facets_ad"}  # ingest put back what it suspended


def test_facets_follow_a_paper_whose_category_date_and_code_change_and_papers_that_leave(
    folder: Path, tmp_path: Path
) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    assert paper_facets(db, TITLE) == ("OS", 2025, 1, "2025-06-02")
    henrik = folder / HENRIK
    text = henrik.read_text("utf-8")
    assert text.count(LINE) == 1
    henrik.write_text(text.replace(LINE, EDITED), "utf-8")
    reingest(db, folder)
    assert paper_facets(db, TITLE) == ("DB", 2021, 0, "2021-03-03")
    assert facet_rows(db) == facet_rows(db, "papers")
    before = len(facet_rows(db))
    henrik.unlink()  # papers only Henrik listed leave the catalog
    reingest(db, folder)
    rows = facet_rows(db)
    assert rows == facet_rows(db, "papers") and len(rows) < before


def test_facets_follow_sql_written_on_the_catalog_by_hand(folder: Path, tmp_path: Path) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    with closing(sqlite3.connect(db)) as conn:
        first, second = (r[0] for r in conn.execute("SELECT id FROM papers ORDER BY id LIMIT 2"))
        conn.execute("UPDATE papers SET category = 'QX', year = 1999, date = '1999-01-01' WHERE id = ?", [first])
        conn.execute("UPDATE papers SET abstract = abstract || ' More.' WHERE id = ?", [second])  # no facet
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("DELETE FROM papers WHERE id = ?", [second])
        conn.commit()
    rows = facet_rows(db)
    assert rows == facet_rows(db, "papers")
    assert rows[0][:3] == (first, "QX", 1999) and second not in {r[0] for r in rows}


def test_filters_trends_and_people_read_the_same_answers_through_facets(folder: Path, tmp_path: Path) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    with closing(sqlite3.connect(db)) as conn:
        # What the filters must find, counted from papers itself: IR papers since 2024 matching "retrieval".
        truth = {
            r[0]
            for r in conn.execute(
                """SELECT p.id FROM papers p JOIN papers_fts f ON f.rowid = p.id
                   WHERE papers_fts MATCH 'retrieval' AND p.category = 'IR' AND p.year >= 2024"""
            )
        }
        by_year = dict(
            conn.execute(
                """SELECT p.year, count(*) FROM papers p JOIN papers_fts f ON f.rowid = p.id
                   WHERE papers_fts MATCH 'retrieval' GROUP BY p.year"""
            ).fetchall()
        )
    assert len(truth) >= 2
    catalog = Catalog(db)
    try:
        found = tools.search_papers(catalog, "retrieval", category="IR", year_from=2024, limit=50)
        assert {p.paper_id for p in found.results} == truth and found.total == len(truth)
        newest = tools.search_papers(catalog, "retrieval", category="IR", year_from=2024, sort="date", limit=50)
        assert [p.date for p in newest.results] == sorted((p.date for p in newest.results), reverse=True)
        trends = tools.topic_trends(catalog, "retrieval")
        assert {int(b.key): b.papers for b in trends.buckets if b.papers} == by_year
        mine = tools.search_papers(catalog, "", author="Łukasz Wróbel", category="IR", limit=50)
        assert mine.results and all(p.category == "IR" for p in mine.results)
    finally:
        catalog.close()


def test_a_catalog_whose_facets_triggers_were_dropped_is_refused_by_the_server_and_repaired_by_ingest(
    folder: Path, tmp_path: Path
) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("DROP TRIGGER facets_au")
        conn.execute("UPDATE papers SET year = 1999 WHERE title = ?", [TITLE])  # facets no longer follow
        conn.commit()
    assert facet_rows(db) != facet_rows(db, "papers")
    with pytest.raises(CatalogError, match=r"lacks the triggers facets_au .*scholar-catalog ingest"):
        open_readonly(db)
    open_writable(db).conn.close()
    assert facet_rows(db) == facet_rows(db, "papers")
    open_readonly(db).close()


def test_every_filtered_path_reads_the_filter_columns_from_facets(folder: Path, tmp_path: Path) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    with closing(sqlite3.connect(db)) as conn:
        # Only facets says this paper is from 1901: the paths that find it by that year read facets.
        paper = conn.execute("SELECT id FROM papers WHERE title = ?", [TITLE]).fetchone()[0]
        conn.execute("UPDATE facets SET year = 1901 WHERE id = ?", [paper])
        conn.commit()
    catalog = Catalog(db)
    try:
        words = tools.search_papers(catalog, "disaggregated memory", year_to=1901)
        assert [p.paper_id for p in words.results] == [paper]
        newest = tools.search_papers(catalog, "disaggregated memory", year_to=1901, sort="date")
        assert [p.paper_id for p in newest.results] == [paper]
        by_author = tools.search_papers(catalog, "", author="Henrik Solberg", year_to=1901)
        assert [p.paper_id for p in by_author.results] == [paper]
        both = tools.search_papers(catalog, "page-fault", author="Henrik Solberg", year_to=1901)
        assert [p.paper_id for p in both.results] == [paper]
        trends = tools.topic_trends(catalog, "disaggregated memory")
        assert {b.key: b.papers for b in trends.buckets}["1901"] == 1
        experts = tools.find_experts(catalog, "disaggregated memory", year_to=1901)
        assert {e.name for e in experts.results} >= {"Henrik Solberg"}
        assert all(e.papers == 1 for e in experts.results)  # each counts only the paper facets date 1901
    finally:
        catalog.close()
