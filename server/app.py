"""The MCP server: registers the tools, resources, prompts and completions on an ``MCPServer``.

Every tool is a plain function in :mod:`scholar_catalog.tools`; this module only adapts it:
the function's own signature (minus the catalog) becomes the input schema, its
pydantic return type the ``outputSchema``, and its docstring the description a
model reads. Results go out as ``structuredContent`` plus a compact JSON text
block; anticipated errors as ``isError`` results with an actionable message.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp_types import (
    CallToolResult,
    Completion,
    PromptReference,
    ResourceTemplateReference,
    TextContent,
    ToolAnnotations,
)
from pydantic import BaseModel, ValidationError

from scholar_catalog import tools
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.db.connection import CatalogError
from scholar_catalog.db.limits import DEFAULT_CALL_TIMEOUT, CallTooLong, call_time_limit
from scholar_catalog.server.apps import build_apps, ui_meta
from scholar_catalog.server.exports import register_export_resources
from scholar_catalog.tools.common import ToolInputError

logger = logging.getLogger("scholar_catalog")

INSTRUCTIONS = (
    "This server answers questions about a catalog of researcher profiles and their papers "
    "(titles, dates, categories, scores, authors, affiliations, abstracts), built from profile pages. "
    "Start with search_papers for topics and get_author for a person (search_authors when unsure of a "
    "spelling); use shared_coauthors and collaboration_path for who-worked-with-whom questions. "
    "For questions by topic rather than by name: find_experts (who works on T), similar_papers (what is like "
    "this paper), similar_authors (who works on what Y works on; exclude_coauthors=true for people Y should "
    "meet), topic_trends (how many papers on T per year or category); get_author's `topics` says what a person "
    "works on. These rank by shared words (method 'lexical'): try the words papers would use. "
    "Names are matched despite accents, case and typos and every answer says how a name was resolved; "
    "author lists are truncated, so collaborator answers are lower bounds."
)

# (function, human title) — the order is the order clients list them in.
TOOLS: list[tuple[Callable[..., BaseModel], str]] = [
    (tools.search_papers, "Search papers"),
    (tools.get_paper, "Get paper"),
    (tools.get_author, "Get author"),
    (tools.search_authors, "Search authors"),
    (tools.coauthors, "List coauthors"),
    (tools.shared_coauthors, "Shared coauthors of two researchers"),
    (tools.collaboration_path, "Collaboration path between two researchers"),
    (tools.find_experts, "Find experts on a topic"),
    (tools.similar_papers, "Similar papers"),
    (tools.similar_authors, "Similar researchers"),
    (tools.topic_trends, "Topic trends over years or categories"),
    (tools.catalog_stats, "Catalog statistics"),
]
TOOL_FUNCTIONS: dict[str, Callable[..., BaseModel]] = {fn.__name__: fn for fn, _ in TOOLS}
TOOL_PARAMETERS: dict[str, frozenset[str]] = {
    fn.__name__: frozenset(list(inspect.signature(fn).parameters)[1:]) for fn, _ in TOOLS
}


class CatalogHandle:
    """Opens the catalog on first use (and again later if it was missing), read-only."""

    def __init__(self, path: Path, call_timeout: float | None = DEFAULT_CALL_TIMEOUT) -> None:
        self.path = path
        self.call_timeout = call_timeout
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()

    def get(self) -> Catalog:
        with self._lock:
            if self._catalog is None:
                self._catalog = Catalog(self.path)
            return self._catalog

    def read_resource(self, build: Callable[[Catalog], str]) -> str:
        """Run *build* for a ``resources/read``: a bad argument is "not found", a catalog problem an error."""
        try:
            return build(self.get())
        except ToolInputError as err:
            raise ResourceNotFoundError(str(err)) from err
        except CatalogError as err:
            raise ResourceError(str(err)) from err

    def close(self) -> None:
        with self._lock:
            if self._catalog is not None:
                self._catalog.close()
                self._catalog = None


def _compact(model: BaseModel) -> str:
    # pydantic-core writes the same compact UTF-8 JSON as json.dumps(model_dump(...)) in a third of the time
    return model.model_dump_json(by_alias=True, exclude_none=True)


def _adapt(handle: CatalogHandle, fn: Callable[..., BaseModel]) -> Callable[..., CallToolResult]:
    """Wrap a tool function: drop its catalog parameter, translate results and anticipated errors."""
    signature = inspect.signature(fn, eval_str=True)
    result_model = signature.return_annotation
    parameters = list(signature.parameters.values())[1:]

    @functools.wraps(fn)
    def wrapper(**arguments: Any) -> CallToolResult:
        try:
            catalog = handle.get()  # opened outside the time limit: it is not part of the call
            with call_time_limit(handle.call_timeout, fn.__name__):
                result = fn(catalog, **arguments)
        except (ToolInputError, CatalogError, CallTooLong) as err:
            raise ToolError(str(err)) from err
        return CallToolResult(
            content=[TextContent(type="text", text=_compact(result))],
            structured_content=result.model_dump(mode="json", by_alias=True),
        )

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=parameters, return_annotation=Annotated[CallToolResult, result_model]
    )
    del wrapper.__wrapped__  # the schema must come from the signature above, not the original
    return wrapper


class ScholarServer(MCPServer):
    """MCPServer whose argument-validation errors are short and name the argument."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        if name in TOOL_FUNCTIONS:
            accepted = TOOL_PARAMETERS[name]
            unknown = sorted(set(arguments or {}) - accepted)
            if unknown:
                raise ToolError(
                    f"Unknown argument(s) for {name}: {', '.join(unknown)}. "
                    f"It takes: {', '.join(sorted(accepted)) or 'no arguments'}."
                )
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as err:
            cause = err.__cause__
            if isinstance(cause, ValidationError):
                raise ToolError(_explain_validation(name, cause)) from cause
            if "Unknown tool" in str(err):
                raise ToolError(f"Unknown tool {name!r}. Tools: {', '.join(TOOL_FUNCTIONS)}.") from err
            raise


