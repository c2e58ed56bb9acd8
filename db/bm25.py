"""FTS5's ``bm25()`` score, computed from phrase counts the caller already knows.

FTS5's own ``bm25()`` weighs each phrase of a query by how many rows hold it, and counts those rows
anew in every statement by walking the phrase's whole posting list before it scores the first match:
8 ms for "for" in the titles of a 50,000-profile catalog, which a search matching 1,500 titles then
spends on 1,500 scores worth 1.5 ms. :data:`NAME` is the same score as an FTS5 auxiliary function
written in Python (APSW registers it on every reader, :func:`register`), told those counts as
arguments: ``bm25_counted(papers_fts, weight per column..., hits of phrase 1, ..., hits of phrase N)``.
It costs 1-2 us more a matched row than the compiled one (Python and APSW's call), so it pays where
the counts would cost more than the matches (:mod:`scholar_catalog.tools.scoring` decides).

The arithmetic is ``fts5_aux.c``'s step by step (k1 1.2, b 0.75, the IDF floored at 1e-6, each
instance adding its column's weight), in IEEE doubles as there, so the scores are the same numbers
bit for bit (tests/test_bm25.py compares them). The weights must be whole numbers (as the catalog's
are), so that a phrase's weighted count is exact in any order of addition. A compiler may fuse a
multiply and an add into one rounding (the default on some ARM builds), which would move the compiled
function's scores by their last bits: :func:`agrees_with_fts5` checks this library's ``bm25()`` once.
"""

from __future__ import annotations

import functools
import math
from contextlib import closing
from typing import Any

import apsw

NAME = "bm25_counted"
K1 = 1.2
B = 0.75


class CountMismatch(ValueError):
    """bm25_counted was given other than one whole-number weight per column and one count per phrase."""


def register(conn: apsw.Connection) -> None:
    conn.register_fts5_function(NAME, _score)


def _score(api: apsw.FTS5ExtensionApi, *args: Any) -> float:
    prepared = api.aux_data
    if prepared is None:
        prepared = api.aux_data = _prepare(api, args)
    weights, idfs, avgdl = prepared
    norm = K1 * (1 - B + B * api.column_size(-1) / avgdl)
    score = 0.0
    for phrase, idf in enumerate(idfs):
        freq = 0.0
        for column, offsets in enumerate(api.phrase_locations(phrase)):
            if offsets:
                freq += weights[column] * len(offsets)
        score += idf * ((freq * (K1 + 1.0)) / (freq + norm))
    return -1.0 * score


def _prepare(api: apsw.FTS5ExtensionApi, args: tuple[Any, ...]) -> tuple[list[float], list[float], float]:
    columns, phrases = api.column_count, api.phrase_count
    if len(args) != columns + phrases:
        raise CountMismatch(
            f"{NAME}: {columns} weights and {phrases} phrase counts wanted, {len(args)} values given "
            f"({len(args) - columns} phrase counts given for {phrases} phrases)"
        )
    weights = [float(w) for w in args[:columns]]
    if not all(w.is_integer() for w in weights):
        raise CountMismatch(f"{NAME}: the column weights must be whole numbers (got {weights})")
    rows = api.row_count
    idfs = []
    for n in args[columns:]:
        idf = math.log((rows - int(n) + 0.5) / (int(n) + 0.5))
        idfs.append(1e-6 if idf <= 0.0 else idf)
    return weights, idfs, api.column_total_size(-1) / rows


# Queries of agrees_with_fts5's table, each with its phrases as FTS5 counts them.
_CHECKS = (
    ('"for"', ('"for"',)),
    ('"for" "graph"', ('"for"', '"graph"')),
    ('title : ("graph" "for")', ('title : "graph"', 'title : "for"')),
    ('"graph based" "for"', ('"graph based"', '"for"')),
)


@functools.cache
def agrees_with_fts5() -> bool:
    """Whether this SQLite's compiled ``bm25()`` gives :data:`NAME`'s scores bit for bit, on a small
    table of rows of many lengths and term counts (checked once a process, in memory)."""
    with closing(apsw.Connection(":memory:")) as conn:
        register(conn)
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(title, abstract, author_search)")
        conn.executemany(
            "INSERT INTO t VALUES (?, ?, ?)",
            [
                (
                    " ".join(["for"] * (i % 3 + 1) + ["graph"] * (i % 4) + [f"w{i}"] * (i % 7)),
                    " ".join(["based"] * (i % 5) + ["for"] * (i % 2) + [f"x{j}" for j in range(i % 11 + 3)]),
                    " ".join(["graph"] * (i % 2) + [f"y{i}"]),
                )
                for i in range(60)
            ],
        )
        for match, phrases in _CHECKS:
            counts = [conn.execute("SELECT count(*) FROM t WHERE t MATCH ?", [p]).fetchone()[0] for p in phrases]
            for weights in ((10.0, 1.0, 3.0), (3.0, 1.0, 0.0)):
                listed = ", ".join(map(str, weights))
                compiled = conn.execute(f"SELECT bm25(t, {listed}) FROM t WHERE t MATCH ? ORDER BY rowid", [match])
                marks = ", ".join("?" * (len(weights) + len(counts)))
                counted = conn.execute(
                    f"SELECT {NAME}(t, {marks}) FROM t WHERE t MATCH ? ORDER BY rowid", [*weights, *counts, match]
                )
                if compiled.fetchall() != counted.fetchall():
                    return False
    return True
