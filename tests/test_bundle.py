"""The MCP Bundle: manifest.json, `scripts/build-bundle` (mcpb pack), and the packed server run as a host runs it.

The bundle is built and unpacked with the real @anthropic-ai/mcpb CLI (scripts/node-tools installs it
on first use), then started exactly as the manifest's ``mcp_config`` says, with ``${__dirname}`` and the
``${user_config.*}`` values substituted as the MCPB spec describes, on a bare Python (a venv without
packages) so that everything the server imports must come from the bundle. Skipped without Node.js/npm.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

import scholar_catalog
from conftest import EXAMPLES, ROOT, TOOL_NAMES
from scholar_catalog.server.app import TOOLS

NODE_TOOLS = ROOT / "scripts" / "node-tools"
MANIFEST = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
needs_node = pytest.mark.skipif(
    not (shutil.which("node") and shutil.which("npm")), reason="Node.js and npm are needed for the mcpb CLI"
)


# --------------------------------------------------------------------------------------
# manifest.json itself (no Node needed)


def test_manifest_declares_the_server_as_it_is() -> None:
    assert MANIFEST["manifest_version"] == "0.3"
    assert MANIFEST["name"] == "scholar-catalog"
    assert MANIFEST["version"] == scholar_catalog.__version__  # the version's one source
    expected = [
        {"name": fn.__name__, "description": inspect.cleandoc(fn.__doc__ or "").splitlines()[0]} for fn, _ in TOOLS
    ]
    assert MANIFEST["tools"] == expected
    assert [tool["name"] for tool in MANIFEST["tools"]] == TOOL_NAMES
    assert MANIFEST["compatibility"] == {"platforms": ["darwin", "win32", "linux"], "runtimes": {"python": ">=3.11"}}
    server = MANIFEST["server"]
    assert server["type"] == "python"
    assert server["entry_point"] == "server/main.py"
    assert server["mcp_config"]["args"][:2] == ["${__dirname}/server/main.py", "serve"]
    config = MANIFEST["user_config"]
    assert config["profiles_dir"]["type"] == "directory" and config["profiles_dir"]["required"] is True
    assert config["database"]["type"] == "file" and config["database"]["required"] is False
    used = set(re.findall(r"\$\{user_config\.([^}]+)\}", json.dumps(server["mcp_config"])))
    assert used == set(config)


# --------------------------------------------------------------------------------------
# The packed bundle


def node_tools(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NODE_TOOLS), *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """scripts/build-bundle's .mcpb, unpacked with `mcpb unpack` into a temporary folder."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("Node.js and npm are needed for the mcpb CLI")
    work = tmp_path_factory.mktemp("bundle")
    out = work / "scholar-catalog.mcpb"
    built = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build-bundle"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    assert built.stdout.strip().splitlines()[-1] == str(out)
    assert out.is_file() and out.stat().st_size > 1_000_000
    unpacked = work / "unpacked"
    done = node_tools("mcpb", "unpack", str(out), str(unpacked))
    assert done.returncode == 0, done.stdout + done.stderr
    yield unpacked


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a venv with no packages at all: Python 3.11+ as a new user has it."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    probe = subprocess.run([str(bin_dir / "python3"), "-c", "import pydantic"], capture_output=True, timeout=60)
    assert probe.returncode != 0, "the bare Python must not see any installed packages"
    return bin_dir


def substitute(value: Any, variables: dict[str, str]) -> Any:
    """MCPB variable substitution: ``${name}`` in strings; an unknown user_config variable is left as is."""
    if isinstance(value, str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: variables.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, variables) for key, item in value.items()}
    return value


def launch_parameters(bundle: Path, bare_bin: Path, user_config: dict[str, str], home: Path) -> StdioServerParameters:
    """The command a host runs for this bundle, from the unpacked manifest's mcp_config."""
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    config = dict(manifest["server"]["mcp_config"])
    override = config.pop("platform_overrides", {}).get(sys.platform, {})
    config.update({key: value for key, value in override.items() if value})
    variables = {"__dirname": str(bundle), "HOME": str(home), "/": os.sep, "pathSeparator": os.sep}
    variables.update({f"user_config.{key}": value for key, value in user_config.items()})
    config = substitute(config, variables)
    # The host's own environment: a PATH whose python3 is the bare one, and a home of its own.
    environment = {
        **config.get("env", {}),
        "PATH": str(bare_bin) + os.pathsep + os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
    }
    return StdioServerParameters(command=config["command"], args=config["args"], env=environment)


async def session(parameters: StdioServerParameters, log: Path) -> dict[str, Any]:
    """Start the server, run initialize, tools/list and tool calls, stop it (stdio_client ends the process)."""
    with log.open("a", encoding="utf-8") as errlog:
        async with Client(stdio_client(parameters, errlog=errlog)) as client:
            tools = (await client.list_tools()).tools
            stats = await client.call_tool("catalog_stats", {})
            dubois = await client.call_tool("get_author", {"name": "Marguerite Dubois"})
            wei = await client.call_tool("get_author", {"profile_id": "ex09_wei-zhang-cv"})
            return {
                "server": client.server_info.name if client.server_info else None,
                "tools": [(tool.name, tool.description.splitlines()[0] if tool.description else "") for tool in tools],
                "stats": stats.structured_content,
                "dubois": dubois,
                "wei": wei.structured_content,
            }


