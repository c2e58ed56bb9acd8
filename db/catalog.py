"""The read-only catalog handle the tools work on.

:class:`Catalog` wraps one ``mode=ro`` connection, serializes its use across the
server's worker threads, and keeps small caches (the name index, the category
list) that it drops whenever another process commits to the database — so a
running server sees what ``ingest`` wrote without a restart. A call may run one
statement on a second read-only connection while its own runs (:meth:`Catalog.in_parallel`).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import apsw

from . import limits
from .connection import open_readonly
from .names import NameIndex

if TYPE_CHECKING:
    from .titles import TitleVocabulary

A = TypeVar("A")
B = TypeVar("B")
# What the tools read through: an APSW connection for a catalog file (db/connection.py says why), or the
# sqlite3 connection given to from_connection (an in-memory catalog). Both run SQL the same way and give
# rows as tuples the tools read by position.
Connection = apsw.Connection | sqlite3.Connection
Cursor = apsw.Cursor | sqlite3.Cursor


class Catalog:
    """A read-only view of one catalog database."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._identity = _identity(self.path)
        self._conn = open_readonly(self.path)
        self._lock = threading.RLock()
        self._version: int | None = None
        self._cache: dict[str, Any] = {}
        self._helper: tuple[Connection, ThreadPoolExecutor] | None = None

    @classmethod
    def from_connection(cls, conn: sqlite3.Connection, path: str = ":memory:") -> Catalog:
        self = cls.__new__(cls)
        self.path = Path(path)
        self._conn = conn
        self._identity = None
        self._lock = threading.RLock()
        self._version = None
        self._cache = {}
        self._helper = None
        return self

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._close_helper()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
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
        self._close_helper()
        self._conn = conn
        self._identity = _identity(self.path)
        self._version = None
        self._cache.clear()

    def in_parallel(self, here: Callable[[Connection], A], there: Callable[[Connection], B]) -> tuple[A, B]:
        """``(here(conn), there(other))``: *there* runs on a second read-only connection, in a helper
        thread, while *here* runs on this one (call inside :meth:`connection`, whose lock keeps the
        helper to one call at a time).

        SQLite runs a statement without Python's global lock, so the two use two cores: a call that
        needs two long statements whose inputs do not depend on each other (a count and a ranking, the
        two halves of a count) takes the longer one's time, not their sum. *there* keeps this call's
        time limit, must only read its connection (no caches: they belong to this thread) and sees
        the catalog as a statement of this call would. With one core, or no file (an in-memory
        catalog), *there* runs after *here* on this connection.
        """
        with self._lock:  # held already inside connection(); it also guards the helper's start
            helper = self._start_helper()
            if helper is None:
                return here(self._conn), there(self._conn)
            other, pool = helper
            state = limits.current()

            def carried() -> B:
                with limits.carried(state):
                    return there(other)

            future = pool.submit(carried)
            try:
                first = here(self._conn)
            except BaseException:
                other.interrupt()  # its answer is not wanted: stop it, then wait so no statement outlives the call
                with contextlib.suppress(Exception):  # the first error is the one to report
                    future.result()
                raise
            return first, future.result()

    def _start_helper(self) -> tuple[Connection, ThreadPoolExecutor] | None:
        if self._helper is None and self._identity is not None and _cores() > 1:
            self._helper = (open_readonly(self.path), ThreadPoolExecutor(1, thread_name_prefix="catalog-helper"))
        return self._helper

    def _close_helper(self) -> None:
        if self._helper is not None:
            other, pool = self._helper
            pool.shutdown(wait=True)
            other.close()
            self._helper = None

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


def _cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the catalog file, to notice it being replaced; None if it is missing."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)
