"""A per-call time limit enforced inside SQLite.

Every read-only catalog connection carries a progress handler (:func:`install`) that SQLite calls
every few thousand virtual-machine instructions. While a call runs under :func:`call_time_limit`,
the handler compares the clock with the call's deadline and, once it has passed, makes SQLite
abandon the statement (``interrupted``); the call then raises :class:`CallTooLong`. Outside such a
call the handler does nothing. The deadline is per thread: each tool call runs in its own worker
thread, and the handler runs in the thread that executes the statement.

Python work between statements is not interrupted; the next statement of a call past its
deadline is.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

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
    deadline = getattr(_state, "deadline", None)
    return 1 if deadline is not None and time.monotonic() > deadline else 0


def install(conn: sqlite3.Connection) -> None:
    """Let :func:`call_time_limit` stop *conn*'s statements (call once, when the connection is opened)."""
    conn.set_progress_handler(_check_deadline, PROGRESS_STEPS)


@contextmanager
def call_time_limit(seconds: float | None, name: str = "this call") -> Iterator[None]:
    """Run the body with a deadline *seconds* from now (None: no limit) on this thread's SQLite statements.

    The time counts from entering the block, so it includes waiting for the catalog behind other calls.
    """
    if seconds is None:
        yield
        return
    previous = getattr(_state, "deadline", None)
    _state.deadline = time.monotonic() + seconds
    try:
        yield
    except sqlite3.OperationalError as err:
        if "interrupted" not in str(err).lower():
            raise
        hint = NARROWING.get(name, "ask for less (filters, a smaller limit)")
        raise CallTooLong(
            f"{name} took longer than the server's limit of {seconds:g} s per call and was stopped. "
            f"Narrow the request: {hint}."
        ) from err
    finally:
        _state.deadline = previous
