"""The MCP Inspector's CLI mode (@modelcontextprotocol/inspector) against ``scholar-catalog serve``.

A real third-party client: it launches the server over stdio, lists the tools and calls search_papers.
scripts/node-tools installs the pinned Inspector (and a Node 22 it needs) on first use; the test skips
when Node.js/npm is missing or the npm registry cannot be reached.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, TOOL_NAMES

NODE_TOOLS = ROOT / "scripts" / "node-tools"


@pytest.fixture(scope="module")
def inspector() -> list[str]:
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("Node.js and npm are needed for the MCP Inspector")
    installed = subprocess.run(
        [str(NODE_TOOLS), "--install", "inspector"],
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    if installed.returncode != 0:
        pytest.skip(f"could not install the MCP Inspector (no registry access?): {installed.stderr[-500:]}")
    return [str(NODE_TOOLS), "inspector", "--cli"]


def server_command(db: Path) -> list[str]:
    """`scholar-catalog serve --db DB`, from the environment running the tests."""
    script = shutil.which("scholar-catalog", path=str(Path(sys.executable).parent))
    base = [script] if script else [sys.executable, "-m", "scholar_catalog"]
    return [*base, "serve", "--db", str(db)]


def inspect_cli(inspector: list[str], db: Path, *options: str) -> Any:
    done = subprocess.run(
        [*inspector, *options, "--", *server_command(db)],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(done.stdout)


def test_inspector_lists_the_tools(inspector: list[str], example_db: Path) -> None:
    listed = inspect_cli(inspector, example_db, "--method", "tools/list")
    tools = {tool["name"]: tool for tool in listed["tools"]}
    assert list(tools) == TOOL_NAMES
    search = tools["search_papers"]
    assert search["inputSchema"]["type"] == "object"
    assert "query" in search["inputSchema"]["properties"]
    assert search["annotations"]["readOnlyHint"] is True
    assert "outputSchema" in search


def test_inspector_calls_search_papers(inspector: list[str], example_db: Path) -> None:
    result = inspect_cli(
        inspector,
        example_db,
        "--method",
        "tools/call",
        "--tool-name",
        "search_papers",
        "--tool-arg",
        "query=retrieval",
        "year_from=2025",
        "has_code=true",
    )
    assert result.get("isError") is not True, result
    papers = result["structuredContent"]["results"]
    assert papers
    assert all(paper["has_code"] for paper in papers)
    assert all(paper["date"] >= "2025" for paper in papers)
    assert any("Retrieval" in paper["title"] for paper in papers)
    assert json.loads(result["content"][0]["text"])["results"][0]["paper_id"] == papers[0]["paper_id"]
