"""Shared helpers for the MCP tests: calling tools through a client and checking what comes back.

Every successful tool result is checked against the tool's advertised ``outputSchema``
(with ``jsonschema``) and its text block against its ``structuredContent``, so any test
that calls :func:`ok` also checks the wire contract of that result.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from hashlib import sha256
from pathlib import Path
from typing import Any

import jsonschema
from mcp import Client
from mcp_types import CallToolResult

# The public tool contract from the issue: name -> arguments that must exist.
TOOL_ARGUMENTS: dict[str, set[str]] = {
    "search_papers": {
        "query",
        "author",
        "category",
        "year_from",
        "year_to",
        "has_code",
        "min_score",
        "affiliation",
        "sort",
        "limit",
        "cursor",
    },
    "get_paper": {"paper_id"},
    "get_author": {"name", "profile_id"},
    "search_authors": {"query", "limit"},
    "coauthors": {"name", "profile_id", "limit"},
    "shared_coauthors": {"author_a", "author_b"},
    "collaboration_path": {"author_a", "author_b", "max_hops"},
    "find_experts": {"topic", "category", "year_from", "year_to", "profiles_only", "limit"},
    "similar_papers": {"paper_id", "limit"},
    "similar_authors": {"name", "profile_id", "limit", "exclude_coauthors"},
    "topic_trends": {"query", "group_by", "author", "category", "year_from", "year_to"},
    "catalog_stats": set(),
}

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
GENERIC_ERROR = re.compile(r"^Error executing tool \w+$")


def server_executable() -> Path:
    """The installed ``scholar-catalog`` console script of the running interpreter's environment."""
    exe = Path(sys.executable).parent / "scholar-catalog"
    assert exe.exists(), f"scholar-catalog is not installed next to {sys.executable}"
    return exe


async def output_schemas(client: Client) -> dict[str, dict[str, Any]]:
    """Tool name -> advertised outputSchema (listed once per client, kept on the client object)."""
    schemas = getattr(client, "_test_output_schemas", None)
    if schemas is None:
        listed = await client.list_tools()
        schemas = {tool.name: tool.output_schema for tool in listed.tools}
        client._test_output_schemas = schemas  # type: ignore[attr-defined]
    return schemas


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def check_dates(value: Any, where: str = "result") -> None:
    """Every ``date`` field anywhere in a result is ISO YYYY-MM-DD."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "date":
                assert isinstance(item, str) and ISO_DATE.match(item), f"{where}.date is not ISO: {item!r}"
            check_dates(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_dates(item, f"{where}[{index}]")


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def check_result(schema: dict[str, Any], result: CallToolResult) -> dict[str, Any]:
    """A successful result: structuredContent valid against *schema*, a JSON text block that says the same."""
    structured = result.structured_content
    assert isinstance(structured, dict), "a tool result must carry structuredContent"
    jsonschema.validate(structured, schema, cls=jsonschema.Draft202012Validator)
    check_dates(structured)
    texts = [block for block in result.content if getattr(block, "type", None) == "text"]
    assert texts, "a tool result must also carry a text block"
    assert _drop_none(json.loads(texts[0].text)) == _drop_none(structured)
    return structured


async def ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call *tool*; it must succeed and match its outputSchema. Returns the structuredContent."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, f"{tool}({arguments!r}) failed: {text_of(result)}"
    return check_result((await output_schemas(client))[tool], result)


def check_error_message(message: str) -> None:
    """An isError message a model can act on: says something specific, no traceback."""
    assert message.strip(), "an error result must carry a message"
    assert "Traceback" not in message
    assert not GENERIC_ERROR.match(message.strip()), f"the error says nothing useful: {message!r}"


async def error(client: Client, tool: str, **arguments: Any) -> str:
    """Call *tool*; it must fail as an isError result with a helpful message. Returns the message."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool}({arguments!r}) should have failed, got {result.structured_content!r}"
    message = text_of(result)
    check_error_message(message)
    return message


async def answer(client: Client, tool: str, **arguments: Any) -> CallToolResult:
    """Call *tool* with anything: it must come back as a valid result or a helpful isError, never raise."""
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        check_error_message(text_of(result))
    else:
        check_result((await output_schemas(client))[tool], result)
    return result


def titles(papers: list[dict[str, Any]]) -> list[str]:
    return [paper["title"] for paper in papers]


def catalog_fingerprint(db_path: Path) -> tuple[str, dict[str, int]]:
    """The database file's hash and the row count of every table (read through a separate read-only handle)."""
    digest = sha256(db_path.read_bytes()).hexdigest()
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}
    finally:
        conn.close()
    return digest, counts
