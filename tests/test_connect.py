"""``scholar-catalog connect``: client config files written and merged safely, in a temporary home."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLES
from scholar_catalog.server import clients
from scholar_catalog.server.cli import cli

OTHER_SERVER = {"command": "npx", "args": ["-y", "@example/other-server"], "env": {"TOKEN": "keep-me"}}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("APPDATA", str(home / "AppData" / "Roaming"))
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: home))
    return home


def run(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    old = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)
    return result.exit_code, result.stdout, result.stderr


def desktop_config(home: Path) -> Path:
    return clients.config_path("claude-desktop", home=home)


def test_claude_desktop_config_is_created_with_absolute_paths_of_this_installation(home: Path, tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    code, out, _ = run("connect", "claude-desktop", "--profiles", str(EXAMPLES), "--db", str(db))
    assert code == 0, out
    path = desktop_config(home)
    entry = json.loads(path.read_text())["mcpServers"]["scholar-catalog"]
    command = Path(entry["command"])
    assert command.is_absolute() and command.exists()
    assert entry["args"][-4:] == ["--profiles", str(EXAMPLES.absolute()), "--db", str(db.absolute())]
    assert "serve" in entry["args"]
    assert "created" in out


def test_documented_location_per_os() -> None:
    home = Path("/h")
    assert clients.config_path("claude-desktop", home=home, platform="darwin") == Path(
        "/h/Library/Application Support/Claude/claude_desktop_config.json"
    )
    windows = clients.config_path("claude-desktop", home=home, platform="win32", environ={"APPDATA": "C:/Users/u/AD"})
    assert windows == Path("C:/Users/u/AD/Claude/claude_desktop_config.json")
    linux = clients.config_path("claude-desktop", home=home, platform="linux", environ={})
    assert linux == Path("/h/.config/Claude/claude_desktop_config.json")
    assert clients.config_path("cursor", home=home, platform="darwin") == Path("/h/.cursor/mcp.json")
    assert clients.config_path("vscode", workspace=Path("/w")) == Path("/w/.vscode/mcp.json")


def test_other_servers_and_keys_are_kept_and_a_backup_is_made(home: Path, tmp_path: Path) -> None:
    path = desktop_config(home)
    path.parent.mkdir(parents=True)
    original = {"globalShortcut": "Ctrl+Space", "mcpServers": {"other": OTHER_SERVER}}
    path.write_text(json.dumps(original, indent=4))
    before = path.read_text()

    code, out, _ = run("connect", "claude-desktop", "--profiles", str(EXAMPLES), "--db", str(tmp_path / "c.db"))

    assert code == 0, out
    after = json.loads(path.read_text())
    assert after["globalShortcut"] == "Ctrl+Space"
    assert after["mcpServers"]["other"] == OTHER_SERVER
    assert set(after["mcpServers"]) == {"other", "scholar-catalog"}
    (backup,) = path.parent.glob("claude_desktop_config.json.*.bak")
    assert backup.read_text() == before
    assert str(backup) in out


def test_connecting_twice_changes_nothing_the_second_time(home: Path, tmp_path: Path) -> None:
    args = ("connect", "cursor", "--profiles", str(EXAMPLES), "--db", str(tmp_path / "c.db"))
    assert run(*args)[0] == 0
    path = clients.config_path("cursor", home=home)
    first = path.read_bytes()
    code, out, _ = run(*args)
    assert code == 0
    assert "nothing changed" in out
    assert path.read_bytes() == first
    assert list(path.parent.glob("*.bak")) == []  # nothing was replaced, so nothing was backed up


def test_a_changed_catalog_path_updates_the_entry_in_place(home: Path, tmp_path: Path) -> None:
    run("connect", "cursor", "--profiles", str(EXAMPLES), "--db", str(tmp_path / "old.db"))
    run("connect", "cursor", "--profiles", str(EXAMPLES), "--db", str(tmp_path / "new.db"))
    servers = json.loads(clients.config_path("cursor", home=home).read_text())["mcpServers"]
    assert list(servers) == ["scholar-catalog"]
    assert servers["scholar-catalog"]["args"][-1] == str(tmp_path / "new.db")


def test_broken_config_is_refused_with_its_position_and_left_untouched(home: Path, tmp_path: Path) -> None:
    path = desktop_config(home)
    path.parent.mkdir(parents=True)
    broken = '{"mcpServers": {"other": {"command": "x",}}}\n'  # a trailing comma
    path.write_text(broken)

    code, _, err = run("connect", "claude-desktop", "--profiles", str(EXAMPLES), "--db", str(tmp_path / "c.db"))

    assert code == 1
    assert f"{path}:1:" in err and "not valid JSON" in err and "nothing was changed" in err
    assert path.read_text() == broken
    assert list(path.parent.iterdir()) == [path]  # no backup, no temporary file


def test_read_only_config_is_refused_and_left_untouched(home: Path, tmp_path: Path) -> None:
    path = clients.config_path("cursor", home=home)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"mcpServers": {"other": OTHER_SERVER}}))
    path.chmod(0o444)
    before = path.read_bytes()

    code, _, err = run("connect", "cursor", "--profiles", str(EXAMPLES), "--db", str(tmp_path / "c.db"))

    assert code == 1
    assert "read-only" in err and str(path) in err
    assert path.read_bytes() == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert list(path.parent.iterdir()) == [path]


def test_empty_config_file_is_filled(home: Path, tmp_path: Path) -> None:
    path = clients.config_path("cursor", home=home)
    path.parent.mkdir(parents=True)
    path.write_text("")
    assert run("connect", "cursor", "--profiles", str(EXAMPLES), "--db", str(tmp_path / "c.db"))[0] == 0
    assert list(json.loads(path.read_text())["mcpServers"]) == ["scholar-catalog"]


def test_servers_key_of_the_wrong_type_is_refused(home: Path, tmp_path: Path) -> None:
    path = clients.config_path("cursor", home=home)
    path.parent.mkdir(parents=True)
    path.write_text('{"mcpServers": []}')
    code, _, err = run("connect", "cursor", "--profiles", str(EXAMPLES), "--db", str(tmp_path / "c.db"))
    assert code == 1 and "'mcpServers' is a list" in err
    assert path.read_text() == '{"mcpServers": []}'


def test_dry_run_shows_a_diff_and_writes_nothing(home: Path, tmp_path: Path) -> None:
    path = desktop_config(home)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"mcpServers": {"other": OTHER_SERVER}}, indent=2) + "\n")
    before = path.read_text()

    code, out, _ = run(
        "connect", "claude-desktop", "--profiles", str(EXAMPLES), "--db", str(tmp_path / "c.db"), "--dry-run"
    )

    assert code == 0
    assert out.startswith(f"--- {path} (now)\n+++ {path} (after connect)\n")
    assert '+    "scholar-catalog": {' in out
    assert path.read_text() == before


def test_vscode_writes_the_workspace_file_with_servers_and_stdio_type(home: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "project"
    workspace.mkdir()
    code, _, _ = run("connect", "vscode", "--profiles", str(EXAMPLES), "--db", str(tmp_path / "c.db"), cwd=workspace)
    assert code == 0
    document = json.loads((workspace / ".vscode" / "mcp.json").read_text())
    assert document["servers"]["scholar-catalog"]["type"] == "stdio"
    assert "mcpServers" not in document


def test_print_shows_the_json_and_writes_no_file(home: Path, tmp_path: Path) -> None:
    code, out, _ = run("connect", "print", "--profiles", str(EXAMPLES), "--db", str(tmp_path / "c.db"))
    assert code == 0
    entry = json.loads(out)["mcpServers"]["scholar-catalog"]
    assert Path(entry["command"]).is_absolute()
    assert [p for p in home.rglob("*") if p.is_file()] == []


def test_claude_code_without_claude_prints_the_command(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    code, out, err = run("connect", "claude-code", "--profiles", str(EXAMPLES), "--db", str(tmp_path / "c.db"))
    assert code == 0
    assert "not on PATH" in err
    assert out.startswith("claude mcp add --scope user scholar-catalog -- /")
    assert out.rstrip().endswith(f"--db {tmp_path / 'c.db'}")


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for claude")
def test_claude_code_runs_claude_mcp_add_when_claude_is_on_path(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "claude-args.txt"
    fake = bin_dir / "claude"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\necho "Added stdio MCP server scholar-catalog"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    code, out, _ = run("connect", "claude-code", "--profiles", str(EXAMPLES), "--db", str(tmp_path / "c.db"))

    assert code == 0
    assert "Added stdio MCP server" in out
    args = log.read_text().splitlines()
    assert args[:6] == ["mcp", "add", "--scope", "user", "scholar-catalog", "--"]
    assert Path(args[6]).is_absolute()
    assert args[-4:] == ["--profiles", str(EXAMPLES.absolute()), "--db", str(tmp_path / "c.db")]


def test_missing_profiles_folder_is_a_usage_error(home: Path, tmp_path: Path) -> None:
    code, _, err = run("connect", "cursor", "--profiles", str(tmp_path / "nope"))
    assert code == 2
    assert "--profiles" in err and "does not exist" in err
    assert not clients.config_path("cursor", home=home).exists()


def test_connected_config_starts_a_working_server(home: Path, tmp_path: Path) -> None:
    """The entry written is a command line that really serves the catalog (checked over stdio)."""
    import anyio
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    db = tmp_path / "c.db"
    assert run("connect", "claude-desktop", "--profiles", str(EXAMPLES), "--db", str(db))[0] == 0
    entry = json.loads(desktop_config(home).read_text())["mcpServers"]["scholar-catalog"]

    async def list_names() -> list[str]:
        params = StdioServerParameters(command=entry["command"], args=entry["args"])
        async with Client(stdio_client(params)) as client:
            result = await client.call_tool("catalog_stats", {})
            return [result.structured_content["profiles"]]

    assert anyio.run(list_names) == [len(list(EXAMPLES.glob("*.txt")))]
