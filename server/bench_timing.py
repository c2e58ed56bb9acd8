"""Benchmark-only: each tool call's time inside the server, from its request line read to its response written.

``SCHOLAR_CATALOG_BENCH_TIMING=FILE scholar-catalog serve --db F`` (stdio only) appends one line per
``tools/call`` to FILE: ``tool<TAB>milliseconds<TAB>response bytes``. ``bench/run.py`` sets it and reads
the lines back in call order. Unset (the default), ``serve`` never imports this module.

The SDK's stdio transport reads lines and writes responses through the two streams it is given, so
wrapping them brackets everything the server does for a call: JSON parsing and validation, dispatch,
the tool, building the result, serializing it and writing it to the pipe. (A ``ServerMiddleware``
would miss parsing and serializing, which grow with the result.) Like the SDK, the process's own fds
0 and 1 are pointed away from the wire while serving, so stray output cannot corrupt it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

ENV = "SCHOLAR_CATALOG_BENCH_TIMING"
# A response (not a request of the server's own, whose ids are another sequence) as the SDK serializes it.
RESPONSE_ID = re.compile(r'\{"jsonrpc":"2\.0","id":(-?\d+|"(?:[^"\\]|\\.)*"),"(?:result|error)"')


class TimedLines:
    """The request side: notes when each ``tools/call`` line arrives, under its JSON-RPC id."""

    def __init__(self, lines: Any, pending: dict[str, tuple[str, float]]) -> None:
        self._lines = lines
        self._pending = pending

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        async for line in self._lines:
            started = time.perf_counter()
            if '"tools/call"' in line:
                try:
                    message = json.loads(line)
                    self._pending[json.dumps(message["id"])] = (str(message["params"]["name"]), started)
                except (ValueError, KeyError, TypeError):
                    pass  # the SDK answers a malformed request itself; nothing to time
            yield line


class TimedWriter:
    """The response side: once a response to a timed request is flushed, appends its line to the log."""

    def __init__(self, out: Any, pending: dict[str, tuple[str, float]], log: IO[str]) -> None:
        self._out = out
        self._pending = pending
        self._log = log
        self._written: tuple[str, int] | None = None

    async def write(self, text: str) -> int:
        found = RESPONSE_ID.match(text)
        self._written = (found.group(1), len(text.encode("utf-8"))) if found else None
        return await self._out.write(text)

    async def flush(self) -> None:
        await self._out.flush()
        if self._written is None:
            return
        key, size = self._written
        self._written = None
        timed = self._pending.pop(key, None)
        if timed is not None:
            tool, started = timed
            self._log.write(f"{tool}\t{(time.perf_counter() - started) * 1000:.3f}\t{size}\n")
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
        lines = TimedLines(anyio.wrap_file(stdin), pending)
        writer = TimedWriter(anyio.wrap_file(stdout), pending, log)

        async def serve() -> None:
            async with stdio_server(stdin=lines, stdout=writer) as (read_stream, write_stream):  # type: ignore[arg-type]
                lowlevel = app._lowlevel_server  # what MCPServer.run_stdio_async drives, with our streams
                await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())

        anyio.run(serve)
