"""``find_experts``: who works on a topic; and the candidate search the other topic tools share.

Ranking is lexical (``method: "lexical"``): BM25 over the full-text index finds candidate papers
(:func:`match_papers`), and a person's relevance to a topic is the summed relevance of their
papers divided by their paper count plus :data:`SMOOTHING` (:func:`rank_people`), so a prolific
generalist with a few papers on the topic ranks below people whose work is mostly about it. With
the ``[semantic]`` extra and a catalog ingested with it, this is fused with an embedding model's
ranking (``method: "hybrid"``, :mod:`.hybrid`). Term profiles are in :mod:`.profiles`, the
similar-paper and similar-people tools in :mod:`.similar`, ``topic_trends`` in :mod:`.trends`.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Sequence
from typing import Annotated

from pydantic import Field

from scholar_catalog.db import terms as T
from scholar_catalog.db.catalog import Catalog, Connection, Cursor

from . import halves, hybrid
from .common import ToolInputError, check_limit, clean_text, require_data
from .filters import check_years, paper_filters
from .models import Expert, FindExpertsResult, PaperRef
from .profiles import affordable, frequencies, paper_count

MAX_RESULTS = 50
SMOOTHING = 3.0  # pseudo-papers added to everyone's count: one paper on a topic is weak evidence
ON_TOPIC = 0.3  # a paper this relevant (relative to the best match) counts as on the topic
COMMON_SHARE = 0.3  # topic words in more papers than this share are too common to mean a topic
CANDIDATE_PAPERS = 1000  # best-matching papers find_experts and similar_authors look at
PEOPLE_TO_SCORE = 200  # people whose paper counts are read (best upper bounds first)
# bm25 column weights (title, abstract, author names) for topical relevance: author names never count.
TOPIC_BM25 = "bm25(papers_fts, 3.0, 1.0, 0.0)"
LEXICAL_NOTE = "Ranked by shared words (lexical): synonyms the papers don't use are not matched."

Limit = Annotated[int, Field(ge=1, le=MAX_RESULTS, description=f"Maximum results (1-{MAX_RESULTS}).")]


# -- ranking people by topical papers -------------------------------------------------------


def match_papers(
    catalog: Catalog,
    conn: Connection,
    match: str,
    filters: str,
    params: list[object],
    exclude: int | None = None,
    limit: int = CANDIDATE_PAPERS,
) -> dict[int, float]:
    """The *limit* best *match*ing papers (within *filters*) -> relevance relative to the best one (0-1],
    best first. Many postings: the lower and upper halves of the ids at once (:mod:`.halves`)."""
    join = " CROSS JOIN facets p ON p.id = papers_fts.rowid" if filters else ""
    skip = " AND papers_fts.rowid != ?" if exclude is not None else ""
    sql = f"""SELECT papers_fts.rowid, {TOPIC_BM25} AS r FROM papers_fts{join}
              WHERE papers_fts MATCH ?{skip} AND papers_fts.rowid BETWEEN ? AND ?{filters}
              ORDER BY r, papers_fts.rowid LIMIT ?"""

    def statement(c: Connection, first: int, last: int) -> Cursor:
        return c.execute(sql, [match, *([exclude] if exclude is not None else []), first, last, *params, limit])

    rows = halves.best_matches(catalog, conn, match, statement, limit)
    if not rows or rows[0][1] >= 0:
        return {}
    best = rows[0][1]
    return {r[0]: r[1] / best for r in rows}


def rank_people(
    conn: Connection,
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
    join = " JOIN facets p ON p.id = pa.paper_id" if filters else ""
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


def paper_refs(conn: Connection, ids: Sequence[int]) -> dict[int, PaperRef]:
    return {
        r[0]: PaperRef(paper_id=r[0], title=r[1], date=r[2])
        for r in conn.execute(
            "SELECT id, title, date FROM papers WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(list(ids))]
        )
    }


def _topic_terms(catalog: Catalog, conn: Connection, words: list[str], total: int) -> tuple[list[str], list[str], str]:
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
    and up to 3 evidence papers. With method "lexical" matching is by words: if a
    topic gets few results, try the words papers would use (e.g. 'LLM inference'
    for 'serving language models'); "hybrid" also matches by meaning. Then
    get_author for a person.
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
        method, why = hybrid.method(catalog, conn)
        result = FindExpertsResult(topic=text, terms=matched, results=[], method=method, note=LEXICAL_NOTE)
        if not matched and method == "lexical":
            result.note = f"No paper uses the words {', '.join(words)}. " + LEXICAL_NOTE + " Try other words."
            result.note += f" {why}" if why else ""
            return result
        relevance = match_papers(catalog, conn, match, filters, params) if matched else {}
        if method == "hybrid":
            relevance = hybrid.fused_relevance(relevance, hybrid.topic_papers(catalog, conn, text, filters, params))
            if not relevance and not matched:
                result.note = f"No paper uses the words {', '.join(words)} or is close to them in meaning."
                return result
        ranked = rank_people(conn, relevance, filters, params, profiles_only=profiles_only)[:limit]
        refs = paper_refs(conn, [p for r in ranked for p in r[4][:3]])
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
        notes = [hybrid.HYBRID_NOTE if method == "hybrid" else LEXICAL_NOTE, *([why] if why else [])]
        if common:
            notes.append(f"Left out as too common to mark a topic: {', '.join(common)}.")
        if match.startswith("{title}") and method == "lexical":
            notes.append(f"{matched[0]!r} is in very many papers: matched in titles only; add a rarer word.")
        if not ranked:
            notes.append("No paper passes the filters; relax a filter.")
        result.note = " ".join(notes)
        return result
