"""Parser for researcher profile pages.

A profile file looks like this (see ``examples/profiles/`` and ``docs/format.md``)::

    Ritika Borkar                      <- name

    CL                                 <- primary category
    h-index57
    9papers
    193citations                       <- thousands separators allowed: 5,120citations
    Novelty51%
    AI Score57

    9 Papers                           <- how many entries follow

    95.3LGApr 14Code                   <- [score] category date [Code]
    Nemotron 3 Super: Open, ...        <- title

    A, B, C et al. · amazon-science    <- authors [et al.] [· affiliations]

    We describe ...                    <- abstract, any number of paragraphs

:func:`parse_profile` turns the bytes of such a file into a :class:`Profile`
or raises :class:`ProfileParseError` naming the line and the reason. It never
raises anything else, whatever it is given.
"""

from __future__ import annotations

import calendar
import dataclasses
import operator
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

__all__ = ["Entry", "Profile", "ProfileParseError", "decode_profile_bytes", "parse_profile", "resolve_date"]

MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}

META_RE = re.compile(
    r"^(?P<score>\d{1,3}(?:\.\d+)?)?"
    r"(?P<category>[A-Z]{2})"
    r"(?P<month>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?P<day>\d{1,2})"
    r"(?:, (?P<year>\d{4}))?"
    r"(?P<code>Code)?$"
)
_NUM = r"(\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+|\d+)"
HEADER_FIELDS: dict[str, re.Pattern[str]] = {
    "h_index": re.compile(rf"^h-index\s*{_NUM}$", re.IGNORECASE),
    "papers_declared": re.compile(rf"^{_NUM}\s*papers?$", re.IGNORECASE),
    "citations": re.compile(rf"^{_NUM}\s*citations$", re.IGNORECASE),
    "novelty": re.compile(rf"^Novelty\s*{_NUM}\s*%$", re.IGNORECASE),
    "ai_score": re.compile(rf"^AI Score\s*{_NUM}$", re.IGNORECASE),
}
CATEGORY_RE = re.compile(r"^[A-Z]{2}$")
PAPERS_HEADING_RE = re.compile(rf"^{_NUM} Papers?$")
AUTHORS_SEP = " \u00b7 "  # " · "
ET_AL_RE = re.compile(r"(?:,\s*|\s+|^)et al\.?$")
MAX_COUNT = 2**53  # header numbers beyond this are damage, not data

MAX_NAME_LENGTH = 300

_T = TypeVar("_T")


def pickled_by_fields(cls: type[_T]) -> type[_T]:
    """Pickle the slots dataclass *cls* as a call of its constructor with its fields' values.

    Ingest's read-ahead workers send every parsed profile to the writer: rebuilt this way the writer
    unpickles them ~2.5x faster than from the per-attribute state slots classes pickle by default.
    """
    values = operator.attrgetter(*(f.name for f in dataclasses.fields(cls)))  # type: ignore[arg-type]

    def __reduce__(self: _T) -> tuple[type[_T], tuple[Any, ...]]:
        return cls, values(self)

    cls.__reduce__ = __reduce__  # type: ignore[method-assign,assignment]
    return cls


class ProfileParseError(ValueError):
    """A profile file could not be parsed. ``str(err)`` is ``path:line: reason``."""

    def __init__(self, reason: str, line: int | None = None, path: str | None = None) -> None:
        self.reason = reason
        self.line = line
        self.path = path
        super().__init__(reason)

    def __str__(self) -> str:
        where = self.path or "<profile>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.reason}"


@pickled_by_fields
@dataclass(slots=True)
class Entry:
    """One paper as one profile lists it."""

    line: int
    title: str
    category: str
    date: str
    date_raw: str
    score: float | None
    has_code: bool
    authors: list[str]
    authors_truncated: bool
    affiliations: list[str]
    abstract: str

    @property
    def year(self) -> int:
        return int(self.date[:4])


