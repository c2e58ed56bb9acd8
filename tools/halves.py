"""A search's long statements run as two halves of the paper ids at once, on two cores.

A statement over the full-text matches of common words spends its time walking their postings and
joining each match to its paper; SQLite runs it without Python's global lock, so the matches with the
lower and the upper half of the paper ids can be read at once on two connections
(:meth:`~scholar_catalog.db.catalog.Catalog.in_parallel`), and the halves' answers put together
are the whole statement's: counts add up, and rows sort as one ``ORDER BY`` would (bm25 scores a match
the same whichever ids a statement reads: its term weights count the whole index). Searches with few
postings run whole, where a second thread would cost more than it saves. The topic tools' candidate
search (:func:`best_matches`) is split the same way.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from itertools import islice
from typing import Any, TypeVar

from scholar_catalog.db import term_docs
from scholar_catalog.db.catalog import Catalog, Connection, Cursor

from .profiles import frequencies
from .search_plan import Plan, Ranked, Score, largest_paper_id, phrase_terms

T = TypeVar("T")

SPLIT_POSTINGS = 20_000  # postings of a search's words past which its statements run in halves
# The topic tools' candidate search scores every match with bm25 over up to 24 words (~1.5 us a match):
# halves pay off from a few thousand postings.
TOPIC_SPLIT_POSTINGS = 3_000
LAST_ID = 2**63 - 1


def split(catalog: Catalog, conn: Connection, plan: Plan) -> tuple[Plan, Plan] | None:
    """The plan's lower and upper halves by paper id, or None where running it whole is cheaper: no
    words, an author's papers driving it (a few rows), or its words' postings (``term_docs``) few."""
    if not plan.match or plan.author_id is not None or plan.ids is not None or term_docs.is_stale(conn):
        return None
    if postings(catalog, conn, plan.match) <= SPLIT_POSTINGS:
        return None
    (low, middle), (above, last) = _bounds(catalog, conn)
    return plan.within(low, middle), plan.within(above, last)


def postings(catalog: Catalog, conn: Connection, match: str) -> int:
    """How many postings (``term_docs``) the words of an FTS5 query *match* have: what its statements walk."""
    return sum(frequencies(catalog, conn, set().union(*phrase_terms(match))).values())


def _bounds(catalog: Catalog, conn: Connection) -> tuple[tuple[int, int], tuple[int, int]]:
    """The lower and upper half of the paper ids, as (first, last) ranges."""
    middle = largest_paper_id(catalog, conn) // 2
    return (0, middle), (middle + 1, LAST_ID)


def _run(catalog: Catalog, conn: Connection, plan: Plan, step: Callable[[Plan, Connection], T]) -> tuple[T, T] | None:
    halves = split(catalog, conn, plan)
    if halves is None:
        return None
    low, high = halves
    return catalog.in_parallel(lambda c: step(low, c), lambda c: step(high, c))


def count(catalog: Catalog, conn: Connection, plan: Plan, cap: int) -> tuple[int, bool]:
    """:meth:`Plan.count`."""
    both = _run(catalog, conn, plan, lambda p, c: p.count(c, cap))
    if both is None:
        return plan.count(conn, cap)
    (low, low_exact), (high, high_exact) = both
    total = low + high
    return (cap, False) if not (low_exact and high_exact) or total > cap else (total, True)


def ranked(
    catalog: Catalog,
    conn: Connection,
    plan: Plan,
    cap: int,
    top: int,
    count_first: bool = True,
    score: Score | None = None,
) -> Ranked | None:
    """:meth:`Plan.ranked`."""
    both = _run(catalog, conn, plan, lambda p, c: p.ranked(c, cap, top, count_first, score=score))
    if both is None:
        return plan.ranked(conn, cap, top, count_first, score=score)
    return _merged(*both, cap, top, lambda r: (r[1], -r[0]))  # ORDER BY bm25(...), rowid DESC


def newest_first(catalog: Catalog, conn: Connection, plan: Plan, cap: int, top: int) -> Ranked | None:
    """:meth:`Plan.newest_first`."""
    both = _run(catalog, conn, plan, lambda p, c: p.newest_first(c, cap, top))
    if both is None:
        return plan.newest_first(conn, cap, top)
    return _merged(*both, cap, top, lambda r: (r[1], r[0]), newest=True)  # ORDER BY p.date DESC, p.id DESC


def _merged(
    low: Ranked | None, high: Ranked | None, cap: int, top: int, key: Callable[[Any], Any], newest: bool = False
) -> Ranked | None:
    if low is None or high is None or low.total + high.total > cap:
        return None
    return Ranked(sorted(low.first + high.first, key=key, reverse=newest)[:top], low.total + high.total)


def count_by(catalog: Catalog, conn: Connection, plan: Plan, column: str) -> list[tuple[object, int, int]]:
    """:meth:`Plan.count_by` (rows in no particular order)."""
    both = _run(catalog, conn, plan, lambda p, c: p.count_by(c, column))
    if both is None:
        return plan.count_by(conn, column)
    papers: Counter[object] = Counter()
    with_code: Counter[object] = Counter()
    for key, n, k in [*both[0], *both[1]]:
        papers[key] += n
        with_code[key] += k or 0
    return [(key, papers[key], with_code[key]) for key in papers]


def best_matches(
    catalog: Catalog,
    conn: Connection,
    match: str,
    statement: Callable[[Connection, int, int], Cursor],
    limit: int,
) -> list[Any]:
    """The first *limit* rows of ``statement(conn, first_id, last_id)``: a query over the matches of
    *match* with paper ids in that range, rows ``(paper id, bm25)`` ordered by ``bm25, paper id`` (its
    ``LIMIT`` at least *limit*). Run whole, or in halves at once when *match*'s words have more than
    :data:`TOPIC_SPLIT_POSTINGS` postings."""
    if postings(catalog, conn, match) <= TOPIC_SPLIT_POSTINGS:
        return statement(conn, 0, LAST_ID).fetchall()
    (first, middle), (above, last) = _bounds(catalog, conn)
    low, high = catalog.in_parallel(lambda c: statement(c, first, middle), lambda c: statement(c, above, last))
    # Each statement sorted its matches in its first step, in its own thread. The rows are read here, one
    # cursor after the other: two threads reading rows at once hand Python's lock back and forth at every row.
    with closing(low), closing(high):
        return list(islice(heapq.merge(low, high, key=lambda row: (row[1], row[0])), limit))
