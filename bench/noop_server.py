"""The protocol floor: a minimal MCPServer with one tool that does nothing, served over stdio.

    python bench/noop_server.py

Same SDK, same transport and the same client as ``scholar-catalog serve``; what a
tool call costs here is the protocol's own cost (JSON-RPC over pipes, validation,
the SDK's dispatch), and its cold start is the SDK's import and start-up time.
With ``SCHOLAR_CATALOG_BENCH_TIMING=FILE`` it logs each call's time inside the server,
as ``serve`` does (server/bench_timing.py); unset, nothing else is imported.
"""

import os

from mcp.server.mcpserver import MCPServer

app = MCPServer("noop", log_level="WARNING")


@app.tool()
def noop() -> str:
    """Do nothing."""
    return "ok"


if __name__ == "__main__":
    timing = os.environ.get("SCHOLAR_CATALOG_BENCH_TIMING")
    if timing:
        from pathlib import Path

        from scholar_catalog.server.bench_timing import run_stdio_timed

        run_stdio_timed(app, Path(timing))
    else:
        app.run("stdio")
