"""Term statistics for questions by meaning, read from the full-text index ingest keeps.

Ingest keeps every term's document frequency exact, per batch, in the ``term_docs`` table
(:mod:`scholar_catalog.db.term_docs`): the count FTS5's own index would give, without walking
a posting list. Paper vectors are TF-IDF over a paper's title and abstract, computed when
asked from that paper's text and those frequencies. So a changed or removed profile changes
every ranking exactly as a clean rebuild would.

The tokenizer mirrors the index's (``unicode61 remove_diacritics 2``): runs of
letters and digits, case-folded, accents removed.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping

import apsw

from scholar_catalog.db import term_docs

TITLE_WEIGHT = 2  # a title word counts as much as two abstract words

_TOKEN_RE = re.compile(r"[^\W_]+")
# The regex's tokens of an ASCII text, ~7x faster: every byte that is not a letter or a digit becomes
# a space, then str.split.
_ASCII_SPACES = bytes(c if c < 128 and chr(c).isalnum() else 32 for c in range(256))

# Function words and the boilerplate of abstracts: never a topic, whatever their frequency.
_STOPWORDS = """a about above across after again against all almost along also although always am among an and another
    any are around as at be because been before being below between both but by can cannot could did do does
    doing done down during each either enough even ever every few for from further had has have having he her
    here hers him his how however i if in into is it its itself just less many may me might more most much must
    my neither no nor not of off often on once one only onto or other others otherwise our ours out over own per
    rather same several she should since so some such than that the their theirs them then there these they
    this those though through thus to too two under until up upon us very via was we well were what when where
    whether which while who whom whose why will with within without would yet you your
    approach approaches based achieve achieves across allow allows best better called case cases compared
    demonstrate demonstrates describe different effective effectively existing experiments find finds first
    given high improve improved improves improving including introduce introduces key large make makes
    method methods new novel outperform outperforms paper present presents problem problems propose proposed
    proposes provide provides result results second show shows significantly simple state study three
    task tasks use used uses using work works yields"""
STOPWORDS = frozenset(_STOPWORDS.split())


def fold(text: str) -> str:
    """Case-fold and strip accents, as the index does."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _accept(token: str) -> bool:
    return term_docs.kept(token) and token not in STOPWORDS


def _words(text: str) -> list[str]:
    """Every token of *text* as the index splits it (runs of letters and digits, folded)."""
    folded = fold(text)
    if folded.isascii():
        return folded.encode("ascii").translate(_ASCII_SPACES).decode("ascii").split()
    return _TOKEN_RE.findall(folded)


def tokens(text: str) -> list[str]:
    """The index's tokens of *text* that can be topic terms (no stopwords, numbers or single letters)."""
    return [t for t in _words(text) if _accept(t)]


def term_counts(title: str, abstract: str) -> Counter[str]:
    """Weighted term frequencies of one paper: :func:`word_counts` of its topic terms only."""
    return Counter({term: count for term, count in word_counts(title, abstract).items() if _accept(term)})


def word_counts(title: str, abstract: str) -> Counter[str]:
    """Every word of one paper, a title word counting TITLE_WEIGHT times, topic term or not.

    Paper vectors weigh these counts with weights that are 0 for any other word (:func:`is_topic_term`),
    which spares them the filtering pass of :func:`term_counts`.
    """
    counts = Counter(_words(abstract))
    title_words = _words(title)
    for _ in range(TITLE_WEIGHT):
        counts.update(title_words)
    return counts


def is_topic_term(word: str) -> bool:
    """Whether *word* (a token of :func:`word_counts`) can be a topic term at all."""
    return _accept(word)


VOCAB_TABLE = "temp.papers_vocab"


