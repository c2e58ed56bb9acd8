"""Process-wide settings of the SQLite libraries: the one behind Python's ``sqlite3`` module (writers) and
APSW's own (readers, db/connection.py).

SQLite keeps memory statistics (``sqlite3_memory_used``) unless told otherwise before it starts
(``SQLITE_CONFIG_MEMSTATUS``; its documentation recommends building without them). They cost a
process-wide lock at every allocation: nothing here reads them, and with them on, two statements of one
call on two cores (:meth:`~scholar_catalog.db.catalog.Catalog.in_parallel`) wait on each other at every
allocation: a bm25-ranked search in halves ran each half up to 1.8x slower than alone, and about as fast as
alone without them (50,000 profiles, bench/HISTORY.md "Round twenty-one"). Python has no setting for it,
and its ``sqlite3`` module starts the library when imported, so :func:`skip_memory_statistics` restarts
the library with the statistics off through its C interface, once, before the process opens any connection;
APSW's library is restarted the same way through APSW's own calls.
"""

from __future__ import annotations

import _sqlite3
import ctypes
import functools
import sqlite3

import apsw

SQLITE_OK = 0
SQLITE_CONFIG_MEMSTATUS = 9


@functools.cache
def _library() -> ctypes.CDLL | None:
    """The SQLite library the ``sqlite3`` module runs on (its symbols, as the extension module links them)."""
    try:
        lib = ctypes.CDLL(_sqlite3.__file__)
        for name in ("sqlite3_memory_used", "sqlite3_shutdown", "sqlite3_config", "sqlite3_initialize"):
            getattr(lib, name)
    except (OSError, AttributeError):  # linked in without exported symbols, or not a loadable file
        return None
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    for name in ("sqlite3_shutdown", "sqlite3_config", "sqlite3_initialize"):
        getattr(lib, name).restype = ctypes.c_int
    return lib


def memory_statistics_on() -> bool:
    """Whether SQLite counts its allocations in this process (a connection opened shows in the count)."""
    lib = _library()
    if lib is None:
        return True  # cannot tell; assume the library's default
    conn = sqlite3.connect(":memory:")
    try:
        return lib.sqlite3_memory_used() > 0
    finally:
        conn.close()


def skip_memory_statistics() -> bool:
    """Turn SQLite's memory statistics off in both libraries; True if they are off in both now.

    Restarting a library is only safe with nothing of it alive, so each is left as it is where one of its
    connections is open, or where it cannot be reached (then False). Call it first thing in a command,
    from its only thread.
    """
    in_apsw = _skip_in_apsw()
    return _skip_in_sqlite3() and in_apsw


def _apsw_statistics_on() -> bool:
    probe = apsw.Connection(":memory:")
    try:
        return apsw.memory_used() > 0
    finally:
        probe.close()


def _skip_in_apsw() -> bool:
    if not _apsw_statistics_on():
        return True
    if apsw.connections() or apsw.memory_used() != 0:  # something of the library is alive: never restart
        return False
    try:
        apsw.shutdown()
        apsw.config(apsw.SQLITE_CONFIG_MEMSTATUS, 0)
    except apsw.Error:
        return False
    finally:
        apsw.initialize()  # as APSW did on import (started again whatever config did)
    return not _apsw_statistics_on()


def _skip_in_sqlite3() -> bool:
    lib = _library()
    if lib is None or not memory_statistics_on():
        return lib is not None
    if lib.sqlite3_memory_used() != 0:  # a connection or statement is alive: never restart under it
        return False
    if lib.sqlite3_shutdown() != SQLITE_OK:
        return False
    configured = lib.sqlite3_config(SQLITE_CONFIG_MEMSTATUS, ctypes.c_int(0)) == SQLITE_OK
    lib.sqlite3_initialize()  # as the module did on import (a connection would also start it)
    return configured and not memory_statistics_on()