def _explain_validation(tool: str, error: ValidationError) -> str:
    problems = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        given = item.get("input")
        shown = "" if item["type"] == "missing" else f" (got {_short(given)})"
        problems.append(f"`{where}`: {item['msg']}{shown}")
    return f"Invalid arguments for {tool}: " + "; ".join(problems) + ". See the tool's input schema."


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def build_server(db_path: str | os.PathLike[str], *, call_timeout: float | None = DEFAULT_CALL_TIMEOUT) -> MCPServer:
    """Build the scholar-catalog MCP server over the catalog at *db_path* (opened read-only on first use).

    *call_timeout*: seconds a tool call may run its SQLite statements (None: no limit).
    """
    handle = CatalogHandle(Path(db_path), call_timeout)
    app = ScholarServer(
        "scholar-catalog",
        title="Scholar Catalog",
        description="Researcher profiles and papers, deduplicated and searchable.",
        instructions=INSTRUCTIONS,
        version=_version(),
        log_level="WARNING",
        extensions=[build_apps(TOOL_FUNCTIONS)],
    )
    app.catalog_handle = handle  # type: ignore[attr-defined]
    for fn, title in TOOLS:
        app.add_tool(
            _adapt(handle, fn),
            name=fn.__name__,
            title=title,
            description=inspect.cleandoc(fn.__doc__ or ""),
            annotations=ToolAnnotations(
                title=title,
                read_only_hint=True,
                destructive_hint=False,
                idempotent_hint=True,
                open_world_hint=False,
            ),
            meta=ui_meta(fn.__name__),
        )
    _register_resources(app, handle)
    register_export_resources(app, handle)
    _register_prompts(app)
    _register_completions(app, handle)
    return app


def _resource_json(handle: CatalogHandle, name: str, **arguments: Any) -> str:
    return handle.read_resource(lambda catalog: _compact(TOOL_FUNCTIONS[name](catalog, **arguments)))


def _register_resources(app: MCPServer, handle: CatalogHandle) -> None:
    @app.resource(
        "catalog://stats",
        name="catalog-stats",
        title="Catalog statistics",
        description="Counts, categories, years and sources of the catalog (as catalog_stats).",
        mime_type="application/json",
    )
    def stats() -> str:
        return _resource_json(handle, "catalog_stats")

    @app.resource(
        "catalog://author/{profile_id}",
        name="author",
        title="Author profile",
        description="One profile by profile_id (as get_author).",
        mime_type="application/json",
    )
    def author(profile_id: str) -> str:
        return _resource_json(handle, "get_author", profile_id=profile_id)

    @app.resource(
        "catalog://paper/{paper_id}",
        name="paper",
        title="Paper",
        description="One paper by paper_id (as get_paper).",
        mime_type="application/json",
    )
    def paper(paper_id: str) -> str:
        if not paper_id.isdigit():
            raise ResourceNotFoundError(f"paper_id must be a number, got {paper_id!r}")
        return _resource_json(handle, "get_paper", paper_id=int(paper_id))


