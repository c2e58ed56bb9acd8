"""What the command modules share: the ``--db`` help text and the one way a command fails."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

DB_HELP = "Catalog database file. Default: $SCHOLAR_CATALOG_DB, else catalog.db in the user data directory."


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: MESSAGE`` on stderr and exit with *code* (1: the catalog or a file; 2: usage)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def ingest_summary(report: Any, target: Path) -> str:
    lines = [
        f"catalog: {target}",
        f"files: {report.applied} applied, {report.unchanged} unchanged, {len(report.rejected)} rejected"
        + (f", {len(report.pruned)} pruned" if report.pruned else ""),
        f"papers: {report.papers_new} new, {report.papers_updated} updated",
        f"catalog now holds {report.profiles} profiles and {report.papers} papers ({report.seconds:.2f}s)",
    ]
    return "\n".join(lines)


def parse_as_of(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form") from None
