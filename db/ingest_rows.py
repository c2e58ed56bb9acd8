"""Writing one profile's rows and keeping the papers it lists merged (see :mod:`scholar_catalog.db.ingest`).

A listing's title and abstract are stored only where they differ from the paper's (NULL otherwise):
whenever a paper's title or abstract changes, its listings are rewritten so that this stays exact.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from . import title_words
from .ingest_fts import FtsUpkeep
from .ingest_merge import (
    _LISTING_COLUMNS,
    _LISTING_JOINS,
    _UPDATE_PAPER,
    _fullest,
    _Known,
    _merge,
    _merge_added_last,
    _Merged,
    _name_key,
)
from .normalize import normalize_name
from .parser import Profile
from .schema import now_iso

CLEANUP_DUE = "cleanup_due"  # meta key: a paper lost an author or affiliation, and finish has not yet run


@dataclass(slots=True)
class _AddedPlan:
    """What adding one listing (last by profile id) changes in a paper: see RowWriter._plan_added."""

    row: tuple[Any, ...]  # the papers row now
    values: tuple[Any, ...]  # and after
    owner_id: int  # the new listing's profile owner: an author of the paper
    position: int | None  # where the owner's name is in the author line (None: not in it)
    replaced: int | None  # the listed author of that name, whom the owner replaces there


class RowWriter(FtsUpkeep):
    """Profiles' rows and their papers' merged rows: the catalog-writing part of the Ingester."""

    _author_ids: dict[str, int]
    _affiliation_ids: dict[str, int]
    _new_authors: list[str]
    _new_affiliations: list[str]
    _rows_changed: bool  # the clean-up mark is in the catalog (see _note_rows_changed)
    _titles_before: dict[int, str | None]  # paper inserted or deleted in the batch -> its key at the start

    def _note_rows_changed(self) -> None:
        """Mark finish's clean-up as due, in the open batch (so a run stopped before finish leaves it due).

        Called wherever a paper loses an author or affiliation: only then can one be left with no
        paper, and a run without such a change (new scores, new papers) skips the clean-up's scans.
        """
        if not self._rows_changed:
            self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, '1')", [CLEANUP_DUE])
            self._rows_changed = True

    def _apply_profile(
        self,
        pid: str,
        profile: Profile,
        fields: tuple[list[str], list[str]],
        resolved: str,
        st: os.stat_result,
        digest: str,
        as_of: date,
    ) -> tuple[int, int]:
        c = self.conn
        # What the profile listed before (the parts the merge reads; title and abstract NULL where the paper's).
        before: dict[int, tuple[Any, ...]] = {}
        # And each listing row as stored (the order of listing_rows below): only the ones that differ are written.
        previous: dict[int, tuple[Any, ...]] = {}
        for row in c.execute(
            """SELECT profile_id, paper_id, position, line, title, score, category, date, date_raw, has_code,
                      authors_raw, abstract FROM listings WHERE profile_id = ?""",
            [pid],
        ):
            previous[row[1]] = tuple(row)
            before[row[1]] = (row[7], row[8], row[6], row[9], row[10], row[4], row[11])
        affected = set(before)
        owner_before = c.execute("SELECT name, name_norm FROM authors WHERE profile_id = ?", [pid]).fetchone()
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
        # A paper whose listing here gives the merge exactly what it gave before (same owner name too) keeps
        # the fields merged from its listings: refreshing it would find nothing to change (see _same_listing).
        same_owner = owner_before is not None and tuple(owner_before) == (owner[1], owner[2])
        unchanged: set[int] = set()
        added: dict[int, tuple[Any, ...]] = {}  # new listings of papers known before: refresh_paper's query row

        # Papers first seen in this file: their only listing is this profile's, so refresh_paper gets
        # what it would otherwise read back (the listing, the row as inserted, no authors yet).
        fresh: dict[int, tuple[tuple[Any, ...], _Merged]] = {}
        sink: tuple[list[Any], list[Any]] = ([], [])  # their authors and affiliations, written in one go below
        listing_rows: list[tuple[Any, ...]] = []
        seen_in_file: set[int] = set()
        keys, author_lines = fields  # listing_fields(profile)
        paper_ids: dict[str, int] = {}  # the papers these titles already are (one query for the file)
        texts: dict[int, tuple[str, str]] = {}  # and their title and abstract: a listing giving the same stores NULL
        hashes = [title_words.title_hash(key) for key in keys]
        wanted = set(keys)
        for key, paper_id, title, abstract in c.execute(
            """SELECT title_norm, id, title, abstract FROM papers
               WHERE title_key IN (SELECT value FROM json_each(?))""",
            [json.dumps(hashes)],
        ):
            if key in wanted:  # not another title with the same hash
                paper_ids[key] = paper_id
                texts[paper_id] = (title, abstract)
        for position, (entry, key, key_hash, authors_raw) in enumerate(
            zip(profile.entries, keys, hashes, author_lines, strict=True), 1
        ):
            found = paper_ids.get(key)
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
                           authors_truncated, affiliations, author_names, author_search, title_norm, title_key)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [*merged.values, key, key_hash],
                )
                paper_id = int(cur.lastrowid or 0)
                paper_ids[key] = paper_id
                self._titles_before.setdefault(paper_id, None)
                self._fts_new(paper_id)
                fresh[paper_id] = (listing, merged)
            else:
                paper_id = found
            if paper_id in seen_in_file:  # the same paper twice in one profile: keep the first listing
                continue
            seen_in_file.add(paper_id)
            affected.add(paper_id)
            title, abstract = (entry.title, entry.abstract) if paper_id in fresh else texts[paper_id]
            if paper_id not in fresh and paper_id not in before:  # a paper known before, new to this profile
                added[paper_id] = (entry.date, entry.date_raw, entry.category, int(entry.has_code), authors_raw)
                added[paper_id] += (*owner, entry.title, len(entry.abstract), pid)
            if same_owner and (old := before.get(paper_id)) is not None:
                merged_from = (entry.date, entry.date_raw, entry.category, int(entry.has_code), authors_raw)
                if (
                    old[:5] == merged_from
                    and (title if old[5] is None else old[5]) == entry.title
                    and (abstract if old[6] is None else old[6]) == entry.abstract
                ):
                    unchanged.add(paper_id)
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
        listed = {row[1] for row in listing_rows}
        gone = [(pid, paper_id) for paper_id in previous if paper_id not in listed]
        if gone:
            c.executemany("DELETE FROM listings WHERE profile_id = ? AND paper_id = ?", gone)
        c.executemany(
            """INSERT INTO listings (profile_id, paper_id, position, line, title, score, category, date,
                   date_raw, has_code, authors_raw, abstract) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (profile_id, paper_id) DO UPDATE SET position = excluded.position,
                   line = excluded.line, title = excluded.title, score = excluded.score,
                   category = excluded.category, date = excluded.date, date_raw = excluded.date_raw,
                   has_code = excluded.has_code, authors_raw = excluded.authors_raw, abstract = excluded.abstract""",
            [row for row in listing_rows if previous.get(row[1]) != row],
        )
        if len(listing_rows) != len(profile.entries):  # a paper listed twice counts once
            c.execute("UPDATE profiles SET papers_listed = ? WHERE id = ?", [len(listing_rows), pid])
        updated = 0
        affected -= unchanged
        quick = self._plan_added(pid, added)
        known = self._prefetch([paper_id for paper_id in affected if paper_id not in fresh and paper_id not in quick])
        for paper_id in sorted(affected):
            if paper_id in fresh:
                listing, merged = fresh[paper_id]
                self._refresh(paper_id, _Known([listing], None, merged.values, {}, set()), sink, merged)
            elif (plan := quick.get(paper_id)) is not None:
                self._apply_added(paper_id, plan)
                updated += 1
            elif self.refresh_paper(paper_id, known.get(paper_id)) == "changed":
                updated += 1
        authors_rows, affiliation_rows = sink
        c.executemany(
            "INSERT INTO paper_authors (paper_id, author_id, position, is_owner) VALUES (?, ?, ?, ?)", authors_rows
        )
        c.executemany("INSERT INTO paper_affiliations (paper_id, affiliation_id) VALUES (?, ?)", affiliation_rows)
        return len(fresh), updated

    # -- papers ---------------------------------------------------------------------

    def _plan_added(self, pid: str, added: dict[int, tuple[Any, ...]]) -> dict[int, _AddedPlan]:
        """For papers given a new listing by profile *pid* (already written), what refresh_paper would
        write, where that follows from the paper's stored row without merging all its listings: *pid*
        sorts after every other listing's profile (see :func:`_merge_added_last`). Reads only.
        """
        if not added:
            return {}
        c = self.conn
        ids = json.dumps(sorted(added))
        others = {
            row[0]: (row[1], bool(row[2]))
            for row in c.execute(
                """SELECT paper_id, max(profile_id), max(instr(date_raw, ',') > 0) FROM listings
                   WHERE paper_id IN (SELECT value FROM json_each(?)) AND profile_id != ? GROUP BY paper_id""",
                [ids, pid],
            )
        }
        plans: dict[int, _AddedPlan] = {}
        for row in c.execute(
            """SELECT id, title, abstract, date, year, category, has_code, authors_listed, authors_truncated,
                      affiliations, author_names, author_search
               FROM papers WHERE id IN (SELECT value FROM json_each(?))""",
            [ids],
        ):
            paper_id, current = row[0], tuple(row[1:])
            last, dated_with_year = others.get(paper_id, (None, False))
            if last is None or not pid > last:
                continue
            result = _merge_added_last(current, added[paper_id], dated_with_year)
            if result is None:
                continue
            replaced = None  # the listed author whose place in the line the new owner takes
            if result.position is not None:
                at = c.execute(
                    "SELECT author_id, is_owner FROM paper_authors WHERE paper_id = ? AND position = ?",
                    [paper_id, result.position],
                ).fetchall()
                if len(at) != 1:
                    continue
                if not at[0][1]:  # an earlier owner of the same name keeps the place otherwise
                    replaced = at[0][0]
            plans[paper_id] = _AddedPlan(current, result.values, added[paper_id][5], result.position, replaced)
        return plans

    def _apply_added(self, paper_id: int, plan: _AddedPlan) -> None:
        """Write what :meth:`_plan_added` planned: the new owner's authorship and the row's new fields."""
        c = self.conn
        if plan.replaced is not None:
            self._note_rows_changed()
            c.execute("DELETE FROM paper_authors WHERE paper_id = ? AND author_id = ?", [paper_id, plan.replaced])
        position = plan.position if plan.replaced is not None else None
        c.execute(
            """INSERT INTO paper_authors (paper_id, author_id, position, is_owner) VALUES (?, ?, ?, 1)
               ON CONFLICT (paper_id, author_id) DO UPDATE SET position = excluded.position, is_owner = 1""",
            [paper_id, plan.owner_id, position],
        )
        row = plan.row
        if row != plan.values:
            self._fts_touch(paper_id, (row[0], row[1], row[10]) if self._fts_indexes_row_columns else None)
            c.execute(_UPDATE_PAPER, [*plan.values, paper_id])

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
            self._note_rows_changed()
            self._fts_touch(paper_id)
            if paper_id not in self._titles_before:
                gone = c.execute("SELECT title_norm FROM papers WHERE id = ?", [paper_id]).fetchone()
                self._titles_before[paper_id] = gone[0] if gone else None
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
                    self._note_rows_changed()
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
                if current_affiliations - wanted_affiliations:
                    self._note_rows_changed()
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
