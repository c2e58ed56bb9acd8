"""Which function scores a search's matches by relevance: FTS5's ``bm25()``, or the same scores from
phrase counts known beforehand (:mod:`scholar_catalog.db.bm25`).

Both give every match the same score, so the choice changes only the time. FTS5's ``bm25()`` counts
the rows holding each phrase by walking the phrase's postings (~0.045 us each here) before its first
score; the counted one costs ~1.5 us more per matched row and phrase, but takes the counts from
``term_docs`` (a single word anywhere, kept exact by ingest) or from counts remembered until the
catalog changes (a phrase of several words, or a word in titles only: counted once, by FTS5 itself).
So a few matches of common words (1,512 titles holding "for" and "graph-based", where "for" alone
has 180,014 postings) are scored by the counted one, many matches of rarer words by FTS5's own.
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


def relevance(catalog: Catalog, conn: Connection, match: str, weights: tuple[float, ...], matches: float) -> Score:
    """The cheaper way to score the (about) *matches* rows of the FTS5 query *match* with these
    column weights: :func:`compiled`, or :data:`~scholar_catalog.db.bm25.NAME` told each phrase's
    count. *match* is an :func:`~.search_plan.fts_query` or one in ``title : (...)``; any other shape
    is scored by :func:`compiled`."""
    phrases = _phrases(match)
    if phrases is None or not isinstance(conn, apsw.Connection) or term_docs.is_stale(conn):
        return compiled(weights)
    tokenizer = conn.fts5_tokenizer(*_tokenizer_spec())
    tokens = [_tokens(tokenizer, phrase) for phrase in phrases]
    postings = frequencies(catalog, conn, {t for words in tokens for t in words})
    walked = sum(postings.get(t, 0) for words in tokens for t in words)
    if walked * WALK_US <= matches * ROW_US * len(phrases):
        return compiled(weights)
    hits = [_hits(catalog, conn, phrase, words) for phrase, words in zip(phrases, tokens, strict=True)]
    marks = ", ".join(["?"] * (len(weights) + len(hits)))
    return Score(f"{bm25.NAME}(papers_fts, {marks})", (*weights, *hits))


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


def _tokenizer_spec() -> tuple[str, list[str]]:
    name, *args = term_docs.TOKENIZER.split()
    return name, args


def _hits(catalog: Catalog, conn: Connection, phrase: str, words: list[str]) -> int:
    """How many papers hold *phrase* (with its column filter): what ``bm25()`` counts for it."""
    if len(words) == 1 and not phrase.startswith("title") and term_docs.kept(words[0]):
        return frequencies(catalog, conn, words).get(words[0], 0)
    cache: dict[str, int] = catalog.cached("phrase_hits", dict)
    if phrase not in cache:
        if len(cache) >= CACHED_PHRASES:
            cache.clear()
        cache[phrase] = conn.execute("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ?", [phrase]).fetchone()[0]
    return cache[phrase]
