"""The ``scholar-catalog`` command: a thin layer over the db, tools and server.app modules.

Exit codes: 0 success, 1 a file was rejected or the catalog could not be used,
2 usage errors (bad option, missing path). Bad input never prints a traceback.
"""

from __future__ import annotations

import contextlib
import gc
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

DB_HELP = "Catalog database file. Default: $SCHOLAR_CATALOG_DB, else catalog.db in the user data directory."


def _parse_as_of(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="scholar-catalog")
def cli() -> None:
    """Build a SQLite catalog of researcher profiles and serve it to AI assistants over MCP."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), help=DB_HELP)
@click.option(
    "--as-of",
    callback=_parse_as_of,
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
        files = list(ingest_mod.discover(paths))
    except ingest_mod.UsageError as err:
        raise click.UsageError(str(err)) from None
    if rebuild:
        _rebuild(target, files, as_of=as_of, quiet=quiet)
    try:
        database = open_writable(target)
    except CatalogError as err:
        _fail(str(err))
    report = _run_ingest(database, files, as_of=as_of, prune=prune, quiet=quiet)
    database.conn.close()
    if not quiet:
        click.echo(_summary(report, target))
    sys.exit(0 if report.ok else 1)


def _run_ingest(database: Any, files: list[Path], *, as_of: date | None, prune: bool, quiet: bool) -> Any:
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
        _fail(str(err))


def _summary(report: Any, target: Path) -> str:
    lines = [
        f"catalog: {target}",
        f"files: {report.applied} applied, {report.unchanged} unchanged, {len(report.rejected)} rejected"
        + (f", {len(report.pruned)} pruned" if report.pruned else ""),
        f"papers: {report.papers_new} new, {report.papers_updated} updated",
        f"catalog now holds {report.profiles} profiles and {report.papers} papers ({report.seconds:.2f}s)",
    ]
    return "\n".join(lines)


@cli.command()
@click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), help=DB_HELP)
@click.option(
    "--profiles",
    type=click.Path(path_type=Path, file_okay=False),
    help="Sync this folder of profiles into the catalog (incrementally) before serving.",
)
@click.option("--as-of", callback=_parse_as_of, metavar="YYYY-MM-DD", help="Reference date for --profiles sync.")
@click.option("--http", "use_http", is_flag=True, help="Serve MCP Streamable HTTP at /mcp instead of stdio.")
@click.option(
    "--host",
    metavar="ADDRESS",
    help="With --http: address to bind. Default 127.0.0.1; any non-loopback address requires --token.",
)
@click.option("--port", type=click.IntRange(0, 65535), help="With --http: TCP port (default 8765; 0 picks a free one).")
@click.option(
    "--token",
    envvar="SCHOLAR_CATALOG_TOKEN",
    show_envvar=True,
    metavar="TOKEN",
    help="With --http: require 'Authorization: Bearer TOKEN' on every request.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME[:PORT]",
    help="With --http: also accept this Host header (e.g. the name clients use to reach a non-loopback bind).",
)
@click.option(
    "--stateless",
    is_flag=True,
    help="With --http: no sessions; any replica behind a load balancer can answer any request (see docs/deploy.md).",
)
@click.option(
    "--call-timeout",
    type=click.FloatRange(0),
    default=10.0,
    show_default=True,
    envvar="SCHOLAR_CATALOG_CALL_TIMEOUT",
    show_envvar=True,
    metavar="SECONDS",
    help="Stop a tool call whose SQLite work runs longer than this (0: no limit); the tool says how to narrow it.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(1),
    default=1_048_576,
    show_default=True,
    envvar="SCHOLAR_CATALOG_MAX_BODY_BYTES",
    show_envvar=True,
    help="With --http: answer 413 to a request body larger than this.",
)
@click.option(
    "--max-concurrent-calls",
    type=click.IntRange(1),
    default=64,
    show_default=True,
    envvar="SCHOLAR_CATALOG_MAX_CONCURRENT_CALLS",
    show_envvar=True,
    help="With --http: answer 503 (Retry-After: 1) to a call while this many run in this process.",
)
@click.option(
    "--session-idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=1800.0,
    show_default=True,
    envvar="SCHOLAR_CATALOG_SESSION_IDLE_TIMEOUT",
    show_envvar=True,
    metavar="SECONDS",
    help="With --http (stateful): close a session that has had no request for this long.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
    envvar="SCHOLAR_CATALOG_LOG_LEVEL",
    show_envvar=True,
    help="With --http: what goes to stderr; 'info' includes the access log (one line per request).",
)
@click.option(
    "--log-arguments",
    is_flag=True,
    help="With --http: also write each call's arguments into the access log (off: they may be private).",
)
def serve(
    db_path: Path | None,
    profiles: Path | None,
    as_of: date | None,
    use_http: bool,
    host: str | None,
    port: int | None,
    token: str | None,
    allow_hosts: tuple[str, ...],
    stateless: bool,
    call_timeout: float,
    max_body_bytes: int,
    max_concurrent_calls: int,
    session_idle_timeout: float,
    log_level: str,
    log_arguments: bool,
) -> None:
    """Serve the catalog to an MCP client over stdio (read-only), or over Streamable HTTP with --http.

    stdout carries only the protocol; logs and the --profiles sync summary go to stderr.
    HTTP binds to 127.0.0.1:8765 by default and checks the Host and Origin headers;
    binding to any other address requires a bearer token (--token or $SCHOLAR_CATALOG_TOKEN).
    """
    from scholar_catalog.db.connection import resolve_db_path

    if not use_http:
        _refuse_http_options()
    token = token or None  # an empty $SCHOLAR_CATALOG_TOKEN means no token
    if use_http:
        _check_http_bind(host, token)
    target = resolve_db_path(db_path)
    if profiles is not None:
        _sync_profiles(target, profiles, as_of)
    timeout = call_timeout or None
    if use_http:
        from scholar_catalog.server.http import Limits

        limits = Limits(max_body_bytes, timeout, max_concurrent_calls, session_idle_timeout)
        _serve_http(
            target,
            host,
            port,
            token,
            allow_hosts,
            stateless=stateless,
            limits=limits,
            log_level=log_level.lower(),
            log_arguments=log_arguments,
        )
        return
    from scholar_catalog.server.app import build_server

    if sys.stdin.isatty():  # a person ran it at a terminal: say what is going on (stdout stays protocol-only)
        click.echo(
            f"scholar-catalog: serving {target} over stdio (MCP). Connect an MCP client to this command "
            "(see README.md); press Ctrl-C to stop.",
            err=True,
        )
    app = build_server(target, call_timeout=timeout)
    gc.freeze()  # start-up objects live for the whole session: keep them out of the collector's passes
    with contextlib.suppress(KeyboardInterrupt):
        app.run("stdio")


HTTP_ONLY_OPTIONS = {
    "host": "--host",
    "port": "--port",
    "allow_hosts": "--allow-host",
    "stateless": "--stateless",
    "max_body_bytes": "--max-body-bytes",
    "max_concurrent_calls": "--max-concurrent-calls",
    "session_idle_timeout": "--session-idle-timeout",
    "log_level": "--log-level",
    "log_arguments": "--log-arguments",
}


def _refuse_http_options() -> None:
    """A usage error for HTTP-only options given on the command line without --http (their env vars are ignored)."""
    ctx = click.get_current_context()
    given = [
        flag
        for name, flag in HTTP_ONLY_OPTIONS.items()
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
    ]
    if given:
        raise click.UsageError(f"{', '.join(given)} can only be used with --http")


def _check_http_bind(host: str | None, token: str | None) -> None:
    from scholar_catalog.server.http import DEFAULT_HOST, BindError, check_bind

    try:
        check_bind(host or DEFAULT_HOST, token)
    except BindError as err:
        _fail(str(err), code=2)


def _serve_http(
    target: Path,
    host: str | None,
    port: int | None,
    token: str | None,
    allow_hosts: tuple[str, ...],
    **options: Any,
) -> None:
    from scholar_catalog.server.http import DEFAULT_HOST, DEFAULT_PORT, serve_http

    address = host or DEFAULT_HOST
    try:
        serve_http(
            target,
            host=address,
            port=DEFAULT_PORT if port is None else port,
            token=token,
            extra_hosts=allow_hosts,
            **options,
        )
    except OSError as err:
        _fail(f"cannot listen on {address}:{DEFAULT_PORT if port is None else port}: {err.strerror or err}")
    except KeyboardInterrupt:
        pass


def _sync_profiles(target: Path, profiles: Path, as_of: date | None) -> None:
    import scholar_catalog.db.ingest as ingest_mod
    from scholar_catalog.db.connection import CatalogError, open_writable

    if not profiles.is_dir():
        raise click.BadParameter(f"{profiles}: not a directory", param_hint="--profiles")
    try:
        database = open_writable(target)
    except CatalogError as err:
        _fail(str(err))
    try:
        report = ingest_mod.ingest(
            database,
            [profiles],
            as_of=as_of,
            on_file=lambda o: o.status == "rejected" and click.echo(f"rejected: {o.reason}", err=True),
        )
    except ingest_mod.IngestAbort as err:
        click.echo(f"warning: {err}; serving the catalog as it is", err=True)
        return
    finally:
        database.conn.close()
    click.echo(_summary(report, target).replace("\n", "; "), err=True)


@cli.group()
def export() -> None:
    """Export a collaboration network (GraphML, GEXF, CSV) or papers (BibTeX, CSV, JSONL)."""


@export.command(name="network")
@click.argument("name", required=False, default="")
@click.option("--profile-id", help="Pick one profile when several share NAME (or instead of NAME).")
@click.option("--depth", type=click.IntRange(1, 2), default=1, show_default=True, help="1: coauthors; 2: theirs too.")
@click.option("--format", "fmt", type=click.Choice(["graphml", "gexf", "csv"]), required=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write here (default: stdout).")
@click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), help=DB_HELP)
def export_network(
    name: str, profile_id: str | None, depth: int, fmt: str, output: Path | None, db_path: Path | None
) -> None:
    """A researcher's collaboration network: people as nodes, shared papers as weighted edges.

    GraphML and GEXF carry each person's figures (papers, h-index, ...) and open in Gephi, Cytoscape and
    NetworkX; CSV is the edge list (source, target, weight, paper_ids, names).
    """
    from scholar_catalog.tools import exports

    network = _exporting(db_path, lambda catalog: exports.network_graph(catalog, name, profile_id, depth))
    _write(exports.NETWORK_FORMATS[fmt](network), output)


@export.command(name="papers")
@click.argument("query", required=False, default="")
@click.option("--author", help="Only papers by this person (typos and missing accents tolerated).")
@click.option("--author-profile-id", help="Like --author, by profile_id.")
@click.option("--category", help="Only this category code, e.g. CL.")
@click.option("--year-from", type=int, help="Only papers dated in or after this year.")
@click.option("--year-to", type=int, help="Only papers dated in or before this year.")
@click.option("--has-code/--no-code", default=None, help="Only papers with (or without) code.")
@click.option("--min-score", type=float, help="Only papers some profile scored at least this.")
@click.option("--affiliation", help="Only papers with an affiliation containing this text.")
@click.option("--sort", type=click.Choice(["relevance", "date", "score"]), default="relevance", show_default=True)
@click.option("--limit", type=click.IntRange(1, 10_000), default=10_000, show_default=True, help="At most this many.")
@click.option("--format", "fmt", type=click.Choice(["bibtex", "csv", "jsonl"]), required=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write here (default: stdout).")
@click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), help=DB_HELP)
def export_papers(fmt: str, output: Path | None, db_path: Path | None, limit: int, **filters: Any) -> None:
    """Papers found with search_papers' filters (QUERY words, --author, --year-from, ...), every page."""
    from scholar_catalog.tools import exports

    papers = _exporting(db_path, lambda catalog: exports.export_papers(catalog, limit=limit, **filters))
    _write(exports.PAPERS_FORMATS[fmt](papers), output)


