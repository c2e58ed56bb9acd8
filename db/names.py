"""Name matching: from whatever a user typed to the people in the catalog.

A person is either a *profile* (the owner of a profile file) or a *listed
author* (a normalized name seen in author lists only). Resolution goes:

1. exact match on the normalized name (case, accents, punctuation and
   whitespace ignored) — ``confidence`` 1.0;
2. otherwise fuzzy match with rapidfuzz's ``WRatio`` (typos, partial names:
   ``Khattar`` finds ``Abhinav Khattar``) against the names that could match
   (:meth:`NameIndex.fuzzy`); the best match is accepted above
   :data:`ACCEPT_SCORE`, and the answer says so.

The index is an in-memory list of distinct normalized names, built once per
catalog version (about 60 bytes a name).
"""

from __future__ import annotations

import bisect
import sqlite3
from array import array
from dataclasses import dataclass, field

import apsw

from .normalize import normalize_name

ACCEPT_SCORE = 82.0  # below this a fuzzy match is a suggestion, not an answer
SUGGEST_SCORE = 50.0
TOKEN_SCORE = 75.0  # a query token this close to a name token makes that name a candidate
TOKEN_NEIGHBOURS = 50
MIN_PART = 2  # the shortest name token looked for in a run-together name ("liwei": li + wei)
FALLBACK_NAMES = 10_000  # names scored at most when no name shares a token with the query
MAX_NAME_KEY = 100  # a longer query is cut here: no name is that long, and scoring grows with length
MAX_SPLITS = 4  # ways of splitting one run-together token whose second part is looked up fuzzily


@dataclass(slots=True, frozen=True)
class Person:
    """One author row: a profile owner (``profile_id`` set) or a listed name."""

    author_id: int
    name: str
    profile_id: str | None


@dataclass(slots=True)
class NameMatch:
    """The people one normalized name stands for, and how well it matched the query."""

    key: str
    score: float
    people: list[Person] = field(default_factory=list)

    @property
    def display(self) -> str:
        return self.people[0].name if self.people else self.key


