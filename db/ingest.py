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

Speed (see ``bench/README.md``, and ``bench/HISTORY.md`` round by round): files are applied in batches,
one transaction each, by this one process; with enough files, worker processes read, hash and parse them
ahead of it. The parts:

* :mod:`.ingest_files` — finding the files, reading them, the worker processes;
* :mod:`.ingest_known` — what the catalog knows of each file, and which files changed since;
* :mod:`.ingest_rows` — one profile's rows, and the merged rows of the papers it lists;
* :mod:`.ingest_merge` — the merge rules for a paper listed by several profiles;
* :mod:`.ingest_fts` — the full-text index, brought up to date once per batch;
* this module — batches, savepoints, outcomes, and :func:`ingest` itself.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from . import title_words
from .connection import WritableCatalog
from .ingest_files import (
    MAX_FILE_BYTES,
    Fork,
    Loaded,
    ReadAhead,
    UsageError,
    discover,
    load,
    profile_id_for,
    worker_count,
    workers_setting,
)
from .ingest_fts import BUILD_MERGE, USUAL_MERGE
from .ingest_known import KnownFiles
from .ingest_merge import listing_fields
from .ingest_rows import CLEANUP_DUE, RowWriter
from .parser import ProfileParseError
from .schema import create_read_indexes, drop_read_indexes, now_iso

__all__ = ["MAX_FILE_BYTES", "FileOutcome", "IngestAbort", "IngestReport", "Ingester", "UsageError", "discover"]
__all__ += ["ingest", "profile_id_for", "workers_setting"]

Status = Literal["applied", "unchanged", "rejected"]

# A batch (one transaction) ends after this many files or seconds: readers see progress that often.
# Each commit writes every page the batch dirtied and FTS5 starts a segment per batch, so fewer, larger
# batches write less (a first ingest at 50k: ~0.8x the time of 2 s batches, bench/HISTORY.md "Round fifteen").
BATCH_FILES = 4000
BATCH_SECONDS = 8.0
MAX_CACHED_IDS = 100_000  # listed-author and affiliation ids remembered across batches
# Connection settings for the length of an ingest (restored after): a 128 MB page cache instead of
# 64 MB, and a WAL checkpoint every ~40 MB instead of every 4 MB (each checkpoint syncs to disk).
INGEST_PRAGMAS = {"cache_size": -131072, "wal_autocheckpoint": 5_000}
# The page cache while finish makes the indexes a first build deferred: SQLite's sorter keeps up to a page
# cache's worth of keys in memory before it merges sorted runs: at 250,000 profiles those sorts held 142 MB
# with the ingest's 128 MB cache and 44 MB with this one, in no more time (bench/HISTORY.md "Round twenty-four").
SORT_CACHE_SIZE = -32768


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