@pickled_by_fields
@dataclass(slots=True)
class Profile:
    """A researcher's profile page, parsed."""

    name: str
    primary_category: str | None = None
    h_index: int | None = None
    papers_declared: int | None = None
    citations: int | None = None
    novelty: int | None = None
    ai_score: int | None = None
    papers_heading: int | None = None
    entries: list[Entry] = field(default_factory=list)


def decode_profile_bytes(data: bytes) -> str:
    """Decode a profile file: UTF-8 (with or without BOM), else cp1252, else latin-1.

    Raises :class:`ProfileParseError` for data that is clearly binary.
    """
    if b"\x00" in data[:65536] or b"\x00" in data[-65536:]:
        raise ProfileParseError("binary data (NUL bytes), not a text profile", line=None)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def resolve_date(month: int, day: int, year: int | None, as_of: date) -> date:
    """Return the date a profile means by ``month day [, year]``.

    Without a year it is the latest such date not after *as_of* (``Apr 14`` read
    on 2026-03-01 is 2025-04-14). Raises ``ValueError`` for impossible dates.
    """
    if year is not None:
        return date(year, month, day)
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise ValueError("day or month out of range")
    for candidate_year in range(as_of.year, as_of.year - 9, -1):
        try:
            candidate = date(candidate_year, month, day)
        except ValueError:  # Feb 29 in a common year, Apr 31, ...
            continue
        if candidate <= as_of:
            return candidate
    raise ValueError("no such calendar date")


def _int(text: str, line: int | None = None) -> int:
    value = int(re.sub(r"\D", "", text))
    if value > MAX_COUNT:
        raise ProfileParseError(f"number {text!r} is implausibly large", line=line)
    return value


def _split_authors(text: str) -> tuple[list[str], bool, list[str]]:
    """Split an author line into (names, truncated, affiliations)."""
    people, sep, orgs = text.partition(AUTHORS_SEP)
    people = people.strip()
    m = ET_AL_RE.search(people)
    truncated = m is not None
    if m is not None:  # the pattern is anchored at the end: it matches once, and this cuts what sub("") would
        people = people[: m.start()] + people[m.end() :]
    names = [n.strip() for n in people.split(",") if n.strip()]
    affiliations = [a.strip() for a in orgs.split(",") if a.strip()] if sep else []
    return names, truncated, affiliations


def parse_profile(data: bytes | str, *, as_of: date, path: str | None = None) -> Profile:
    """Parse one profile file.

    *as_of* is the profile's reference date, against which dates without a year
    are resolved. *path* only decorates error messages.
    """
    try:
        return _parse(data, as_of)
    except ProfileParseError as err:
        err.path = path
        raise
    except (ValueError, IndexError, OverflowError, RecursionError) as err:  # defensive: never leak
        raise ProfileParseError(f"unreadable profile ({type(err).__name__}: {err})", path=path) from err


