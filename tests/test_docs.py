"""The documentation stays true: everything a user can call is documented, and README's commands run.

As in sqlite-utils: a tool, resource, prompt, command, option or environment variable added without a
word in README.md or docs/ fails here, and so does a README ``bash`` block that stops working.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import click
import pytest
from click.testing import CliRunner
from mcp import Client

from conftest import ROOT
from scholar_catalog.server.app import build_server
from scholar_catalog.server.cli import cli

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = README + "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md")))
SOURCE_DIRS = ("db", "tools", "server", "src")

# README bash blocks that this test does not run, by their first line, and why.
NOT_RUN = {
    'pip install ".[test]" && python -m pytest': "it is this test suite; .ci/run runs it",
    'pip install -e ".[test]"': "the development set-up; .ci/run runs these steps",
    "scholar-catalog serve --http --stateless --port 8801 --db catalog.db --allow-host catalog.example.org:443": (
        "a server that runs until stopped; tests/test_http_replicas.py serves replicas this way"
    ),
}
QUICK_START = "pip install . && scholar-catalog serve --profiles examples/profiles --db examples/catalog.db"


def bash_blocks() -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", README, flags=re.M | re.S)


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))


def test_readme_starts_with_the_install_and_run_command_and_the_test_command() -> None:
    blocks = bash_blocks()
    assert blocks[0].strip() == QUICK_START
    assert blocks[1].strip() == 'pip install ".[test]" && python -m pytest'
    assert "python -m pytest" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_tool_resource_and_prompt_is_documented(tmp_path: Path) -> None:
    async def listed() -> tuple[list[str], list[str], list[str]]:
        async with Client(build_server(tmp_path / "catalog.db")) as client:
            tools = [t.name for t in (await client.list_tools()).tools]
            resources = [r.uri for r in (await client.list_resources()).resources]
            resources += [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
            prompts = [p.name for p in (await client.list_prompts()).prompts]
            return tools, resources, prompts

    tools, resources, prompts = anyio.run(listed)
    assert tools and resources and prompts
    missing = [f"tool {t}" for t in tools if f"`{t}(" not in README and f"`{t}`" not in README]
    missing += [f"resource {r}" for r in resources if str(r) not in DOCS]
    missing += [f"prompt {p}" for p in prompts if f"`{p}`" not in DOCS]
    assert missing == []


def test_every_command_and_option_is_documented() -> None:
    missing = []
    for path, command in commands(cli):
        if f"scholar-catalog {' '.join(path)}" not in DOCS:
            missing.append(f"command {' '.join(path)}")
        for param in command.params:
            for flag in getattr(param, "opts", []):
                if flag.startswith("--") and flag not in ("--help",) and flag not in DOCS:
                    missing.append(f"{' '.join(path)} {flag}")
    assert missing == []


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for path, command in [((), cli), *commands(cli)]:
        assert (command.help or "").strip(), path
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert result.output.startswith("Usage: ") and command.help.split()[0] in result.output


def test_every_environment_variable_is_documented() -> None:
    found: set[str] = set()
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            found |= set(re.findall(r"SCHOLAR_CATALOG_[A-Z_]+", path.read_text(encoding="utf-8")))
    assert {"SCHOLAR_CATALOG_DB", "SCHOLAR_CATALOG_TOKEN"} <= found
    undocumented = sorted(v for v in found if f"| `{v}` |" not in README)
    assert undocumented == [], "add these to README's environment variables table"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A temporary copy of what README's commands touch, with a private HOME."""
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "examples", copy / "examples", ignore=shutil.ignore_patterns("*.db*"))
    (tmp_path / "home").mkdir()
    return copy


def run_block(block: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(cwd.parent / "home"),
        "XDG_CONFIG_HOME": str(cwd.parent / "home" / ".config"),
    }
    env.pop("SCHOLAR_CATALOG_DB", None)
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_readme_quick_start_builds_the_example_catalog_and_serves_it(checkout: Path) -> None:
    # The package is installed already (pip install -e); the rest of the line runs as written. With
    # stdin closed the stdio server syncs the folder, starts, reads end-of-input and exits.
    done = run_block(QUICK_START.removeprefix("pip install . && "), checkout)
    assert done.returncode == 0, done.stderr
    assert "catalog now holds 10 profiles" in done.stderr
    assert (checkout / "examples" / "catalog.db").is_file()


def test_readme_bash_blocks_run_in_order(checkout: Path) -> None:
    ran = 0
    for block in bash_blocks():
        first = block.strip().splitlines()[0]
        if block.strip() == QUICK_START or first in NOT_RUN:
            continue
        done = run_block(block, checkout)
        assert done.returncode == 0, f"README block failed:\n{block}\n{done.stderr}"
        assert done.stdout.strip(), f"README block printed nothing:\n{block}"
        ran += 1
    assert ran >= 3
    # connect --dry-run wrote no client config into the private home.
    assert not [p for p in (checkout.parent / "home").rglob("*") if p.is_file()]
