"""The ``export`` commands: a collaboration network or a list of papers, in formats other tools read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .cli_common import DB_HELP, fail


@click.group()
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
        fail(str(err))


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as err:
        fail(f"cannot write {output}: {err.strerror or err}")
