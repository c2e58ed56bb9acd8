"""Helpers shared by the tool families: errors, name resolution, paper rows, cursors."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Collection, Sequence
from typing import Any

from scholar_catalog.db.catalog import Catalog, Connection
from scholar_catalog.db.names import ACCEPT_SCORE, NameMatch, Person

from .models import Candidate, PaperRef, PaperSummary, Resolution

MAX_LIMIT = 100
MAX_TEXT = 2000  # longest name or query worth looking at
MAX_OFFSET = 2**31


class ToolInputError(ValueError):
    """A tool cannot answer as asked. The message tells the model what to do instead."""


def empty_catalog_error(catalog: Catalog) -> ToolInputError:
    return ToolInputError(
        "The catalog is empty: no profiles have been ingested. Ask the user to run "
        f"`scholar-catalog ingest PROFILES_DIR --db {catalog.path}` (or start the server with "
        "`--profiles PROFILES_DIR`), then try again."
    )


def require_data(catalog: Catalog) -> None:
    if catalog.is_empty():
        raise empty_catalog_error(catalog)


def clean_text(value: str, argument: str, *, allow_empty: bool = True) -> str:
    """Strip *value*, drop NUL and control characters, and bound its length."""
    if len(value) > MAX_TEXT * 4:
        raise ToolInputError(f"`{argument}` is {len(value):,} characters long; give at most {MAX_TEXT}.")
    cleaned = "".join(ch if ch.isprintable() or ch in " \t" else " " for ch in value).strip()
    if len(cleaned) > MAX_TEXT:
        raise ToolInputError(f"`{argument}` is {len(cleaned):,} characters long; give at most {MAX_TEXT}.")
    if not cleaned and not allow_empty:
        raise ToolInputError(f"`{argument}` is empty; give a name, e.g. 'Ada Lovelace'.")
    return cleaned


# -- people ---------------------------------------------------------------------------


def resolve_person(
    catalog: Catalog, conn: Connection, name: str, profile_id: str | None, argument: str = "name"
) -> tuple[Person, Resolution, list[Person]]:
    """Resolve a name (or profile id) to one person.

    Returns (person, how it was resolved, other profiles sharing that name).
    Raises :class:`ToolInputError` naming the closest names when nothing is close enough.
    """
    require_data(catalog)
    if profile_id:
        pid = clean_text(profile_id, "profile_id")
        row = conn.execute("SELECT id, name, profile_id FROM authors WHERE profile_id = ?", [pid]).fetchone()
        if row is None:
            raise ToolInputError(
                f"No profile with profile_id {pid!r}. Use search_authors to find profile ids" + _suggest_ids(conn, pid)
            )
        person = Person(row[0], row[1], row[2])
        return (
            person,
            Resolution(query=name or pid, resolved_to=person.name, profile_id=pid, match="profile_id", confidence=1.0),
            [],
        )

    query = clean_text(name, argument, allow_empty=False)
    index = catalog.names()
    match = index.exact(query)
    if match is not None:
        kind = "exact" if any(p.name == query for p in match.people) else "normalized"
        people = match.people
        person = people[0]
        others = [p for p in people[1:] if p.profile_id]
        return (
            person,
            Resolution(query=query, resolved_to=person.name, profile_id=person.profile_id, match=kind, confidence=1.0),
            others,
        )

    hits = index.fuzzy(query, limit=6)
    if not hits or hits[0].score < ACCEPT_SCORE:
        raise ToolInputError(
            f"No author matches {query!r} closely enough for `{argument}`."
            + (f" Closest names: {_names(hits)}." if hits else "")
            + " Use search_authors to look names up."
        )
    best = hits[0]
    rivals = [h for h in hits[1:] if h.score >= best.score - 1.0 and h.key != best.key]
    if rivals:
        raise ToolInputError(
            f"{query!r} is ambiguous for `{argument}`: {_names([best, *rivals])} match equally well. "
            "Call again with the full name (or a profile_id from search_authors)."
        )
    person = best.people[0]
    others = [p for p in best.people[1:] if p.profile_id]
    return (
        person,
        Resolution(
            query=query,
            resolved_to=person.name,
            profile_id=person.profile_id,
            match="fuzzy",
            confidence=round(best.score / 100.0, 3),
        ),
        others,
    )


def _names(hits: Sequence[NameMatch]) -> str:
    return ", ".join(repr(h.display) for h in hits[:5])


def _suggest_ids(conn: Connection, pid: str) -> str:
    from rapidfuzz import process

    ids = [r[0] for r in conn.execute("SELECT id FROM profiles")]
    close = process.extract(pid, ids, limit=3, score_cutoff=60)
    return f"; closest ids: {', '.join(repr(c[0]) for c in close)}." if close else "."


def candidates(conn: Connection, people: Sequence[Person]) -> list[Candidate]:
    """Describe same-named profiles so a model can tell them apart."""
    out = []
    for person in people:
        if person.profile_id is None:
            continue
        row = conn.execute(
            """SELECT p.primary_category, p.h_index,
                      (SELECT count(*) FROM listings l WHERE l.profile_id = p.id),
                      (SELECT pp.title FROM listings l JOIN papers pp ON pp.id = l.paper_id
                       WHERE l.profile_id = p.id ORDER BY l.score IS NULL, l.score DESC, l.date DESC LIMIT 1)
               FROM profiles p WHERE p.id = ?""",
            [person.profile_id],
        ).fetchone()
        out.append(
            Candidate(
                name=person.name,
                profile_id=person.profile_id,
                primary_category=row[0],
                h_index=row[1],
                papers=row[2],
                top_paper=row[3],
            )
        )
    return out


def ambiguous_error(conn: Connection, person: Person, others: list[Person], argument: str) -> ToolInputError:
    described = "; ".join(
        f"profile_id={c.profile_id!r} ({c.primary_category or '?'}, h-index {c.h_index}, e.g. {c.top_paper!r})"
        for c in candidates(conn, [person, *others])
    )
    return ToolInputError(
        f"Several profiles are named {person.name!r} and they are different people: {described}. "
        f"Call again with `{argument}` set to the one you mean."
    )


# -- papers ---------------------------------------------------------------------------

PAPER_COLUMNS = """p.id, p.title, p.date, p.category, p.has_code, p.author_names, p.authors_truncated,
    (SELECT max(l.score) FROM listings l WHERE l.paper_id = p.id) AS score"""


def paper_summary(row: Sequence[Any], snippet: str | None = None) -> PaperSummary:
    """Build a :class:`PaperSummary` from a row selected with :data:`PAPER_COLUMNS`."""
    return PaperSummary(
        paper_id=row[0],
        title=row[1],
        date=row[2],
        category=row[3],
        has_code=bool(row[4]),
        authors=[a for a in (row[5] or "").split(", ") if a],
        authors_truncated=bool(row[6]),
        score=row[7],
        snippet=snippet,
    )


PaperRow = tuple[int, str, str]  # paper_id, title, date: made into a PaperRef only if it is answered


_COAUTHOR_ROWS = """SELECT a.id, a.name, a.profile_id, p.id, p.title, p.date
    FROM paper_authors mine
    JOIN paper_authors other ON other.paper_id = mine.paper_id AND other.author_id != mine.author_id
    JOIN authors a ON a.id = other.author_id
    JOIN papers p ON p.id = mine.paper_id
    WHERE mine.author_id = ?{among} ORDER BY p.date DESC, p.id DESC"""
_AMONG = " AND other.author_id IN (SELECT value FROM json_each(?))"


def papers_by_coauthor(
    conn: Connection, author_id: int, among: Collection[int] | None = None
) -> dict[int, tuple[Person, list[PaperRow]]]:
    """Each coauthor of *author_id* with the papers they share (rows, newest first).

    *among*: only these coauthors (the others' names and titles are not read).
    """
    if among is None:
        rows = conn.execute(_COAUTHOR_ROWS.format(among=""), [author_id])
    else:
        rows = conn.execute(_COAUTHOR_ROWS.format(among=_AMONG), [author_id, json.dumps(sorted(among))])
    out: dict[int, tuple[Person, list[PaperRow]]] = {}
    for other_id, name, profile_id, paper_id, title, when in rows:
        if (entry := out.get(other_id)) is None:
            entry = out[other_id] = (Person(other_id, name, profile_id), [])
        entry[1].append((paper_id, title, when))
    return out


def paper_ref(row: Sequence[Any]) -> PaperRef:
    return PaperRef(paper_id=row[0], title=row[1], date=row[2])


# -- pagination -----------------------------------------------------------------------


def encode_cursor(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "f": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, fingerprint: str) -> int:
    """The offset a cursor stands for; it must come from the same query."""
    if not cursor:
        return 0
    try:
        padded = cursor.strip() + "=" * (-len(cursor.strip()) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        offset = int(data["o"])
        if data["f"] != fingerprint or not 0 <= offset <= MAX_OFFSET:
            raise ValueError
    except (ValueError, KeyError, TypeError, UnicodeError):
        raise ToolInputError(
            "`cursor` is not valid for this query: pass back `next_cursor` unchanged, with the same other "
            "arguments, or omit it to start from the first page."
        ) from None
    return offset


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:12]


def check_limit(limit: int, argument: str = "limit", maximum: int = MAX_LIMIT) -> int:
    if limit < 1 or limit > maximum:
        raise ToolInputError(f"`{argument}` must be between 1 and {maximum} (got {limit}); use `cursor` to page.")
    return limit