def ensure_vocab(conn: sqlite3.Connection | apsw.Connection) -> None:
    """Create the connection's ``fts5vocab`` view of the index (in the temp schema, once per connection).

    Read-only catalog connections run with ``query_only``, which refuses even temp tables:
    it is lifted for this one statement (``mode=ro`` still keeps the catalog itself unwritable).
    """
    if conn.execute("SELECT 1 FROM temp.sqlite_master WHERE name = 'papers_vocab'").fetchone():
        return
    query_only = conn.execute("PRAGMA query_only").fetchone()[0]
    try:
        conn.execute("PRAGMA query_only = OFF")
        conn.execute(f"CREATE VIRTUAL TABLE {VOCAB_TABLE} USING fts5vocab(main, papers_fts, row)")
    finally:
        conn.execute(f"PRAGMA query_only = {int(query_only)}")


def document_frequencies(
    conn: sqlite3.Connection | apsw.Connection, terms: Iterable[str], cache: dict[str, int] | None = None
) -> dict[str, int]:
    """How many papers contain each term (any indexed column); terms no paper has are left out.

    One index lookup per term in the ``term_docs`` table ingest keeps (:mod:`scholar_catalog.db.term_docs`);
    while an ingest building much of the catalog has deferred those counts to its end, FTS5 counts them
    itself (``fts5vocab`` walks each term's postings: slower, same answer). *cache* (valid while the
    catalog is unchanged) remembers every answer.
    """
    cache = {} if cache is None else cache
    wanted = sorted({t for t in terms if t not in cache})
    if wanted:
        if term_docs.is_stale(conn):
            ensure_vocab(conn)
            sql = f"SELECT term, doc FROM {VOCAB_TABLE} WHERE term IN (SELECT value FROM json_each(?))"
        else:
            sql = f"SELECT term, docs FROM {term_docs.TABLE} WHERE term IN (SELECT value FROM json_each(?))"
        found = dict(conn.execute(sql, [json.dumps(wanted)]).fetchall())
        if len(cache) > 500_000:
            cache.clear()
        for term in wanted:
            cache[term] = found.get(term, 0)
    return {t: cache[t] for t in terms if cache.get(t)}


def idf(df: int, papers: int) -> float:
    """BM25's inverse document frequency (always positive)."""
    return math.log(1.0 + (papers - df + 0.5) / (df + 0.5))


def weigh(counts: Mapping[str, float], dfs: Mapping[str, int], papers: int) -> dict[str, float]:
    """TF-IDF (log-scaled tf) of *counts*, L2-normalized; terms absent from the index are dropped."""
    return weigh_idf(counts, {t: idf(dfs[t], papers) for t in counts if t in dfs})


def weigh_idf(counts: Mapping[str, float], idfs: Mapping[str, float]) -> dict[str, float]:
    """:func:`weigh` with each term's :func:`idf` given (0 or missing: a term absent from the index)."""
    log_tf, known, get = _LOG_TF, len(_LOG_TF), idfs.get
    vector = {
        t: (log_tf[c] if c < known else 1.0 + math.log(c)) * w
        for t, c in counts.items()
        if c > 0 and (w := get(t, 0.0))
    }
    norm = math.sqrt(sum([w * w for w in vector.values()]))
    return {t: w / norm for t, w in vector.items()} if norm else {}


_LOG_TF = [0.0] + [1.0 + math.log(c) for c in range(1, 64)]


def centroid(vectors: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """The L2-normalized sum of *vectors*: a person's profile from their papers' vectors."""
    total: dict[str, float] = {}
    for vector in vectors:
        for term, weight in vector.items():
            total[term] = total.get(term, 0.0) + weight
    norm = math.sqrt(sum([w * w for w in total.values()]))
    return {t: w / norm for t, w in total.items()} if norm else {}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine of two L2-normalized vectors."""
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def top_terms(vector: Mapping[str, float], k: int) -> list[tuple[str, float]]:
    """The *k* heaviest terms, heaviest first (ties by term, so the order is stable)."""
    return sorted(vector.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


def fts_any(terms: Iterable[str]) -> str:
    """An FTS5 query matching papers with any of *terms* in the title or abstract (never author names).

    Terms come from :func:`tokens`, so they are letters and digits only; each is quoted anyway.
    """
    quoted = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
    return "{title abstract} : (" + quoted + ")"
