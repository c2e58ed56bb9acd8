"""The tools: plain functions from validated arguments to pydantic results.

Each takes a :class:`scholar_catalog.db.catalog.Catalog` first; :mod:`scholar_catalog.server.app` registers
them with the MCP server. They raise :class:`scholar_catalog.tools.common.ToolInputError` with a
message that tells the model what to do next.
"""

from .authors import coauthors, get_author, search_authors
from .catalog import catalog_stats
from .common import ToolInputError
from .network import collaboration_path, shared_coauthors
from .papers import get_paper, search_papers
from .similar import similar_authors, similar_papers
from .topics import find_experts
from .trends import topic_trends

__all__ = [
    "ToolInputError",
    "catalog_stats",
    "coauthors",
    "collaboration_path",
    "find_experts",
    "get_author",
    "get_paper",
    "search_authors",
    "search_papers",
    "shared_coauthors",
    "similar_authors",
    "similar_papers",
    "topic_trends",
]
