"""Hybrid ranking for find_experts and similar_papers: word statistics fused with an embedding model.

Active when the catalog holds every paper's vector from the installed model
(:func:`scholar_catalog.db.vectors.method`); otherwise the topic tools rank lexically and say how to
get hybrid ranking. find_experts averages each paper's relevance by words and by meaning, then ranks
people from it exactly as it does lexically; similar_papers fuses the papers found by words and the
papers nearest in meaning by reciprocal rank (:data:`RRF_K`). similar_authors stays lexical: on the
labelled evaluation the embedding did not rank similar people better (bench/README.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from scholar_catalog.db import vectors
from scholar_catalog.db.catalog import Catalog, Connection

RRF_K = 60  # similar_papers: reciprocal rank fusion
SEMANTIC_WEIGHT = 0.5  # find_experts: share of the meaning in a paper's fused relevance
SEMANTIC_CANDIDATES = 1000  # papers closest in meaning that find_experts looks at
FILTER_WIDENING = 5  # with a category or year filter, this many times more are taken before filtering
HYBRID_NOTE = "Ranked by shared words fused with meaning (hybrid: an embedding model), so paraphrases match too."
NEAR_NOTE = "close in meaning"
# A topic whose closest paper is less close in meaning than this finds nothing by meaning: made-up words or
# a topic far from every paper (best cosine on the labelled catalog 0.09-0.23; real topics, paraphrased or
# not, 0.31-0.59).
MIN_COSINE = 0.25


def method(catalog: Catalog, conn: Connection) -> tuple[str, str | None]:
    """("hybrid", None) or ("lexical", how to get hybrid), remembered until the catalog changes."""
    return catalog.cached("ranking_method", lambda: vectors.method(conn))


def _matrix(catalog: Catalog, conn: Connection) -> vectors.Matrix:
    return catalog.cached("vector_matrix", lambda: vectors.Matrix(conn))


def fuse(*rankings: Sequence[int]) -> dict[int, float]:
    """Reciprocal rank fusion: item -> sum of 1 / (RRF_K + rank), best first (ties by item)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (RRF_K + rank)
    return dict(sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])))


def topic_papers(
    catalog: Catalog, conn: Connection, text: str, filters: str, params: list[object]
) -> list[tuple[int, float]]:
    """The papers (within *filters*) closest in meaning to *text*: (paper, cosine), best first; none if far off."""
    matrix = _matrix(catalog, conn)
    query = vectors.embed([text])[0]
    wanted = SEMANTIC_CANDIDATES * (FILTER_WIDENING if filters else 1)
    near = [(p, c) for p, c in matrix.nearest(query, wanted) if c > 0]
    if not near or near[0][1] < MIN_COSINE:
        return []
    if filters:
        allowed = {
            r[0]
            for r in conn.execute(
                f"SELECT p.id FROM facets p WHERE p.id IN (SELECT value FROM json_each(?)){filters}",
                [json.dumps([p for p, _ in near]), *params],
            )
        }
        near = [(p, c) for p, c in near if p in allowed]
    return near[:SEMANTIC_CANDIDATES]


def fused_relevance(lexical: dict[int, float], semantic: list[tuple[int, float]]) -> dict[int, float]:
    """Paper -> fused relevance relative to the best paper (0-1].

    The mean of the lexical relevance (BM25 relative to the best match) and the cosine relative to the
    closest paper. Equal weights, not tuned: on the labelled evaluation this beat reciprocal rank
    fusion of the papers and of the people rankings on paraphrased topics (bench/README.md).
    """
    cosine = dict(semantic)
    top = max(cosine.values(), default=1.0)
    scores = {
        p: (1 - SEMANTIC_WEIGHT) * lexical.get(p, 0.0) + SEMANTIC_WEIGHT * cosine.get(p, 0.0) / top
        for p in {*lexical, *cosine}
    }
    best = max(scores.values(), default=1.0)
    return {p: s / best for p, s in scores.items() if s > 0}


def similar_papers(
    catalog: Catalog, conn: Connection, paper_id: int, lexical: list[int], k: int
) -> list[tuple[int, float]]:
    """(paper, similarity 0-1) fusing *lexical* (best first) with the papers nearest in meaning, best first.

    The similarity is the fused score relative to a paper ranked first by both; equal scores are
    ordered by cosine.
    """
    matrix = _matrix(catalog, conn)
    own = matrix.vector(paper_id)
    if own is None:
        return []
    near = [p for p, cosine in matrix.nearest(own, k, exclude=paper_id) if cosine > 0]
    top = 2.0 / (RRF_K + 1)
    scored = []
    for p, s in fuse(lexical, near).items():
        other = matrix.vector(p)
        if p != paper_id:
            scored.append((s / top, float(other @ own) if other is not None else 0.0, p))
    scored.sort(key=lambda t: (-round(t[0], 9), -t[1], t[2]))
    return [(p, s) for s, _, p in scored]
