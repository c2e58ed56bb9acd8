"""Where an ingest's time goes, statement by statement: every SQL statement the writer runs, timed.

    python bench/sql_profile.py PROFILES_DIR --db NEW.db [--as-of 2026-11-24] [--top 40]

Runs ``scholar-catalog ingest`` in this process with the catalog's connection wrapped as the Ingester is
made, so that the time of each statement it runs from then on (its rows fetched included) is added up
by its text, and prints the total, the time in SQL and the statements that took longest: seconds in
all, calls, rows (fetched by a query, or parameter sets of an ``executemany``), µs a call. Each query's
rows are fetched at once, so a streamed read (the term counts at the end) holds its rows in memory here.
The wrapper costs time of its own, so compare its figures with each other (two sizes, two commits), not
with a plain ingest's.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from scholar_catalog.db import ingest

_SPACE = re.compile(r"\s+")


class Timings:
    """Seconds, calls and rows per statement text."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: defaultdict[str, int] = defaultdict(int)
        self.rows: defaultdict[str, int] = defaultdict(int)

    def add(self, sql: str, seconds: float, rows: int) -> None:
        key = _SPACE.sub(" ", sql).strip()
        self.seconds[key] += seconds
        self.calls[key] += 1
        self.rows[key] += rows

    def report(self, total: float, top: int) -> str:
        lines = [f"total {total:.1f} s, in SQL {sum(self.seconds.values()):.1f} s"]
        for sql, seconds in sorted(self.seconds.items(), key=lambda item: -item[1])[:top]:
            calls = self.calls[sql]
            lines.append(
                f"{seconds:8.2f} s {calls:9d} calls {self.rows[sql]:10d} rows "
                f"{1e6 * seconds / calls:10.1f} us/call  {sql[:110]}"
            )
        return "\n".join(lines)


class _Fetched:
    """A cursor's rows fetched at once, so that reading them counts in the statement's time."""

    def __init__(self, cursor: Any, rows: list[Any]) -> None:
        self._rows = iter(rows)
        self.description = cursor.description
        self.lastrowid = cursor.lastrowid
        self.rowcount = cursor.rowcount

    def __iter__(self) -> Iterator[Any]:
        return self._rows

    def fetchone(self) -> Any:
        return next(self._rows, None)

    def fetchmany(self, size: int = 1) -> list[Any]:
        return list(islice(self._rows, size))

    def fetchall(self) -> list[Any]:
        return list(self._rows)

    def close(self) -> None:
        self._rows = iter(())


class TimedConnection:
    """A connection whose ``execute`` and ``executemany`` add their time to *timings*; the rest passes through."""

    def __init__(self, conn: Any, timings: Timings) -> None:
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_timings", timings)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._conn, name, value)

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> _Fetched:
        start = time.perf_counter()
        cursor = self._conn.execute(sql, params)
        rows = cursor.fetchall() if cursor.description else []
        self._timings.add(sql, time.perf_counter() - start, len(rows))
        return _Fetched(cursor, rows)

    def executemany(self, sql: str, seq: Iterable[Any]) -> _Fetched:
        params = list(seq)
        start = time.perf_counter()
        cursor = self._conn.executemany(sql, params)
        self._timings.add(sql, time.perf_counter() - start, len(params))
        return _Fetched(cursor, [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profiles")
    parser.add_argument("--db", required=True)
    parser.add_argument("--as-of", default="2026-11-24")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(argv)
    timings = Timings()
    plain_init = ingest.Ingester.__init__

    def timed_init(self: ingest.Ingester, db: Any, **kwargs: Any) -> None:
        db.conn = TimedConnection(db.conn, timings)
        plain_init(self, db, **kwargs)

    ingest.Ingester.__init__ = timed_init  # type: ignore[method-assign]
    from scholar_catalog.server.cli import cli

    start = time.perf_counter()
    code = 0
    try:
        cli.main(["ingest", args.profiles, "--db", args.db, "--as-of", args.as_of, "-q"], prog_name="scholar-catalog")
    except SystemExit as done:  # click ends with it; 1 when a file was rejected, whose run is still worth seeing
        code = done.code if isinstance(done.code, int) else 1
    finally:
        ingest.Ingester.__init__ = plain_init  # type: ignore[method-assign]
    if timings.calls:
        print(timings.report(time.perf_counter() - start, args.top))
    return code


if __name__ == "__main__":
    sys.exit(main())
