"""Rebuild a catalog from scratch without ever leaving it half-built.

The new catalog is built in a temporary file beside the old one; only when every
file was applied is it copied over the old catalog with SQLite's backup API,
which is one transaction: a server reading the catalog sees the old data or the
new, never a mix, and needs no restart.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

from .connection import open_writable
from .ingest import FileOutcome, IngestReport, ingest


def rebuild(
    target: Path,
    files: list[Path],
    *,
    as_of: date | None = None,
    on_file: Callable[[FileOutcome], None] | None = None,
) -> IngestReport:
    """Build a fresh catalog of *files* and, if no file was rejected, replace *target* with it.

    When a file is rejected the old catalog is left exactly as it was and the
    report says why (``report.ok`` is False).
    """
    scratch = target.with_name(f".{target.name}.rebuild-{os.getpid()}")
    _remove(scratch)
    try:
        fresh = open_writable(scratch)
        try:
            report = ingest(fresh, [], files=files, as_of=as_of, on_file=on_file)
            if report.ok:
                destination = open_writable(target)
                try:
                    fresh.conn.backup(destination.conn)
                finally:
                    destination.conn.close()
        finally:
            fresh.conn.close()
    finally:
        _remove(scratch)
    return report


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
