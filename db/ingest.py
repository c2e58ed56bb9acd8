"""Load profile files into the catalog, incrementally and atomically per file.

The rules (see ``docs/format.md`` for the why):

* A profile is identified by its file's stem. Two files with the same owner name
  are two profiles, two people.
* A paper is identified by its normalized title; each profile's listing of it is
  kept with the score, category and date that profile gave.
* The owner of a profile is an author of every paper it lists, even when the
  truncated author list hides them. A listed name equal to the owner's name, on a
  paper the owner lists, *is* the owner; every other listed name is one author
  per normalized name.
* A file whose size, mtime and path are unchanged is skipped without reading;
  one whose content hash is unchanged is skipped after reading; a changed file
  replaces that profile's listings. Each file is applied in its own savepoint:
  a file that fails leaves that profile exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import sqlite_utils

from .normalize import normalize_name, normalize_title
from .parser import Profile, ProfileParseError, _split_authors, parse_profile
from .schema import now_iso

Status = Literal["applied", "unchanged", "rejected"]

MAX_FILE_BYTES = 64 * 1024 * 1024
BATCH_FILES = 500
BATCH_SECONDS = 0.5


class IngestAbort(RuntimeError):
    """Ingest cannot go on (disk full, database locked for too long, ...). Nothing half-done is kept."""


class UsageError(ValueError):
    """A bad argument to ingest (a path that does not exist, ...)."""


@dataclass(slots=True)
class FileOutcome:
    path: str
    status: Status
    profile_id: str | None = None
    reason: str | None = None
    papers_new: int = 0
    papers_updated: int = 0


@dataclass(slots=True)
class IngestReport:
    applied: int = 0
    unchanged: int = 0
    rejected: list[FileOutcome] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    papers_new: int = 0
    papers_updated: int = 0
    profiles: int = 0
    papers: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.rejected

    def add(self, outcome: FileOutcome) -> None:
        if outcome.status == "applied":
            self.applied += 1
        elif outcome.status == "unchanged":
            self.unchanged += 1
        else:
            self.rejected.append(outcome)
        self.papers_new += outcome.papers_new
        self.papers_updated += outcome.papers_updated


def discover(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Yield profile files: each file given, and every ``*.txt`` below each directory given (sorted)."""
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.txt") if p.is_file())
        elif path.is_file():
            yield path
        elif path.exists():
            raise UsageError(f"{path}: not a regular file or directory")
        else:
            raise UsageError(f"{path}: no such file or directory")


def profile_id_for(path: Path) -> str:
    """A profile's identity: its file's stem."""
    return path.stem


