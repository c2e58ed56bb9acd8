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

Speed (see ``bench/README.md``): files are applied in batches, one transaction
each. During a batch the full-text index is not maintained row by row by the
``papers_*`` triggers — FTS5 flushes its pending index data at every savepoint,
and a trigger runs each row's index update in a savepoint of its own, which made
index writes several times dearer than the rows themselves. Instead the triggers
are dropped at the start of the batch's transaction, the papers the batch
touches are remembered (with the indexed values they had when the batch began),
and just before the commit the index is brought up to date for exactly those
papers and the triggers are recreated from their own stored SQL — all inside
the same transaction, so no reader and no crash can ever see a catalog without
its triggers or with a stale index.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import sqlite_utils

from .ingest_files import (
    MAX_FILE_BYTES,
    Job,
    Loaded,
    ReadAhead,
    UsageError,
    discover,
    load,
    profile_id_for,
    worker_count,
)
from .normalize import normalize_name, normalize_title
from .parser import Profile, ProfileParseError, _split_authors
from .schema import now_iso

__all__ = ["MAX_FILE_BYTES", "FileOutcome", "IngestAbort", "IngestReport", "Ingester", "UsageError", "discover"]
__all__ += ["ingest", "profile_id_for"]

Status = Literal["applied", "unchanged", "rejected"]

# A batch (one transaction) ends after this many files or seconds: readers see progress that often.
BATCH_FILES = 2000
BATCH_SECONDS = 2.0
MAX_CACHED_IDS = 200_000  # listed-author and affiliation ids remembered across batches
# Connection settings for the length of an ingest (restored after): a 128 MB page cache instead of
# 64 MB, and a WAL checkpoint every ~40 MB instead of every 4 MB (each checkpoint syncs to disk).
INGEST_PRAGMAS = {"cache_size": -131072, "wal_autocheckpoint": 5_000}

# The triggers (made by sqlite-utils' enable_fts) that keep papers_fts in step with papers.
FTS_TABLE = "papers_fts"
FTS_TRIGGERS = frozenset({"papers_ai", "papers_ad", "papers_au"})

# refresh_paper's view of a paper's listings (a listing's title and abstract are NULL where they are the paper's).
_LISTING_COLUMNS = """l.date, l.date_raw, l.category, l.has_code, l.authors_raw, a.id, a.name, a.name_norm,
    coalesce(l.title, p.title), length(coalesce(l.abstract, p.abstract)), l.profile_id"""
_LISTING_JOINS = "listings l JOIN authors a ON a.profile_id = l.profile_id JOIN papers p ON p.id = l.paper_id"

_UPDATE_PAPER = """UPDATE papers SET title = ?, abstract = ?, date = ?, year = ?, category = ?, has_code = ?,
    authors_listed = ?, authors_truncated = ?, affiliations = ?, author_names = ?, author_search = ? WHERE id = ?"""

# json.dumps(x, ensure_ascii=False) builds a new encoder on every call; this one gives the same text.
_json = json.JSONEncoder(ensure_ascii=False).encode
# The same names and author lines come back for every listing of a paper: remember their keys and splits.
_name_key = functools.lru_cache(maxsize=1 << 16)(normalize_name)
_title_key = functools.lru_cache(maxsize=1 << 15)(normalize_title)  # a shared paper's title comes back soon


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


