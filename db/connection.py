"""Where the catalog lives and how it is opened.

Writers (``ingest``) open it read-write in WAL mode so that readers (the MCP
server) keep answering while a write is under way. Readers open it with
``mode=ro``: the server cannot write to the catalog even by mistake.

Writers use Python's ``sqlite3`` module; readers use APSW, whose wheels carry a recent SQLite of their
own: it ranks and joins the matches of a search 15-43% faster than the SQLite Python's ``sqlite3`` is
linked to on Debian 12 (3.40; bench/HISTORY.md "Round twenty-seven"). The two libraries must not hold
the same file open at once in one process (each would drop the other's POSIX locks when it closes the
file, and remove the WAL under the reader: sqlite.org/howtocorrupt.html); ``serve`` closes its startup
ingest's connection before it opens a reader, and :func:`open_writable` refuses a file this process reads.

Neither kind of opening changes a file that is not a catalog of this schema
version: a non-SQLite file, another program's SQLite database and a catalog of
another schema version are refused with a message before anything is written.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import apsw

from . import bm25, facets, limits, term_docs, title_words
from .defensive import check_objects, harden
from .schema import PAGE_SIZE, SCHEMA_VERSION, SchemaVersionError, check_schema, create_schema, schema_version

ENV_DB = "SCHOLAR_CATALOG_DB"
ENV_BUSY_TIMEOUT = "SCHOLAR_CATALOG_BUSY_TIMEOUT_MS"
BUSY_TIMEOUT_MS = 10_000
READ_CACHE_SIZE = -65536  # a reader's PRAGMA cache_size (negative: KiB): 64 MB at most, filled as pages are read

# Tables a catalog (or a catalog whose creation was interrupted) may hold; anything else is another program's.
CATALOG_TABLES = frozenset(
    {
        "meta",
        "profiles",
        "authors",
        "papers",
        "listings",
        "paper_authors",
        "affiliations",
        "paper_affiliations",
        "paper_vectors",
        "term_docs",
        "title_words",
        "facets",
    }
)
_CATALOG_TABLE_PREFIXES = ("papers_fts", "sqlite_")

UPGRADABLE_FROM = (3, 4, 5, 6)  # ingest upgrades catalogs of these schema versions in place; older ones are rebuilt
LOCKED_HINT = "another process is writing the catalog (another ingest?); wait for it to finish and retry"


class CatalogError(RuntimeError):
    """The catalog database is missing, unreadable or not a catalog. The message says what to do."""


class WritableCatalog:
    """A catalog opened for writing by :func:`open_writable`; ``conn`` is its connection.

    Not a sqlite-utils ``Database``: importing sqlite-utils takes ~0.1 s, a third of a small
    re-ingest, and it is only needed to create the schema (:func:`~.schema.create_schema`).
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, parameters)

    def close(self) -> None:
        self.conn.close()


def default_db_path() -> Path:
    """``$SCHOLAR_CATALOG_DB``, else ``catalog.db`` in the user's data directory."""
    if env := os.environ.get(ENV_DB):
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("scholar-catalog", appauthor=False) / "catalog.db"


def resolve_db_path(db: str | os.PathLike[str] | None) -> Path:
    return Path(db).expanduser() if db else default_db_path()


def busy_timeout_ms() -> int:
    """How long a writer waits for another writer's lock: ``$SCHOLAR_CATALOG_BUSY_TIMEOUT_MS``, else 10 s."""
    raw = os.environ.get(ENV_BUSY_TIMEOUT, "").strip()
    if raw.isdigit():
        return min(int(raw), 24 * 3600 * 1000)
    return BUSY_TIMEOUT_MS


def _is_locked(err: sqlite3.Error) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text


def _foreign_tables(conn: sqlite3.Connection) -> list[str]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
    return sorted(n for n in names if n not in CATALOG_TABLES and not n.startswith(_CATALOG_TABLE_PREFIXES))


def _check_existing(path: Path, conn: sqlite3.Connection) -> bool:
    """Refuse a database that is not an (unfinished) catalog of this version; True if it needs its schema made.

    Runs before anything is written, so a refused file is left byte for byte as it was.
    """
    found = schema_version(conn)
    if found is None:
        if foreign := _foreign_tables(conn):
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise CatalogError(
                f"{path}: this SQLite database is not a scholar-catalog catalog (it has tables {shown}); "
                "refusing to write into it. Choose another --db."
            )
        return True
    if found != SCHEMA_VERSION and found not in UPGRADABLE_FROM:
        try:
            check_schema(conn)
        except SchemaVersionError as err:
            raise CatalogError(f"{path}: {err}") from err
    # Same version: create_schema() again only adds what a build interrupted during creation lacks.
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'papers_fts'").fetchone() is None


