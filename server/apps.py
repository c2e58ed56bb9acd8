"""MCP Apps (``io.modelcontextprotocol/ui``): interactive views of tool results, rendered by the host.

A host that supports the extension reads a tool's ``_meta.ui.resourceUri``, fetches that ``ui://``
resource (one self-contained HTML document, MIME ``text/html;profile=mcp-app``) and shows it in a
sandboxed iframe next to the result; the view gets the result from the host and may call tools back
through it. Tools return the same text and structured results either way, so clients without Apps
lose nothing.

The views are built from ``views/`` by ``scripts/build-views`` into ``server/views/*.html``.

Where the SDK's ``mcp.server.apps.Apps`` falls short, and what this module does instead:

- ``Apps.tool()`` only binds tools it registers itself, when the server is constructed, ahead of the
  server's own tools; it cannot bind a tool the server adds (and so would reorder the tool list).
  Here ``Apps`` carries the resources and the capability, and :func:`ui_meta` stamps the binding on
  the tools as ``build_server`` adds them.
- ``Apps.tool()`` writes only the nested ``_meta.ui.resourceUri``; the reference TypeScript server
  helper (``registerAppTool``) also writes the flat ``_meta["ui/resourceUri"]`` that hosts built
  before the nested form read. :func:`ui_meta` writes both.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

from mcp.server.apps import Apps

VIEWS = {
    "network": "Collaboration network: people, shared papers, paths; click a person for their card.",
    "author": "A researcher's profile: figures, papers per year (with and without code), coauthors, papers.",
    "trend": "Papers per year or per category for a topic, with and without code.",
}

# tool -> view. A binding applies only when the tool is registered (topic_trends may be absent).
BINDINGS = {
    "coauthors": "network",
    "shared_coauthors": "network",
    "collaboration_path": "network",
    "get_author": "author",
    "topic_trends": "trend",
}

LEGACY_URI_KEY = "ui/resourceUri"


def view_uri(view: str) -> str:
    return f"ui://scholar-catalog/{view}.html"


@cache
def view_html(view: str) -> str:
    """The built view, shipped as package data (``scholar_catalog/server/views/VIEW.html``)."""
    return resources.files("scholar_catalog.server").joinpath("views", f"{view}.html").read_text(encoding="utf-8")


def build_apps(tool_names: Iterable[str]) -> Apps:
    """The Apps extension with the views the registered *tool_names* are bound to."""
    apps = Apps()
    wanted = {BINDINGS[name] for name in tool_names if name in BINDINGS}
    for view in VIEWS:
        if view in wanted:
            apps.add_html_resource(
                view_uri(view),
                view_html(view),
                name=f"{view}-view",
                title=f"scholar-catalog {view} view",
                description=VIEWS[view],
                prefers_border=True,
            )
    return apps


def ui_meta(tool_name: str) -> dict[str, Any] | None:
    """The ``_meta`` binding a tool to its view (nested and legacy flat keys), or None."""
    view = BINDINGS.get(tool_name)
    if view is None:
        return None
    return {"ui": {"resourceUri": view_uri(view)}, LEGACY_URI_KEY: view_uri(view)}
