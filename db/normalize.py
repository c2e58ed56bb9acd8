"""Text normalization shared by ingest and queries.

Names and titles are compared through these functions and nowhere else, so
that what ingest stores and what a query looks up can never drift apart.

* :func:`fold` — casefold and strip accents (``Łukasz`` → ``lukasz``), keeping
  letters of any script (``陈明`` stays ``陈明``).
* :func:`normalize_name` — :func:`fold`, punctuation to spaces, whitespace
  collapsed: the key that identifies a listed author.
* :func:`normalize_title` — the same rule, used as the key that deduplicates
  a paper across profiles.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters that Unicode does not decompose into base letter + accent.
_SPECIAL = str.maketrans(
    {
        "ł": "l",
        "Ł": "l",
        "ø": "o",
        "Ø": "o",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "Ð": "d",
        "þ": "th",
        "Þ": "th",
        "ı": "i",
        "ħ": "h",
        "Ħ": "h",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ß": "ss",
        "ẞ": "ss",
        "’": "'",
        "‘": "'",
    }
)

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_SPACES = re.compile(r"\s+")
_ASCII_WORDS = re.compile(r"[a-z0-9]+")
# Accents are dropped only from letters of these scripts (Latin, IPA, Greek, Cyrillic, Armenian);
# elsewhere a combining mark is part of the letter (kana voicing marks, Indic vowel signs).
_FOLDABLE_BELOW = 0x0530


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Casefold *text* and remove accents, keeping characters of every script."""
    if text.isascii():
        return text.casefold()
    # Decomposed first: a compatibility or accented form of one of these letters (𝚤, ǿ) decomposes to it.
    decomposed = unicodedata.normalize("NFKD", text).translate(_SPECIAL)
    kept: list[str] = []
    foldable = True
    for ch in decomposed:
        if unicodedata.combining(ch):
            if foldable:
                continue
        else:
            foldable = ord(ch) < _FOLDABLE_BELOW
        kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept)).casefold()


def _key(text: str) -> str:
    if text.isascii():  # the rule below, for ASCII: lowercase runs of letters and digits, one space apart
        return " ".join(_ASCII_WORDS.findall(text.lower()))
    folded = fold(text)
    if folded.isascii():
        words = _NON_WORD.sub(" ", folded)
    else:
        # Marks (Mn/Mc/Me) that survive folding belong to their letter: keep them inside the word.
        kept: list[str] = []
        in_word = False
        for ch in folded:
            in_word = ch.isalnum() or (in_word and unicodedata.category(ch)[0] == "M")
            kept.append(ch if in_word else " ")
        words = "".join(kept)
    return _SPACES.sub(" ", words.replace("_", " ")).strip()


def normalize_name(name: str) -> str:
    """Return the comparison key of a person's name.

    ``"Zoë  Hartmann"``, ``"zoe hartmann"`` and ``"ZOE HARTMANN"`` share a key;
    hyphens, dots and apostrophes count as spaces (``Jean-Luc`` = ``Jean Luc``).
    """
    return _key(name)


def normalize_title(title: str) -> str:
    """Return the key that identifies a paper by its title.

    Case, accents, punctuation and whitespace do not matter:
    ``"LatentMoE: Toward Optimal…"`` and ``"latentmoe toward optimal"`` share a key.
    """
    return _key(title)
