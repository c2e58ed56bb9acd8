"""How a paper's stored fields are merged from the listings of it that profiles give (ingest's rules).

* The title is the first listing's (by profile id), the abstract the longest (the first of equals).
* The author line is the fullest (most names, complete before "et al."); the date and category are
  those of the listing with the latest date given with a year (year-less dates lose).
* Every owner of a listing profile is an author: a listed name equal to the owner's name is the owner;
  owners not listed are added to the names shown and searched.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from .normalize import normalize_name, normalize_title
from .parser import AUTHORS_SEP, Profile, _split_authors

# refresh_paper's view of a paper's listings (a listing's title and abstract are NULL where they are the paper's).
_LISTING_COLUMNS = """l.date, l.date_raw, l.category, l.has_code, l.authors_raw, a.id, a.name, a.name_norm,
    coalesce(l.title, p.title), length(coalesce(l.abstract, p.abstract)), l.profile_id"""
_LISTING_JOINS = "listings l JOIN authors a ON a.profile_id = l.profile_id JOIN papers p ON p.id = l.paper_id"

_UPDATE_PAPER = """UPDATE papers SET title = ?, abstract = ?, date = ?, year = ?, category = ?, has_code = ?,
    authors_listed = ?, authors_truncated = ?, affiliations = ?, author_names = ?, author_search = ? WHERE id = ?"""

# What json.dumps(items, ensure_ascii=False) writes for a list of strings, without building an encoder
# per call (the encoder object cost ~5x the text itself; two calls per listing at ingest).
_quote = json.encoder.encode_basestring


def _json(items: list[str]) -> str:
    return "[" + ", ".join(map(_quote, items)) + "]"


# The same names and author lines come back for every listing of a paper: remember their keys and splits.
_name_key = functools.lru_cache(maxsize=1 << 16)(normalize_name)
_title_key = functools.lru_cache(maxsize=1 << 15)(normalize_title)  # a shared paper's title comes back soon


def listing_fields(profile: Profile) -> tuple[list[str], list[str]]:
    """Each entry's title key (what finds its paper) and author line as its listing stores it.

    Computed where the file is parsed (a read-ahead worker, when there is one), not by the writer.
    """
    keys = [_title_key(entry.title) or entry.title.casefold() for entry in profile.entries]
    lines = []
    for entry in profile.entries:
        line = ", ".join(entry.authors) + (" et al." if entry.authors_truncated else "")
        lines.append(line + AUTHORS_SEP + ", ".join(entry.affiliations) if entry.affiliations else line)
    return keys, lines


@dataclass(slots=True)
class _Known:
    """What refresh_paper would read about a paper, as far as the caller already knows it (None: not known)."""

    listings: list[Any]
    abstract: str | None = None  # of the fullest listing
    row: tuple[Any, ...] | None = None  # the papers row, as _UPDATE_PAPER's first eleven columns
    authors: dict[int, list[Any]] | None = None  # paper_authors: author_id -> [position, is_owner]
    affiliations: set[int] | None = None  # paper_affiliations ids


@dataclass(slots=True)
class _Merged:
    """A paper's fields merged from its listings: what refresh_paper stores."""

    names: list[str]  # the chosen author line's names, and their keys
    name_keys: list[str]
    affiliations: list[str]
    owners: dict[str, int]  # owner name key -> owner author id (first listing wins)
    owner_names: dict[int, str]  # owner author id -> name
    values: tuple[Any, ...]  # the papers row, as _UPDATE_PAPER's first eleven columns