def _register_prompts(app: MCPServer) -> None:
    @app.prompt(name="author_brief", title="Author brief")
    def author_brief(name: str) -> str:
        """A one-page brief on a researcher: focus, key papers, collaborators."""
        return (
            f"Write a concise brief on the researcher {name!r} using the scholar-catalog tools.\n"
            f"1. Call get_author(name={name!r}). If it returns `candidates`, ask which profile is meant "
            "(or brief each separately); if the match is fuzzy, say which name you used.\n"
            "2. Summarise their primary category, h-index, citations and years active.\n"
            "3. Pick their 3-5 most notable papers (score, recency, code) and call get_paper for details.\n"
            "4. Call coauthors for their main collaborators, and similar_authors for people working on the same "
            "topics (its `topics` in get_author say what those are).\n"
            "Cite paper titles and dates; note that author lists are truncated."
        )

    @app.prompt(name="compare_authors", title="Compare two authors")
    def compare_authors(author_a: str, author_b: str) -> str:
        """Compare two researchers: topics, output, and how they are connected."""
        return (
            f"Compare the researchers {author_a!r} and {author_b!r} using the scholar-catalog tools.\n"
            "1. Call get_author for each (resolve ambiguous names with profile_id).\n"
            "2. Compare their categories, output over the years, h-index and top papers.\n"
            f"3. Call shared_coauthors(author_a={author_a!r}, author_b={author_b!r}) for papers they wrote "
            "together and people who worked with both.\n"
            "4. If they never collaborated, call collaboration_path to show how they are connected.\n"
            "Cite paper titles and dates; say that collaboration answers are lower bounds."
        )

    @app.prompt(name="literature_scan", title="Literature scan of a topic")
    def literature_scan(topic: str, since_year: str = "") -> str:
        """Survey the catalog's papers on a topic: main threads, key papers, who works on it."""
        since = f", year_from={since_year}" if since_year.strip().isdigit() else ""
        return (
            f"Survey the catalog's papers on {topic!r} using the scholar-catalog tools.\n"
            f"1. Call search_papers(query={topic!r}{since}, limit=20), and again with sort='score'; "
            "page with next_cursor if useful; try synonyms if there are few results.\n"
            "2. Call get_paper for the most relevant 5-8 papers to read their abstracts.\n"
            "3. Group the papers into themes; for each, name key papers (title, date, code or not).\n"
            f"4. Call topic_trends(query={topic!r}) for how the topic grew, and find_experts(topic={topic!r}) "
            "for who works on it (get_author for the top two).\n"
            "Only report what the tools returned."
        )


def _register_completions(app: MCPServer, handle: CatalogHandle) -> None:
    name_arguments = {"name", "author_a", "author_b"}

    @app.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        try:
            catalog = handle.get()
        except CatalogError:
            return Completion(values=[], total=0, has_more=False)
        if isinstance(ref, PromptReference) and argument.name in name_arguments:
            values = _complete_names(catalog, argument.value)
        elif isinstance(ref, ResourceTemplateReference) and argument.name == "profile_id":
            values = _complete_profile_ids(catalog, argument.value)
        else:
            return None
        return Completion(values=values, total=len(values), has_more=len(values) >= 20)


def _complete_names(catalog: Catalog, prefix: str, limit: int = 20) -> list[str]:
    from scholar_catalog.db.normalize import normalize_name

    key = normalize_name(prefix[:200])
    with catalog.connection() as conn:
        rows = conn.execute(
            """SELECT name FROM authors WHERE name_norm >= ? AND name_norm < ?
               GROUP BY name ORDER BY min(profile_id IS NULL), name LIMIT ?""",
            [key, key + "\U0010ffff", limit],
        ).fetchall()
    return [r[0] for r in rows]


def _complete_profile_ids(catalog: Catalog, prefix: str, limit: int = 20) -> list[str]:
    with catalog.connection() as conn:
        rows = conn.execute(
            "SELECT id FROM profiles WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            [prefix[:200], prefix[:200] + "\U0010ffff", limit],
        ).fetchall()
    return [r[0] for r in rows]


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("scholar-catalog")
    except Exception:  # not installed (running from a checkout)
        return "0.0.0"
