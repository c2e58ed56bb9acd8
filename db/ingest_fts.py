"""Full-text index upkeep per batch instead of per row (see :mod:`scholar_catalog.db.ingest`).

FTS5 flushes its pending index data at every savepoint, and a trigger runs each row's index update
in a savepoint of its own, which made index writes several times dearer than the rows themselves.
So the ``papers_*`` triggers are dropped at the start of a batch's transaction, the papers the batch
touches are remembered with the indexed values they had when it began, and just before the commit
:meth:`FtsUpkeep._sync_fts` brings the index up to date for exactly those papers and recreates the
triggers from their own stored SQL, all inside the same transaction. Anything else derived per
paper is refreshed at that same point, for exactly the papers in ``_fts_dirty``: the term counts of
:mod:`scholar_catalog.db.term_docs` and the semantic extra's vectors.

FTS5 keeps each commit's entries in segments of their own; once a tenth of the index was written since it
was last merged (a first ingest, large edits), :meth:`FtsUpkeep.merge_fts_if_due` merges it into one
after the run's last commit, so a lookup reads one segment instead of a dozen or more. A first build
writes its batches' segments with FTS5's own merging off (:data:`BUILD_MERGE`), since that merge
rewrites them all anyway, and FTS5's usual settings are restored with it.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from scholar_catalog.db import facets, term_docs, vectors

# The triggers (made by sqlite-utils' enable_fts) that keep papers_fts in step with papers.
FTS_TABLE = "papers_fts"
FTS_TRIGGERS = frozenset({"papers_ai", "papers_ad", "papers_au"})
# meta key: entries written to the index (a paper added, or its old entry dropped) since the index was
# last merged into one segment. FTS5 writes each batch's entries as new segments and merges them only a
# few at a time, so a first ingest leaves a dozen segments or more, and a lookup reads a term's postings
# from each (bench/HISTORY.md "Round ten").
FTS_CHURN = "fts_churn"
MERGE_SHARE = 0.1  # merge once those entries reach this share of the papers
# FTS5's merge settings (its 'automerge' and 'crisismerge' options) while a catalog is first built, and
# otherwise. As it writes, FTS5 merges a few segments at a time, work in proportion to the pages written
# times the index's levels, which grow with it, and merges a whole level once it holds 'crisismerge'
# segments. A first build ends by merging the whole index into one segment (merge_fts_if_due), so all
# that earlier merging is work done twice: it writes with neither (bench/HISTORY.md "Round twenty-three").
BUILD_MERGE = {"automerge": 0, "crisismerge": 1999}  # 1999: FTS5's largest (it keeps at most 2,000 segments)
USUAL_MERGE = {"automerge": 4, "crisismerge": 16}  # FTS5's defaults
SYNC_PART = 2_000  # papers whose indexed text a batch's index sync reads back at a time


class FtsUpkeep:
    """The full-text index part of :class:`~scholar_catalog.db.ingest.Ingester`."""

    conn: sqlite3.Connection

    def _init_fts(self) -> None:
        self._fts_columns = [row[1] for row in self.conn.execute(f"PRAGMA table_info({FTS_TABLE})")]
        # The usual index (title, abstract, author_search): its values can be taken from refresh's row.
        self._fts_indexes_row_columns = self._fts_columns == ["title", "abstract", "author_search"]
        self._fts_triggers: list[str] = []  # SQL of the triggers dropped for this batch, to recreate
        self._fts_dirty: dict[int, tuple[Any, ...] | None] = {}  # paper -> indexed values at batch start
        self._final_batch = False  # the run's last batch (Ingester.finish): counts deferred to it are made

    def _suspend_fts_triggers(self) -> None:
        """Drop the FTS triggers inside the batch's transaction (a catalog laid out otherwise keeps them)."""
        triggers = [
            (name, sql)
            for name, sql in self.conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'papers'"
            )
            if name not in facets.TRIGGERS  # the facets table's stay: they keep it equal to papers
        ]
        if {name for name, _ in triggers} != FTS_TRIGGERS or not self._fts_columns:
            return
        for name, _ in triggers:
            self.conn.execute(f'DROP TRIGGER "{name}"')
        self._fts_triggers = [sql for _, sql in triggers]

    def _fts_merge_settings(self, settings: dict[str, int]) -> None:
        """Set FTS5's merge options to *settings* where they differ (they are kept in the index's config)."""
        if not self._fts_columns:
            return
        stored = dict(self.conn.execute(f"SELECT k, v FROM {FTS_TABLE}_config WHERE k IN ('automerge', 'crisismerge')"))
        for name, value in settings.items():
            if stored.get(name, USUAL_MERGE[name]) != value:
                self.conn.execute(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rank) VALUES (?, ?)", [name, value])

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
            drop = f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, {columns}) VALUES ('delete', ?, {marks})"
            add = f"INSERT INTO {FTS_TABLE} (rowid, {columns}) VALUES (?, {marks})"
            # The counts of a new catalog's batches are made once, at its end (term_docs.apply): their
            # texts need not be kept for it.
            counted = self._final_batch or not term_docs.is_stale(c)
            changes: list[tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]] = []
            refreshed: list[int] = []
            written = 0
            ids = sorted(dirty)
            # In rowid order, each paper's old entry dropped just before its new one is added: FTS5 starts
            # a new segment whenever a write's rowid is lower than the last one's (or equal, after an add),
            # so a batch's entries then make one segment, not a deletions' and an additions' one or more.
            # The papers' text is read back a part at a time, so a large batch never holds all of it.
            for start in range(0, len(ids), SYNC_PART):
                part = ids[start : start + SYNC_PART]
                now: dict[int, tuple[Any, ...]] = {
                    row[0]: tuple(row[1:])
                    for row in c.execute(
                        f"SELECT id, {columns} FROM papers WHERE id IN (SELECT value FROM json_each(?))",
                        [json.dumps(part)],
                    )
                }
                for pid in part:
                    old, new = dirty[pid], now.get(pid)
                    if counted:
                        changes.append((old, new))
                    if old is not None and new == old:
                        continue
                    refreshed.append(pid)
                    if old is not None:
                        c.execute(drop, (pid, *old))
                        written += 1
                    if new is not None:
                        c.execute(add, (pid, *new))
                        written += 1
            if written:
                c.execute(
                    """INSERT INTO meta (key, value) VALUES (?, ?)
                       ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value""",
                    [FTS_CHURN, written],
                )
            term_docs.apply(c, changes, title=self._fts_columns.index("title"), final=self._final_batch)
            vectors.refresh(c, refreshed)
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

    def merge_fts_if_due(self) -> bool:
        """Merge the full-text index into one segment if enough was written to it since it last was.

        Its own transaction, after the run's last commit: stopped midway, the index is as before. FTS5's
        merge settings are restored with it (a first build writes with :data:`BUILD_MERGE`).
        Only an optimisation (answers are the same either way), so a busy or full disk does not fail
        the ingest; the merge is then left to a later run.
        """
        c = self.conn
        try:
            row = c.execute("SELECT value FROM meta WHERE key = ?", [FTS_CHURN]).fetchone()
            churn = int(row[0]) if row is not None else 0
            if churn == 0 or churn < MERGE_SHARE * c.execute("SELECT count(*) FROM papers").fetchone()[0]:
                return False
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}) VALUES ('optimize')")
                self._fts_merge_settings(USUAL_MERGE)
                c.execute("DELETE FROM meta WHERE key = ?", [FTS_CHURN])
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise
        except (sqlite3.Error, ValueError):  # busy, full, or an index SQLite cannot merge: left as it is
            return False
        return True
