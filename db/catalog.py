"""The read-only catalog handle the tools work on.

:class:`Catalog` wraps one ``mode=ro`` connection, serializes its use across the
server's worker threads, and keeps small caches (the name index, the category
list) that it drops whenever another process commits to the database — so a
running server sees what ``ingest`` wrote without a restart.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import limits
from .connection import open_readonly
from .names import NameIndex

if TYPE_CHECKING:
    from .titles import TitleVocabulary


class Catalog:
    """A read-only view of one catalog database."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._identity = _identity(self.path)
        self._conn = open_readonly(self.path)
        self._lock = threading.RLock()
        self._version: int | None = None
        self._cache: dict[str, Any] = {}

    @classmethod
    def from_connection(cls, conn: sqlite3.Connection, path: str = ":memory:") -> Catalog:
        self = cls.__new__(cls)
        self.path = Path(path)
        conn.row_factory = sqlite3.Row
        self._conn = conn
        self._identity = None
        self._lock = threading.RLock()
        self._version = None
        self._cache = {}
        return self

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The connection, for the duration of one tool call (caches refreshed if the data changed)."""
        with self._lock:
            if self._identity is not None and _identity(self.path) != self._identity:
                self._reopen()  # the file was replaced (deleted and built anew): read the new one
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                self._cache.clear()
                self._version = version
            yield self._conn

    def _reopen(self) -> None:
        conn = open_readonly(self.path)  # raises CatalogError (a clear message) if it is gone for good
        self._conn.close()
        self._conn = conn
        self._identity = _identity(self.path)
        self._version = None
        self._cache.clear()

    def cached(self, key: str, build: Any) -> Any:
        """A value computed once per catalog version (call inside :meth:`connection`)."""
        if key not in self._cache:
            with limits.paused():  # built once for every later call: not part of this call's time limit
                self._cache[key] = build()
            # The caches are large and long-lived: keep them out of the collector's full passes, which
            # would otherwise scan them every few dozen calls (40-55 ms pauses at 250k papers).
            gc.freeze()
        return self._cache[key]

    def names(self) -> NameIndex:
        """The name index (call inside :meth:`connection`)."""
        return self.cached("names", lambda: NameIndex(self._conn))

    def titles(self) -> TitleVocabulary:
        """Every distinct title word, for typo-tolerant title search (call inside :meth:`connection`)."""
        from .titles import TitleVocabulary

        return self.cached("titles", lambda: TitleVocabulary(self._conn))

    def categories(self) -> dict[str, int]:
        """Category code → number of papers (call inside :meth:`connection`)."""
        return self.cached(
            "categories",
            lambda: {
                r[0]: r[1]
                for r in self._conn.execute(
                    "SELECT category, count(*) FROM papers GROUP BY category ORDER BY count(*) DESC"
                )
            },
        )

    def is_empty(self) -> bool:
        return self.cached(
            "empty", lambda: self._conn.execute("SELECT NOT EXISTS (SELECT 1 FROM profiles)").fetchone()[0] == 1
        )


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the catalog file, to notice it being replaced; None if it is missing."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)
