"""``topic_trends``: how many papers match a topic per year or per category."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from scholar_catalog.db.catalog import Catalog

from . import halves
from .common import clean_text, require_data
from .filters import check_years, paper_filters
from .models import TopicTrendsResult, TrendBucket
from .search_plan import Plan, fts_query, papers_by


def topic_trends(
    catalog: Catalog,
    query: Annotated[
        str,
        Field(description='Words and "quoted phrases", all required, as in search_papers. Empty: every paper.'),
    ] = "",
    group_by: Annotated[
        Literal["year", "category"], Field(description="Count per year (default) or per category.")
    ] = "year",
    author: Annotated[str | None, Field(description="Only papers by this person (name).")] = None,
    category: Annotated[str | None, Field(description="Only this two-letter category code, e.g. 'IR'.")] = None,
    year_from: Annotated[int | None, Field(description="Only papers dated in or after this year.")] = None,
    year_to: Annotated[int | None, Field(description="Only papers dated in or before this year.")] = None,
) -> TopicTrendsResult:
    """How many papers match a topic per year (or per category), counting every match, with code or not.

    For "how has work on T grown since 2022?" (query="T", year_from=2022). The
    words match exactly as in search_papers, so `total` is the number of papers
    search_papers finds for the same query and filters; call it for the papers.
    """
    text = clean_text(query or "", "query")
    check_years(year_from, year_to)
    with catalog.connection() as conn:
        require_data(catalog)
        where, params, author_id, resolution = paper_filters(
            catalog, conn, category=category, year_from=year_from, year_to=year_to, author=author
        )
        match = fts_query(text)
        plan = Plan(match, author_id, "".join(f" AND {w}" for w in where), params)
        column = "p.year" if group_by == "year" else "p.category"
        if match or where or author_id is not None:
            rows = halves.count_by(catalog, conn, plan, column)
        else:  # every paper: the same counts until the catalog changes (50-70 ms to count at 250,000 papers)
            rows = papers_by(catalog, conn, column)
        counts = {str(r[0]): (r[1], r[2] or 0) for r in rows}
        if group_by == "year" and counts:
            years = [int(k) for k in counts]
            keys = [str(y) for y in range(min(years), max(years) + 1)]
        else:
            keys = sorted(counts, key=lambda k: (-counts[k][0], k))
        buckets = [
            TrendBucket(key=k, papers=counts.get(k, (0, 0))[0], with_code=counts.get(k, (0, 0))[1]) for k in keys
        ]
        note = None
        if text and not match:
            note = "The query has no words to search for; counting papers by the other filters."
        elif not buckets:
            note = "No paper matches; try fewer or different words, or drop a filter."
        return TopicTrendsResult(
            query=text,
            group_by=group_by,
            buckets=buckets,
            total=sum(b.papers for b in buckets),
            query_used=match or None,
            author_resolved=resolution,
            note=note,
        )
