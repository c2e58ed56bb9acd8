"""``similar_papers`` and ``similar_authors``: papers and people most like a given one.

Candidates come from a BM25 search for the given paper's or person's heaviest terms
(:func:`~.topics.match_papers`); the best are compared in full by the cosine of their term
profiles (:mod:`.profiles`). With the ``[semantic]`` extra, similar_papers fuses this with the
embedding model's ranking (:mod:`.hybrid`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated

from pydantic import Field

from scholar_catalog.db import terms as T
from scholar_catalog.db.catalog import Catalog, Connection

from . import hybrid
from .common import ToolInputError, ambiguous_error, check_limit, require_data, resolve_person
from .models import PaperTitle, SimilarAuthor, SimilarAuthorsResult, SimilarPaper, SimilarPapersResult
from .profiles import affordable, paper_vectors, person_vector, shared_terms
from .topics import LEXICAL_NOTE, MAX_RESULTS, Limit, match_papers, paper_refs, rank_people

SIMILAR_CANDIDATES = 60  # papers similar_papers compares in full
AUTHOR_CANDIDATES = 15  # people similar_authors compares in full
QUERY_TERMS = 24  # terms of a paper or person used to find candidates
CANDIDATE_PAPERS_EACH = 20  # most recent papers making up a candidate's profile in similar_authors


def _paper_authors(conn: Connection, ids: Sequence[int]) -> dict[int, dict[int, str]]:
    out: dict[int, dict[int, str]] = {}
    for paper_id, author_id, name in conn.execute(
        """SELECT pa.paper_id, a.id, a.name FROM paper_authors pa JOIN authors a ON a.id = pa.author_id
           WHERE pa.paper_id IN (SELECT value FROM json_each(?)) ORDER BY pa.position IS NULL, pa.position, a.name""",
        [json.dumps(list(ids))],
    ):
        out.setdefault(paper_id, {})[author_id] = name
    return out


def similar_papers(
    catalog: Catalog,
    paper_id: Annotated[int, Field(ge=1, le=2**63 - 1, description="A paper_id from search_papers or another tool.")],
    limit: Limit = 10,
) -> SimilarPapersResult:
    """Papers most like a given paper (never the paper itself), by distinctive terms (and meaning if "hybrid").

    For "what else is like this paper?". Each result has a 0-1 `similarity`, the
    authors it shares with the paper, and `why` (the shared terms).
    """
    check_limit(limit, maximum=MAX_RESULTS)
    with catalog.connection() as conn:
        require_data(catalog)
        row = conn.execute("SELECT id, title FROM papers WHERE id = ?", [paper_id]).fetchone()
        if row is None:
            top = conn.execute("SELECT max(id) FROM papers").fetchone()[0]
            raise ToolInputError(
                f"No paper with paper_id {paper_id} (ids run from 1 to {top}, with gaps). "
                "Use search_papers to find papers and their ids."
            )
        method, why = hybrid.method(catalog, conn)
        note = hybrid.HYBRID_NOTE if method == "hybrid" else " ".join([LEXICAL_NOTE, *([why] if why else [])])
        result = SimilarPapersResult(
            paper=PaperTitle(paper_id=row[0], title=row[1]), results=[], method=method, note=note
        )
        vector = paper_vectors(catalog, conn, [paper_id]).get(paper_id, {})
        if not vector and method == "lexical":
            result.note = "This paper has no distinctive words to compare (no abstract?). " + note
            return result
        terms = affordable(catalog, conn, (t for t, _ in T.top_terms(vector, QUERY_TERMS)))
        found = (
            match_papers(catalog, conn, T.fts_any(terms), "", [], exclude=paper_id, limit=SIMILAR_CANDIDATES)
            if terms
            else {}
        )
        candidates = sorted(found, key=lambda p: (-found[p], p))[:SIMILAR_CANDIDATES]
        vectors = paper_vectors(catalog, conn, candidates)
        scored = sorted(
            ((T.cosine(vector, vectors.get(p, {})), p) for p in candidates if p != paper_id),
            key=lambda sp: (-sp[0], sp[1]),
        )
        best = [(s, p) for s, p in scored if s > 0][:limit]
        lexical = [p for s, p in scored if s > 0]
        fused = (
            hybrid.similar_papers(catalog, conn, paper_id, lexical, SIMILAR_CANDIDATES) if method == "hybrid" else []
        )
        if fused:
            best = [(s, p) for p, s in fused][:limit]
            vectors = paper_vectors(catalog, conn, [p for _, p in best])
        refs = paper_refs(conn, [p for _, p in best])
        authors = _paper_authors(conn, [paper_id, *(p for _, p in best)])
        own = authors.get(paper_id, {})
        for similarity, other in best:
            shared = [name for a, name in authors.get(other, {}).items() if a in own]
            terms = shared_terms(vector, vectors.get(other, {}), 4)
            # shared authors are in `shared_authors`, said once
            reason = "shares " + ", ".join(terms) if terms else hybrid.NEAR_NOTE
            ref = refs[other]
            result.results.append(
                SimilarPaper(
                    paper_id=other,
                    title=ref.title,
                    date=ref.date,
                    similarity=round(min(similarity, 1.0), 3),
                    shared_authors=shared,
                    why=reason,
                )
            )
        return result


def similar_authors(
    catalog: Catalog,
    name: Annotated[str, Field(description="The researcher's name; case, accents and small typos don't matter.")] = "",
    profile_id: Annotated[
        str | None, Field(description="Use instead of `name` when several profiles share it.")
    ] = None,
    limit: Limit = 10,
    exclude_coauthors: Annotated[
        bool, Field(description="true: only people who never wrote with them ('who should they meet?').")
    ] = False,
) -> SimilarAuthorsResult:
    """Researchers whose work is most like a given researcher's, by their distinctive terms.

    For "who works on what Y works on?"; with exclude_coauthors=true, "who should
    Y meet?" (people Y has never written with). Each result gives a 0-1
    `similarity`, whether they are coauthors, and the topics they share.
    """
    check_limit(limit, maximum=MAX_RESULTS)
    if not (name or "").strip() and not profile_id:
        raise ToolInputError("Give `name` (a researcher's name) or `profile_id`.")
    with catalog.connection() as conn:
        person, resolution, others = resolve_person(catalog, conn, name or "", profile_id)
        if others:
            raise ambiguous_error(conn, person, others, "profile_id")
        result = SimilarAuthorsResult(author=resolution, results=[], method="lexical", note=LEXICAL_NOTE)
        vector = person_vector(catalog, conn, person.author_id)
        if not vector:
            result.note = f"{person.name}'s papers have no distinctive words to compare. " + LEXICAL_NOTE
            return result
        coauthors = {
            r[0]
            for r in conn.execute(
                """SELECT DISTINCT other.author_id FROM paper_authors mine
                   JOIN paper_authors other ON other.paper_id = mine.paper_id
                   WHERE mine.author_id = ? AND other.author_id != mine.author_id""",
                [person.author_id],
            )
        }
        skip = frozenset({person.author_id, *(coauthors if exclude_coauthors else ())})
        terms = affordable(catalog, conn, (t for t, _ in T.top_terms(vector, QUERY_TERMS)))
        relevance = match_papers(catalog, conn, T.fts_any(terms), "", []) if terms else {}
        ranked = rank_people(conn, relevance, "", [], skip=skip)[:AUTHOR_CANDIDATES]
        scored = []
        for _, author_id, other_name, other_profile, _, _ in ranked:
            other = person_vector(catalog, conn, author_id, CANDIDATE_PAPERS_EACH)
            scored.append((T.cosine(vector, other), other_name, author_id, other_profile, other))
        scored.sort(key=lambda s: (-s[0], s[1], s[2]))
        result.results = [
            SimilarAuthor(
                name=other_name,
                profile_id=other_profile,
                similarity=round(min(similarity, 1.0), 3),
                coauthor=author_id in coauthors,
                shared_topics=shared_terms(vector, other, 5),
            )
            for similarity, other_name, author_id, other_profile, other in scored[:limit]
            if similarity > 0
        ]
        if exclude_coauthors:
            result.note = f"Coauthors of {person.name} left out ({len(coauthors)}). " + LEXICAL_NOTE
        return result
