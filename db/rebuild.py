"""Rebuild a catalog from scratch without ever leaving it half-built.

The new catalog is built in a temporary file beside the old one; only when every
file was applied is it copied over the old catalog with SQLite's backup API,
which is one transaction: a server reading the catalog sees the old data or the
new, never a mix, and needs no restart.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path

from .connection import BUSY_TIMEOUT_MS, check_replaceable, open_writable
from .ingest import FileOutcome, IngestReport, ingest


def rebuild(
    target: Path,
    files: list[str],
    *,
    as_of: date | None = None,
    on_file: Callable[[FileOutcome], None] | None = None,
) -> IngestReport:
    """Build a fresh catalog of *files* and, if no file was rejected, replace *target* with it.

    When a file is rejected the old catalog is left exactly as it was and the
    report says why (``report.ok`` is False).
    """
    check_replaceable(target)  # never overwrite a file that is not a catalog
    scratch = target.with_name(f".{target.name}.rebuild-{os.getpid()}")
    _remove(scratch)
    try:
        fresh = open_writable(scratch)
        try:
            report = ingest(fresh, [], files=files, as_of=as_of, on_file=on_file)
            if report.ok:
                _replace(fresh.conn, scratch, target)
        finally:
            fresh.conn.close()
    finally:
        _remove(scratch)
    return report


def _replace(fresh: sqlite3.Connection, scratch: Path, target: Path) -> None:
    """Copy *fresh* over *target* in one transaction; a target that is no SQLite database is swapped out."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # No schema check on the destination: an old or foreign catalog is exactly what --rebuild replaces.
        destination = sqlite3.connect(target, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            destination.execute("PRAGMA journal_mode = WAL")
            fresh.backup(destination)
        finally:
            destination.close()
    except sqlite3.DatabaseError:
        fresh.execute("PRAGMA journal_mode = DELETE")
        fresh.close()
        for suffix in ("-wal", "-shm"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        os.replace(scratch, target)


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
