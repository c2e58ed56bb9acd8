"""The MCP wiring: :mod:`scholar_catalog.server.app` (tools, resources, prompts),
:mod:`scholar_catalog.server.http` (Streamable HTTP) and :mod:`scholar_catalog.server.cli` (the command)."""
