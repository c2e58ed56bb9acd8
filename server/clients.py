"""Connecting MCP clients: the server entry each client's config needs, and safe edits of those files.

Each client keeps its servers in a JSON file of its own, at a documented per-OS place, under its own
key (``mcpServers`` or ``servers``). :func:`plan` works out the new text of that file without touching
it; :func:`apply` writes it (backup first, atomic replace). Every other key and server entry is kept.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

SERVER_NAME = "scholar-catalog"
FILE_CLIENTS = ("claude-desktop", "cursor", "vscode")
CLIENTS = (*FILE_CLIENTS, "claude-code", "print")


class ConfigError(RuntimeError):
    """A client config file that cannot be read, understood or written; it was left as it was."""


@dataclass(frozen=True)
class Change:
    """What connecting would do to one client's config file."""

    client: str
    path: Path
    old_text: str | None  # None: the file does not exist yet
    new_text: str

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    def diff(self) -> str:
        old = (self.old_text or "").splitlines(keepends=True)
        new = self.new_text.splitlines(keepends=True)
        label = str(self.path)
        return "".join(difflib.unified_diff(old, new, f"{label} (now)", f"{label} (after connect)"))


def command_line() -> list[str]:
    """The absolute command that starts this installation's ``scholar-catalog`` (no reliance on PATH)."""
    scripts = Path(sys.executable).parent
    for name in ("scholar-catalog", "scholar-catalog.exe"):
        candidate = scripts / name
        if candidate.is_file():
            return [str(candidate.absolute())]
    found = shutil.which("scholar-catalog")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "scholar_catalog"]


def server_entry(profiles: Path, db: Path) -> dict[str, Any]:
    """``{"command": ..., "args": [...]}`` serving *db*, synced from *profiles* at every start."""
    command, *prefix = command_line()
    args = [*prefix, "serve", "--profiles", str(profiles.absolute()), "--db", str(db.absolute())]
    return {"command": command, "args": args}


def config_path(
    client: str,
    *,
    home: Path | None = None,
    platform: str = sys.platform,
    environ: Mapping[str, str] = os.environ,
    workspace: Path | None = None,
) -> Path:
    """Where *client* reads its MCP servers on *platform* (the locations each client documents)."""
    home = home if home is not None else Path.home()
    if client == "claude-desktop":
        if platform == "darwin":
            return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
        if platform.startswith("win"):
            appdata = environ.get("APPDATA") or str(home / "AppData" / "Roaming")
            return Path(appdata) / "Claude" / "claude_desktop_config.json"
        config_home = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
        return Path(config_home) / "Claude" / "claude_desktop_config.json"
    if client == "cursor":
        return home / ".cursor" / "mcp.json"
    if client == "vscode":
        return (workspace if workspace is not None else Path.cwd()) / ".vscode" / "mcp.json"
    raise ValueError(f"{client} has no config file of its own")


def servers_key(client: str) -> str:
    return "servers" if client == "vscode" else "mcpServers"


def client_entry(client: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {"type": "stdio", **entry} if client == "vscode" else dict(entry)


def read_config(path: Path) -> tuple[str | None, dict[str, Any]]:
    """The file's text and parsed object; ``(None, {})`` when it does not exist or is empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, {}
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read it ({err}); nothing was changed") from None
    if not text.strip():
        return text, {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"{path}:{err.lineno}:{err.colno}: not valid JSON ({err.msg}); nothing was changed. "
            "Fix the file (or move it away) and run connect again, or use `scholar-catalog connect print` "
            "and paste the entry yourself."
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a JSON object at the top, found {type(document).__name__}")
    return text, document


def plan(client: str, path: Path, entry: dict[str, Any], name: str = SERVER_NAME) -> Change:
    """The config file's text after adding (or updating) server *name*; the file is not touched."""
    old_text, document = read_config(path)
    key = servers_key(client)
    servers = document.get(key, {})
    if not isinstance(servers, dict):
        raise ConfigError(f"{path}: {key!r} is a {type(servers).__name__}, not an object; nothing was changed")
    wanted = client_entry(client, entry)
    if servers.get(name) == wanted and old_text is not None:
        return Change(client, path, old_text, old_text)
    merged = dict(document)
    merged[key] = {**servers, name: wanted}
    return Change(client, path, old_text, json.dumps(merged, indent=2, ensure_ascii=False) + "\n")


def apply(change: Change, *, now: datetime | None = None) -> Path | None:
    """Write *change* (if it changes anything): back up the old file, then replace it atomically.

    Returns the backup's path, or None when there was no old file or nothing to do.
    """
    if not change.changed:
        return None
    path = change.path
    backup = None
    if change.old_text is not None:
        mode = path.stat().st_mode
        if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            raise ConfigError(f"{path}: the file is read-only; nothing was changed (make it writable to connect)")
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        backup = path.with_name(f"{path.name}.{stamp}.bak")
        try:
            shutil.copy2(path, backup)
        except OSError as err:
            raise ConfigError(f"{backup}: cannot write the backup ({err}); nothing was changed") from None
    temporary = path.with_name(f".{path.name}.scholar-catalog.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(change.new_text, encoding="utf-8")
        if change.old_text is not None:
            shutil.copymode(path, temporary)
        os.replace(temporary, path)
    except OSError as err:
        temporary.unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot write it ({err}); nothing was changed") from None
    return backup


def claude_code_command(entry: dict[str, Any], name: str = SERVER_NAME, scope: str = "user") -> list[str]:
    """The ``claude mcp add`` command line that registers the server with Claude Code."""
    return ["claude", "mcp", "add", "--scope", scope, name, "--", entry["command"], *entry["args"]]


def print_config(entry: dict[str, Any], name: str = SERVER_NAME) -> str:
    """The ``mcpServers`` JSON most stdio clients accept."""
    return json.dumps({"mcpServers": {name: entry}}, indent=2, ensure_ascii=False)


def configs_pointing_at(db: Path, *, home: Path | None = None, workspace: Path | None = None) -> list[tuple[str, Path]]:
    """The client config files (of the clients above) whose servers serve *db*."""
    target = str(db.absolute())
    found = []
    for client in FILE_CLIENTS:
        path = config_path(client, home=home, workspace=workspace)
        try:
            _, document = read_config(path)
        except ConfigError:
            continue
        servers = document.get(servers_key(client), {})
        if not isinstance(servers, dict):
            continue
        for server in servers.values():
            args = server.get("args", []) if isinstance(server, dict) else []
            if any(isinstance(a, str) and a == target for a in args):
                found.append((client, path))
                break
    return found
