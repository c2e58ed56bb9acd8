"""Which function scores a search's matches by relevance: FTS5's ``bm25()``, or the same scores from
phrase counts known beforehand (:mod:`scholar_catalog.db.bm25`).

Both give every match the same score, so the choice changes only the time. FTS5's ``bm25()`` counts
the rows holding each phrase by walking the phrase's postings (~0.045 us each here) before its first
score; the counted one costs ~1.5 us more per matched row and phrase, and takes the counts from
``term_docs`` (a single word anywhere or in titles, kept exact by ingest) or from counts remembered
until the catalog changes (any other phrase: several words, or a word ``term_docs`` does not keep,
counted by FTS5 itself). Only the counts already known weigh in the choice: where they save more than
the counted score costs, a phrase not yet counted is counted on the way (a walk of its postings, which
``bm25()`` would make too); otherwise ``bm25()`` ranks and :func:`remember` makes the missing counts
beside a longer statement (the count of a search's matches, while another core ranks them), for later calls.
So a few matches of common words (1,512 titles holding "for" and "graph-based", where "for" alone has
180,014 postings) are scored by the counted one, many matches of rarer words by FTS5's own.
"""

from __future__ import annotations

import re

import apsw

from scholar_catalog.db import bm25, term_docs
from scholar_catalog.db.catalog import Catalog, Connection

from .profiles import frequencies
from .search_plan import PHRASE_RE, Score, compiled

WALK_US = 0.045  # time FTS5's bm25() spends per posting counting a phrase's rows
ROW_US = 1.5  # extra time of the counted score per matched row and phrase
CACHED_PHRASES = 100_000  # phrase counts remembered; past it the cache starts again
_TITLED = re.compile(r"title : \((.*)\)", re.DOTALL)
_TOKENIZER, *_TOKENIZER_ARGS = term_docs.TOKENIZER.split()


def relevance(
    catalog: Catalog, conn: Connection, match: str, weights: tuple[float, ...], matches: float
) -> tuple[Score, list[str]]:
    """How to score the (about) *matches* rows of the FTS5 query *match* with these column weights, and
    the phrases whose counts are worth :func:`remember`-ing for later calls.

    The score is :func:`~.search_plan.compiled` or :data:`~scholar_catalog.db.bm25.NAME` told each
    phrase's count, whichever costs less with the counts known now. *match* is an
    :func:`~.search_plan.fts_query` or one in ``title : (...)``; any other shape, a phrase FTS5 makes no
    term of (it drops it from the query), or a SQLite whose ``bm25()`` rounds otherwise, gets ``bm25()``.
    """
    phrases = _phrases(match)
    if (
        phrases is None
        or not isinstance(conn, apsw.Connection)
        or term_docs.is_stale(conn)
        or not bm25.agrees_with_fts5()
    ):
        return compiled(weights), []
    tokenizer = conn.fts5_tokenizer(_TOKENIZER, _TOKENIZER_ARGS)
    tokens = [_tokens(tokenizer, phrase) for phrase in phrases]
    if not all(tokens):
        return compiled(weights), []
    postings = frequencies(catalog, conn, {t for words in tokens for t in words})
    known = _known(catalog, conn, phrases, tokens)
    walks = [sum(postings.get(t, 0) for t in words) * WALK_US for words in tokens]
    extra = matches * ROW_US * len(phrases)
    if sum(w for w, hits in zip(walks, known, strict=True) if hits is not None) <= extra:
        worth = [p for p, hits in zip(phrases, known, strict=True) if hits is None] if sum(walks) > extra else []
        return compiled(weights), worth
    counts = [
        hits if hits is not None else _count(catalog, conn, phrase) for phrase, hits in zip(phrases, known, strict=True)
    ]
    marks = ", ".join(["?"] * (len(weights) + len(counts)))
    return Score(f"{bm25.NAME}(papers_fts, {marks})", (*weights, *counts)), []


def remember(catalog: Catalog, conn: Connection, phrases: list[str]) -> None:
    """Count *phrases* (from :func:`relevance`) and remember them until the catalog changes (call on the
    thread that owns *catalog*'s caches)."""
    for phrase in phrases:
        _count(catalog, conn, phrase)


def _phrases(match: str) -> list[str] | None:
    """The phrases of *match* in FTS5's order, each with its column filter (``title : "a b"``), or None
    for a query of another shape."""
    titled = _TITLED.fullmatch(match)
    body = titled.group(1) if titled else match
    phrases = PHRASE_RE.findall(body)
    if not phrases or " ".join(f'"{p}"' for p in phrases) != body:
        return None
    column = "title : " if titled else ""
    return [f'{column}"{p}"' for p in phrases]


def _tokens(tokenizer: apsw.FTS5Tokenizer, phrase: str) -> list[str]:
    """The terms FTS5 makes of a phrase's words (its own tokenizer, as the catalog's index has it)."""
    text = phrase[phrase.index('"') :].encode()
    return tokenizer(text, apsw.FTS5_TOKENIZE_QUERY, None, include_offsets=False, include_colocated=False)


def _known(catalog: Catalog, conn: Connection, phrases: list[str], tokens: list[list[str]]) -> list[int | None]:
    """Each phrase's count where it is known without walking postings: a single word anywhere or in
    titles from ``term_docs``, any other phrase if remembered; None where it is not."""
    cache: dict[str, int] = catalog.cached("phrase_hits", dict)
    titles = _title_docs(
        catalog, conn, [words[0] for phrase, words in zip(phrases, tokens, strict=True) if _in_titles(phrase, words)]
    )
    known: list[int | None] = []
    for phrase, words in zip(phrases, tokens, strict=True):
        if len(words) == 1 and not phrase.startswith("title") and term_docs.kept(words[0]):
            known.append(frequencies(catalog, conn, words).get(words[0], 0))
        elif _in_titles(phrase, words):
            known.append(titles[words[0]])
        else:
            known.append(cache.get(phrase))
    return known


def _title_docs(catalog: Catalog, conn: Connection, terms: list[str]) -> dict[str, int]:
    """How many papers hold each of *terms* in their title (``term_docs``), remembered until the catalog changes."""
    cache: dict[str, int] = catalog.cached("title_docs", dict)
    if missing := [t for t in terms if t not in cache]:
        if len(cache) >= CACHED_PHRASES:
            cache.clear()
            missing = terms
        cache.update(term_docs.in_titles(conn, missing))
    return cache


def _in_titles(phrase: str, words: list[str]) -> bool:
    """Whether *phrase* is a single kept term searched in titles (counted in ``term_docs.title_docs``)."""
    return len(words) == 1 and phrase.startswith("title") and term_docs.kept(words[0])


def _count(catalog: Catalog, conn: Connection, phrase: str) -> int:
    """How many papers hold *phrase* (with its column filter), as ``bm25()`` counts them; remembered."""
    cache: dict[str, int] = catalog.cached("phrase_hits", dict)
    if phrase not in cache:
        if len(cache) >= CACHED_PHRASES:
            cache.clear()
        cache[phrase] = conn.execute("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ?", [phrase]).fetchone()[0]
    return cache[phrase]