def _merge(listings: list[Any], abstract: str) -> _Merged:
    """Merge *listings* (refresh_paper's query rows, ordered by profile id); *abstract* is the fullest's."""
    # The fullest author line wins; dates given with a year beat year-less ones.
    if len(listings) == 1:  # what the max() calls below pick from one listing
        names, truncated, affiliations, name_keys, names_json, affiliations_json = _split(listings[0][4])
        when, category = listings[0][0], listings[0][2]
        has_code = int(bool(listings[0][3]))
    else:
        split = [_split(listing[4]) for listing in listings]
        best = max(range(len(listings)), key=lambda i: (len(split[i][0]), not split[i][1], -i))
        names, truncated, affiliations, name_keys, names_json, affiliations_json = split[best]
        dated = max(range(len(listings)), key=lambda i: ("," in listings[i][1], listings[i][0], -i))
        when, category = listings[dated][0], listings[dated][2]
        has_code = int(any(listing[3] for listing in listings))
    owners: dict[str, int] = {}
    owner_names: dict[int, str] = {}
    for listing in listings:
        owners.setdefault(listing[7], listing[5])
        owner_names[listing[5]] = listing[6]
    listed_keys = set(name_keys)
    hidden = [n for n in owner_names.values() if _name_key(n) not in listed_keys]
    everyone = [*names, *hidden]
    values = (
        listings[0][8],  # the title as the first listing (by profile id) writes it
        abstract,  # the longest abstract any listing gives
        when,
        int(when[:4]),
        category,
        has_code,
        names_json,
        int(truncated),
        affiliations_json,
        ", ".join(everyone),
        _searchable_names(everyone),
    )
    return _Merged(names, name_keys, affiliations, owners, owner_names, values)


def _fullest(listings: list[Any]) -> int:
    """Which listing gives the longest abstract (the first of equals)."""
    return 0 if len(listings) == 1 else max(range(len(listings)), key=lambda i: (listings[i][9], -i))


@functools.lru_cache(maxsize=1 << 14)
def _split(authors_raw: str) -> tuple[list[str], bool, list[str], list[str], str, str]:
    """_split_authors of a listing's author line, with each name's key and the JSON of names and affiliations.

    Cached: every listing of a paper brings its line back at each refresh. Callers never mutate the lists.
    """
    names, truncated, affiliations = _split_authors(authors_raw)
    return names, truncated, affiliations, [_name_key(n) for n in names], _json(names), _json(affiliations)


def _searchable_names(names: list[str]) -> str:
    """Names for the full-text index, plus accent-folded forms ("Łukasz" also as "lukasz")."""
    folded = [key for key in (_name_key(n) for n in names if not n.isascii()) if key.isascii()]
    return ", ".join([*names, *folded])


def _merge_added_last(row: tuple[Any, ...], listing: tuple[Any, ...], dated_with_year: bool) -> _Added | None:
    """What :func:`_merge` gives once *listing* is added, last by profile id, to a paper merged as *row*.

    *row* is the papers row (``_UPDATE_PAPER``'s first eleven columns) merged from the other listings,
    *dated_with_year* whether any of them gives a date with a year. The new listing takes neither the
    title (it is not first) nor, here, the author line, the affiliations or the abstract: a listing
    that would win one of those, or a row this cannot read back exactly, gives None (merge them all).
    """
    if row[1] is None or row[6] is None:
        return None
    names: list[str] = json.loads(row[6])
    x_names, x_truncated = _split(listing[4])[:2]
    if (len(x_names), not x_truncated) > (len(names), not row[7]) or listing[9] > len(row[1]):
        return None  # the new line or abstract wins: the merged names and text change
    owner_name, owner_key = listing[6], listing[7]
    if not owner_key or owner_key != _name_key(owner_name) or not row[9] or not row[10].startswith(row[9]):
        return None
    when, category = row[2], row[4]
    if ("," in listing[1], listing[0]) > (dated_with_year, when):  # ties go to the earlier listing
        when, category = listing[0], listing[2]
    keys = [_name_key(n) for n in names]
    position = keys.index(owner_key) + 1 if owner_key in keys else None
    author_names, author_search = row[9], row[10]
    if position is None:  # the owner is not in the line: shown after the names (hidden), folded form last
        folded = _name_key(owner_name)
        tail = f", {folded}" if not owner_name.isascii() and folded.isascii() else ""
        author_names = f"{row[9]}, {owner_name}"
        author_search = author_names + row[10][len(row[9]) :] + tail
    values = (*row[:2], when, int(when[:4]), category, int(bool(row[5]) or bool(listing[3])), *row[6:9])
    return _Added((*values, author_names, author_search), position)


@dataclass(slots=True)
class _Added:
    values: tuple[Any, ...]  # the papers row after the listing is added
    position: int | None  # where the new owner's name is in the author line (None: not in it)
