"""The ``connect`` and ``status`` commands: setting a client up, and checking what it will serve."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click

from .cli_common import DB_HELP, fail
from .clients import CLIENTS, SERVER_NAME


@click.command()
@click.argument("client", type=click.Choice(CLIENTS))
@click.option(
    "--profiles",
    required=True,
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="The folder of profile files the server syncs from at every start.",
)
@click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), help=DB_HELP)
@click.option("--name", default=SERVER_NAME, show_default=True, help="The server's name in the client's config.")
@click.option(
    "--workspace",
    type=click.Path(path_type=Path, file_okay=False),
    help="For vscode: the workspace folder whose .vscode/mcp.json is written (default: the current folder).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write this config file instead of the client's usual one.",
)
@click.option("--dry-run", is_flag=True, help="Show the change as a diff; write nothing.")
def connect(
    client: str,
    profiles: Path,
    db_path: Path | None,
    name: str,
    workspace: Path | None,
    config_file: Path | None,
    dry_run: bool,
) -> None:
    """Add scholar-catalog to an MCP client's configuration, with absolute paths.

    CLIENT is claude-desktop, cursor or vscode (their config files are merged: other servers and keys are
    kept, a timestamped backup is written first, and running it again changes nothing), claude-code (runs
    `claude mcp add` when `claude` is on PATH, else prints that command) or print (prints the JSON).
    Restart the client afterwards.
    """
    from scholar_catalog.db.connection import resolve_db_path

    from . import clients

    entry = clients.server_entry(profiles, resolve_db_path(db_path))
    if client == "print":
        click.echo(clients.print_config(entry, name))
        return
    if client == "claude-code":
        command = clients.claude_code_command(entry, name)
        if dry_run or shutil.which("claude") is None:
            if not dry_run:
                click.echo("`claude` is not on PATH; run this command where Claude Code is installed:", err=True)
            click.echo(subprocess.list2cmdline(command) if sys.platform == "win32" else shlex.join(command))
            return
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        output = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            fail(f"`claude mcp add` failed (exit {done.returncode}): {output}")
        click.echo(output or f"added {name} to Claude Code")
        return
    path = config_file or clients.config_path(client, workspace=workspace)
    try:
        change = clients.plan(client, path, entry, name)
        if not change.changed:
            click.echo(f"{path}: {name} is already configured this way; nothing changed")
            return
        if dry_run:
            click.echo(change.diff(), nl=False)
            return
        backup = clients.apply(change)
    except clients.ConfigError as err:
        fail(str(err))
    click.echo(f"{path}: {'updated' if change.old_text is not None else 'created'} server {name!r}")
    if backup is not None:
        click.echo(f"backup of the previous file: {backup}")
    click.echo("Restart the client to load it.")


@click.command()
@click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), help=DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(db_path: Path | None, as_json: bool) -> None:
    """Describe the catalog: size, schema, counts, build time, its profiles folder and whether files there
    changed since, the ranking method, and the client configs that serve it."""
    from scholar_catalog.db.connection import CatalogError, resolve_db_path

    from .status import catalog_status, render

    target = resolve_db_path(db_path)
    try:
        result = catalog_status(target)
    except CatalogError as err:
        fail(str(err))
    click.echo(json.dumps(result.model_dump(), indent=2, ensure_ascii=False) if as_json else render(result))
