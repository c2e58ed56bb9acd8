"""How a first build finds the paper a title already is and the author a listed name already is.

Ingest finds them through two catalog indexes keyed in no order: a title's hash (``idx_papers_title_key``)
and a listed name (``authors_listed_name``). Every batch adds its new keys all over them, so while a
catalog is built each commit wrote them nearly whole again: their writing grew with the square of the
catalog (bench/README.md "Round twenty-three"). While a first build runs, the same keys are kept in two
temporary tables instead (in memory, never written to the catalog's file), filled by temporary triggers
on ``papers`` and ``authors``, so they follow every write, savepoint and rollback of those tables exactly;
the two indexes are dropped with the build's first batch and made once at its end (one sorted pass
each), with the indexes the tools read (``schema.READ_INDEXES``).

The tables mirror the catalog only as long as this connection is its one writer. Every batch checks
``PRAGMA data_version``, which moves when another connection commits: if another ingest wrote between
two batches, the build makes the two indexes at once and finds keys through them from then on.
"""

from __future__ import annotations

import contextlib
import sqlite3

from .schema import LOOKUP_INDEXES

TITLES, NAMES = "temp.build_titles", "temp.build_names"
_T, _N = "build_titles", "build_names"  # as a trigger's body names them (SQLite allows no schema there)

# The lookups ingest makes, through the catalog's indexes and through the build's tables.
FIND_TITLES = """SELECT title_norm, id, title, abstract FROM papers
    WHERE title_key IN (SELECT value FROM json_each(?))"""
FIND_TITLES_BUILDING = f"""SELECT p.title_norm, p.id, p.title, p.abstract
    FROM {TITLES} b CROSS JOIN papers p ON p.id = b.paper_id WHERE b.key IN (SELECT value FROM json_each(?))"""
FIND_NAME = "SELECT id FROM authors WHERE name_norm = ? AND profile_id IS NULL"
FIND_NAME_BUILDING = f"SELECT author_id FROM {NAMES} WHERE name_norm = ?"

_CREATE = (
    # Two titles may share a hash (they stay two papers), so the key is (hash, paper).
    f"CREATE TABLE {TITLES} (key INTEGER NOT NULL, paper_id INTEGER NOT NULL, PRIMARY KEY (key, paper_id))"
    " WITHOUT ROWID",
    # One author per listed name: the unique key is the partial unique index's.
    f"CREATE TABLE {NAMES} (name_norm TEXT PRIMARY KEY, author_id INTEGER NOT NULL) WITHOUT ROWID",
    f"INSERT INTO {TITLES} (key, paper_id) SELECT title_key, id FROM main.papers WHERE title_key IS NOT NULL",
    f"INSERT INTO {NAMES} (name_norm, author_id) SELECT name_norm, id FROM main.authors WHERE profile_id IS NULL",
    f"""CREATE TEMP TRIGGER build_titles_ai AFTER INSERT ON main.papers WHEN new.title_key IS NOT NULL BEGIN
        INSERT INTO {_T} (key, paper_id) VALUES (new.title_key, new.id); END""",
    f"""CREATE TEMP TRIGGER build_titles_ad AFTER DELETE ON main.papers BEGIN
        DELETE FROM {_T} WHERE key = old.title_key AND paper_id = old.id; END""",
    f"""CREATE TEMP TRIGGER build_titles_au AFTER UPDATE OF id, title_key ON main.papers BEGIN
        DELETE FROM {_T} WHERE key = old.title_key AND paper_id = old.id;
        INSERT INTO {_T} (key, paper_id) SELECT new.title_key, new.id WHERE new.title_key IS NOT NULL; END""",
    f"""CREATE TEMP TRIGGER build_names_ai AFTER INSERT ON main.authors WHEN new.profile_id IS NULL BEGIN
        INSERT INTO {_N} (name_norm, author_id) VALUES (new.name_norm, new.id); END""",
    f"""CREATE TEMP TRIGGER build_names_ad AFTER DELETE ON main.authors WHEN old.profile_id IS NULL BEGIN
        DELETE FROM {_N} WHERE name_norm = old.name_norm; END""",
    f"""CREATE TEMP TRIGGER build_names_au AFTER UPDATE OF id, name_norm, profile_id ON main.authors BEGIN
        DELETE FROM {_N} WHERE old.profile_id IS NULL AND name_norm = old.name_norm;
        INSERT INTO {_N} (name_norm, author_id) SELECT new.name_norm, new.id WHERE new.profile_id IS NULL; END""",
)
_DROP = (
    *(f"DROP TRIGGER IF EXISTS temp.{name}" for name in ("build_titles_ai", "build_titles_ad", "build_titles_au")),
    *(f"DROP TRIGGER IF EXISTS temp.{name}" for name in ("build_names_ai", "build_names_ad", "build_names_au")),
    f"DROP TABLE IF EXISTS {TITLES}",
    f"DROP TABLE IF EXISTS {NAMES}",
)


class BuildLookups:
    """The build's own lookup tables for one writing connection: started, checked and ended per batch."""

    def __init__(self, conn: sqlite3.Connection, *, building: bool) -> None:
        self.conn = conn
        self.wanted = building  # False once ended, or once another writer was seen
        self.active = False  # the tables hold the keys (and the catalog's two indexes are gone)
        self._version: int | None = None

    def begin_batch(self) -> None:
        """At the start of each batch's transaction: start the tables, or give them up for the indexes."""
        if not self.wanted:
            return
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if self._version is not None and version != self._version:
            self.end()  # another connection wrote since this one's last batch
            return
        self._version = version
        if not self.active:
            # Dropped at the end, the tables' pages are then given back (not kept as free pages of the
            # temporary database) for the sorts that make the indexes: ~80 MB at 250,000 profiles. Takes
            # effect only where the connection has made no temporary table yet (as an ingest's has not).
            self.conn.execute("PRAGMA temp.auto_vacuum = FULL")
            for sql in _CREATE:
                self.conn.execute(sql)
            for name in LOOKUP_INDEXES:
                self.conn.execute(f"DROP INDEX IF EXISTS {name}")
            self.active = True

    def end(self) -> None:
        """Make the catalog's two indexes and drop the tables, in the open transaction."""
        self.wanted = False
        if self.active:
            for sql in _DROP:
                self.conn.execute(sql)
            self.active = False
        for sql in LOOKUP_INDEXES.values():
            self.conn.execute(sql)

    def rolled_back(self) -> None:
        """After a whole batch was rolled back: the tables are gone if that batch made them."""
        self.active = (
            self.wanted
            and self.conn.execute(
                "SELECT 1 FROM temp.sqlite_master WHERE type = 'table' AND name = 'build_titles'"
            ).fetchone()
            is not None
        )

    def discard(self) -> None:
        """Drop whatever of the tables and triggers is left (an ingest that stopped), outside any transaction."""
        self.wanted = self.active = False
        with contextlib.suppress(sqlite3.Error):
            for sql in _DROP:
                self.conn.execute(sql)