def _upgrade(conn: sqlite3.Connection, found: int) -> None:
    """Bring a catalog of schema 3 to 6 to this version in one transaction.

    4 -> 5: each paper's title key and the title words, from its titles (see :func:`~.title_words.upgrade`).
    From 3, 4 or 5: the term counts, anywhere and in titles, made again from its own index
    (:func:`~.term_docs.rebuild`; schema 3 had none, 4 and 5 none in titles). Then, from 3 to 6: the
    ``facets`` table, from its papers, in place of the index it replaces (:func:`~.facets.upgrade`).
    """

    def steps(conn: sqlite3.Connection) -> None:
        if found < 5:
            title_words.upgrade(conn)
        if found < 6:
            term_docs.rebuild(conn)
        facets.upgrade(conn)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])

    _in_one_transaction(conn, steps)


def _in_one_transaction(conn: sqlite3.Connection, steps: Callable[[sqlite3.Connection], None]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        steps(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def open_writable(path: str | os.PathLike[str]) -> WritableCatalog:
    """Open (creating if needed) the catalog at *path* for writing.

    A catalog of schema version 3 to 6 is upgraded in place (see :func:`_upgrade`); one whose ``facets``
    triggers were dropped has them and its rows made again (:func:`~.facets.repair`).
    Raises :class:`CatalogError` for a file that is not SQLite, an SQLite database
    of another program, a catalog of another schema version, a folder that cannot
    be written, a catalog another process holds locked for longer than the
    busy timeout, or a catalog this process has open for reading — each before changing anything.
    """
    path = Path(path)
    _refuse_if_read_here(path)
    timeout = busy_timeout_ms()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CatalogError(f"{path}: cannot create the catalog's folder: {err.strerror or err}") from err
    if path.exists() and not path.is_file():
        raise CatalogError(f"{path}: not a regular file; give the catalog's file name with --db")
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(path, timeout=timeout / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {timeout}")
        needs_schema = _check_existing(path, conn)
        if needs_schema and path.stat().st_size == 0:  # a new file: before WAL mode writes its first page
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise CatalogError(f"{path}: could not switch the catalog to WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -65536")
        if needs_schema:
            create_schema(conn)
        if (found := schema_version(conn)) in UPGRADABLE_FROM:
            _upgrade(conn, found)
        check_schema(conn)
        if not facets.intact(conn):
            _in_one_transaction(conn, facets.repair)
    except CatalogError:
        if conn is not None:
            conn.close()
        raise
    except sqlite3.DatabaseError as err:
        if conn is not None:
            conn.close()
        raise CatalogError(f"{path}: cannot open the catalog for writing: {_explain(err, path)}") from err
    except OSError as err:
        if conn is not None:
            conn.close()
        raise CatalogError(f"{path}: cannot create the catalog: {err.strerror or err}") from err
    except Exception as err:
        if conn is not None:
            conn.close()
        raise CatalogError(f"{path}: {err}") from err
    return WritableCatalog(conn)


def _refuse_if_read_here(path: Path) -> None:
    """Raise :class:`CatalogError` if a reader of this process (an APSW connection) has *path* open.

    The writer's library does not know of the reader's connection: when the writer closed, it would take
    itself for the file's last user and remove the WAL and shared-memory files under the reader, which
    would then never see a later change. Another process's readers are seen through file locks, and safe.
    """
    target = os.path.realpath(path)
    for reader in apsw.connections():
        try:
            name = reader.filename
        except apsw.Error:  # closed meanwhile
            continue
        if name and os.path.realpath(name) == target:
            raise CatalogError(
                f"{path}: this process has the catalog open for reading (a server or Catalog); write it from "
                "another process (`scholar-catalog ingest`), or close the reader first"
            )


def _explain(err: sqlite3.Error, path: Path) -> str:
    """SQLite's message, with what to do about it."""
    text = str(err)
    lowered = text.lower()
    if _is_locked(err):
        return f"{LOCKED_HINT} ({text})"
    if "not a database" in lowered:
        return f"the file is not an SQLite database ({text}); choose another --db"
    if "readonly" in lowered or "read-only" in lowered:
        return f"the catalog or its folder is read-only ({text}); choose a writable --db"
    if "full" in lowered:
        return f"the disk is full ({text}); free some space and retry"
    if "unable to open" in lowered:
        folder = path.parent if str(path.parent) else Path(".")
        if _on_readonly_filesystem(folder):
            return f"its folder {folder} is on a read-only file system ({text}); choose a writable --db"
        if not os.access(folder, os.W_OK):
            return f"its folder {folder} is not writable ({text}); choose a writable --db"
        return f"{text} (is the file or its folder readable and writable?)"
    return text


def _on_readonly_filesystem(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def open_readonly(path: str | os.PathLike[str]) -> apsw.Connection:
    """Open the catalog at *path* read-only and check its schema.

    The connection cannot write: ``mode=ro`` and ``query_only``, and no database can
    be attached (ATTACH and VACUUM INTO would create files). The file is opened defensively
    (:mod:`scholar_catalog.db.defensive`: SQLite's defensive mode, ``trusted_schema=OFF``, and
    its triggers, views and virtual tables checked to be a catalog's). Raises
    :class:`CatalogError` with a message that says how to fix the problem.
    """
    path = Path(path)
    if not path.exists():
        raise CatalogError(
            f"{path}: no catalog here yet. Build one with `scholar-catalog ingest PROFILES_DIR --db {path}`."
        )
    if not path.is_file():
        raise CatalogError(f"{path}: not a regular file; give the catalog's file name with --db")
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        raise CatalogError(f"{path}: cannot read the catalog: {err.strerror or err}") from err
    try:
        conn = _connect_readonly(path, immutable=False)
    except apsw.CantOpenError as err:
        # A WAL catalog needs its -shm file, which SQLite cannot create on a read-only file system
        # (a read-only volume or medium). Nothing can change the file there: open it as immutable.
        if not _on_readonly_filesystem(path.parent):
            raise CatalogError(f"{path}: not a readable SQLite catalog ({err})") from err
        try:
            conn = _connect_readonly(path, immutable=True)
        except apsw.Error as again:
            raise CatalogError(f"{path}: not a readable SQLite catalog ({again})") from again
    except apsw.Error as err:
        raise CatalogError(f"{path}: not a readable SQLite catalog ({err})") from err
    try:
        _check_version(conn)
        check_objects(conn)
    except apsw.Error as err:
        conn.close()
        raise CatalogError(f"{path}: not a readable SQLite catalog ({err})") from err
    except Exception as err:
        conn.close()
        raise CatalogError(f"{path}: {err}") from err
    return conn


def _check_version(conn: apsw.Connection) -> None:
    """Like :func:`check_schema`, saying whether the catalog is older or newer than this program."""
    found = schema_version(conn)
    if found in UPGRADABLE_FROM:
        raise SchemaVersionError(
            f"this catalog was built by an older scholar-catalog (schema version {found}; this one reads "
            f"version {SCHEMA_VERSION}), so it cannot be served as it is: run `scholar-catalog ingest "
            "PROFILES_DIR --db FILE` once where it is written (it upgrades the catalog in place), or rebuild it "
            "from the profile files with `scholar-catalog ingest --rebuild PROFILES_DIR --db FILE`"
        )
    if found is not None and found < SCHEMA_VERSION:
        raise SchemaVersionError(
            f"this catalog was built by an older scholar-catalog (schema version {found}; this one reads "
            f"version {SCHEMA_VERSION}). Its tables differ, so it cannot be served as it is: rebuild it from "
            "the profile files with `scholar-catalog ingest --rebuild PROFILES_DIR --db FILE`"
        )
    if found is not None and found > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"this catalog was built by a newer scholar-catalog (schema version {found}; this one reads "
            f"version {SCHEMA_VERSION}): upgrade scholar-catalog where it is served, or build the catalog "
            "with the version installed here"
        )
    check_schema(conn)


def _connect_readonly(path: Path, *, immutable: bool) -> apsw.Connection:
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    sys.audit("scholar_catalog.open_readonly", uri)  # APSW raises no audit event of its own, as sqlite3.connect does
    conn = apsw.Connection(uri, flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
    try:
        harden(conn)
        conn.limit(apsw.SQLITE_LIMIT_ATTACHED, 0)
        limits.install(conn)
        conn.set_busy_timeout(busy_timeout_ms())
        conn.execute("PRAGMA query_only = ON")
        # With the default 2 MB, a common word's postings and the index pages its matches join are read
        # from the OS again on every call (a thousand papers' authors: 3.2 ms vs 1.5 at 50,000 profiles).
        conn.execute(f"PRAGMA cache_size = {READ_CACHE_SIZE}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails here for an unusable file
        bm25.register(conn)  # after that check: registering reads the file too
    except BaseException:
        conn.close()
        raise
    return conn


SQLITE_HEADER = b"SQLite format 3\x00"


def check_replaceable(path: str | os.PathLike[str]) -> None:
    """Raise :class:`CatalogError` unless *path* may be replaced whole by a new catalog (``--rebuild``).

    Replaceable: nothing there, an empty file, a catalog of any schema version, and an
    SQLite file too damaged to read (a broken catalog). Not replaceable: a file that is
    not SQLite at all, and an SQLite database with tables no catalog has (another
    program's). Reads only; changes nothing.
    """
    path = Path(path)
    if not path.exists():
        return
    if not path.is_file():
        raise CatalogError(f"{path}: not a regular file; give the catalog's file name with --db")
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as err:
        raise CatalogError(f"{path}: cannot read the catalog: {err.strerror or err}") from err
    if not header:
        return
    if header != SQLITE_HEADER:
        raise CatalogError(
            f"{path}: not an SQLite database; refusing to replace it with a catalog. Choose another --db."
        )
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return
    try:
        if schema_version(conn) is None and (foreign := _foreign_tables(conn)):
            raise CatalogError(
                f"{path}: this SQLite database is not a scholar-catalog catalog (it has tables "
                f"{', '.join(foreign[:5])}); refusing to replace it. Choose another --db."
            )
    except sqlite3.DatabaseError:
        return  # damaged beyond reading: a broken catalog is what --rebuild is for
    finally:
        conn.close()
