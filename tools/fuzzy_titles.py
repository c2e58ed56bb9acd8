"""``search_papers``' fallback when no paper holds every word: the closest titles, typos forgiven."""

from __future__ import annotations

import itertools

from scholar_catalog.db.catalog import Catalog, Connection
from scholar_catalog.db.normalize import normalize_title
from scholar_catalog.db.terms import STOPWORDS
from scholar_catalog.db.titles import MIN_FUZZY_LENGTH

from .common import PAPER_COLUMNS, paper_summary
from .models import PaperSummary
from .search_plan import MAX_TERMS, Plan

FUZZY_CUTOFF = 75.0
FUZZY_CANDIDATES = 300  # titles a misspelt query scores in full, at each step
MAX_PHRASES = 16  # spellings of a misspelt query tried as phrases


def fuzzy_titles(
    catalog: Catalog,
    conn: Connection,
    query: str,
    filters: str,
    params: list[object],
    limit: int,
    author_id: int | None,
) -> tuple[list[PaperSummary], int]:
    """The titles closest to a query no paper matches word for word, best first (at most *limit*).

    Each query word stands for itself or the title words one edit from it. Candidates are the titles
    holding the corrected words as a phrase; failing that, every corrected content word; failing that,
    any of them (newest FUZZY_CANDIDATES at each step). They are scored as the whole title list once
    was: ``partial_ratio``, the query aligned with the best-matching stretch of a title, so a misspelt
    title (or a piece of one) matches, and sharing one common word ("for") does not.
    """
    from rapidfuzz import fuzz

    key = normalize_title(query)
    vocabulary = catalog.titles()
    spelt: list[list[str]] = []  # each word's spellings in titles, the word as typed first
    content: list[list[str]] = []  # the same for words that can mark a title (no function words)
    for word in dict.fromkeys(key.split()[:MAX_TERMS]):
        found = vocabulary.variants(word) if len(word) >= MIN_FUZZY_LENGTH else []
        if word not in STOPWORDS:
            found = [w for w in found if w not in STOPWORDS]
        if not found and word in vocabulary.words:
            found = [word]
        if found:
            spelt.append(found)
            if word not in STOPWORDS and len(found[0]) >= MIN_FUZZY_LENGTH - 1:
                content.append(found)
    searches = []
    phrases = list(itertools.islice(itertools.product(*spelt), MAX_PHRASES))
    if len(spelt) > 1 and phrases:
        searches.append(" OR ".join('"' + " ".join(words) + '"' for words in phrases))
    if content:
        searches.append(" AND ".join("(" + " OR ".join(f'"{w}"' for w in group) + ")" for group in content))
        if len(content) > 1:
            searches.append(" OR ".join(f'"{w}"' for group in content for w in group))
    for search in searches:
        candidates = title_candidates(conn, "{title} : (" + search + ")", author_id, filters, params)
        scored = sorted(
            (-fuzz.partial_ratio(key, title_norm), rank, paper_id)
            for rank, (paper_id, title_norm) in enumerate(candidates)
        )
        ranked = [paper_id for score, _, paper_id in scored if -score >= FUZZY_CUTOFF][:limit]
        if ranked:
            marks = ",".join("?" * len(ranked))
            rows = {
                r[0]: r
                for r in conn.execute(f"SELECT {PAPER_COLUMNS}, NULL FROM papers p WHERE p.id IN ({marks})", ranked)
            }
            return [paper_summary(rows[i]) for i in ranked if i in rows], len(ranked)
    return [], 0


def title_candidates(
    conn: Connection, match: str, author_id: int | None, filters: str, params: list[object]
) -> list[tuple[int, str]]:
    """(paper_id, title_norm) of the newest FUZZY_CANDIDATES papers passing the filters that *match*."""
    base, args = Plan(match, author_id, filters, params)._from("date")  # any sort but relevance joins facets
    select = f"SELECT p.id, (SELECT t.title_norm FROM papers t WHERE t.id = p.id) {base}"
    if author_id is not None:
        return conn.execute(f"{select} ORDER BY p.id DESC LIMIT ?", [*args, FUZZY_CANDIDATES]).fetchall()
    # Most corrected words are in a few titles: take them all in the index's order and sort them here. A
    # common one is in thousands: then the index walks its matches newest first (its rowid is p.id) and
    # stops at the limit, instead of all of them being sorted (90 -> 2 ms for a word in 3,000 titles at
    # 50,000 profiles). Walking backwards costs more per match, so only then.
    rows = conn.execute(f"{select} LIMIT ?", [*args, FUZZY_CANDIDATES + 1]).fetchall()
    if len(rows) <= FUZZY_CANDIDATES:
        return sorted(rows, key=lambda row: row[0], reverse=True)
    return conn.execute(f"{select} ORDER BY papers_fts.rowid DESC LIMIT ?", [*args, FUZZY_CANDIDATES]).fetchall()
