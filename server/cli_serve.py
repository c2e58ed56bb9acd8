"""The ``serve`` command: the catalog to an MCP client over stdio, or over Streamable HTTP."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from .cli_common import DB_HELP, fail, ingest_summary, parse_as_of


@click.command()
@click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), help=DB_HELP)
@click.option(
    "--profiles",
    type=click.Path(path_type=Path, file_okay=False),
    help="Sync this folder of profiles into the catalog (incrementally) before serving.",
)
@click.option("--as-of", callback=parse_as_of, metavar="YYYY-MM-DD", help="Reference date for --profiles sync.")
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
    from scholar_catalog.db.library import skip_memory_statistics

    skip_memory_statistics()  # before any connection opens (see db/library.py)
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
    timing = os.environ.get("SCHOLAR_CATALOG_BENCH_TIMING")  # bench/run.py only: per-call time inside the server
    with contextlib.suppress(KeyboardInterrupt):
        if timing:
            from scholar_catalog.server.bench_timing import run_stdio_timed

            run_stdio_timed(app, Path(timing))
        else:
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
        fail(str(err), code=2)


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
        fail(f"cannot listen on {address}:{DEFAULT_PORT if port is None else port}: {err.strerror or err}")
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
        fail(str(err))
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
    click.echo(ingest_summary(report, target).replace("\n", "; "), err=True)