class Ingester(KnownFiles, RowWriter):
    """Applies profile files to a writable catalog (see :func:`ingest`).

    Which files changed is told by :class:`KnownFiles`; the rows a file makes are written by
    :class:`RowWriter`, the full-text index kept by its base :class:`FtsUpkeep`; this class reads the
    files and runs the batches and savepoints around them.
    """

    def __init__(self, db: WritableCatalog, *, as_of: date | None = None) -> None:
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
        self._titles_before: dict[int, str | None] = {}  # the batch's papers for title_words (see RowWriter)
        self._init_fts()  # full-text index upkeep for the open batch (see ingest_fts)
        self._init_known()  # what the catalog knows of each profile's file (see ingest_known)
        # Whether finish's clean-up is due: some paper may have lost an author or affiliation, in this run
        # or in one stopped before its finish (the mark is committed with the first such change, removed
        # by finish; see RowWriter._note_rows_changed).
        self._rows_changed = self._cleanup_marked()
        # A catalog without profiles is being built: the indexes ingest never reads are dropped with the
        # first batch and made at the end (finish), and FTS5 writes without merging until the final merge
        # (ingest_fts.BUILD_MERGE); every other run makes any missing index and restores FTS5's merge
        # settings (a first build stopped before its end) with its first batch.
        self._read_indexes: Literal["defer", "ensure"] | None = "ensure" if self._known else "defer"

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
                if self._read_indexes is not None:
                    building = self._read_indexes == "defer"
                    (drop_read_indexes if building else create_read_indexes)(self.conn)
                    self._fts_merge_settings(BUILD_MERGE if building else USUAL_MERGE)
                    self._read_indexes = None
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
                title_words.sync(self.conn, self._titles_before)
                self._titles_before.clear()
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
                self._titles_before.clear()
                self._author_ids.clear()  # ids made by the batch are gone
                self._affiliation_ids.clear()
                # The mark may have gone with the batch: the next change writes it again if so.
                self._rows_changed = self._cleanup_marked()

    def _cleanup_marked(self) -> bool:
        """Whether the catalog holds the mark that finish's clean-up is due (if it cannot tell: yes)."""
        try:
            return self.conn.execute("SELECT 1 FROM meta WHERE key = ?", [CLEANUP_DUE]).fetchone() is not None
        except sqlite3.Error:
            return True

    # -- full-text index ------------------------------------------------------------

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

    def apply_file(self, path: str | os.PathLike[str], loaded: Loaded | None = None) -> FileOutcome:
        """Apply one file in its own savepoint. Never raises for bad input: returns a rejection.

        *loaded* is what a :class:`ReadAhead` read of it, if it did (used if the file is unchanged since).
        """
        path = shown = os.fspath(path)
        if (located := self._located.pop(path, None)) is not None:
            pid, resolved, st, as_of, as_of_iso = located
        else:
            pid = profile_id_for(path)
            try:
                resolved, st = self._locate(path)
            except OSError as err:
                return FileOutcome(shown, "rejected", pid, f"{shown}: cannot read: {err.strerror or err}")
            as_of, as_of_iso = self._as_of_for(st)
        if (other := self._seen.get(pid)) is not None and other != resolved:
            return FileOutcome(
                shown,
                "rejected",
                pid,
                f"{shown}: profile id {pid!r} is already used by {other}; file stems must be unique",
            )
        known = self._known.get(pid)
        self._seen[pid] = known[0] if known is not None and known[0] == resolved else resolved  # one copy kept
        if (
            known is not None
            and known[0] == resolved
            and known[1] == st.st_size
            and known[2] == st.st_mtime_ns
            and known[3] == as_of_iso
        ):
            return FileOutcome(shown, "unchanged", pid)
        if st.st_size > MAX_FILE_BYTES:
            return FileOutcome(shown, "rejected", pid, f"{shown}: {st.st_size:,} bytes is too large for a profile page")
        if loaded is None or (loaded.size, loaded.mtime_ns, loaded.as_of) != (st.st_size, st.st_mtime_ns, as_of):
            loaded = load(path, st.st_size, st.st_mtime_ns, as_of, parse=False)
        if loaded.read_error is not None:
            return FileOutcome(shown, "rejected", pid, loaded.read_error)
        digest = loaded.digest

        self._begin_batch()
        if known is not None and known[3] == as_of_iso and self._stored_digest(pid) == digest:
            # Same content and reference date (moved, or touched within the day): remember where we saw it.
            self.conn.execute(
                "UPDATE profiles SET source_path = ?, source_size = ?, source_mtime_ns = ? WHERE id = ?",
                [resolved, st.st_size, st.st_mtime_ns, pid],
            )
            self._known[pid] = (resolved, st.st_size, st.st_mtime_ns, known[3])
            self._maybe_commit()
            return FileOutcome(shown, "unchanged", pid)

        try:
            profile = loaded.parsed(shown)
        except ProfileParseError as err:
            return FileOutcome(shown, "rejected", pid, str(err))
        fields = loaded.fields or listing_fields(profile)
        del loaded

        self.conn.execute("SAVEPOINT profile_file")
        mark_authors, mark_affiliations = len(self._new_authors), len(self._new_affiliations)
        try:
            new, updated = self._apply_profile(pid, profile, fields, resolved, st, digest, as_of)
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
        self._known[pid] = (resolved, st.st_size, st.st_mtime_ns, as_of_iso)
        self._maybe_commit()
        return FileOutcome(shown, "applied", pid, papers_new=new, papers_updated=updated)

    def _stored_digest(self, pid: str) -> str | None:
        """The content hash the catalog holds for profile *pid*."""
        row = self.conn.execute("SELECT content_hash FROM profiles WHERE id = ?", [pid]).fetchone()
        return row[0] if row else None

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
        else:
            self._rows_changed = self._cleanup_marked()  # the mark may have been written in the savepoint
        for key in self._new_authors[mark_authors:]:
            self._author_ids.pop(key, None)
        for key in self._new_affiliations[mark_affiliations:]:
            self._affiliation_ids.pop(key, None)
        del self._new_authors[mark_authors:]
        del self._new_affiliations[mark_affiliations:]

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
        self._note_rows_changed()

    def finish(self) -> None:
        """Drop authors and affiliations no paper refers to any more, stamp the build time, commit."""
        self._begin_batch()
        try:
            cache_size = self.conn.execute("PRAGMA cache_size").fetchone()[0]
            self.conn.execute(f"PRAGMA cache_size = {SORT_CACHE_SIZE}")
            try:
                create_read_indexes(self.conn)  # before the clean-up, which reads paper_authors by author
            finally:
                self.conn.execute(f"PRAGMA cache_size = {int(cache_size)}")
        except sqlite3.OperationalError as err:
            raise _abort(err) from err
        if self._rows_changed:  # else no author or affiliation can have lost its last paper: skip the scans
            self.conn.execute(
                """DELETE FROM authors WHERE profile_id IS NULL
                   AND NOT EXISTS (SELECT 1 FROM paper_authors pa WHERE pa.author_id = authors.id)"""
            )
            self.conn.execute(
                """DELETE FROM affiliations
                   WHERE NOT EXISTS (SELECT 1 FROM paper_affiliations pa WHERE pa.affiliation_id = affiliations.id)"""
            )
            self.conn.execute("DELETE FROM meta WHERE key = ?", [CLEANUP_DUE])
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('built_at', ?)", [now_iso()])
        self._author_ids.clear()  # some of them were just deleted
        self._affiliation_ids.clear()
        self._final_batch = True
        try:
            self.commit()
        finally:
            self._final_batch = False
        self.merge_fts_if_due()
        # Refresh the query planner's statistics where they are stale; only an optimisation, so a busy
        # or full database must not fail the ingest.
        with contextlib.suppress(sqlite3.OperationalError):
            self.conn.execute("PRAGMA optimize")


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
    todo: list[str],
    report: IngestReport,
    *,
    prune: bool,
    on_file: Callable[[FileOutcome], None] | None,
) -> None:
    workers = worker_count(len(todo))
    eager = workers_setting() is not None
    reader: ReadAhead | None = None
    if ingester._known:
        # A catalog that knows profiles already is probably being re-ingested: the files unchanged
        # since are sorted out by their stat as the run goes, and only the others are read ahead.
        files = Fork(ingester.by_stat(todo))
        decided = files.all()
        if workers:
            reader = ReadAhead(files.undecided(), ingester.plan_read, workers, eager=eager, dense=True)
    else:
        decided = ((path, None) for path in todo)
        if workers:
            reader = ReadAhead(todo, ingester.plan_read, workers, eager=eager)
    try:
        for path, pid in decided:
            if pid is not None:
                outcome = FileOutcome(path, "unchanged", pid)
            else:
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
    db: WritableCatalog,
    paths: Iterable[str | os.PathLike[str]],
    *,
    as_of: date | None = None,
    prune: bool = False,
    on_file: Callable[[FileOutcome], None] | None = None,
    files: list[str] | None = None,
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
