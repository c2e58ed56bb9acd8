"""Author tools: ``get_author``, ``search_authors`` and ``coauthors``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from scholar_catalog.db.catalog import Catalog, Connection
from scholar_catalog.db.names import Person
from scholar_catalog.db.normalize import normalize_name

from .common import (
    MAX_LIMIT,
    PAPER_COLUMNS,
    ToolInputError,
    ambiguous_error,
    candidates,
    check_limit,
    clean_text,
    paper_summary,
    papers_by_coauthor,
    require_data,
    resolve_person,
)
from .models import (
    AuthorHit,
    AuthorResult,
    Coauthor,
    CoauthorsResult,
    CountItem,
    PersonRef,
    Resolution,
    SearchAuthorsResult,
)
from .profiles import author_topics

TRUNCATION_NOTE = (
    "Author lists in profiles are truncated ('et al.'), so coauthor counts are lower bounds: "
    "people hidden behind 'et al.' are only known when the paper is in their own profile."
)


def coauthor_rows(conn: Connection, author_id: int, limit: int | None) -> list[Coauthor]:
    """Coauthors of *author_id*, most shared papers first, each with up to 5 titles (newest first)."""
    ranked = sorted(papers_by_coauthor(conn, author_id).values(), key=lambda e: (-len(e[1]), e[0].name))
    return [
        Coauthor(
            name=person.name,
            profile_id=person.profile_id,
            shared_papers=len(papers),
            titles=[paper[1] for paper in papers[:5]],
        )
        for person, papers in (ranked[:limit] if limit else ranked)
    ]


def get_author(
    catalog: Catalog,
    name: Annotated[str, Field(description="The researcher's name; case, accents and small typos don't matter.")] = "",
    profile_id: Annotated[
        str | None, Field(description="Pick one profile when several share a name (from `candidates`).")
    ] = None,
    papers_limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="How many papers to list (1-100).")] = 10,
) -> AuthorResult:
    """Everything about one researcher: profile stats, papers (newest first), top coauthors, categories, years.

    Works for profile owners and for people known only from author lists. The
    `resolution` says how the name was matched (exact / normalized / fuzzy, with a
    confidence): check a fuzzy match before relying on it. If several profiles
    share the name they are different people: the result lists them in
    `candidates` and you call again with `profile_id`. Unknown names fail with the
    closest names.
    """
    check_limit(papers_limit, "papers_limit")
    if not (name or "").strip() and not profile_id:
        raise ToolInputError("Give `name` (a researcher's name) or `profile_id`.")
    with catalog.connection() as conn:
        person, resolution, others = resolve_person(catalog, conn, name or "", profile_id)
        if others:
            listed = candidates(conn, [person, *others])
            resolution = resolution.model_copy(update={"profile_id": None})
            return AuthorResult(
                name=person.name,
                profile_id=None,
                resolution=resolution,
                papers_in_catalog=0,
                papers=[],
                top_coauthors=[],
                categories=[],
                years_active=[],
                candidates=listed,
                note=(
                    f"{len(listed)} different profiles are named {person.name!r}; they are different people. "
                    "Call get_author again with the profile_id of the one you mean."
                ),
            )
        return _author_result(catalog, conn, person, resolution, papers_limit)


def _author_result(
    catalog: Catalog, conn: Connection, person: Person, resolution: Resolution, papers_limit: int
) -> AuthorResult:
    profile = None
    if person.profile_id:
        profile = conn.execute(
            """SELECT primary_category, h_index, citations, papers_declared, novelty, ai_score
               FROM profiles WHERE id = ?""",
            [person.profile_id],
        ).fetchone()
    papers = conn.execute(
        f"""SELECT {PAPER_COLUMNS} FROM papers p
            WHERE p.id IN (SELECT f.id FROM paper_authors pa JOIN facets f ON f.id = pa.paper_id
                           WHERE pa.author_id = ? ORDER BY f.date DESC, f.id DESC LIMIT ?)
            ORDER BY p.date DESC, p.id DESC""",
        [person.author_id, papers_limit],
    ).fetchall()
    stats = conn.execute(
        """SELECT count(*), min(p.year), max(p.year) FROM paper_authors pa JOIN facets p ON p.id = pa.paper_id
           WHERE pa.author_id = ?""",
        [person.author_id],
    ).fetchone()
    categories = [
        CountItem(value=r[0], count=r[1])
        for r in conn.execute(
            """SELECT p.category, count(*) FROM paper_authors pa JOIN facets p ON p.id = pa.paper_id
               WHERE pa.author_id = ? GROUP BY p.category ORDER BY count(*) DESC, p.category""",
            [person.author_id],
        )
    ]
    note = None
    if person.profile_id is None:
        note = "No profile for this name: papers and coauthors come from other profiles' author lists only."
    else:
        namesake = conn.execute(
            """SELECT count(*) FROM authors a JOIN paper_authors pa ON pa.author_id = a.id
               WHERE a.name_norm = ? AND a.profile_id IS NULL""",
            [normalize_name(person.name)],
        ).fetchone()[0]
        if namesake:
            note = (
                f"{namesake} more paper(s) name {person.name!r} in their author list but are not in this profile: "
                "the same person or a namesake, so they are not counted here (search_authors lists both)."
            )
    return AuthorResult(
        name=person.name,
        profile_id=person.profile_id,
        resolution=resolution,
        primary_category=profile[0] if profile else None,
        h_index=profile[1] if profile else None,
        citations=profile[2] if profile else None,
        papers_declared=profile[3] if profile else None,
        novelty=profile[4] if profile else None,
        ai_score=profile[5] if profile else None,
        papers_in_catalog=stats[0],
        papers=[paper_summary(r) for r in papers],
        top_coauthors=coauthor_rows(conn, person.author_id, 10),
        categories=categories,
        years_active=[stats[1], stats[2]] if stats[0] else [],
        topics=author_topics(catalog, conn, person.author_id),
        note=note,
    )


def search_authors(
    catalog: Catalog,
    query: Annotated[str, Field(description="A full or partial name; typos and missing accents are tolerated.")],
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Maximum results (1-100).")] = 10,
) -> SearchAuthorsResult:
    """Look up people by name, fuzzily: 'Lukasz' finds 'Łukasz', 'Borker' finds 'Borkar'.

    Returns profile owners (with profile_id and h-index) and people known only from
    author lists (profile_id null), best match first, with a 0-100 score. Use it
    to find the right spelling or profile_id before calling other tools.
    """
    check_limit(limit)
    query = clean_text(query, "query", allow_empty=False)
    with catalog.connection() as conn:
        require_data(catalog)
        index = catalog.names()
        hits = index.fuzzy(query, limit=limit, cutoff=40.0)
        exact = index.exact(query)
        if exact is not None and all(h.key != exact.key for h in hits):
            hits.insert(0, exact)
        results: list[AuthorHit] = []
        for hit in hits:
            for person in hit.people:
                row = conn.execute(
                    """SELECT (SELECT count(*) FROM paper_authors WHERE author_id = ?),
                              pr.h_index, pr.primary_category
                       FROM (SELECT 1) LEFT JOIN profiles pr ON pr.id = ?""",
                    [person.author_id, person.profile_id],
                ).fetchone()
                results.append(
                    AuthorHit(
                        name=person.name,
                        profile_id=person.profile_id,
                        h_index=row[1],
                        papers=row[0],
                        primary_category=row[2],
                        score=round(hit.score, 1),
                    )
                )
        return SearchAuthorsResult(results=results[:limit])


def coauthors(
    catalog: Catalog,
    name: Annotated[str, Field(description="The researcher's name; case, accents and small typos don't matter.")] = "",
    profile_id: Annotated[
        str | None, Field(description="Use instead of `name` when several profiles share it.")
    ] = None,
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Maximum coauthors (1-100).")] = 20,
) -> CoauthorsResult:
    """A researcher's collaborators, most shared papers first, with the titles of the shared papers.

    For "who has X worked with?". Counts are lower bounds because author lists
    are truncated. For people who worked with BOTH of two researchers, use
    shared_coauthors instead.
    """
    check_limit(limit)
    if not (name or "").strip() and not profile_id:
        raise ToolInputError("Give `name` (a researcher's name) or `profile_id`.")
    with catalog.connection() as conn:
        person, resolution, others = resolve_person(catalog, conn, name or "", profile_id)
        if others:
            raise ambiguous_error(conn, person, others, "profile_id")
        total = conn.execute(
            """SELECT count(DISTINCT other.author_id) FROM paper_authors mine
               JOIN paper_authors other ON other.paper_id = mine.paper_id AND other.author_id != mine.author_id
               WHERE mine.author_id = ?""",
            [person.author_id],
        ).fetchone()[0]
        return CoauthorsResult(
            author=PersonRef(name=person.name, profile_id=person.profile_id),
            resolution=resolution,
            coauthors=coauthor_rows(conn, person.author_id, limit),
            total=total,
            note=TRUNCATION_NOTE,
        )
