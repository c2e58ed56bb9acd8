"""The filters every paper tool shares (category, years, code, score, affiliation, author), checked."""

from __future__ import annotations

from scholar_catalog.db.catalog import Catalog, Connection
from scholar_catalog.db.normalize import normalize_name

from .common import ToolInputError, ambiguous_error, clean_text, resolve_person
from .models import Resolution

MIN_YEAR, MAX_YEAR = 1900, 2100


def check_years(year_from: int | None, year_to: int | None) -> None:
    for argument, year in (("year_from", year_from), ("year_to", year_to)):
        if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
            raise ToolInputError(f"`{argument}` must be a year between {MIN_YEAR} and {MAX_YEAR} (got {year}).")
    if year_from is not None and year_to is not None and year_from > year_to:
        raise ToolInputError(f"`year_from` ({year_from}) is after `year_to` ({year_to}); swap them.")


def paper_filters(
    catalog: Catalog,
    conn: Connection,
    *,
    category: str | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
    has_code: bool | None = None,
    min_score: float | None = None,
    affiliation: str | None = None,
    author: str | None = None,
    author_profile_id: str | None = None,
) -> tuple[list[str], list[object], int | None, Resolution | None]:
    """The WHERE conditions on ``papers p`` (and params) for search filters, and the author filter's person.

    Shared by every tool that filters papers as search_papers does. Arguments are checked here:
    an unknown category, an unresolvable or ambiguous author, an empty affiliation are errors.
    """
    where: list[str] = []
    params: list[object] = []
    resolution = None
    if category is not None:
        code = clean_text(category, "category").upper()
        known = catalog.categories()
        if code not in known:
            raise ToolInputError(
                f"Unknown category {category!r}. Categories in this catalog: {', '.join(sorted(known))}."
            )
        where.append("p.category = ?")
        params.append(code)
    if year_from is not None:
        where.append("p.year >= ?")
        params.append(year_from)
    if year_to is not None:
        where.append("p.year <= ?")
        params.append(year_to)
    if has_code is not None:
        where.append("p.has_code = ?")
        params.append(int(has_code))
    if min_score is not None:
        where.append("EXISTS (SELECT 1 FROM listings l WHERE l.paper_id = p.id AND l.score >= ?)")
        params.append(min_score)
    author_id = None
    if author or author_profile_id:
        person, resolution, others = resolve_person(catalog, conn, author or "", author_profile_id, "author")
        if others:
            raise ambiguous_error(conn, person, others, "author_profile_id")
        author_id = person.author_id
    if affiliation is not None:
        key = normalize_name(clean_text(affiliation, "affiliation"))
        if not key:
            raise ToolInputError("`affiliation` has no letters or digits; give an organisation name.")
        pattern = "%" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            """p.id IN (SELECT pa.paper_id FROM paper_affiliations pa
               JOIN affiliations a ON a.id = pa.affiliation_id WHERE a.name_norm LIKE ? ESCAPE '\\')"""
        )
        params.append(pattern)
    return where, params, author_id, resolution
