"""Name matching: from whatever a user typed to the people in the catalog.

A person is either a *profile* (the owner of a profile file) or a *listed
author* (a normalized name seen in author lists only). Resolution goes:

1. exact match on the normalized name (case, accents, punctuation and
   whitespace ignored) — ``confidence`` 1.0;
2. otherwise fuzzy match with rapidfuzz's ``WRatio`` (typos, partial names:
   ``Khattar`` finds ``Abhinav Khattar``) against every known name; the best
   match is accepted above :data:`ACCEPT_SCORE`, and the answer says so.

The index is an in-memory list of distinct normalized names, built once per
catalog version (about 60 bytes a name).
"""

from __future__ import annotations

import bisect
import sqlite3
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from .normalize import normalize_name

ACCEPT_SCORE = 82.0  # below this a fuzzy match is a suggestion, not an answer
SUGGEST_SCORE = 50.0


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
    """Distinct normalized names of a catalog, searchable exactly and fuzzily."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        # DISTINCT already makes the keys unique (as strings); only empty keys are left out.
        rows = conn.execute("SELECT DISTINCT name_norm FROM authors ORDER BY name_norm").fetchall()
        self.keys: list[str] = [key for (key,) in rows if key]
        self._conn = conn

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

    def fuzzy(self, query: str, limit: int = 5, cutoff: float = SUGGEST_SCORE) -> list[NameMatch]:
        """The *limit* best fuzzy matches for *query*, best first, each scored 0–100."""
        key = normalize_name(query)
        if not key or not self.keys:
            return []
        hits = process.extract(
            key,
            self.keys,
            scorer=fuzz.WRatio,
            processor=None,
            limit=limit,
            score_cutoff=cutoff,
        )
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
