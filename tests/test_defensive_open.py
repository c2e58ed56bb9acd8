"""A catalog from someone else is opened defensively: SQLite's defensive mode, trusted_schema=OFF,
and its schema checked to be ours (version, tables, triggers, views, virtual tables) before serving."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import apsw
import pytest

from scholar_catalog.db.connection import CatalogError, open_readonly
from scholar_catalog.db.defensive import built_objects, defensive_enabled, expected_objects
from scholar_catalog.db.limits import CallTooLong, call_time_limit, paused


def planted(example_db: Path, tmp_path: Path, *statements: str, writable_schema: bool = False) -> Path:
    """A copy of the example catalog with *statements* run on it (as a tampering third party would)."""
    copy = tmp_path / "catalog.db"
    shutil.copyfile(example_db, copy)
    conn = sqlite3.connect(copy)
    try:
        if writable_schema:
            conn.execute("PRAGMA writable_schema = ON")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()
    return copy


def test_served_connection_is_defensive_and_distrusts_the_schema(example_db: Path) -> None:
    conn = open_readonly(example_db)
    try:
        assert defensive_enabled(conn) is True
        assert conn.execute("PRAGMA trusted_schema").fetchone()[0] == 0
    finally:
        conn.close()


def test_our_own_catalog_passes_the_object_check(example_db: Path) -> None:
    expected = expected_objects()
    assert {"profiles", "papers", "meta"} <= expected.tables
    assert set(expected.virtual.values()) == {"fts5"}
    open_readonly(example_db).close()


def test_the_expected_objects_are_those_create_schema_makes() -> None:
    """EXPECTED is written out (opening a catalog must not build one): it must follow the schema code."""
    built = built_objects()
    assert expected_objects() == built, f"update EXPECTED in db/defensive.py to {built!r}"


def test_catalog_with_a_planted_trigger_is_refused(example_db: Path, tmp_path: Path) -> None:
    db = planted(example_db, tmp_path, "CREATE TRIGGER spy AFTER INSERT ON profiles BEGIN DELETE FROM papers; END")
    with pytest.raises(CatalogError, match=r"triggers no catalog has: spy on profiles") as raised:
        open_readonly(db)
    assert "scholar-catalog ingest" in str(raised.value)


def test_catalog_with_a_planted_view_is_refused(example_db: Path, tmp_path: Path) -> None:
    db = planted(example_db, tmp_path, "CREATE VIEW leak AS SELECT name FROM profiles")
    with pytest.raises(CatalogError, match=r"views no catalog has: leak"):
        open_readonly(db)


def test_catalog_with_a_virtual_table_of_an_unknown_module_is_refused(example_db: Path, tmp_path: Path) -> None:
    db = planted(
        example_db,
        tmp_path,
        "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) "
        "VALUES ('table', 'probe', 'probe', 0, 'CREATE VIRTUAL TABLE probe USING evilmod(x)')",
        writable_schema=True,
    )
    with pytest.raises(CatalogError, match=r"virtual tables of modules no catalog uses: probe \(module evilmod\)"):
        open_readonly(db)


def test_an_extra_plain_table_is_tolerated(example_db: Path, tmp_path: Path) -> None:
    """Tables the schema gains later (or an operator's notes table) do not make a catalog foreign."""
    db = planted(example_db, tmp_path, "CREATE TABLE term_weights_extra (term TEXT, weight REAL)")
    open_readonly(db).close()


def test_catalog_missing_a_table_is_refused(example_db: Path, tmp_path: Path) -> None:
    db = planted(example_db, tmp_path, "DROP TABLE paper_affiliations")
    with pytest.raises(CatalogError, match=r"lacks the tables paper_affiliations"):
        open_readonly(db)


def test_catalog_from_an_older_version_is_explained(example_db: Path, tmp_path: Path) -> None:
    db = planted(example_db, tmp_path, "UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with pytest.raises(CatalogError) as raised:
        open_readonly(db)
    message = str(raised.value)
    assert "older scholar-catalog (schema version 1" in message
    assert "ingest --rebuild" in message


def test_catalog_from_a_newer_version_says_to_upgrade(example_db: Path, tmp_path: Path) -> None:
    db = planted(example_db, tmp_path, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(CatalogError, match=r"newer scholar-catalog .* upgrade scholar-catalog"):
        open_readonly(db)


def test_refused_catalog_is_reported_by_the_cli_without_traceback(example_db: Path, tmp_path: Path) -> None:
    db = planted(example_db, tmp_path, "CREATE VIEW leak AS SELECT name FROM profiles")
    done = subprocess.run(
        [sys.executable, "-m", "scholar_catalog", "call", "catalog_stats", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert "views no catalog has: leak" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_runaway_query_is_stopped_inside_sqlite_at_the_time_limit(example_db: Path) -> None:
    conn = open_readonly(example_db)
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
    try:
        too_long = pytest.raises(CallTooLong, match=r"search_papers took longer than .* 0.2 s .* fewer or rarer words")
        with too_long, call_time_limit(0.2, "search_papers"):
            conn.execute(endless).fetchone()
        # Outside a limited call the handler lets statements run, and the connection still works.
        assert conn.execute("SELECT count(*) FROM profiles").fetchone()[0] > 0
    finally:
        conn.close()


def test_building_a_shared_cache_is_not_cut_short_by_the_calls_time_limit(example_db: Path) -> None:
    conn = open_readonly(example_db)
    long = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000000) SELECT count(*) FROM n"
    try:
        with call_time_limit(0.01, "get_author"):
            with paused():  # as Catalog.cached does while it builds the name index
                assert conn.execute(long).fetchone()[0] == 2_000_000
            with pytest.raises(apsw.InterruptError):  # the call's own work is limited
                conn.execute(long).fetchone()
    finally:
        conn.close()
