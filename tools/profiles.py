"""Term profiles: TF-IDF vectors of papers and people, from the catalog's term counts.

A paper's vector is TF-IDF over its title and abstract (:mod:`scholar_catalog.db.terms`), a person's
the centroid of their most recent papers' vectors. Everything here is remembered per catalog version
(:meth:`~scholar_catalog.db.catalog.Catalog.cached`), so a changed catalog is read afresh.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from scholar_catalog.db import terms as T
from scholar_catalog.db.catalog import Catalog, Connection

from .models import TopicTerm

# Candidate searches rank every paper matching any of their terms: terms are taken (rarest or heaviest
# first) only while the papers they match add up to at most this many, which bounds a call's cost.
POSTINGS_BUDGET = 6_000
PERSON_PAPERS = 200  # most recent papers making up a person's profile
TOPICS = 10
CACHED_WEIGHTS = 500_000  # words whose weight is remembered; past it the cache starts again


def frequencies(catalog: Catalog, conn: Connection, terms: Iterable[str]) -> dict[str, int]:
    """Document frequencies of *terms*, remembered until the catalog changes."""
    return T.document_frequencies(conn, terms, catalog.cached("document_frequencies", dict))


def paper_count(catalog: Catalog, conn: Connection) -> int:
    return catalog.cached("paper_count", lambda: conn.execute("SELECT count(*) FROM papers").fetchone()[0])


def inverse_frequencies(catalog: Catalog, conn: Connection, words: set[str]) -> dict[str, float]:
    """Every word's weight as a topic term, remembered until the catalog changes: its
    :func:`~scholar_catalog.db.terms.idf`, or 0 for a word that is no topic term or in no paper.

    Returns the whole cache: look words up with ``.get(word, 0.0)``.
    """
    cache: dict[str, float] = catalog.cached("inverse_frequencies", dict)
    missing = words.difference(cache)
    if missing:
        if len(cache) > CACHED_WEIGHTS:
            cache.clear()
            missing = words  # every word asked for is returned, including those cached before
        terms = [w for w in missing if T.is_topic_term(w)]
        dfs = frequencies(catalog, conn, terms)
        total = paper_count(catalog, conn)
        cache.update(dict.fromkeys(missing, 0.0))
        for term in terms:
            if term in dfs:
                cache[term] = T.idf(dfs[term], total)
    return cache


def paper_vectors(catalog: Catalog, conn: Connection, ids: Iterable[int]) -> dict[int, dict[str, float]]:
    """TF-IDF vectors of papers (cached until the catalog changes)."""
    cache: dict[int, dict[str, float]] = catalog.cached("paper_vectors", dict)
    ids = list(ids)
    wanted = [i for i in dict.fromkeys(ids) if i not in cache]
    if wanted:
        if len(cache) > 50_000:
            cache.clear()
        # All words, topic terms or not: their weights drop the others (0) in one pass with the weighing.
        counts = {
            row[0]: T.word_counts(row[1], row[2])
            for row in conn.execute(
                "SELECT id, title, abstract FROM papers WHERE id IN (SELECT value FROM json_each(?))",
                [json.dumps(wanted)],
            )
        }
        weights = inverse_frequencies(catalog, conn, set().union(*counts.values()))
        for paper_id in wanted:
            cache[paper_id] = T.weigh_idf(counts.get(paper_id, {}), weights)
    return {i: cache[i] for i in ids if i in cache}


def person_papers(conn: Connection, author_id: int, limit: int = PERSON_PAPERS) -> list[int]:
    return [
        r[0]
        for r in conn.execute(
            """SELECT p.id FROM paper_authors pa JOIN facets p ON p.id = pa.paper_id
               WHERE pa.author_id = ? ORDER BY p.date DESC, p.id DESC LIMIT ?""",
            [author_id, limit],
        )
    ]


def person_vector(catalog: Catalog, conn: Connection, author_id: int, limit: int = PERSON_PAPERS) -> dict[str, float]:
    """A person's term profile: the centroid of their (*limit* most recent) papers' vectors."""
    return T.centroid(paper_vectors(catalog, conn, person_papers(conn, author_id, limit)).values())


def affordable(catalog: Catalog, conn: Connection, terms: Iterable[str]) -> list[str]:
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


def author_topics(catalog: Catalog, conn: Connection, author_id: int) -> list[TopicTerm]:
    """get_author's ``topics``: the person's most distinctive terms."""
    return [
        TopicTerm(term=t, weight=round(w, 3)) for t, w in T.top_terms(person_vector(catalog, conn, author_id), TOPICS)
    ]


def shared_terms(a: dict[str, float], b: dict[str, float], k: int) -> list[str]:
    both = {t: min(w, b[t]) for t, w in a.items() if t in b}
    return [t for t, _ in T.top_terms(both, k)]
