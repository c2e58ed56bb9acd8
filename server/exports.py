"""The exports as MCP resources a client may attach: a profile's network (GraphML) and papers (BibTeX)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp.server.mcpserver import MCPServer

from scholar_catalog.tools import exports

if TYPE_CHECKING:
    from scholar_catalog.server.app import CatalogHandle


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
        return handle.read_resource(
            lambda catalog: exports.network_graphml(exports.network_graph(catalog, profile_id=profile_id))
        )

    @app.resource(
        "catalog://author/{profile_id}/papers.bib",
        name="author-papers-bibtex",
        title="Papers (BibTeX)",
        description="Every paper of the profile in the catalog, newest first, as BibTeX.",
        mime_type="application/x-bibtex",
    )
    def papers(profile_id: str) -> str:
        return handle.read_resource(
            lambda catalog: exports.papers_bibtex(
                exports.export_papers(catalog, author_profile_id=profile_id, sort="date")
            ),
        )
