"""The ``scholar-catalog`` command: a thin layer over :mod:`db`, :mod:`tools` and :mod:`server.app`.

Exit codes: 0 success, 1 a file was rejected or the catalog could not be used,
2 usage errors (bad option, missing path). Bad input never prints a traceback.
"""

from __future__ import annotations

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
@click.option("--rebuild", is_flag=True, help="Delete the catalog first and build it anew.")
@click.option("-q", "--quiet", is_flag=True, help="Print only rejections and errors.")
def ingest(
    paths: tuple[Path, ...], db_path: Path | None, as_of: date | None, prune: bool, rebuild: bool, quiet: bool
) -> None:
    """Load profile files (or folders of *.txt profiles) into the catalog.

    Incremental: unchanged files are skipped, changed files replace their
    profile's listings. A bad file is reported as PATH:LINE: REASON and leaves
    the catalog as it was for that profile; the other files are still applied.
    """
    import db.ingest as ingest_mod
    from db.connection import CatalogError, open_writable, resolve_db_path

    target = resolve_db_path(db_path)
    try:
        files = list(ingest_mod.discover(paths))
    except ingest_mod.UsageError as err:
        raise click.UsageError(str(err)) from None
    if rebuild:
        _remove_catalog(target)
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
    import db.ingest as ingest_mod

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


def _remove_catalog(target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        candidate = target.with_name(target.name + suffix)
        try:
            candidate.unlink(missing_ok=True)
        except OSError as err:
            _fail(f"{candidate}: cannot remove for --rebuild: {err.strerror or err}")


def _fail(message: str, code: int = 1) -> Any:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="scholar-catalog")


if __name__ == "__main__":
    main()
