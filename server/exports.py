"""The exports as MCP resources a client may attach: a profile's network (GraphML) and papers (BibTeX)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from scholar_catalog.db.catalog import Catalog
from scholar_catalog.db.connection import CatalogError
from scholar_catalog.tools import exports
from scholar_catalog.tools.common import ToolInputError

if TYPE_CHECKING:
    from scholar_catalog.server.app import CatalogHandle


def _export(handle: CatalogHandle, build: Callable[[Catalog], str]) -> str:
    try:
        return build(handle.get())
    except ToolInputError as err:
        raise ResourceNotFoundError(str(err)) from err
    except CatalogError as err:
        raise ResourceError(str(err)) from err


def register_export_resources(app: MCPServer, handle: CatalogHandle) -> None:
    """``catalog://author/{profile_id}/network.graphml`` and ``catalog://author/{profile_id}/papers.bib``."""

    @app.resource(
        "catalog://author/{profile_id}/network.graphml",
        name="author-network",
        title="Collaboration network (GraphML)",
        description="The profile's coauthor network, one hop, as GraphML for Gephi, Cytoscape or NetworkX.",
        mime_type="application/graphml+xml",
    )
    def network(profile_id: str) -> str:
        return _export(
            handle, lambda catalog: exports.network_graphml(exports.network_graph(catalog, profile_id=profile_id))
        )

    @app.resource(
        "catalog://author/{profile_id}/papers.bib",
        name="author-papers-bibtex",
        title="Papers (BibTeX)",
        description="Every paper of the profile in the catalog, newest first, as BibTeX.",
        mime_type="application/x-bibtex",
    )
    def papers(profile_id: str) -> str:
        return _export(
            handle,
            lambda catalog: exports.papers_bibtex(
                exports.export_papers(catalog, author_profile_id=profile_id, sort="date")
            ),
        )
