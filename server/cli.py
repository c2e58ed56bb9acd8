"""The ``scholar-catalog`` command: a thin layer over the db, tools and server.app modules.

Exit codes: 0 success, 1 a file was rejected or the catalog could not be used,
2 usage errors (bad option, missing path). Bad input never prints a traceback.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from .cli_common import DB_HELP, fail, ingest_summary, parse_as_of


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="scholar-catalog")
def cli() -> None:
    """Build a SQLite catalog of researcher profiles and serve it to AI assistants over MCP."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), help=DB_HELP)
@click.option(
    "--as-of",
    callback=parse_as_of,
    metavar="YYYY-MM-DD",
    help="Reference date for dates without a year (default: each file's modification time).",
)
@click.option("--prune", is_flag=True, help="Remove profiles whose source files no longer exist.")
@click.option(
    "--rebuild",
    is_flag=True,
    help="Build the catalog anew from PATHS only; the old one is replaced only if every file is applied.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only rejections and errors.")
def ingest(
    paths: tuple[Path, ...], db_path: Path | None, as_of: date | None, prune: bool, rebuild: bool, quiet: bool
) -> None:
    """Load profile files (or folders of *.txt profiles) into the catalog.

    Incremental: unchanged files are skipped, changed files replace their
    profile's listings. A bad file is reported as PATH:LINE: REASON and leaves
    the catalog as it was for that profile; the other files are still applied.
    """
    import scholar_catalog.db.ingest as ingest_mod
    from scholar_catalog.db.connection import CatalogError, open_writable, resolve_db_path

    target = resolve_db_path(db_path)
    try:
        ingest_mod.workers_setting()
        files = list(ingest_mod.discover(paths))
    except ingest_mod.UsageError as err:
        raise click.UsageError(str(err)) from None
    if rebuild:
        _rebuild(target, files, as_of=as_of, quiet=quiet)
    try:
        database = open_writable(target)
    except CatalogError as err:
        fail(str(err))
    report = _run_ingest(database, files, as_of=as_of, prune=prune, quiet=quiet)
    database.conn.close()
    if not quiet:
        click.echo(ingest_summary(report, target))
    sys.exit(0 if report.ok else 1)


def _run_ingest(database: Any, files: list[str], *, as_of: date | None, prune: bool, quiet: bool) -> Any:
    """Run ingest with a progress bar on a terminal; rejections go to stderr as they happen."""
    import scholar_catalog.db.ingest as ingest_mod

    def report_rejection(outcome: ingest_mod.FileOutcome) -> None:
        if outcome.status == "rejected":
            click.echo(f"rejected: {outcome.reason}", err=True)

    try:
        if sys.stderr.isatty() and not quiet and len(files) > 1:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn())
            with Progress(*columns, TimeRemainingColumn(), transient=True) as bar:
                task = bar.add_task("ingesting", total=len(files))

                def on_file(outcome: ingest_mod.FileOutcome) -> None:
                    bar.advance(task)
                    if outcome.status == "rejected":
                        bar.console.print(f"rejected: {outcome.reason}", markup=False, highlight=False)

                return ingest_mod.ingest(database, [], files=files, as_of=as_of, prune=prune, on_file=on_file)
        return ingest_mod.ingest(database, [], files=files, as_of=as_of, prune=prune, on_file=report_rejection)
    except ingest_mod.IngestAbort as err:
        fail(str(err))


@cli.command(name="tools")
def list_tools() -> None:
    """List the tools the server offers, with their arguments."""
    import inspect

    from scholar_catalog.server.app import TOOLS

    for fn, title in TOOLS:
        params = list(inspect.signature(fn).parameters)[1:]
        first = inspect.cleandoc(fn.__doc__ or "").splitlines()[0]
        click.echo(f"{fn.__name__}({', '.join(params)})")
        click.echo(f"    {title}: {first}")


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("tool")
@click.argument("arguments", nargs=-1)
@click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), help=DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the raw structured result as JSON.")
def call(tool: str, arguments: tuple[str, ...], db_path: Path | None, as_json: bool) -> None:
    """Call one tool as an MCP client would and print the result.

    ARGUMENTS are key=value pairs, e.g. `scholar-catalog call search_papers query="speculative decoding"
    year_from=2025 has_code=true`. Values are read by the tool's input schema (numbers, true/false).
    """
    import anyio

    from scholar_catalog.db.connection import resolve_db_path

    pairs: dict[str, str] = {}
    for item in arguments:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"argument {item!r} is not key=value")
        pairs[key] = value
    result = anyio.run(_call_tool, resolve_db_path(db_path), tool, pairs)
    if isinstance(result, click.UsageError):
        raise result
    if result.is_error:
        fail(result.content[0].text if result.content else "the tool failed")
    if as_json:
        click.echo(json.dumps(result.structured_content, indent=2, ensure_ascii=False))
    else:
        click.echo(_render(result.structured_content).rstrip())


async def _call_tool(db_path: Path, tool: str, pairs: dict[str, str]) -> Any:
    """Call *tool* through an in-process MCP client; a usage problem is returned, not raised.

    (Raised inside the client's task group it would arrive wrapped in an ExceptionGroup.)
    """
    from mcp import Client

    from scholar_catalog.server.app import build_server

    async with Client(build_server(db_path)) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        if tool not in listed:
            return click.UsageError(f"unknown tool {tool!r}; tools: {', '.join(listed)}")
        properties = listed[tool].input_schema.get("properties", {})
        arguments: dict[str, Any] = {}
        for key, value in pairs.items():
            if key not in properties:
                return click.UsageError(f"{tool} has no argument {key!r}; it takes {', '.join(properties)}")
            arguments[key] = _coerce(value, properties[key])
        return await client.call_tool(tool, arguments)


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    types = {schema.get("type")} | {option.get("type") for option in schema.get("anyOf", [])}
    if value.lower() in ("null", "none") and "null" in types:
        return None
    if "string" in types:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _render(value: Any, indent: int = 0) -> str:
    """A readable, YAML-like rendering of a structured result."""
    pad = "  " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if item in (None, [], {}):
                continue
            if isinstance(item, dict | list):
                lines.append(f"{pad}{key}:\n{_render(item, indent + 1)}")
            else:
                lines.append(f"{pad}{key}: {item}")
        return "\n".join(lines)
    if isinstance(value, list):
        lines = []
        for item in value:
            body = _render(item, indent + 1).lstrip() if isinstance(item, dict | list) else str(item)
            lines.append(f"{pad}- {body}")
        return "\n".join(lines)
    return f"{pad}{value}"


def _rebuild(target: Path, files: list[str], *, as_of: date | None, quiet: bool) -> None:
    import scholar_catalog.db.ingest as ingest_mod
    from scholar_catalog.db.connection import CatalogError
    from scholar_catalog.db.rebuild import rebuild

    try:
        report = rebuild(
            target,
            files,
            as_of=as_of,
            on_file=lambda o: o.status == "rejected" and click.echo(f"rejected: {o.reason}", err=True),
        )
    except (CatalogError, ingest_mod.IngestAbort) as err:
        fail(f"rebuild failed, the catalog is unchanged: {err}")
    if not report.ok:
        fail(f"rebuild not applied: {len(report.rejected)} file(s) rejected; the catalog is unchanged")
    if not quiet:
        click.echo(ingest_summary(report, target))
    sys.exit(0)


def _add_commands() -> None:
    from .cli_export import export
    from .cli_serve import serve
    from .cli_setup import connect, status

    for command in (serve, connect, status, export):
        cli.add_command(command)


_add_commands()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="scholar-catalog")


if __name__ == "__main__":
    main()
