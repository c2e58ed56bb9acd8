"""``scholar-catalog call TOOL key=value ...`` and ``scholar-catalog tools``.

``call`` goes through the same MCP code path as a client; these tests check the readable
and ``--json`` output, argument coercion, and how bad input is reported.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers_mcp import TOOL_ARGUMENTS, server_executable

from scholar_catalog.db import vectors
from scholar_catalog.server.cli import cli


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


def call(db: Path, *args: str) -> Result:
    return run("call", *args, "--db", str(db))


def test_tools_lists_every_tool() -> None:
    result = run("tools")
    assert result.exit_code == 0, result.output
    for name, arguments in TOOL_ARGUMENTS.items():
        line = next(line for line in result.stdout.splitlines() if line.startswith(f"{name}("))
        for argument in arguments:
            assert argument in line
    assert "catalog" not in result.stdout.split("(")[1].split(")")[0]


def test_call_readable_output(example_db: Path) -> None:
    result = call(example_db, "search_papers", "query=retrieval", "year_from=2025", "has_code=true")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("results:")
    assert "title: Late-Interaction Retrieval Under a Memory Budget" in out
    assert "Nguyễn Thị Lan" in out  # unicode printed as text, not escapes
    assert "total: " in out
    assert "{" not in out.splitlines()[0]
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


def test_call_json_output(example_db: Path) -> None:
    result = call(example_db, "search_papers", "query=retrieval", "year_from=2025", "has_code=true", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total"] == len(data["results"]) > 0
    assert all(p["has_code"] is True and p["date"] >= "2025-01-01" for p in data["results"])
    assert data["fuzzy_fallback"] is False


def test_call_json_unicode_arguments(example_db: Path) -> None:
    result = call(example_db, "shared_coauthors", "author_a=Łukasz Wróbel", "author_b=José Álvarez", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [s["name"] for s in data["shared"]] == ["Ingrid Solheim"]
    assert "Łukasz Wróbel" in result.stdout  # ensure_ascii is off


def test_call_coerces_by_input_schema(example_db: Path) -> None:
    # A number-looking query stays a string; has_code=false is a boolean; limit is an integer.
    numeric = call(example_db, "search_papers", "query=128", "--json")
    assert numeric.exit_code == 0, numeric.output
    assert json.loads(numeric.stdout)["results"][0]["title"].startswith("128-Bit Fingerprints")
    without_code = json.loads(call(example_db, "search_papers", "has_code=false", "limit=100", "--json").stdout)
    assert without_code["results"] and not any(p["has_code"] for p in without_code["results"])
    nothing = call(example_db, "get_author", "name=Wei Zhang", "profile_id=null", "--json")
    assert len(json.loads(nothing.stdout)["candidates"]) == 2
    picked = json.loads(
        call(example_db, "get_author", "name=Wei Zhang", "profile_id=ex09_wei-zhang-cv", "--json").stdout
    )
    assert picked["h_index"] == 9


def test_call_tool_without_arguments(example_db: Path) -> None:
    result = call(example_db, "catalog_stats", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["profiles"] == 10


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["search_papers", "limit=500"], "`limit`"),
        (["get_paper", "paper_id=abc"], "`paper_id`"),
        (["search_papers", "sort=popularity"], "`sort`"),
        (["search_papers", "category=ZZ"], "ZZ"),
    ],
)
def test_call_bad_argument_value_is_an_error_exit(example_db: Path, arguments: list[str], named: str) -> None:
    result = call(example_db, *arguments)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert named in result.stderr
    assert result.stderr.startswith("error: ")
    assert result.stdout == ""


def test_call_argument_not_key_value_is_a_usage_error(example_db: Path) -> None:
    result = call(example_db, "search_papers", "retrieval")
    assert result.exit_code == 2
    assert "key=value" in result.stderr


def test_call_missing_catalog_says_how_to_build_one(tmp_path: Path) -> None:
    result = call(tmp_path / "none.db", "catalog_stats")
    assert result.exit_code == 1
    assert "scholar-catalog ingest" in result.stderr


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [(["no_such_tool"], "unknown tool"), (["search_papers", "bogus=1"], "has no argument 'bogus'")],
)
def test_call_unknown_tool_or_argument_is_a_usage_error(example_db: Path, arguments: list[str], expected: str) -> None:
    done = subprocess.run(
        [str(server_executable()), "call", *arguments, "--db", str(example_db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert expected in done.stderr.lower()
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_call_unknown_tool_names_the_tools(example_db: Path) -> None:
    """Whatever the exit path, the message must name the unknown tool and list the real ones."""
    done = subprocess.run(
        [str(server_executable()), "call", "no_such_tool", "--db", str(example_db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "no_such_tool" in done.stderr and "search_papers" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("arguments", "expect"),
    [
        (["find_experts", "topic=speculative decoding", "profiles_only=true"], "Zoë Hartmann"),
        (["similar_papers", "paper_id=1", "limit=3"], "similarity"),
        (["similar_authors", "name=Lukasz Wrobel", "exclude_coauthors=true", "limit=3"], "coauthor"),
        (["topic_trends", "query=retrieval", "group_by=category"], "IR"),
    ],
    ids=["find_experts", "similar_papers", "similar_authors", "topic_trends"],
)
def test_call_works_for_the_topic_tools(example_db: Path, arguments: list[str], expect: str) -> None:
    result = call(example_db, *arguments, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert expect in result.stdout
    if arguments[0] == "topic_trends":
        assert data["total"] == sum(b["papers"] for b in data["buckets"]) > 0
    else:
        hybrid = vectors.available() and arguments[0] != "similar_authors"  # the test extra installs the model
        assert data["results"] and data["method"] == ("hybrid" if hybrid else "lexical")