def _parse(data: bytes | str, as_of: date) -> Profile:
    text = decode_profile_bytes(data) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    if "\x00" in text:
        raise ProfileParseError("binary data (NUL bytes), not a text profile")
    # Every line is right-stripped, so from here on a line is blank exactly when it is empty, and
    # line.strip() is line.lstrip().
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    n = len(lines)
    i = 0
    while i < n and not lines[i].strip():
        i += 1
    if i >= n:
        raise ProfileParseError("empty file: no researcher name", line=1)
    name = lines[i].strip()
    if len(name) > MAX_NAME_LENGTH or META_RE.match(name):
        raise ProfileParseError("first line is not a researcher name", line=i + 1)
    profile = Profile(name=name)
    i += 1

    # Header: every non-blank line until the `N Papers` heading (or the first entry).
    while i < n:
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        if m := PAPERS_HEADING_RE.match(line):
            profile.papers_heading = _int(m.group(1), i + 1)
            i += 1
            break
        if _is_meta(lines, i):
            break
        if CATEGORY_RE.match(line) and profile.primary_category is None:
            profile.primary_category = line
            i += 1
            continue
        for key, pattern in HEADER_FIELDS.items():
            if (m := pattern.match(line)) and getattr(profile, key) is None:
                setattr(profile, key, _int(m.group(1), i + 1))
                break
        else:
            raise ProfileParseError(f"unrecognized header line {_quote(line)}", line=i + 1)
        i += 1

    # Entries: a meta line (see _is_meta, whose tests this loop makes cheapest first).
    starts: list[int] = []
    metas: list[re.Match[str]] = []
    match = META_RE.match
    for j in range(i, n):
        line = lines[j]
        if line and (j == 0 or not lines[j - 1]) and j + 1 < n and lines[j + 1] and (m := match(line.lstrip())):
            starts.append(j)
            metas.append(m)
        elif line and not starts:
            raise ProfileParseError(f"expected a paper entry, found {_quote(lines[j])}", line=j + 1)
    last = next((k for k in range(n - 1, i - 1, -1) if lines[k]), -1)  # the last non-blank line
    if last >= 0 and (not starts or last > starts[-1]) and META_RE.match(lines[last].strip()):
        # A meta line with nothing after it: the file was cut right after an entry began.
        raise ProfileParseError(
            f"entry starting {_quote(lines[last])} has no title (file truncated mid-entry?)", line=last + 1
        )
    starts.append(n)
    for k in range(len(starts) - 1):
        profile.entries.append(_parse_entry(lines, starts[k], starts[k + 1], as_of, metas[k]))

    if profile.papers_heading is None and not profile.entries:
        raise ProfileParseError("not a profile: no 'N Papers' heading and no paper entries", line=i + 1)
    if profile.papers_heading is not None and profile.papers_heading != len(profile.entries):
        raise ProfileParseError(
            f"heading declares {profile.papers_heading} papers but {len(profile.entries)} entries were "
            "found (truncated or damaged file?)",
            line=(starts[-2] + 1) if len(starts) > 1 else n,
        )
    return profile


def _is_meta(lines: list[str], i: int) -> bool:
    """A meta line: matches the pattern, follows a blank line, and a title follows it."""
    if not META_RE.match(lines[i].strip()):
        return False
    if i > 0 and lines[i - 1].strip():
        return False
    return i + 1 < len(lines) and bool(lines[i + 1].strip())


def _parse_entry(lines: list[str], start: int, end: int, as_of: date, m: re.Match[str] | None = None) -> Entry:
    meta_line = lines[start].strip()
    if m is None:
        m = META_RE.match(meta_line)
    assert m is not None  # guaranteed by _is_meta
    title = lines[start + 1].strip()
    score_text, category, month_name, day_text, year_text, code = m.groups()
    month = MONTHS[month_name]
    day = int(day_text)
    year = int(year_text) if year_text else None
    try:
        when = resolve_date(month, day, year, as_of)
    except ValueError:
        raise ProfileParseError(f"impossible date in {_quote(meta_line)}", line=start + 1) from None
    date_raw = f"{month_name} {day}" + (f", {year}" if year is not None else "")

    # Paragraphs after the title: the first is the author line, the rest the abstract.
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines[start + 2 : end]:
        if line:
            current.append(line.lstrip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    if not paragraphs:
        raise ProfileParseError(f"entry {_quote(title)} has no author line (file truncated mid-entry?)", line=start + 2)
    authors, truncated, affiliations = _split_authors(paragraphs[0])
    if not authors:
        raise ProfileParseError(f"entry {_quote(title)} has an empty author line", line=start + 4)
    return Entry(
        line=start + 1,
        title=title,
        category=category,
        date=when.isoformat(),
        date_raw=date_raw,
        score=float(score_text) if score_text else None,
        has_code=bool(code),
        authors=authors,
        authors_truncated=truncated,
        affiliations=affiliations,
        abstract="\n\n".join(paragraphs[1:]),
    )


def _quote(text: str, limit: int = 60) -> str:
    text = text.strip()
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