class NameIndex:
    """Distinct normalized names of a catalog, searchable exactly and fuzzily.

    Exact lookups go straight to SQLite. The in-memory part (every distinct name, and
    a token → names map) is built on the first fuzzy or completion query only. A fuzzy
    query scores just the *candidates*: names sharing a token with the query, a token
    within a typo of one of its tokens, or the tokens a run-together one is made of (a
    missing space). So ``Ritika Borker`` is scored against the few names containing
    ``ritika`` (or a token like ``borker``), not against every name in the catalog.
    When there are none, the names holding the tokens closest to the query's are scored
    (at most FALLBACK_NAMES): never every name, which takes seconds at 700,000 names.
    """

    def __init__(self, conn: sqlite3.Connection | apsw.Connection) -> None:
        self._conn = conn
        self._keys: list[str] | None = None
        self._by_token: dict[str, array[int]] = {}
        self._vocabulary: list[str] = []

    @property
    def keys(self) -> list[str]:
        if self._keys is None:
            # DISTINCT already makes the keys unique (as strings); only empty keys are left out.
            rows = self._conn.execute("SELECT DISTINCT name_norm FROM authors ORDER BY name_norm").fetchall()
            keys = [key for (key,) in rows if key]
            by_token: dict[str, array[int]] = {}
            for i, key in enumerate(keys):
                for token in set(key.split()):
                    found = by_token.get(token)
                    if found is None:
                        by_token[token] = found = array("i")
                    found.append(i)
            self._by_token = by_token
            self._vocabulary = list(by_token)
            self._keys = keys
        return self._keys

    def __len__(self) -> int:
        return len(self.keys)

    def people(self, key: str) -> list[Person]:
        """Every author row with normalized name *key*: profiles first, then the listed name."""
        rows = self._conn.execute(
            """SELECT id, name, profile_id FROM authors WHERE name_norm = ?
               ORDER BY profile_id IS NULL, profile_id""",
            [key],
        ).fetchall()
        return [Person(r[0], r[1], r[2]) for r in rows]

    def exact(self, query: str) -> NameMatch | None:
        key = normalize_name(query)
        if not key:
            return None
        people = self.people(key)
        return NameMatch(key, 100.0, people) if people else None

    def _candidates(self, key: str) -> list[str] | None:
        """Names sharing a token (or a token within a typo) with *key*; None when there are none.

        A token that is neither a name token nor within a typo of one may be two run together
        ("alejandrogopalani"): the names holding its parts are candidates then (see :meth:`_parts`).
        """
        keys = self.keys
        chosen: set[int] = set()
        tokens = set(key.split())
        # An initial ("a" of "Alessandro A. Khattar") is shared by a tenth of all names and tells little:
        # it brings candidates only when the query has nothing longer.
        tokens = {t for t in tokens if len(t) > 1} or tokens
        for token in tokens:
            if (exact := self._by_token.get(token)) is not None:
                chosen.update(exact)
            near = self._near(token) if len(token) >= 3 else []
            for similar in near:
                chosen.update(self._by_token[similar])
            if exact is None and not near:
                for part in self._parts(token):
                    chosen.update(self._by_token[part])
        # In row (alphabetical) order: a limit cutting through equal scores keeps the first of them.
        return [keys[i] for i in sorted(chosen)] if chosen else None

    def _near(self, token: str) -> list[str]:
        """Name tokens within a typo of *token* (at most TOKEN_NEIGHBOURS, closest first)."""
        from rapidfuzz import fuzz, process

        hits = process.extract(
            token, self._vocabulary, scorer=fuzz.ratio, limit=TOKEN_NEIGHBOURS, score_cutoff=TOKEN_SCORE
        )
        return [similar for similar, _, _ in hits]

    def _parts(self, token: str) -> set[str]:
        """Name tokens that *token* is two of, run together: a name token at either end, and the rest as a
        name token or its typo neighbours ("alejandrogoplani": alejandro, and gopalani near goplani).

        An end of fewer than 3 letters counts only when the rest is a name token too ("liwei": li, wei).
        The typo neighbours of at most MAX_SPLITS rests are looked for, those after the longest ends first.
        """
        by_token = self._by_token
        ends = [
            pair
            for cut in range(MIN_PART, len(token) - MIN_PART + 1)
            for pair in ((token[:cut], token[cut:]), (token[cut:], token[:cut]))
            if pair[0] in by_token
        ]
        parts: set[str] = set()
        searched = 0
        for end, rest in sorted(ends, key=lambda pair: -len(pair[0])):
            if rest in by_token:
                parts.update((end, rest))
            elif len(end) >= 3 and len(rest) >= 3 and searched < MAX_SPLITS:
                searched += 1
                parts.add(end)
                parts.update(self._near(rest))
        return parts

    def _closest(self, key: str) -> list[str]:
        """For a *key* no name shares a token with, not even within a typo: the names holding the name
        tokens closest to its own (by `ratio`), the closest tokens' names first, up to FALLBACK_NAMES."""
        from rapidfuzz import fuzz, process

        ranked = sorted(
            (-score, position, similar)
            for token in set(key.split())
            for similar, score, position in process.extract(
                token, self._vocabulary, scorer=fuzz.ratio, processor=None, limit=TOKEN_NEIGHBOURS
            )
        )
        chosen: set[int] = set()
        for _, _, similar in ranked:
            if len(chosen) >= FALLBACK_NAMES:
                break
            chosen.update(self._by_token[similar])
        return [self.keys[i] for i in sorted(chosen)]

    def fuzzy(self, query: str, limit: int = 5, cutoff: float = SUGGEST_SCORE) -> list[NameMatch]:
        """The *limit* best fuzzy matches for *query*, best first, each scored 0–100."""
        key = normalize_name(query)[:MAX_NAME_KEY]
        if not key or not self.keys:
            return []
        from rapidfuzz import fuzz, process

        choices = self._candidates(key) or self._closest(key)
        hits = process.extract(key, choices, scorer=fuzz.WRatio, processor=None, limit=limit, score_cutoff=cutoff)
        hits.sort(key=lambda hit: (-hit[1], hit[0]))  # equal scores in a stable (alphabetical) order
        return [NameMatch(choice, float(score), self.people(choice)) for choice, score, _ in hits]

    def complete(self, prefix: str, limit: int = 20) -> list[str]:
        """Names starting with *prefix* (normalized), for argument completion."""
        key = normalize_name(prefix)

        start = bisect.bisect_left(self.keys, key)
        out: list[str] = []
        for candidate in self.keys[start:]:
            if not candidate.startswith(key) or len(out) >= limit:
                break
            out.append(candidate)
        return out


__all__ = ["ACCEPT_SCORE", "NameIndex", "NameMatch", "Person"]
