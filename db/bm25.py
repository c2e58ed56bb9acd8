"""FTS5's ``bm25()`` score, computed from phrase counts the caller already knows.

FTS5's own ``bm25()`` weighs each phrase of a query by how many rows hold it, and counts those rows
anew in every statement by walking the phrase's whole posting list before it scores the first match:
8 ms for "for" in the titles of a 50,000-profile catalog, which a search matching 1,500 titles then
spends on 1,500 scores worth 1.5 ms. :data:`NAME` is the same score as an FTS5 auxiliary function
written in Python (APSW registers it on every reader, :func:`register`), told those counts as
arguments: ``bm25_counted(papers_fts, weight, ..., hits of phrase 1, ..., hits of phrase N)``. It
costs 1-2 us more a matched row than the compiled one (Python and APSW's call), so it pays where
the counts would cost more than the matches (:mod:`scholar_catalog.tools.scoring` decides).

The arithmetic is ``fts5_aux.c``'s step by step (k1 1.2, b 0.75, the IDF floored at 1e-6, each
instance adding its column's weight), in IEEE doubles as there, so the scores are the same numbers
bit for bit and a ranking by either is the same ranking (tests/test_bm25.py compares them). The
weights must be whole numbers (as the catalog's are), so that a phrase's weighted count is exact
in any order of addition.
"""

from __future__ import annotations

import math
from typing import Any

import apsw

NAME = "bm25_counted"
K1 = 1.2
B = 0.75


class CountMismatch(ValueError):
    """bm25_counted was given a number of counts other than the query's number of phrases."""


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
    columns = api.column_count
    weights = [float(w) for w in args[:columns]] + [1.0] * max(0, columns - len(args))
    hits = args[columns:]
    if len(hits) != api.phrase_count:
        raise CountMismatch(f"{NAME}: {len(hits)} phrase counts given for {api.phrase_count} phrases")
    rows = api.row_count
    idfs = []
    for n in hits:
        idf = math.log((rows - int(n) + 0.5) / (int(n) + 0.5))
        idfs.append(idf if idf > 0.0 else 1e-6)
    return weights, idfs, api.column_total_size(-1) / rows
