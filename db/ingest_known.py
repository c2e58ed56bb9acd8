"""What the catalog knows of each profile's file, and which files changed since (see :mod:`.ingest`).

A file whose path (as its realpath), size, mtime and reference date are what the catalog stored for
its profile is unchanged, and is not read. On a re-ingest that is most files, so that test is also
made in one tight loop (:meth:`KnownFiles.by_stat`) ahead of the per-file work.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from pathlib import Path

from .ingest_files import MAX_FILE_BYTES, Job, profile_id_for

NS_PER_DAY = 86_400 * 10**9
EPOCH = date(1970, 1, 1)


class KnownFiles:
    """The Ingester's knowledge of each profile's source file: where it was, its stat, its reference date."""

    conn: sqlite3.Connection
    as_of: date | None

    def _init_known(self) -> None:
        self._as_of_iso = self.as_of.isoformat() if self.as_of is not None else ""
        self._seen: dict[str, str] = {}  # profile id -> the file this run took it from
        self._folders: dict[str, str] = {}  # folder -> its realpath
        self._days: dict[int, tuple[date, str]] = {}  # _as_of_for's answers, by day since the epoch
        # plan_read's _locate and _as_of_for, for apply_file
        self._located: dict[str, tuple[str, str, os.stat_result, date, str]] = {}
        dates: dict[str, str] = {}  # one string per reference date (most profiles share one)
        # Per profile: source path, size, mtime_ns, reference date. Compact, since there is one per profile
        # of the catalog (250,000 and more); the content hash is read only for a file whose stat changed.
        self._known: dict[str, tuple[str, int | None, int | None, str]] = {
            row[0]: (row[1], row[2], row[3], dates.setdefault(row[4], row[4]))
            for row in self.conn.execute("SELECT id, source_path, source_size, source_mtime_ns, as_of FROM profiles")
        }

    def plan_read(self, path: str) -> Job | None:
        """What apply_file will read of *path*, as far as can be told now (None: nothing, or unreadable)."""
        pid = profile_id_for(path)
        try:
            resolved, st = self._locate(path)
        except OSError:
            return None
        as_of, as_of_iso = self._as_of_for(st)
        # apply_file's stat (taken before any read of the file) and reference date
        self._located[path] = (pid, resolved, st, as_of, as_of_iso)
        known = self._known.get(pid)
        if st.st_size > MAX_FILE_BYTES or (
            known is not None
            and (known[0], known[1], known[2], known[3]) == (resolved, st.st_size, st.st_mtime_ns, as_of_iso)
        ):
            return None
        return path, st.st_size, st.st_mtime_ns, as_of

    def by_stat(self, paths: Iterable[str]) -> Iterator[tuple[str, str | None]]:
        """Each of *paths* with its profile id if :meth:`apply_file` would find it unchanged by its stat
        alone (and then remembered as seen), else with None: apply_file is to decide it.

        The same test as apply_file's (with its :meth:`_locate`), in one loop: a re-ingest is mostly
        unchanged files, and the per-file bookkeeping around the test (a read-ahead plan, an outcome)
        cost more than the ``lstat`` itself. A file whose profile id an earlier file not decided here
        also has is left to apply_file, which then sees both in their order and rejects the second, as
        without this pass.
        """
        known_get, seen, undecided, locate = self._known.get, self._seen, set(), self._locate
        for text in paths:
            pid = profile_id_for(text)
            if (known := known_get(pid)) is None:
                yield text, None  # a new profile (a later file of the same stem cannot match what it stores)
                continue
            if pid not in undecided and pid not in seen:
                try:
                    resolved, st = locate(text)
                except OSError:
                    pass  # apply_file reports it
                else:
                    if known == (resolved, st.st_size, st.st_mtime_ns, self._as_of_for(st)[1]):
                        seen[pid] = known[0]
                        yield text, pid
                        continue
            undecided.add(pid)
            yield text, None

    def _as_of_for(self, st: os.stat_result) -> tuple[date, str]:
        """The reference date a file is read for (given, or its mtime's day), and its ISO form."""
        if self.as_of is not None:
            return self.as_of, self._as_of_iso
        day = st.st_mtime_ns // NS_PER_DAY  # the UTC day (POSIX time has no leap seconds)
        if (known := self._days.get(day)) is None:
            as_of = EPOCH + timedelta(days=day)
            known = self._days[day] = (as_of, as_of.isoformat())
        return known

    def _locate(self, text: str) -> tuple[str, os.stat_result]:
        """``str(Path(text).resolve())`` and ``os.stat(text)``, resolving each folder only once."""
        st = os.lstat(text)
        cut = text.rfind("/")
        if cut > 0 and text[cut - 1] != "/" and os.sep == "/":
            folder, name = text[:cut], text[cut + 1 :]  # os.path.split's answer here, without its overhead
        else:
            folder, name = os.path.split(text)  # str(path.parent) and path.name, "" for "." (the same realpath)
        if stat.S_ISLNK(st.st_mode) or name in ("", ".", ".."):
            return str(Path(text).resolve()), os.stat(text)
        if (real := self._folders.get(folder)) is None:
            real = self._folders[folder] = os.path.realpath(folder)
        if real == folder and len(text) == len(folder) + 1 + len(name):
            return text, st  # already its own realpath: the same string object, kept once per profile
        return os.path.join(real, name), st  # what realpath gives when the last part is no link

    def missing_profiles(self) -> list[str]:
        """Profiles whose source file no longer exists."""
        return sorted(pid for pid, known in self._known.items() if not os.path.exists(known[0]))
