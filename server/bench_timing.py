"""Benchmark-only: each tool call's time inside the server, from its request line read to its response written.

``SCHOLAR_CATALOG_BENCH_TIMING=FILE scholar-catalog serve --db F`` (stdio only) appends one line per
``tools/call`` to FILE: ``tool<TAB>milliseconds<TAB>response bytes``. ``bench/run.py`` sets it and reads
the lines back in call order. Unset (the default), ``serve`` never imports this module.

The SDK's stdio transport reads lines and writes responses through the two streams it is given, so
wrapping them brackets everything the server does for a call: JSON parsing and validation, dispatch,
the tool, building the result, serializing it and writing it to the pipe. (A ``ServerMiddleware``
would miss parsing and serializing, which grow with the result.) Both times are taken in the
transport's worker threads, right after the line is read and as the serialized response is handed to
the pipe, so a busy event loop neither shortens nor lengthens a call. Like the SDK, the process's own fds
0 and 1 are pointed away from the wire while serving, so stray output cannot corrupt it.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import IO

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

ENV = "SCHOLAR_CATALOG_BENCH_TIMING"
# A response (not a request of the server's own, whose ids are another sequence) as the SDK serializes it.
RESPONSE_ID = re.compile(r'\{"jsonrpc":"2\.0","id":(-?\d+|"(?:[^"\\]|\\.)*"),"(?:result|error)"')


class TimedStdin:
    """The request side, read in the transport's worker thread: notes when each ``tools/call`` line arrives.

    The time is taken in that thread as soon as the line is read, not when the event loop next runs,
    which may be later while it finishes the previous call.
    """

    def __init__(self, file: IO[str], pending: dict[str, tuple[str, float]]) -> None:
        self._file = file
        self._pending = pending

    def readline(self, size: int = -1) -> str:
        line = self._file.readline(size)
        started = time.perf_counter()
        if '"tools/call"' in line:
            try:
                message = json.loads(line)
                self._pending[json.dumps(message["id"])] = (str(message["params"]["name"]), started)
            except (ValueError, KeyError, TypeError):
                pass  # the SDK answers a malformed request itself; nothing to time
        return line


class TimedStdout:
    """The response side, written in the transport's worker thread: logs a timed response once it is flushed.

    The time is taken in that thread as the serialized response is handed to the pipe: not when the
    event loop next runs, which may be after it has tidied up the call (freeing its result, for one)
    while the client is already reading; nor after the write, since the client it wakes may take this
    thread's core first (a large response reaches the pipe before its flush).
    """

    def __init__(self, file: IO[str], pending: dict[str, tuple[str, float]], log: IO[str]) -> None:
        self._file = file
        self._pending = pending
        self._log = log
        self._written: tuple[str, int, float] | None = None

    def write(self, text: str) -> int:
        ended = time.perf_counter()
        found = RESPONSE_ID.match(text)
        self._written = (found.group(1), len(text.encode("utf-8")), ended) if found else None
        return self._file.write(text)

    def flush(self) -> None:
        self._file.flush()
        if self._written is None:
            return
        key, size, ended = self._written
        self._written = None
        timed = self._pending.pop(key, None)
        if timed is not None:
            tool, started = timed
            self._log.write(f"{tool}\t{(ended - started) * 1000:.3f}\t{size}\n")
            self._log.flush()


def run_stdio_timed(app: MCPServer, log_path: Path) -> None:
    """Serve *app* over stdio as ``app.run("stdio")`` does, appending each tool call's timing to *log_path*."""
    wire_in, wire_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)  # stray prints go to stderr, as with the SDK's own claim of fd 1
    with (
        open(wire_in, encoding="utf-8", errors="replace") as stdin,
        open(wire_out, "w", encoding="utf-8") as stdout,
        log_path.open("a", encoding="utf-8") as log,
    ):
        pending: dict[str, tuple[str, float]] = {}
        lines = anyio.wrap_file(TimedStdin(stdin, pending))
        writer = anyio.wrap_file(TimedStdout(stdout, pending, log))

        async def serve() -> None:
            async with stdio_server(stdin=lines, stdout=writer) as (read_stream, write_stream):  # type: ignore[arg-type]
                lowlevel = app._lowlevel_server  # what MCPServer.run_stdio_async drives, with our streams
                await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())

        anyio.run(serve)
