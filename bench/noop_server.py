"""The protocol floor: a minimal MCPServer with one tool that does nothing, served over stdio.

    python bench/noop_server.py

Same SDK, same transport and the same client as ``scholar-catalog serve``; what a
tool call costs here is the protocol's own cost (JSON-RPC over pipes, validation,
the SDK's dispatch), and its cold start is the SDK's import and start-up time.
"""

from mcp.server.mcpserver import MCPServer

app = MCPServer("noop", log_level="WARNING")


@app.tool()
def noop() -> str:
    """Do nothing."""
    return "ok"


if __name__ == "__main__":
    app.run("stdio")
