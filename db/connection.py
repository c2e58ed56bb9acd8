"""Where the catalog lives and how it is opened.

Writers (``ingest``) open it read-write in WAL mode so that readers (the MCP
server) keep answering while a write is under way. Readers open it with
``mode=ro``: the server cannot write to the catalog even by mistake.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlite_utils

from .schema import check_schema, create_schema

ENV_DB = "SCHOLAR_CATALOG_DB"
BUSY_TIMEOUT_MS = 10_000


class CatalogError(RuntimeError):
    """The catalog database is missing, unreadable or not a catalog. The message says what to do."""


def default_db_path() -> Path:
    """``$SCHOLAR_CATALOG_DB``, else ``catalog.db`` in the user's data directory."""
    if env := os.environ.get(ENV_DB):
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("scholar-catalog", appauthor=False) / "catalog.db"


def resolve_db_path(db: str | os.PathLike[str] | None) -> Path:
    return Path(db).expanduser() if db else default_db_path()


def open_writable(path: str | os.PathLike[str]) -> sqlite_utils.Database:
    """Open (creating if needed) the catalog at *path* for writing."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -65536")
    except sqlite3.DatabaseError as err:
        raise CatalogError(f"{path}: cannot open the catalog for writing: {err}") from err
    except OSError as err:
        raise CatalogError(f"{path}: cannot create the catalog: {err.strerror or err}") from err
    if str(mode).lower() != "wal":
        conn.close()
        raise CatalogError(f"{path}: could not switch the catalog to WAL mode (got {mode!r})")
    db = sqlite_utils.Database(conn, execute_plugins=False)
    try:
        create_schema(db)
        check_schema(db)
    except sqlite3.DatabaseError as err:
        conn.close()
        raise CatalogError(f"{path}: not a usable catalog: {err}") from err
    except Exception as err:
        conn.close()
        raise CatalogError(f"{path}: {err}") from err
    return db


def open_readonly(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open the catalog at *path* read-only and check its schema.

    Raises :class:`CatalogError` with a message that says how to fix the problem.
    """
    path = Path(path)
    if not path.exists():
        raise CatalogError(
            f"{path}: no catalog here yet. Build one with `scholar-catalog ingest PROFILES_DIR --db {path}`."
        )
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only = ON")
        check_schema(sqlite_utils.Database(conn, execute_plugins=False))
    except sqlite3.DatabaseError as err:
        raise CatalogError(f"{path}: not a readable SQLite catalog ({err})") from err
    except Exception as err:
        raise CatalogError(f"{path}: {err}") from err
    conn.row_factory = sqlite3.Row
    return conn
