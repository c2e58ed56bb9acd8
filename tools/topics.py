"""Questions by meaning: ``find_experts``, ``similar_papers``, ``similar_authors``, ``topic_trends``.

Ranking is lexical (``method: "lexical"``): BM25 over the full-text index finds candidates,
and TF-IDF term profiles (:mod:`scholar_catalog.db.terms`, from the index's own statistics)
compare papers and people. A person's relevance to a topic is the summed relevance of their
papers divided by their paper count plus :data:`SMOOTHING`, so a prolific generalist with a
few papers on the topic ranks below people whose work is mostly about it.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Annotated, Literal

from pydantic import Field

from scholar_catalog.db import terms as T
from scholar_catalog.db.catalog import Catalog

from .common import (
    ToolInputError,
    ambiguous_error,
    check_limit,
    clean_text,
    require_data,
    resolve_person,
)
from .models import (
    Expert,
    FindExpertsResult,
    PaperRef,
    PaperTitle,
    SimilarAuthor,
    SimilarAuthorsResult,
    SimilarPaper,
    SimilarPapersResult,
    TopicTerm,
    TopicTrendsResult,
    TrendBucket,
)
from .papers import Plan, check_years, fts_query, paper_filters

MAX_RESULTS = 50
METHOD = "lexical"
SMOOTHING = 3.0  # pseudo-papers added to everyone's count: one paper on a topic is weak evidence
ON_TOPIC = 0.3  # a paper this relevant (relative to the best match) counts as on the topic
COMMON_SHARE = 0.3  # topic words in more papers than this share are too common to mean a topic
# Candidate searches rank every paper matching any of their terms: terms are taken (rarest or heaviest
# first) only while the papers they match add up to at most this many, which bounds a call's cost.
POSTINGS_BUDGET = 6_000
CANDIDATE_PAPERS = 1000  # best-matching papers find_experts and similar_authors look at
PEOPLE_TO_SCORE = 200  # people whose paper counts are read (best upper bounds first)
SIMILAR_CANDIDATES = 60  # papers similar_papers compares in full
AUTHOR_CANDIDATES = 15  # people similar_authors compares in full
QUERY_TERMS = 24  # terms of a paper or person used to find candidates
PERSON_PAPERS = 200  # most recent papers making up a person's profile
CANDIDATE_PAPERS_EACH = 20  # most recent papers making up a candidate's profile in similar_authors
TOPICS = 10
# bm25 column weights (title, abstract, author names) for topical relevance: author names never count.
TOPIC_BM25 = "bm25(papers_fts, 3.0, 1.0, 0.0)"
LEXICAL_NOTE = "Ranked by shared words (lexical): synonyms the papers don't use are not matched."

Limit = Annotated[int, Field(ge=1, le=MAX_RESULTS, description=f"Maximum results (1-{MAX_RESULTS}).")]


# -- term profiles ------------------------------------------------------------------------


def frequencies(catalog: Catalog, conn: sqlite3.Connection, terms: Iterable[str]) -> dict[str, int]:
    """Document frequencies of *terms*, remembered until the catalog changes."""
    return T.document_frequencies(conn, terms, catalog.cached("document_frequencies", dict))


def paper_count(catalog: Catalog, conn: sqlite3.Connection) -> int:
    return catalog.cached("paper_count", lambda: conn.execute("SELECT count(*) FROM papers").fetchone()[0])


def inverse_frequencies(catalog: Catalog, conn: sqlite3.Connection, terms: Iterable[str]) -> dict[str, float]:
    """Every term's :func:`~scholar_catalog.db.terms.idf` (0: no paper has it), remembered until the catalog changes.

    Returns the whole cache: look terms up with ``.get(term, 0.0)``.
    """
    cache: dict[str, float] = catalog.cached("inverse_frequencies", dict)
    missing = {t for t in terms if t not in cache}
    if missing:
        if len(cache) > 500_000:
            cache.clear()
        dfs = frequencies(catalog, conn, missing)
        total = paper_count(catalog, conn)
        for term in missing:
            cache[term] = T.idf(dfs[term], total) if term in dfs else 0.0
    return cache


def paper_vectors(catalog: Catalog, conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, dict[str, float]]:
    """TF-IDF vectors of papers (cached until the catalog changes)."""
    cache: dict[int, dict[str, float]] = catalog.cached("paper_vectors", dict)
    ids = list(ids)
    wanted = [i for i in dict.fromkeys(ids) if i not in cache]
    if wanted:
        if len(cache) > 50_000:
            cache.clear()
        counts = {
            row[0]: T.term_counts(row[1], row[2])
            for row in conn.execute(
                "SELECT id, title, abstract FROM papers WHERE id IN (SELECT value FROM json_each(?))",
                [json.dumps(wanted)],
            )
        }
        idfs = inverse_frequencies(catalog, conn, {t for c in counts.values() for t in c})
        for paper_id in wanted:
            cache[paper_id] = T.weigh_idf(counts.get(paper_id, {}), idfs)
    return {i: cache[i] for i in ids if i in cache}


def person_papers(conn: sqlite3.Connection, author_id: int, limit: int = PERSON_PAPERS) -> list[int]:
    return [
        r[0]
        for r in conn.execute(
            """SELECT p.id FROM paper_authors pa JOIN papers p ON p.id = pa.paper_id
               WHERE pa.author_id = ? ORDER BY p.date DESC, p.id DESC LIMIT ?""",
            [author_id, limit],
        )
    ]


def person_vector(
    catalog: Catalog, conn: sqlite3.Connection, author_id: int, limit: int = PERSON_PAPERS
) -> dict[str, float]:
    """A person's term profile: the centroid of their (*limit* most recent) papers' vectors."""
    return T.centroid(paper_vectors(catalog, conn, person_papers(conn, author_id, limit)).values())


def affordable(catalog: Catalog, conn: sqlite3.Connection, terms: Iterable[str]) -> list[str]:
    """The first of *terms* (in priority order) whose papers add up to at most POSTINGS_BUDGET."""
    wanted = list(terms)
    dfs = frequencies(catalog, conn, wanted)
    out: list[str] = []
    spent = 0
    for term in wanted:
        if term in dfs and spent + dfs[term] <= POSTINGS_BUDGET:
            out.append(term)
            spent += dfs[term]
    return out


def author_topics(catalog: Catalog, conn: sqlite3.Connection, author_id: int) -> list[TopicTerm]:
    """get_author's ``topics``: the person's most distinctive terms."""
    return [
        TopicTerm(term=t, weight=round(w, 3)) for t, w in T.top_terms(person_vector(catalog, conn, author_id), TOPICS)
    ]


def _shared(a: dict[str, float], b: dict[str, float], k: int) -> list[str]:
    both = {t: min(w, b[t]) for t, w in a.items() if t in b}
    return [t for t, _ in T.top_terms(both, k)]


# -- ranking people by topical papers -------------------------------------------------------


def _match_papers(
    conn: sqlite3.Connection, match: str, filters: str, params: list[object], exclude: int | None = None
) -> dict[int, float]:
    """Best *match*ing papers (within *filters*) -> relevance relative to the best one (0-1]."""
    join = " CROSS JOIN papers p INDEXED BY papers_facets ON p.id = papers_fts.rowid" if filters else ""
    skip = " AND papers_fts.rowid != ?" if exclude is not None else ""
    rows = conn.execute(
        f"""SELECT papers_fts.rowid, {TOPIC_BM25} AS r FROM papers_fts{join}
            WHERE papers_fts MATCH ?{skip}{filters} ORDER BY r, papers_fts.rowid LIMIT ?""",
        [match, *([exclude] if exclude is not None else []), *params, CANDIDATE_PAPERS],
    ).fetchall()
    if not rows or rows[0][1] >= 0:
        return {}
    best = rows[0][1]
    return {r[0]: r[1] / best for r in rows}


def _rank_people(
    conn: sqlite3.Connection,
    relevance: dict[int, float],
    filters: str,
    params: list[object],
    *,
    profiles_only: bool = False,
    skip: frozenset[int] = frozenset(),
) -> list[tuple[float, int, str, str | None, list[int], int]]:
    """People by summed relevance / (papers + SMOOTHING): (score, author_id, name, profile_id, papers, count)."""
    mine: dict[int, list[int]] = {}
    sums: dict[int, float] = {}
    for paper_id, author_id in conn.execute(
        "SELECT paper_id, author_id FROM paper_authors WHERE paper_id IN (SELECT value FROM json_each(?))",
        [json.dumps(list(relevance))],
    ):
        if author_id in skip:
            continue
        papers = mine.get(author_id)
        if papers is None:
            mine[author_id] = [paper_id]
            sums[author_id] = relevance[paper_id]
        else:
            papers.append(paper_id)
            sums[author_id] += relevance[paper_id]
    if profiles_only:
        owners = {
            r[0]
            for r in conn.execute(
                """SELECT id FROM authors WHERE id IN (SELECT value FROM json_each(?))
                   AND profile_id IS NOT NULL""",
                [json.dumps(list(mine))],
            )
        }
        mine = {a: p for a, p in mine.items() if a in owners}
    # The matched papers are a lower bound of each person's paper count, so sum / (matched + SMOOTHING)
    # bounds their score from above: only the best bounds need their real counts.
    best = heapq.nsmallest(PEOPLE_TO_SCORE, [(-sums[a] / (len(papers) + SMOOTHING), a) for a, papers in mine.items()])
    bound = [a for _, a in best]
    join = " JOIN papers p ON p.id = pa.paper_id" if filters else ""
    counts = dict(
        conn.execute(
            f"""SELECT pa.author_id, count(*) FROM paper_authors pa{join}
                WHERE pa.author_id IN (SELECT value FROM json_each(?)){filters} GROUP BY pa.author_id""",
            [json.dumps(bound), *params],
        ).fetchall()
    )
    people = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            "SELECT id, name, profile_id FROM authors WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps(bound)],
        )
    }
    ranked = []
    for a in bound:
        total = max(counts.get(a, 0), len(mine[a]))
        papers = sorted(mine[a], key=lambda p: (-relevance[p], p))
        ranked.append((sums[a] / (total + SMOOTHING), a, people[a][0], people[a][1], papers, total))
    ranked.sort(key=lambda r: (-r[0], r[2], r[1]))
    return ranked


def _refs(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, PaperRef]:
    return {
        r[0]: PaperRef(paper_id=r[0], title=r[1], date=r[2])
        for r in conn.execute(
            "SELECT id, title, date FROM papers WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(list(ids))]
        )
    }


def _topic_terms(
    catalog: Catalog, conn: sqlite3.Connection, words: list[str], total: int
) -> tuple[list[str], list[str], str]:
    """(terms to match, terms left out as too common, the FTS5 query) among *words* that some paper uses.

    Words in more than COMMON_SHARE of all papers are left out when rarer ones remain; the rarest words
    are matched first, as many as the postings budget allows; when even the rarest is over budget it is
    matched in titles only.
    """
    dfs = frequencies(catalog, conn, words)
    known = sorted((w for w in words if w in dfs), key=lambda w: (dfs[w], words.index(w)))
    if not known:
        return [], [], ""
    keep = [w for w in known if dfs[w] <= COMMON_SHARE * total] or known
    matched = affordable(catalog, conn, keep)
    if matched:
        return matched, [w for w in known if w not in matched], T.fts_any(matched)
    return keep[:1], known[1:], '{title} : ("' + keep[0] + '")'


def find_experts(
    catalog: Catalog,
    topic: Annotated[
        str,
        Field(description="The topic in a few words, e.g. 'speculative decoding' or 'learned index structures'."),
    ],
    category: Annotated[str | None, Field(description="Only papers in this two-letter category, e.g. 'CL'.")] = None,
    year_from: Annotated[int | None, Field(description="Only papers dated in or after this year.")] = None,
    year_to: Annotated[int | None, Field(description="Only papers dated in or before this year.")] = None,
    profiles_only: Annotated[
        bool, Field(description="Only people who own a profile (skip people known only from author lists).")
    ] = False,
    limit: Limit = 10,
) -> FindExpertsResult:
    """Who works on a topic: people ranked by how much of their work is about it, with evidence papers.

    For "who in here works on T?". A specialist ranks above a prolific generalist
    with a few papers on T. Each result gives `papers_on_topic`, all their `papers`,
    and up to 3 evidence papers. Matching is by words (method "lexical"): if a
    topic gets few results, try the words papers would use (e.g. 'LLM inference'
    for 'serving language models'). Then get_author for a person.
    """
    check_limit(limit, maximum=MAX_RESULTS)
    text = clean_text(topic or "", "topic")
    words = list(dict.fromkeys(T.tokens(text)))[:32]
    if not words:
        raise ToolInputError(
            "`topic` has no words to match (only punctuation, numbers or very common words); "
            "give the topic in a few content words, e.g. 'graph neural networks'."
        )
    check_years(year_from, year_to)
    with catalog.connection() as conn:
        require_data(catalog)
        where, params, _, _ = paper_filters(catalog, conn, category=category, year_from=year_from, year_to=year_to)
        filters = "".join(f" AND {w}" for w in where)
        matched, common, match = _topic_terms(catalog, conn, words, paper_count(catalog, conn))
        result = FindExpertsResult(topic=text, terms=matched, results=[], method=METHOD, note=LEXICAL_NOTE)
        if not matched:
            result.note = f"No paper uses the words {', '.join(words)}. " + LEXICAL_NOTE + " Try other words."
            return result
        relevance = _match_papers(conn, match, filters, params)
        ranked = _rank_people(conn, relevance, filters, params, profiles_only=profiles_only)[:limit]
        refs = _refs(conn, [p for r in ranked for p in r[4][:3]])
        top = ranked[0][0] if ranked else 1.0
        result.results = [
            Expert(
                name=name,
                profile_id=profile_id,
                score=round(score / top, 3),
                papers_on_topic=sum(1 for p in papers if relevance[p] >= ON_TOPIC),
                papers=count,
                evidence=[refs[p] for p in papers[:3] if p in refs],
            )
            for score, _, name, profile_id, papers, count in ranked
        ]
        notes = [LEXICAL_NOTE]
        if common:
            notes.append(f"Left out as too common to mark a topic: {', '.join(common)}.")
        if match.startswith("{title}"):
            notes.append(f"{matched[0]!r} is in very many papers: matched in titles only; add a rarer word.")
        if not ranked:
            notes.append("No paper passes the filters; relax a filter.")
        result.note = " ".join(notes)
        return result


# -- similar papers and people ----------------------------------------------------------------


def _paper_authors(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, dict[int, str]]:
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
    """Papers most like a given paper (never the paper itself), by their distinctive terms.

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
        result = SimilarPapersResult(
            paper=PaperTitle(paper_id=row[0], title=row[1]), results=[], method=METHOD, note=LEXICAL_NOTE
        )
        vector = paper_vectors(catalog, conn, [paper_id]).get(paper_id, {})
        if not vector:
            result.note = "This paper has no distinctive words to compare (no abstract?). " + LEXICAL_NOTE
            return result
        terms = affordable(catalog, conn, (t for t, _ in T.top_terms(vector, QUERY_TERMS)))
        found = _match_papers(conn, T.fts_any(terms), "", [], exclude=paper_id) if terms else {}
        candidates = sorted(found, key=lambda p: (-found[p], p))[:SIMILAR_CANDIDATES]
        vectors = paper_vectors(catalog, conn, candidates)
        scored = sorted(
            ((T.cosine(vector, vectors.get(p, {})), p) for p in candidates if p != paper_id),
            key=lambda sp: (-sp[0], sp[1]),
        )
        best = [(s, p) for s, p in scored if s > 0][:limit]
        refs = _refs(conn, [p for _, p in best])
        authors = _paper_authors(conn, [paper_id, *(p for _, p in best)])
        own = authors.get(paper_id, {})
        for similarity, other in best:
            shared = [name for a, name in authors.get(other, {}).items() if a in own]
            terms = _shared(vector, vectors[other], 4)
            why = "shares " + ", ".join(terms)  # shared authors are in `shared_authors`, said once
            ref = refs[other]
            result.results.append(
                SimilarPaper(
                    paper_id=other,
                    title=ref.title,
                    date=ref.date,
                    similarity=round(min(similarity, 1.0), 3),
                    shared_authors=shared,
                    why=why,
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
        result = SimilarAuthorsResult(author=resolution, results=[], method=METHOD, note=LEXICAL_NOTE)
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
        relevance = _match_papers(conn, T.fts_any(terms), "", []) if terms else {}
        ranked = _rank_people(conn, relevance, "", [], skip=skip)[:AUTHOR_CANDIDATES]
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
                shared_topics=_shared(vector, other, 5),
            )
            for similarity, other_name, author_id, other_profile, other in scored[:limit]
            if similarity > 0
        ]
        if exclude_coauthors:
            result.note = f"Coauthors of {person.name} left out ({len(coauthors)}). " + LEXICAL_NOTE
        return result


# -- trends -----------------------------------------------------------------------------------


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
        rows = plan.count_by(conn, "p.year" if group_by == "year" else "p.category")
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
