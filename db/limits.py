"""A per-call time limit enforced inside SQLite.

Every read-only catalog connection carries a progress handler (:func:`install`) that SQLite calls
every few thousand virtual-machine instructions. While a call runs under :func:`call_time_limit`,
the handler compares the clock with the call's deadline and, once it has passed, makes SQLite
abandon the statement (``interrupted``); the call then raises :class:`CallTooLong`. Outside such a
call the handler does nothing. The deadline is per thread: each tool call runs in its own worker
thread, and the handler runs in the thread that executes the statement (a statement a call hands to
a helper thread, :meth:`~scholar_catalog.db.catalog.Catalog.in_parallel`, carries the call's deadline).

The clock starts at the call's first tick, i.e. when it is running SQL, not while it waits for the
catalog behind other calls (a process serves one call at a time from its connection). Building a
per-catalog cache (:func:`paused`, e.g. the name index after a start or a new catalog) does not
count: that work is done once for every later call, and stopping it would only make the next call
start it again. Python work between statements is not interrupted; the next statement of a call
past its deadline is.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import apsw

ENV_CALL_TIMEOUT = "SCHOLAR_CATALOG_CALL_TIMEOUT"
DEFAULT_CALL_TIMEOUT = 10.0  # seconds; the slowest benchmark workload at 50k profiles takes ~0.3 s
PROGRESS_STEPS = 2000  # SQLite VM instructions between two clock checks (a few microseconds)

# How to narrow each kind of call, for the message a model reads when one takes too long.
NARROWING = {
    "search_papers": "use fewer or rarer words, add filters (year_from, category, author, has_code) or a smaller limit",
    "search_authors": "give more of the name, or a smaller limit",
    "collaboration_path": "use a smaller max_hops, or ask for one author's coauthors first",
    "coauthors": "use profile_id instead of a name, or a smaller limit",
    "shared_coauthors": "use profile ids instead of names",
}

_state = threading.local()


class CallTooLong(RuntimeError):
    """A call ran past its time limit; the message says how long it was allowed and how to narrow it."""


def _check_deadline() -> int:
    limit = getattr(_state, "limit", None)
    if limit is None:
        return 0
    deadline = getattr(_state, "deadline", None)
    if deadline is None:  # the call's first tick: its clock starts now
        _state.deadline = time.monotonic() + limit
        return 0
    return 1 if time.monotonic() > deadline else 0


def install(conn: sqlite3.Connection | apsw.Connection) -> None:
    """Let :func:`call_time_limit` stop *conn*'s statements (call once, when the connection is opened)."""
    conn.set_progress_handler(_check_deadline, PROGRESS_STEPS)


@contextmanager
def call_time_limit(seconds: float | None, name: str = "this call") -> Iterator[None]:
    """Stop this thread's SQLite statements *seconds* after the body starts running SQL (None: no limit)."""
    if seconds is None:
        yield
        return
    previous = (getattr(_state, "limit", None), getattr(_state, "deadline", None))
    _state.limit, _state.deadline = seconds, None
    try:
        yield
    except (apsw.InterruptError, sqlite3.OperationalError) as err:
        if "interrupted" not in str(err).lower():
            raise
        hint = NARROWING.get(name, "ask for less (filters, a smaller limit)")
        raise CallTooLong(
            f"{name} took longer than the server's limit of {seconds:g} s per call and was stopped. "
            f"Narrow the request: {hint}."
        ) from err
    finally:
        _state.limit, _state.deadline = previous


def current() -> tuple[float | None, float | None]:
    """This thread's (limit, deadline), for a helper thread running part of the same call (:func:`carried`)."""
    return getattr(_state, "limit", None), getattr(_state, "deadline", None)


@contextmanager
def carried(state: tuple[float | None, float | None]) -> Iterator[None]:
    """Run the body under another thread's :func:`current` limit and deadline: the same call's clock."""
    previous = current()
    _state.limit, _state.deadline = state
    try:
        yield
    finally:
        _state.limit, _state.deadline = previous


@contextmanager
def paused() -> Iterator[None]:
    """No time limit in the body (building a shared cache); the call's clock starts again after it."""
    previous = getattr(_state, "limit", None)
    _state.limit, _state.deadline = None, None
    try:
        yield
    finally:
        _state.limit, _state.deadline = previous, None
