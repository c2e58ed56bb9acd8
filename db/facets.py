"""The ``facets`` table: each paper's category, year, code flag and date, keyed by the paper's id.

Searches with filters and ``topic_trends`` join every full-text match to these columns. A lookup by
rowid in this narrow table costs about half a seek in an index of ``papers`` led by its id (the
``papers_facets`` index of schema 2 to 6, which it replaces: bench/HISTORY.md, "Round thirty"). Triggers
on ``papers`` keep it equal to those columns of ``papers`` whatever writes a paper (ingest, or SQL run on
the catalog by hand).
"""

from __future__ import annotations

import sqlite3

TABLE = "facets"
COLUMNS = ("category", "year", "has_code", "date")
TRIGGERS = frozenset({"facets_ai", "facets_au", "facets_ad"})
OLD_INDEX = "papers_facets"

_NEW = ", ".join(f"new.{c}" for c in ("id", *COLUMNS))
_CHANGED = " OR ".join(f"old.{c} IS NOT new.{c}" for c in ("id", *COLUMNS))
_SET = ", ".join(f"{c} = new.{c}" for c in ("id", *COLUMNS))
_SQL = (
    f"""CREATE TABLE IF NOT EXISTS {TABLE}
        (id INTEGER PRIMARY KEY, category TEXT, year INTEGER, has_code INTEGER, date TEXT)""",
    f"""CREATE TRIGGER IF NOT EXISTS facets_ai AFTER INSERT ON papers BEGIN
        INSERT INTO {TABLE} (id, {", ".join(COLUMNS)}) VALUES ({_NEW});
    END""",
    # Ingest rewrites a paper's row whenever one of its listings changes: most rewrites leave these alone.
    f"""CREATE TRIGGER IF NOT EXISTS facets_au AFTER UPDATE OF id, {", ".join(COLUMNS)} ON papers
        WHEN {_CHANGED} BEGIN
        UPDATE {TABLE} SET {_SET} WHERE id = old.id;
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS facets_ad AFTER DELETE ON papers BEGIN
        DELETE FROM {TABLE} WHERE id = old.id;
    END""",
)


def create(conn: sqlite3.Connection) -> None:
    """Make the table and its triggers (an empty catalog's, or an older one's before :func:`fill`)."""
    for sql in _SQL:
        conn.execute(sql)


def fill(conn: sqlite3.Connection) -> None:
    """Make the table's rows again from ``papers`` (its triggers may be off meanwhile: a bulk load)."""
    conn.execute(f"DELETE FROM {TABLE}")
    conn.execute(f"INSERT INTO {TABLE} (id, {', '.join(COLUMNS)}) SELECT id, {', '.join(COLUMNS)} FROM papers")


def upgrade(conn: sqlite3.Connection) -> None:
    """Give a catalog of schema 2 to 6 the table, filled from its papers, in place of its old index."""
    repair(conn)
    conn.execute(f"DROP INDEX IF EXISTS {OLD_INDEX}")


def intact(conn: sqlite3.Connection) -> bool:
    """Whether every trigger that keeps the table equal to ``papers`` is there."""
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'papers'")
    return {row[0] for row in rows} >= TRIGGERS


def repair(conn: sqlite3.Connection) -> None:
    """Make the missing triggers again and the rows from ``papers`` (which may have changed without them)."""
    create(conn)
    fill(conn)