class IngestAbort(RuntimeError):
    """Ingest cannot go on (disk full, database locked for too long, ...). Nothing half-done is kept."""


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
        self._folders: dict[str, str] = {}  # folder -> its realpath
        # Full-text index upkeep for the open batch (see the module docstring).
        self._fts_columns = [row[1] for row in self.conn.execute(f"PRAGMA table_info({FTS_TABLE})")]
        # The usual index (title, abstract, author_search): its values can be taken from refresh's row.
        self._fts_indexes_row_columns = self._fts_columns == ["title", "abstract", "author_search"]
        self._fts_triggers: list[str] = []  # SQL of the triggers dropped for this batch, to recreate
        self._fts_dirty: dict[int, tuple[Any, ...] | None] = {}  # paper -> indexed values at batch start
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
            if len(self._author_ids) + len(self._affiliation_ids) > MAX_CACHED_IDS:  # keep memory bounded
                self._author_ids.clear()
                self._affiliation_ids.clear()
            try:
                self._suspend_fts_triggers()
            except sqlite3.OperationalError as err:
                raise _abort(err) from err

    def commit(self) -> None:
        if self._in_batch:
            if not self.conn.in_transaction:
                # SQLite already rolled the batch back itself (disk full, I/O error): nothing to commit.
                self.rollback()
                raise IngestAbort(
                    "ingest stopped: the database rolled back the current batch (disk full or I/O error?); "
                    "the files of earlier batches are kept, run ingest again to finish"
                )
            try:
                self._sync_fts()
            except sqlite3.OperationalError as err:
                raise _abort(err) from err
            self._execute_guarded("COMMIT")
            self._in_batch = False

    def rollback(self) -> None:
        if self._in_batch:
            try:
                if self.conn.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL)
                    self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the transaction is gone either way
            finally:
                self._in_batch = False
                self._fts_triggers = []
                self._fts_dirty.clear()
                self._author_ids.clear()  # ids made by the batch are gone
                self._affiliation_ids.clear()

    # -- full-text index ------------------------------------------------------------

    def _suspend_fts_triggers(self) -> None:
        """Drop the FTS triggers inside the batch's transaction (a catalog laid out otherwise keeps them)."""
        triggers = self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'papers'"
        ).fetchall()
        if {name for name, _ in triggers} != FTS_TRIGGERS or not self._fts_columns:
            return
        for name, _ in triggers:
            self.conn.execute(f'DROP TRIGGER "{name}"')
        self._fts_triggers = [sql for _, sql in triggers]

    def _fts_touch(self, paper_id: int, indexed: tuple[Any, ...] | None = None) -> None:
        """Remember that *paper_id* is about to change; *indexed* are its FTS column values now, if known."""
        if self._fts_triggers and paper_id not in self._fts_dirty:
            if indexed is None:
                columns = ", ".join(f'"{c}"' for c in self._fts_columns)
                indexed = self.conn.execute(f"SELECT {columns} FROM papers WHERE id = ?", [paper_id]).fetchone()
            self._fts_dirty[paper_id] = tuple(indexed) if indexed is not None else None

    def _fts_new(self, paper_id: int) -> None:
        """A paper row was just inserted (it has no index entry, unless its rowid was freed in this batch)."""
        if self._fts_triggers:
            self._fts_dirty.setdefault(paper_id, None)

    def _sync_fts(self) -> None:
        """Bring the index up to date for the papers this batch touched, and recreate the triggers.

        All or nothing (a savepoint): a failure leaves the batch exactly as before the call.
        """
        if not self._fts_triggers:
            return
        c = self.conn
        if not c.in_transaction:  # the transaction is gone (rolled back by SQLite): so are our changes
            self._fts_triggers = []
            self._fts_dirty.clear()
            return
        columns = ", ".join(f'"{col}"' for col in self._fts_columns)
        marks = ", ".join("?" for _ in self._fts_columns)
        c.execute("SAVEPOINT fts_sync")
        try:
            dirty = self._fts_dirty
            ids = list(dirty)
            now: dict[int, tuple[Any, ...]] = {}
            for start in range(0, len(ids), 10_000):
                for row in c.execute(
                    f"SELECT id, {columns} FROM papers WHERE id IN (SELECT value FROM json_each(?))",
                    [json.dumps(ids[start : start + 10_000])],
                ):
                    now[row[0]] = tuple(row[1:])
            c.executemany(
                f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, {columns}) VALUES ('delete', ?, {marks})",
                [(pid, *old) for pid, old in dirty.items() if old is not None and now.get(pid) != old],
            )
            c.executemany(
                f"INSERT INTO {FTS_TABLE} (rowid, {columns}) VALUES (?, {marks})",
                [(pid, *new) for pid, new in now.items() if dirty[pid] != new],
            )
            for sql in self._fts_triggers:
                c.execute(sql)
        except BaseException:
            try:
                c.execute("ROLLBACK TO fts_sync")
                c.execute("RELEASE fts_sync")
            except sqlite3.Error:
                pass
            raise
        c.execute("RELEASE fts_sync")
        self._fts_triggers = []
        self._fts_dirty.clear()

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

    def plan_read(self, path: Path) -> Job | None:
        """What apply_file will read of *path*, as far as can be told now (None: nothing, or unreadable)."""
        try:
            resolved, st = self._locate(path)
        except OSError:
            return None
        known = self._known.get(profile_id_for(path))
        as_of = self.as_of or datetime.fromtimestamp(st.st_mtime, UTC).date()
        if st.st_size > MAX_FILE_BYTES or (
            known is not None
            and (known[0], known[1], known[2], known[4]) == (resolved, st.st_size, st.st_mtime_ns, as_of.isoformat())
        ):
            return None
        return path, str(path), st.st_size, st.st_mtime_ns, as_of

    def apply_file(self, path: Path, loaded: Loaded | None = None) -> FileOutcome:
        """Apply one file in its own savepoint. Never raises for bad input: returns a rejection.

        *loaded* is what a :class:`ReadAhead` read of it, if it did (used if the file is unchanged since).
        """
        shown = str(path)
        pid = profile_id_for(path)
        try:
            resolved, st = self._locate(path)
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
        if loaded is None or (loaded.size, loaded.mtime_ns, loaded.as_of) != (st.st_size, st.st_mtime_ns, as_of):
            loaded = load(path, shown, st.st_size, st.st_mtime_ns, as_of, parse=False)
        if loaded.read_error is not None:
            return FileOutcome(shown, "rejected", pid, loaded.read_error)
        digest = loaded.digest

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
            profile = loaded.parsed(shown)
        except ProfileParseError as err:
            return FileOutcome(shown, "rejected", pid, str(err))
        del loaded

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

    def _locate(self, path: Path) -> tuple[str, os.stat_result]:
        """``str(path.resolve())`` and ``path.stat()``, resolving each folder only once."""
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode) or path.name in ("", ".", ".."):
            return str(path.resolve()), path.stat()
        folder = str(path.parent)
        if (real := self._folders.get(folder)) is None:
            real = self._folders[folder] = os.path.realpath(folder)
        return os.path.join(real, path.name), st  # what realpath gives when the last part is no link

    def _rollback_savepoint(self, mark_authors: int, mark_affiliations: int) -> None:
        try:
            if not self.conn.in_transaction:
                raise sqlite3.OperationalError("the transaction was already rolled back")
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

        owner = c.execute("SELECT id, name, name_norm FROM authors WHERE profile_id = ?", [pid]).fetchone()

        # Papers first seen in this file: their only listing is this profile's, so refresh_paper gets
        # what it would otherwise read back (the listing, the row as inserted, no authors yet).
        fresh: dict[int, tuple[tuple[Any, ...], _Merged]] = {}
        sink: tuple[list[Any], list[Any]] = ([], [])  # their authors and affiliations, written in one go below
        listing_rows: list[tuple[Any, ...]] = []
        seen_in_file: set[int] = set()
        keys = [_title_key(entry.title) or entry.title.casefold() for entry in profile.entries]
        paper_ids: dict[str, int] = {}  # the papers these titles already are (one query for the file)
        texts: dict[int, tuple[str, str]] = {}  # and their title and abstract: a listing giving the same stores NULL
        for key, paper_id, title, abstract in c.execute(
            """SELECT title_norm, id, title, abstract FROM papers
               WHERE title_norm IN (SELECT value FROM json_each(?))""",
            [json.dumps(keys)],
        ):
            paper_ids[key] = paper_id
            texts[paper_id] = (title, abstract)
        for position, (entry, key) in enumerate(zip(profile.entries, keys, strict=True), start=1):
            found = paper_ids.get(key)
            authors_raw = ", ".join(entry.authors) + (" et al." if entry.authors_truncated else "")
            if entry.affiliations:
                authors_raw += " · " + ", ".join(entry.affiliations)
            if found is None:
                # Its only listing will be this one: insert the row refresh_paper would make of it (the
                # merged values need no author ids; the paper's authors are added in the refresh loop).
                listing = (
                    entry.date,
                    entry.date_raw,
                    entry.category,
                    int(entry.has_code),
                    authors_raw,
                    owner[0],
                    owner[1],
                    owner[2],
                    entry.title,
                    len(entry.abstract),
                    pid,
                )
                merged = _merge([listing], entry.abstract)
                cur = c.execute(
                    """INSERT INTO papers (title, abstract, date, year, category, has_code, authors_listed,
                           authors_truncated, affiliations, author_names, author_search, title_norm)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [*merged.values, key],
                )
                paper_id = int(cur.lastrowid or 0)
                paper_ids[key] = paper_id
                self._fts_new(paper_id)
                fresh[paper_id] = (listing, merged)
            else:
                paper_id = found
            if paper_id in seen_in_file:  # the same paper twice in one profile: keep the first listing
                continue
            seen_in_file.add(paper_id)
            affected.add(paper_id)
            title, abstract = (entry.title, entry.abstract) if paper_id in fresh else texts[paper_id]
            listing_rows.append(
                (
                    pid,
                    paper_id,
                    position,
                    entry.line,
                    None if title == entry.title else entry.title,
                    entry.score,
                    entry.category,
                    entry.date,
                    entry.date_raw,
                    int(entry.has_code),
                    authors_raw,
                    None if abstract == entry.abstract else entry.abstract,
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
        known = self._prefetch([paper_id for paper_id in affected if paper_id not in fresh])
        for paper_id in sorted(affected):
            if paper_id in fresh:
                listing, merged = fresh[paper_id]
                self._refresh(paper_id, _Known([listing], None, merged.values, {}, set()), sink, merged)
            elif self.refresh_paper(paper_id, known.get(paper_id)) == "changed":
                updated += 1
        authors_rows, affiliation_rows = sink
        c.executemany(
            "INSERT INTO paper_authors (paper_id, author_id, position, is_owner) VALUES (?, ?, ?, ?)", authors_rows
        )
        c.executemany("INSERT INTO paper_affiliations (paper_id, affiliation_id) VALUES (?, ?)", affiliation_rows)
        return len(fresh), updated

    # -- papers ---------------------------------------------------------------------

    def _prefetch(self, paper_ids: list[int]) -> dict[int, _Known]:
        """What refresh_paper reads for each of *paper_ids*, in five queries instead of five per paper.

        Valid while those papers' listings, rows, authors and affiliations are not written: refreshing
        one paper writes only its own rows (and new listed authors or affiliations, which no other
        paper's reads involve), so _apply_profile can prefetch before its refresh loop.
        """
        if not paper_ids:
            return {}
        c = self.conn
        ids = [json.dumps(sorted(paper_ids))]
        listings: dict[int, list[Any]] = {}
        abstracts: dict[tuple[int, str], str] = {}
        for row in c.execute(
            f"""SELECT l.paper_id, {_LISTING_COLUMNS}, l.abstract FROM {_LISTING_JOINS}
               WHERE l.paper_id IN (SELECT value FROM json_each(?)) ORDER BY l.paper_id, l.profile_id""",
            ids,
        ):
            listings.setdefault(row[0], []).append(row[1:12])
            abstracts[row[0], row[11]] = row[12]  # NULL: the paper's own (see _store_abstracts)
        rows = {
            row[0]: tuple(row[1:])
            for row in c.execute(
                """SELECT id, title, abstract, date, year, category, has_code, authors_listed, authors_truncated,
                          affiliations, author_names, author_search
                   FROM papers WHERE id IN (SELECT value FROM json_each(?))""",
                ids,
            )
        }
        authors: dict[int, dict[int, list[Any]]] = {}
        for paper_id, author_id, position, is_owner in c.execute(
            """SELECT paper_id, author_id, position, is_owner FROM paper_authors
               WHERE paper_id IN (SELECT value FROM json_each(?))""",
            ids,
        ):
            authors.setdefault(paper_id, {})[author_id] = [position, is_owner]
        affiliations: dict[int, set[int]] = {}
        for paper_id, affiliation_id in c.execute(
            """SELECT paper_id, affiliation_id FROM paper_affiliations
               WHERE paper_id IN (SELECT value FROM json_each(?))""",
            ids,
        ):
            affiliations.setdefault(paper_id, set()).add(affiliation_id)
        out: dict[int, _Known] = {}
        for paper_id in paper_ids:
            found = listings.get(paper_id, [])
            fullest = _fullest(found) if found else None
            row = rows.get(paper_id)
            abstract = abstracts[paper_id, found[fullest][10]] if fullest is not None else None
            if abstract is None and fullest is not None and row is not None:
                abstract = row[1]
            out[paper_id] = _Known(
                found,
                abstract,
                row,
                authors.get(paper_id, {}),
                affiliations.get(paper_id, set()),
            )
        return out

    def refresh_paper(self, paper_id: int, known: _Known | None = None) -> Literal["deleted", "changed", "same"]:
        """Recompute a paper's merged fields and authors from its current listings.

        Deletes the paper when no listing is left. Returns what happened to it. *known*
        is what :meth:`_prefetch` read for it, if it did.
        """
        c = self.conn
        if known is not None:
            listings = known.listings
        else:
            listings = c.execute(
                f"SELECT {_LISTING_COLUMNS} FROM {_LISTING_JOINS} WHERE l.paper_id = ? ORDER BY l.profile_id",
                [paper_id],
            ).fetchall()
        if not listings:
            self._fts_touch(paper_id)
            c.execute("DELETE FROM paper_authors WHERE paper_id = ?", [paper_id])
            c.execute("DELETE FROM paper_affiliations WHERE paper_id = ?", [paper_id])
            c.execute("DELETE FROM papers WHERE id = ?", [paper_id])
            return "deleted"
        return self._refresh(paper_id, known or _Known(listings))

    def _refresh(
        self,
        paper_id: int,
        known: _Known,
        sink: tuple[list[Any], list[Any]] | None = None,
        merged: _Merged | None = None,
    ) -> Literal["changed", "same"]:
        """refresh_paper's work, given the paper's listings (as its query returns them, never empty).

        What *known* leaves as None is read from the database. With a *sink* (a paper inserted by the
        file being applied, with no authors or affiliations yet) its paper_authors and
        paper_affiliations rows are collected in the sink's two lists instead of written.
        """
        c = self.conn
        listings = known.listings
        changed = False
        if merged is None:
            abstract = known.abstract
            if abstract is None:
                abstract = c.execute(
                    """SELECT coalesce(l.abstract, p.abstract) FROM listings l JOIN papers p ON p.id = l.paper_id
                       WHERE l.profile_id = ? AND l.paper_id = ?""",
                    [listings[_fullest(listings)][10], paper_id],
                ).fetchone()[0]
            merged = _merge(listings, abstract)

        owners = merged.owners
        wanted: dict[int, list[Any]] = {}
        for position, (name, key) in enumerate(zip(merged.names, merged.name_keys, strict=True), start=1):
            if not key:
                continue
            author_id = owners.get(key) or self._listed_author(key, name)
            wanted.setdefault(author_id, [position, 0])
        for author_id in merged.owner_names:
            wanted.setdefault(author_id, [None, 0])[1] = 1
        current = known.authors
        if current is None:
            current = {
                row[0]: [row[1], row[2]]
                for row in c.execute(
                    "SELECT author_id, position, is_owner FROM paper_authors WHERE paper_id = ?", [paper_id]
                )
            }
        if current != wanted:
            changed = True
            if sink is not None:
                sink[0].extend((paper_id, aid, pos, own) for aid, (pos, own) in wanted.items())
            else:  # write the difference: the rows end up exactly as wanted
                gone = [(paper_id, aid) for aid in current if aid not in wanted]
                if gone:
                    c.executemany("DELETE FROM paper_authors WHERE paper_id = ? AND author_id = ?", gone)
                c.executemany(
                    """INSERT INTO paper_authors (paper_id, author_id, position, is_owner) VALUES (?, ?, ?, ?)
                       ON CONFLICT (paper_id, author_id) DO UPDATE
                       SET position = excluded.position, is_owner = excluded.is_owner""",
                    [(paper_id, aid, *pair) for aid, pair in wanted.items() if current.get(aid) != pair],
                )

        wanted_affiliations = {self._affiliation(name) for name in merged.affiliations if _name_key(name)}
        current_affiliations = known.affiliations
        if current_affiliations is None:
            current_affiliations = {
                row[0]
                for row in c.execute("SELECT affiliation_id FROM paper_affiliations WHERE paper_id = ?", [paper_id])
            }
        if wanted_affiliations != current_affiliations:
            changed = True
            affiliation_rows = [(paper_id, aid) for aid in sorted(wanted_affiliations)]
            if sink is not None:
                sink[1].extend(affiliation_rows)
            else:
                c.execute("DELETE FROM paper_affiliations WHERE paper_id = ?", [paper_id])
                c.executemany(
                    "INSERT INTO paper_affiliations (paper_id, affiliation_id) VALUES (?, ?)", affiliation_rows
                )

        values = merged.values
        row = known.row
        if row is None:
            row = c.execute(
                """SELECT title, abstract, date, year, category, has_code, authors_listed, authors_truncated,
                          affiliations, author_names, author_search FROM papers WHERE id = ?""",
                [paper_id],
            ).fetchone()
        if tuple(row) != values:  # only touch the row (and its FTS entry) when something changed
            changed = True
            if row[0] != values[0]:
                self._store_shared(paper_id, "title", row[0], values[0])
            if row[1] != values[1]:
                self._store_shared(paper_id, "abstract", row[1], values[1])
            self._fts_touch(paper_id, (row[0], row[1], row[10]) if self._fts_indexes_row_columns else None)
            c.execute(_UPDATE_PAPER, [*values, paper_id])
        return "changed" if changed else "same"

    def _store_shared(self, paper_id: int, column: Literal["title", "abstract"], old: str, new: str) -> None:
        """The paper's *column* goes from *old* to *new*: keep its listings' NULL exactly where they equal it."""
        c = self.conn
        c.execute(f"UPDATE listings SET {column} = ? WHERE paper_id = ? AND {column} IS NULL", [old, paper_id])
        c.execute(f"UPDATE listings SET {column} = NULL WHERE paper_id = ? AND {column} = ?", [paper_id, new])

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
        key = _name_key(name)
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
        self._author_ids.clear()  # some of them were just deleted
        self._affiliation_ids.clear()
        self.commit()
        # Refresh the query planner's statistics where they are stale; only an optimisation, so a busy
        # or full database must not fail the ingest.
        with contextlib.suppress(sqlite3.OperationalError):
            self.conn.execute("PRAGMA optimize")


def _searchable_names(names: list[str]) -> str:
    """Names for the full-text index, plus accent-folded forms ("Łukasz" also as "lukasz")."""
    folded = [key for key in (_name_key(n) for n in names if not n.isascii()) if key.isascii()]
    return ", ".join([*names, *folded])


def _abort(err: sqlite3.OperationalError, path: str | None = None) -> IngestAbort:
    text = str(err)
    where = f" while applying {path}" if path else ""
    if "full" in text:
        hint = "the disk is full; free some space and run ingest again (files committed before this are kept)"
    elif "locked" in text or "busy" in text:
        hint = "another process holds the catalog's write lock (another ingest?); wait for it and retry"
    elif "readonly" in text or "read-only" in text:
        hint = "the catalog or its folder is read-only; choose a writable --db"
    else:
        hint = text
    return IngestAbort(f"ingest stopped{where}: {hint} ({text})")


def _run(
    ingester: Ingester,
    todo: list[Path],
    report: IngestReport,
    *,
    prune: bool,
    on_file: Callable[[FileOutcome], None] | None,
) -> None:
    workers = worker_count(len(todo))
    reader = ReadAhead(todo, ingester.plan_read, workers) if workers else None
    try:
        for path in todo:
            outcome = ingester.apply_file(path, reader.take(path) if reader is not None else None)
            report.add(outcome)
            if on_file is not None:
                on_file(outcome)
        if reader is not None:
            reader.close()
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
    finally:
        if reader is not None:
            reader.close()


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
    saved = {name: db.conn.execute(f"PRAGMA {name}").fetchone()[0] for name in INGEST_PRAGMAS}
    for name, value in INGEST_PRAGMAS.items():
        db.conn.execute(f"PRAGMA {name} = {int(value)}")
    try:
        _run(ingester, todo, report, prune=prune, on_file=on_file)
    finally:
        for name, value in saved.items():
            with contextlib.suppress(sqlite3.Error):
                db.conn.execute(f"PRAGMA {name} = {int(value)}")
    report.profiles = db.execute("SELECT count(*) FROM profiles").fetchone()[0]
    report.papers = db.execute("SELECT count(*) FROM papers").fetchone()[0]
    report.seconds = time.perf_counter() - started
    return report