@needs_node
def test_bundle_contents(bundle_dir: Path) -> None:
    manifest = json.loads((bundle_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["tools"] == MANIFEST["tools"]
    assert manifest["server"] == MANIFEST["server"]
    running = "{}.{}".format(*sys.version_info[:2])
    minor = sys.version_info[1]
    assert manifest["compatibility"]["runtimes"]["python"] == f">={running},<3.{minor + 1}"
    assert manifest["compatibility"]["platforms"] == [sys.platform if sys.platform != "cygwin" else "win32"]
    assert (bundle_dir / "server" / "main.py").is_file()
    lib = bundle_dir / "server" / "lib"
    for package in (
        "scholar_catalog/server/app.py",
        "scholar_catalog/db/catalog.py",
        "scholar_catalog/tools/papers.py",
        "mcp",
        "pydantic_core",
        "rapidfuzz",
    ):
        assert (lib / package).exists(), package
    assert json.loads((lib / "BUNDLE_TARGET.json").read_text())["python"] == running
    assert sorted(p.name for p in (bundle_dir / "examples" / "profiles").glob("*.txt")) == sorted(
        p.name for p in EXAMPLES.glob("*.txt")
    )


@needs_node
def test_bundle_runs_as_the_manifest_says_and_syncs_the_folder(
    bundle_dir: Path, bare_python: Path, tmp_path: Path
) -> None:
    # The user's profiles folder: the bundled examples, one held back to be "dropped in" later.
    profiles = tmp_path / "My Profiles"
    shutil.copytree(bundle_dir / "examples" / "profiles", profiles)
    later = profiles / "ex10_marguerite-dubois.txt"
    held = tmp_path / later.name
    shutil.move(later, held)
    database = tmp_path / "catalog" / "scholar.db"
    log = tmp_path / "server-stderr.log"
    parameters = launch_parameters(
        bundle_dir, bare_python, {"profiles_dir": str(profiles), "database": str(database)}, tmp_path / "home"
    )
    assert parameters.command == ("python" if sys.platform == "win32" else "python3")
    assert parameters.args[0] == str(bundle_dir / "server" / "main.py")
    assert parameters.env["PYTHONPATH"] == str(bundle_dir / "server" / "lib")

    first = anyio.run(session, parameters, log)
    assert first["server"] == "scholar-catalog"
    assert first["tools"] == [(tool["name"], tool["description"]) for tool in MANIFEST["tools"]]
    assert first["stats"]["profiles"] == 9
    # Not in the folder yet: known only as a coauthor on other profiles' papers, without a profile.
    assert not first["dubois"].is_error, first["dubois"]
    dubois = first["dubois"].structured_content
    assert dubois.get("profile_id") is None and dubois["papers_in_catalog"] == 1
    assert dubois["note"].startswith("No profile for this name")
    assert first["wei"]["h_index"] == 9
    assert database.is_file()
    assert "9 applied, 0 unchanged" in log.read_text(encoding="utf-8")

    # The user drops a new file in the folder and edits another, then restarts the client.
    shutil.move(held, later)
    edited = profiles / "ex09_wei-zhang-cv.txt"
    text = edited.read_text(encoding="utf-8")
    assert "h-index9\n" in text
    edited.write_text(text.replace("h-index9\n", "h-index11\n"), encoding="utf-8")

    second = anyio.run(session, parameters, log)
    assert second["stats"]["profiles"] == 10
    assert not second["dubois"].is_error
    assert second["dubois"].structured_content["profile_id"] == "ex10_marguerite-dubois"
    assert second["wei"]["h_index"] == 11
    assert "2 applied, 8 unchanged" in log.read_text(encoding="utf-8")


@needs_node
@pytest.mark.skipif(sys.platform != "linux", reason="the default data folder is checked through XDG_DATA_HOME")
def test_bundle_without_a_database_keeps_one_catalog_per_folder(
    bundle_dir: Path, bare_python: Path, tmp_path: Path
) -> None:
    profiles = tmp_path / "profiles"
    shutil.copytree(bundle_dir / "examples" / "profiles", profiles)
    home = tmp_path / "home"
    # No value for the optional database: the host leaves ${user_config.database} as it is.
    parameters = launch_parameters(bundle_dir, bare_python, {"profiles_dir": str(profiles)}, home)
    assert "${user_config.database}" in parameters.args
    result = anyio.run(session, parameters, tmp_path / "stderr.log")
    assert result["stats"]["profiles"] == 10
    catalogs = list((home / ".local" / "share" / "scholar-catalog" / "catalogs").glob("profiles-*.db"))
    assert len(catalogs) == 1


@needs_node
def test_bundle_explains_a_python_that_is_too_old(bundle_dir: Path, tmp_path: Path) -> None:
    # main.py must parse on old Pythons and say what is wrong; simulate one by faking the version check.
    probe = (
        "import runpy, sys; sys.version_info = (3, 9, 0, 'final', 0); sys.argv = ['main.py', 'serve'];"
        f"runpy.run_path({str(bundle_dir / 'server' / 'main.py')!r}, run_name='__main__')"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "needs Python 3.11 or newer" in done.stderr
    assert done.stdout == ""