def _exporting(db_path: Path | None, run: Any) -> Any:
    """Open the catalog read-only and *run*; a tool error becomes a one-line error and exit 1."""
    from scholar_catalog.db.catalog import Catalog
    from scholar_catalog.db.connection import CatalogError, resolve_db_path
    from scholar_catalog.tools.common import ToolInputError

    try:
        catalog = Catalog(resolve_db_path(db_path))
        try:
            return run(catalog)
        finally:
            catalog.close()
    except (CatalogError, ToolInputError) as err:
        _fail(str(err))


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as err:
        _fail(f"cannot write {output}: {err.strerror or err}")


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
        _fail(result.content[0].text if result.content else "the tool failed")
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


def _rebuild(target: Path, files: list[Path], *, as_of: date | None, quiet: bool) -> None:
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
        _fail(f"rebuild failed, the catalog is unchanged: {err}")
    if not report.ok:
        _fail(f"rebuild not applied: {len(report.rejected)} file(s) rejected; the catalog is unchanged")
    if not quiet:
        click.echo(_summary(report, target))
    sys.exit(0)


def _fail(message: str, code: int = 1) -> Any:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _add_setup_commands() -> None:
    from .cli_setup import connect, status

    cli.add_command(connect)
    cli.add_command(status)


_add_setup_commands()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="scholar-catalog")


if __name__ == "__main__":
    main()
