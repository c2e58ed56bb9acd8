"""Typo-tolerant title lookup: from misspelt query words to the title words they were meant to be.

:class:`TitleVocabulary` holds every distinct word of the catalog's titles (read once per catalog
version from the ``title_words`` table: about 120,000 words at 250,000 profiles).
:meth:`~TitleVocabulary.variants` gives the title words within one edit of a query word (a letter
dropped, added, changed, or two neighbours swapped: optimal string alignment distance 1), comparing
only words of nearly the same length that share their first or last letters. The full-text index
then finds the titles using those words, so a misspelt search scores a few hundred candidate titles
instead of every title in the catalog.
"""

from __future__ import annotations

import sqlite3

import apsw

from . import title_words

MIN_FUZZY_LENGTH = 4  # shorter words must be spelt right: one edit away from "for" is half the language


class TitleVocabulary:
    """Distinct title words, filed by length and first and last letters."""

    def __init__(self, conn: sqlite3.Connection | apsw.Connection) -> None:
        self.words: frozenset[str] = title_words.vocabulary(conn)
        # An edit touches one letter or two neighbours, so words one edit apart share their first or their
        # last k letters (k = 2 from 5 letters, 3 from 7): each word is filed under both, and a query word
        # is compared only with the words filed under its own.
        self._blocks: dict[tuple[int, str], list[str]] = {}
        for word in self.words:
            for key in _keys(word, len(word)):
                self._blocks.setdefault(key, []).append(word)

    def __len__(self) -> int:
        return len(self.words)

    def variants(self, word: str) -> list[str]:
        """Title words within one edit of *word*: itself first when titles use it, then alphabetically."""
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        found = {word} if word in self.words else set()
        if len(word) >= MIN_FUZZY_LENGTH:
            for length in (len(word) - 1, len(word), len(word) + 1):
                for key in _keys(word, length):
                    words = self._blocks.get(key)
                    if words:
                        hits = process.extract(word, words, scorer=OSA.distance, score_cutoff=1, limit=None)
                        found.update(hit[0] for hit in hits)
        return sorted(found, key=lambda w: (w != word, w))


def _keys(word: str, length: int) -> list[tuple[int, str]]:
    """The blocks of words of *length* letters that may be one edit from *word*."""
    k = 0 if length < 5 else 2 if length < 7 else 3
    return [(length, "")] if k == 0 else [(length, word[:k]), (length, "-" + word[-k:])]


__all__ = ["MIN_FUZZY_LENGTH", "TitleVocabulary"]