class Ingester:
    """Applies profile files to a writable catalog (see :func:`ingest`)."""

    def __init__(self, db: sqlite_utils.Database, *, as_of: date | None = None) -> None:
        self.db = db
        self.conn: sqlite3.Connection = db.conn
        self.as_of = as_of
        self._author_ids: dict[str, int] = {}
        self._affiliation_ids: dict[str, int] = {}
        self._new_authors: list[str] = []
        self._new_affiliations: list[str] = []
        self._in_batch = False
        self._batch_files = 0
        self._batch_started = 0.0
        self._seen: dict[str, str] = {}
        self._known: dict[str, tuple[str, int | None, int | None, str, str]] = {
            row[0]: (row[1], row[2], row[3], row[4], row[5])
            for row in self.conn.execute(
                "SELECT id, source_path, source_size, source_mtime_ns, content_hash, as_of FROM profiles"
            )
        }

    # -- transactions ---------------------------------------------------------------

    def _begin_batch(self) -> None:
        if not self._in_batch:
            self._execute_guarded("BEGIN IMMEDIATE")
            self._in_batch = True
            self._batch_files = 0
            self._batch_started = time.monotonic()
            self._author_ids.clear()
            self._affiliation_ids.clear()

    def commit(self) -> None:
        if self._in_batch:
            self._execute_guarded("COMMIT")
            self._in_batch = False

    def rollback(self) -> None:
        if self._in_batch:
            try:
                self.conn.execute("ROLLBACK")
            finally:
                self._in_batch = False

    def _maybe_commit(self) -> None:
        self._batch_files += 1
        if self._batch_files >= BATCH_FILES or time.monotonic() - self._batch_started > BATCH_SECONDS:
            self.commit()

    def _execute_guarded(self, sql: str) -> None:
        try:
            self.conn.execute(sql)
        except sqlite3.OperationalError as err:
            raise _abort(err) from err

    # -- one file -------------------------------------------------------------------

    def apply_file(self, path: Path) -> FileOutcome:
        """Apply one file in its own savepoint. Never raises for bad input: returns a rejection."""
        shown = str(path)
        pid = profile_id_for(path)
        try:
            resolved = str(path.resolve())
            st = path.stat()
        except OSError as err:
            return FileOutcome(shown, "rejected", pid, f"{shown}: cannot read: {err.strerror or err}")
        if (other := self._seen.get(pid)) is not None and other != resolved:
            return FileOutcome(
                shown,
                "rejected",
                pid,
                f"{shown}: profile id {pid!r} is already used by {other}; file stems must be unique",
            )
        self._seen[pid] = resolved
        known = self._known.get(pid)
        as_of = self.as_of or datetime.fromtimestamp(st.st_mtime, UTC).date()
        if (
            known is not None
            and known[0] == resolved
            and known[1] == st.st_size
            and known[2] == st.st_mtime_ns
            and known[4] == as_of.isoformat()
        ):
            return FileOutcome(shown, "unchanged", pid)
        if st.st_size > MAX_FILE_BYTES:
            return FileOutcome(shown, "rejected", pid, f"{shown}: {st.st_size:,} bytes is too large for a profile page")
        try:
            data = path.read_bytes()
        except OSError as err:
            return FileOutcome(shown, "rejected", pid, f"{shown}: cannot read: {err.strerror or err}")
        digest = hashlib.sha256(data).hexdigest()

        self._begin_batch()
        if known is not None and known[3] == digest and known[4] == as_of.isoformat():
            # Same content and reference date (moved, or touched within the day): remember where we saw it.
            self.conn.execute(
                "UPDATE profiles SET source_path = ?, source_size = ?, source_mtime_ns = ? WHERE id = ?",
                [resolved, st.st_size, st.st_mtime_ns, pid],
            )
            self._known[pid] = (resolved, st.st_size, st.st_mtime_ns, digest, known[4])
            self._maybe_commit()
            return FileOutcome(shown, "unchanged", pid)

        try:
            profile = parse_profile(data, as_of=as_of, path=shown)
        except ProfileParseError as err:
            return FileOutcome(shown, "rejected", pid, str(err))
        del data

        self.conn.execute("SAVEPOINT profile_file")
        mark_authors, mark_affiliations = len(self._new_authors), len(self._new_affiliations)
        try:
            new, updated = self._apply_profile(pid, profile, resolved, st, digest, as_of)
        except sqlite3.OperationalError as err:
            self._rollback_savepoint(mark_authors, mark_affiliations)
            raise _abort(err, shown) from err
        except (sqlite3.DatabaseError, ValueError, OverflowError) as err:
            self._rollback_savepoint(mark_authors, mark_affiliations)
            return FileOutcome(shown, "rejected", pid, f"{shown}: could not be stored: {err}")
        except BaseException:
            self._rollback_savepoint(mark_authors, mark_affiliations)
            raise
        self.conn.execute("RELEASE profile_file")
        self._new_authors.clear()
        self._new_affiliations.clear()
        self._known[pid] = (resolved, st.st_size, st.st_mtime_ns, digest, as_of.isoformat())
        self._maybe_commit()
        return FileOutcome(shown, "applied", pid, papers_new=new, papers_updated=updated)

    def _rollback_savepoint(self, mark_authors: int, mark_affiliations: int) -> None:
        try:
            self.conn.execute("ROLLBACK TO profile_file")
            self.conn.execute("RELEASE profile_file")
        except sqlite3.Error:
            self.rollback()
            self._author_ids.clear()
            self._affiliation_ids.clear()
        for key in self._new_authors[mark_authors:]:
            self._author_ids.pop(key, None)
        for key in self._new_affiliations[mark_affiliations:]:
            self._affiliation_ids.pop(key, None)
        del self._new_authors[mark_authors:]
        del self._new_affiliations[mark_affiliations:]

    def _apply_profile(
        self, pid: str, profile: Profile, resolved: str, st: os.stat_result, digest: str, as_of: date
    ) -> tuple[int, int]:
        c = self.conn
        affected = {row[0] for row in c.execute("SELECT paper_id FROM listings WHERE profile_id = ?", [pid])}
        c.execute("DELETE FROM listings WHERE profile_id = ?", [pid])
        c.execute(
            """INSERT INTO profiles (id, name, name_norm, primary_category, h_index, papers_declared,
                   citations, novelty, ai_score, papers_listed, source_path, source_size, source_mtime_ns,
                   content_hash, as_of, ingested_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(id) DO UPDATE SET name = excluded.name, name_norm = excluded.name_norm,
                   primary_category = excluded.primary_category, h_index = excluded.h_index,
                   papers_declared = excluded.papers_declared, citations = excluded.citations,
                   novelty = excluded.novelty, ai_score = excluded.ai_score,
                   papers_listed = excluded.papers_listed, source_path = excluded.source_path,
                   source_size = excluded.source_size, source_mtime_ns = excluded.source_mtime_ns,
                   content_hash = excluded.content_hash, as_of = excluded.as_of,
                   ingested_at = excluded.ingested_at""",
            [
                pid,
                profile.name,
                normalize_name(profile.name),
                profile.primary_category,
                profile.h_index,
                profile.papers_declared,
                profile.citations,
                profile.novelty,
                profile.ai_score,
                len(profile.entries),
                resolved,
                st.st_size,
                st.st_mtime_ns,
                digest,
                as_of.isoformat(),
                now_iso(),
            ],
        )
        row = c.execute("SELECT id FROM authors WHERE profile_id = ?", [pid]).fetchone()
        if row is None:
            c.execute(
                "INSERT INTO authors (name, name_norm, profile_id) VALUES (?, ?, ?)",
                [profile.name, normalize_name(profile.name), pid],
            )
        else:
            c.execute(
                "UPDATE authors SET name = ?, name_norm = ? WHERE id = ?",
                [profile.name, normalize_name(profile.name), row[0]],
            )

        new_papers: set[int] = set()
        listing_rows: list[tuple[Any, ...]] = []
        seen_in_file: set[int] = set()
        for position, entry in enumerate(profile.entries, start=1):
            key = normalize_title(entry.title) or entry.title.casefold()
            found = c.execute("SELECT id FROM papers WHERE title_norm = ?", [key]).fetchone()
            if found is None:
                cur = c.execute(
                    """INSERT INTO papers (title, title_norm, abstract, date, year, category, has_code)
                       VALUES (?, ?, ?, ?, ?, ?, ?)""",
                    [
                        entry.title,
                        key,
                        entry.abstract,
                        entry.date,
                        entry.year,
                        entry.category,
                        entry.has_code,
                    ],
                )
                paper_id = int(cur.lastrowid or 0)
                new_papers.add(paper_id)
            else:
                paper_id = found[0]
            if paper_id in seen_in_file:  # the same paper twice in one profile: keep the first listing
                continue
            seen_in_file.add(paper_id)
            affected.add(paper_id)
            authors_raw = ", ".join(entry.authors) + (" et al." if entry.authors_truncated else "")
            if entry.affiliations:
                authors_raw += " · " + ", ".join(entry.affiliations)
            listing_rows.append(
                (
                    pid,
                    paper_id,
                    position,
                    entry.line,
                    entry.title,
                    entry.score,
                    entry.category,
                    entry.date,
                    entry.date_raw,
                    int(entry.has_code),
                    authors_raw,
                    entry.abstract,
                )
            )
        c.executemany(
            """INSERT INTO listings (profile_id, paper_id, position, line, title, score, category, date,
                   date_raw, has_code, authors_raw, abstract) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            listing_rows,
        )
        if len(listing_rows) != len(profile.entries):  # a paper listed twice counts once
            c.execute("UPDATE profiles SET papers_listed = ? WHERE id = ?", [len(listing_rows), pid])
        updated = 0
        for paper_id in sorted(affected):
            if self.refresh_paper(paper_id) == "changed" and paper_id not in new_papers:
                updated += 1
        return len(new_papers), updated

    # -- papers ---------------------------------------------------------------------

    def refresh_paper(self, paper_id: int) -> Literal["deleted", "changed", "same"]:
        """Recompute a paper's merged fields and authors from its current listings.

        Deletes the paper when no listing is left. Returns what happened to it.
        """
        c = self.conn
        listings = c.execute(
            """SELECT l.date, l.date_raw, l.category, l.has_code, l.authors_raw,
                      a.id, a.name, a.name_norm, l.title, length(l.abstract), l.profile_id
               FROM listings l JOIN authors a ON a.profile_id = l.profile_id
               WHERE l.paper_id = ? ORDER BY l.profile_id""",
            [paper_id],
        ).fetchall()
        if not listings:
            c.execute("DELETE FROM paper_authors WHERE paper_id = ?", [paper_id])
            c.execute("DELETE FROM paper_affiliations WHERE paper_id = ?", [paper_id])
            c.execute("DELETE FROM papers WHERE id = ?", [paper_id])
            return "deleted"
        changed = False

        # The fullest author line wins; dates given with a year beat year-less ones.
        split = [_split_authors(row[4]) for row in listings]
        best = max(range(len(listings)), key=lambda i: (len(split[i][0]), not split[i][1], -i))
        names, truncated, affiliations = split[best]
        dated = max(range(len(listings)), key=lambda i: ("," in listings[i][1], listings[i][0], -i))
        when, category = listings[dated][0], listings[dated][2]
        has_code = int(any(row[3] for row in listings))

        owners: dict[str, int] = {}
        owner_names: dict[int, str] = {}
        for row in listings:
            owners.setdefault(row[7], row[5])
            owner_names[row[5]] = row[6]
        wanted: dict[int, list[Any]] = {}
        for position, name in enumerate(names, start=1):
            key = normalize_name(name)
            if not key:
                continue
            author_id = owners.get(key) or self._listed_author(key, name)
            wanted.setdefault(author_id, [position, 0])
        for author_id in owner_names:
            wanted.setdefault(author_id, [None, 0])[1] = 1
        current = {
            row[0]: [row[1], row[2]]
            for row in c.execute(
                "SELECT author_id, position, is_owner FROM paper_authors WHERE paper_id = ?", [paper_id]
            )
        }
        if current != wanted:
            changed = True
            c.execute("DELETE FROM paper_authors WHERE paper_id = ?", [paper_id])
            c.executemany(
                "INSERT INTO paper_authors (paper_id, author_id, position, is_owner) VALUES (?, ?, ?, ?)",
                [(paper_id, aid, pos, own) for aid, (pos, own) in wanted.items()],
            )

        wanted_affiliations = {self._affiliation(name) for name in affiliations if normalize_name(name)}
        current_affiliations = {
            row[0] for row in c.execute("SELECT affiliation_id FROM paper_affiliations WHERE paper_id = ?", [paper_id])
        }
        if wanted_affiliations != current_affiliations:
            changed = True
            c.execute("DELETE FROM paper_affiliations WHERE paper_id = ?", [paper_id])
            c.executemany(
                "INSERT INTO paper_affiliations (paper_id, affiliation_id) VALUES (?, ?)",
                [(paper_id, aid) for aid in sorted(wanted_affiliations)],
            )

        listed_keys = {normalize_name(n) for n in names}
        hidden = [n for n in owner_names.values() if normalize_name(n) not in listed_keys]
        # Title as the first listing (by profile id) writes it; the longest abstract any listing gives.
        title = listings[0][8]
        fullest = max(range(len(listings)), key=lambda i: (listings[i][9], -i))
        abstract = c.execute(
            "SELECT abstract FROM listings WHERE profile_id = ? AND paper_id = ?", [listings[fullest][10], paper_id]
        ).fetchone()[0]
        values = (
            title,
            abstract,
            when,
            int(when[:4]),
            category,
            has_code,
            json.dumps(names, ensure_ascii=False),
            int(truncated),
            json.dumps(affiliations, ensure_ascii=False),
            ", ".join([*names, *hidden]),
            _searchable_names([*names, *hidden]),
        )
        row = c.execute(
            """SELECT title, abstract, date, year, category, has_code, authors_listed, authors_truncated,
                      affiliations, author_names, author_search FROM papers WHERE id = ?""",
            [paper_id],
        ).fetchone()
        if tuple(row) != values:  # only touch the row (and its FTS entry) when something changed
            changed = True
            c.execute(
                """UPDATE papers SET title = ?, abstract = ?, date = ?, year = ?, category = ?, has_code = ?,
                       authors_listed = ?, authors_truncated = ?, affiliations = ?, author_names = ?,
                       author_search = ?
                   WHERE id = ?""",
                [*values, paper_id],
            )
        return "changed" if changed else "same"

    def _listed_author(self, key: str, name: str) -> int:
        if (cached := self._author_ids.get(key)) is not None:
            return cached
        row = self.conn.execute("SELECT id FROM authors WHERE name_norm = ? AND profile_id IS NULL", [key]).fetchone()
        if row is None:
            cur = self.conn.execute("INSERT INTO authors (name, name_norm) VALUES (?, ?)", [name, key])
            author_id = int(cur.lastrowid or 0)
            self._new_authors.append(key)
        else:
            author_id = row[0]
        self._author_ids[key] = author_id
        return author_id

    def _affiliation(self, name: str) -> int:
        key = normalize_name(name)
        if (cached := self._affiliation_ids.get(key)) is not None:
            return cached
        row = self.conn.execute("SELECT id FROM affiliations WHERE name_norm = ?", [key]).fetchone()
        if row is None:
            cur = self.conn.execute("INSERT INTO affiliations (name, name_norm) VALUES (?, ?)", [name, key])
            affiliation_id = int(cur.lastrowid or 0)
            self._new_affiliations.append(key)
        else:
            affiliation_id = row[0]
        self._affiliation_ids[key] = affiliation_id
        return affiliation_id

    # -- whole-catalog steps --------------------------------------------------------

    def remove_profile(self, pid: str) -> None:
        """Remove a profile, its listings, and every paper that only it listed."""
        self._begin_batch()
        c = self.conn
        affected = [row[0] for row in c.execute("SELECT paper_id FROM listings WHERE profile_id = ?", [pid])]
        c.execute("DELETE FROM listings WHERE profile_id = ?", [pid])
        for paper_id in affected:
            self.refresh_paper(paper_id)
        owner = c.execute("SELECT id FROM authors WHERE profile_id = ?", [pid]).fetchone()
        if owner is not None:
            c.execute("DELETE FROM paper_authors WHERE author_id = ?", [owner[0]])
            c.execute("DELETE FROM authors WHERE id = ?", [owner[0]])
        c.execute("DELETE FROM profiles WHERE id = ?", [pid])
        self._known.pop(pid, None)

    def missing_profiles(self) -> list[str]:
        """Profiles whose source file no longer exists."""
        return sorted(pid for pid, known in self._known.items() if not os.path.exists(known[0]))

    def finish(self) -> None:
        """Drop authors and affiliations no paper refers to any more, stamp the build time, commit."""
        self._begin_batch()
        self.conn.execute(
            """DELETE FROM authors WHERE profile_id IS NULL
               AND NOT EXISTS (SELECT 1 FROM paper_authors pa WHERE pa.author_id = authors.id)"""
        )
        self.conn.execute(
            """DELETE FROM affiliations
               WHERE NOT EXISTS (SELECT 1 FROM paper_affiliations pa WHERE pa.affiliation_id = affiliations.id)"""
        )
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('built_at', ?)", [now_iso()])
        self.commit()


def _searchable_names(names: list[str]) -> str:
    """Names for the full-text index, plus accent-folded forms ("Łukasz" also as "lukasz")."""
    folded = [key for key in (normalize_name(n) for n in names if not n.isascii()) if key.isascii()]
    return ", ".join([*names, *folded])


def _abort(err: sqlite3.OperationalError, path: str | None = None) -> IngestAbort:
    text = str(err)
    where = f" while applying {path}" if path else ""
    if "full" in text:
        hint = "the disk is full; free some space and run ingest again (files already applied are kept)"
    elif "locked" in text or "busy" in text:
        hint = "another process holds the catalog's write lock (another ingest?); wait for it and retry"
    elif "readonly" in text or "read-only" in text:
        hint = "the catalog or its folder is read-only; choose a writable --db"
    else:
        hint = text
    return IngestAbort(f"ingest stopped{where}: {hint} ({text})")


def ingest(
    db: sqlite_utils.Database,
    paths: Iterable[str | os.PathLike[str]],
    *,
    as_of: date | None = None,
    prune: bool = False,
    on_file: Callable[[FileOutcome], None] | None = None,
    files: list[Path] | None = None,
) -> IngestReport:
    """Apply every profile file under *paths* to the catalog *db*.

    Returns an :class:`IngestReport`. Bad files are reported in
    ``report.rejected`` and change nothing; :class:`IngestAbort` is raised only
    when the database itself cannot be written.
    """
    started = time.perf_counter()
    report = IngestReport()
    todo = list(dict.fromkeys(files if files is not None else discover(paths)))  # each file once
    ingester = Ingester(db, as_of=as_of)
    try:
        for path in todo:
            outcome = ingester.apply_file(path)
            report.add(outcome)
            if on_file is not None:
                on_file(outcome)
        if prune:
            for pid in ingester.missing_profiles():
                ingester.remove_profile(pid)
                report.pruned.append(pid)
        ingester.finish()
    except IngestAbort:
        # Keep the files applied before the failure if the database still takes a commit.
        try:
            ingester.commit()
        except IngestAbort:
            ingester.rollback()
        raise
    except BaseException:
        ingester.rollback()
        raise
    report.profiles = db.execute("SELECT count(*) FROM profiles").fetchone()[0]
    report.papers = db.execute("SELECT count(*) FROM papers").fetchone()[0]
    report.seconds = time.perf_counter() - started
    return report
