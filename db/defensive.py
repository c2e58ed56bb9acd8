"""Opening a catalog someone else built: SQLite's defensive settings and a check that the schema is ours.

A served catalog may come from another machine or another person. Before a server reads it:

- :func:`harden` turns on ``SQLITE_DBCONFIG_DEFENSIVE`` (no writable schema, no corrupting shadow-table
  writes, no dangerous PRAGMAs) and ``PRAGMA trusted_schema=OFF`` (functions with side effects and
  virtual tables not marked innocuous cannot be used from views and triggers stored in the file).
  The server's connections are APSW's, which sets it with ``Connection.config``.
- :func:`check_objects` compares the file's triggers, views and virtual tables with those of a catalog
  built by this program's own :func:`~scholar_catalog.db.schema.create_schema` (kept as :data:`EXPECTED`,
  which a test compares with ``create_schema``'s). Extra plain tables and indexes are tolerated; a missing table or
  trigger, an unknown trigger or view, and a virtual table of another module are refused with a message.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

import apsw

_VIRTUAL = re.compile(r"^\s*CREATE\s+VIRTUAL\s+TABLE\s+.*?\bUSING\s+([A-Za-z0-9_]+)", re.IGNORECASE | re.DOTALL)


class ForeignSchemaError(RuntimeError):
    """The file holds objects no scholar-catalog catalog has. The message names them."""


def harden(conn: apsw.Connection) -> bool:
    """Defensive mode and ``trusted_schema=OFF`` on *conn*; True if defensive mode is on."""
    conn.execute("PRAGMA trusted_schema = OFF")
    return conn.config(apsw.SQLITE_DBCONFIG_DEFENSIVE, 1) == 1


def defensive_enabled(conn: apsw.Connection) -> bool:
    """Whether defensive mode is on for *conn*."""
    return bool(conn.config(apsw.SQLITE_DBCONFIG_DEFENSIVE, -1))


@dataclass(frozen=True)
class _Objects:
    tables: frozenset[str]
    triggers: frozenset[tuple[str, str]]  # (name, table)
    views: frozenset[str]
    virtual: dict[str, str]  # name -> module


def _objects(conn: sqlite3.Connection | apsw.Connection) -> _Objects:
    rows = conn.execute("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master").fetchall()
    virtual = {}
    for kind, name, _table, sql in rows:
        if kind == "table" and (match := _VIRTUAL.match(sql)):
            virtual[name] = match.group(1).lower()
    return _Objects(
        tables=frozenset(r[1] for r in rows if r[0] == "table" and r[1] not in virtual),
        triggers=frozenset((r[1], r[2]) for r in rows if r[0] == "trigger"),
        views=frozenset(r[1] for r in rows if r[0] == "view"),
        virtual=virtual,
    )


# The objects of an empty catalog made by this program's own schema code (``create_schema``), written out
# so that opening a catalog does not import sqlite-utils and build one in memory (~0.1-0.3 s of a server's
# cold start). tests/test_defensive_open.py checks it against a catalog created by ``create_schema``.
EXPECTED = _Objects(
    tables=frozenset(
        {
            "affiliations",
            "authors",
            "facets",
            "listings",
            "meta",
            "paper_affiliations",
            "paper_authors",
            "paper_vectors",
            "papers",
            "papers_fts_config",
            "papers_fts_data",
            "papers_fts_docsize",
            "papers_fts_idx",
            "profiles",
            "term_docs",
            "title_words",
        }
    ),
    triggers=frozenset(
        {
            ("facets_ad", "papers"),
            ("facets_ai", "papers"),
            ("facets_au", "papers"),
            ("papers_ad", "papers"),
            ("papers_ai", "papers"),
            ("papers_au", "papers"),
        }
    ),
    views=frozenset(),
    virtual={"papers_fts": "fts5"},
)


def expected_objects() -> _Objects:
    """The objects of an empty catalog (see :data:`EXPECTED`)."""
    return EXPECTED


def built_objects() -> _Objects:
    """The objects of an empty catalog built in memory by :func:`~scholar_catalog.db.schema.create_schema`."""
    from .schema import create_schema

    conn = sqlite3.connect(":memory:")
    try:
        create_schema(conn)
        return _objects(conn)
    finally:
        conn.close()


def check_objects(conn: sqlite3.Connection | apsw.Connection) -> None:
    """Raise :class:`ForeignSchemaError` unless *conn*'s schema objects are a catalog's (see module doc)."""
    expected = expected_objects()
    found = _objects(conn)
    problems = []
    if missing := sorted(expected.tables - found.tables - set(found.virtual)):
        problems.append(f"it lacks the tables {', '.join(missing)} (an unfinished or damaged catalog)")
    if triggers := sorted(f"{name} on {table}" for name, table in found.triggers - expected.triggers):
        problems.append(f"it has triggers no catalog has: {', '.join(triggers)}")
    if lost := sorted(name for name, _ in expected.triggers - found.triggers):
        problems.append(
            f"it lacks the triggers {', '.join(lost)} that keep its tables in step (dropped by hand? "
            "`scholar-catalog ingest` makes the facets ones again)"
        )
    if views := sorted(found.views - expected.views):
        problems.append(f"it has views no catalog has: {', '.join(views)}")
    modules = set(expected.virtual.values())
    strange = sorted(
        f"{name} (module {module})"
        for name, module in found.virtual.items()
        if module not in modules or (name in expected.virtual and expected.virtual[name] != module)
    )
    if strange:
        problems.append(f"it has virtual tables of modules no catalog uses: {', '.join(strange)}")
    if problems:
        raise ForeignSchemaError(
            "refusing to serve this file: " + "; ".join(problems) + ". It was not built by scholar-catalog "
            "(or was changed afterwards); build the catalog with `scholar-catalog ingest` and serve that file"
        )
