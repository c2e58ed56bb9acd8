"""Finding profile files and reading them: stat, read, SHA-256 and parse, here or in worker processes.

Reading is the part of ingest that needs no database, so on a machine with more than one core
:class:`ReadAhead` runs it for the files ingest will need in worker processes, in chunks, ahead of
the one process that writes the catalog, and hands the results back in the files' order. It only
ever does early what the writer would otherwise do itself at that point: the writer still decides
everything (unchanged, rejected, applied) file by file, in order, exactly as without it, and reads a
file itself whenever the read-ahead did not (or the file changed since). Workers never touch the
catalog (each is a fresh ``python -m scholar_catalog.db.ingest_files``); they exit when the writer
closes their pipe or dies.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from .ingest_merge import listing_fields
from .parser import Profile, ProfileParseError, parse_profile, pickled_by_fields

MAX_FILE_BYTES = 64 * 1024 * 1024
ENV_WORKERS = "SCHOLAR_CATALOG_INGEST_WORKERS"
READ_AHEAD_MIN_FILES = 200  # fewer files than this are read in the writer (starting workers costs ~0.1 s)
CHUNK_FILES = 32  # files per message to a worker
PIPE_BYTES = 1 << 20  # a worker's results pipe (Linux's default limit for an unprivileged process)
CHUNKS_AHEAD = 6  # chunks in flight: bounds the memory held by results not yet applied
SCAN_AHEAD = 16_000  # files looked at per refill: past a long run of unchanged files the writer goes on alone
# Workers start only where at least one file in this many is to be read: a few changed files among many
# unchanged ones are read sooner by the writer itself than by processes it would first have to start.
SPARSE_RATIO = 4


class UsageError(ValueError):
    """A bad argument to ingest (a path that does not exist, ...)."""


def discover(paths: Iterable[str | os.PathLike[str]]) -> Iterator[str]:
    """Yield profile files: each file given, and every ``*.txt`` below each directory given (sorted).

    Each is a ``str`` spelled as ``str(Path(given) / ...)`` would spell it: a catalog's worth of
    ``Path`` objects costs ~450 bytes a file (~110 MB at 250,000 files) against ~110 for the string.
    """
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            yield from _txt_files(str(path))
        elif path.is_file():
            yield str(path)
        elif path.exists():
            raise UsageError(f"{path}: not a regular file or directory")
        else:
            raise UsageError(f"{path}: no such file or directory")


def _txt_files(folder: str) -> Iterator[str]:
    """``sorted(p for p in folder.rglob("*.txt") if p.is_file())`` (Python 3.11), one ``scandir`` per folder.

    The same rules: hidden files and folders included, symlinked folders not entered, a symlink to a
    regular file included, unreadable folders skipped. ``DirEntry.is_file`` needs no ``stat`` except
    for a symlink (``Path.is_file`` takes one per file). Each folder's entries are walked by name, a
    subfolder where its name falls: the order ``sorted()`` gives paths, which compares them part by part.
    """
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda entry: entry.name)
    except PermissionError:
        return
    prefix = _child(folder, "")
    for entry in entries:
        name = entry.name
        try:
            is_dir = entry.is_dir() and not entry.is_symlink()
        except OSError:
            is_dir = False
        if is_dir:
            yield from _txt_files(prefix + name)
        elif name.endswith(".txt"):
            child = prefix + name  # _child(folder, name): one join per folder, not per file
            try:
                is_file = entry.is_file()
            except OSError:
                is_file = os.path.isfile(child)  # Path.is_file's answer for a symlink loop and the like
            if is_file:
                yield child


def _child(folder: str, name: str) -> str:
    """``str(Path(folder) / name)`` for a *folder* that is already ``str`` of a ``Path``."""
    return name if folder == "." else os.path.join(folder, name)


def profile_id_for(path: str | os.PathLike[str]) -> str:
    """A profile's identity: its file's stem (``Path.stem``: ``a.b.txt`` -> ``a.b``, ``.txt`` -> ``.txt``)."""
    name = os.path.basename(os.fspath(path))
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


@pickled_by_fields
@dataclass(slots=True)
class Loaded:
    """A file read (and parsed) for a reference date: what ingest needs of its bytes."""

    size: int  # the stat the read was planned on: a file changed since is read again
    mtime_ns: int
    as_of: date
    read_error: str | None = None  # OSError text: the file could not be read
    digest: str = ""
    profile: Profile | None = None
    parse_error: ProfileParseError | None = None
    data: bytes | None = None  # read but not parsed yet (parsed only when needed)
    fields: tuple[list[str], list[str]] | None = None  # listing_fields of the profile, if parsed here

    def parsed(self, shown: str) -> Profile:
        """The profile, parsing the bytes if that was not done yet; raises :class:`ProfileParseError`."""
        if self.parse_error is not None:
            raise self.parse_error
        if self.profile is None:
            assert self.data is not None
            self.profile = parse_profile(self.data, as_of=self.as_of, path=shown)
            self.data = None
        return self.profile


def load(path: str, size: int, mtime_ns: int, as_of: date, *, parse: bool) -> Loaded:
    """Read, hash and (with *parse*) parse one file, named *path* in errors. Never raises for a bad file."""
    loaded = Loaded(size, mtime_ns, as_of)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as err:
        loaded.read_error = f"{path}: cannot read: {err.strerror or err}"
        return loaded
    loaded.digest = hashlib.sha256(data).hexdigest()
    if not parse:
        loaded.data = data
        return loaded
    try:
        loaded.profile = parse_profile(data, as_of=as_of, path=path)
    except ProfileParseError as err:
        loaded.parse_error = err
    else:
        loaded.fields = listing_fields(loaded.profile)
    return loaded


Job = tuple[str, int, int, date]  # path, size, mtime_ns, as_of


def work(tasks: BinaryIO, results: BinaryIO) -> None:
    """A worker: load every file of every chunk read from *tasks*, until it ends (or the writer dies)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the writer's to handle
    while True:
        try:
            chunk: list[Job] | None = pickle.load(tasks)
        except (EOFError, OSError, pickle.UnpicklingError):
            return
        if chunk is None:
            return
        try:
            pickle.dump([load(*job, parse=True) for job in chunk], results, pickle.HIGHEST_PROTOCOL)
            results.flush()
        except OSError:
            return


def _widen_pipe(fd: int) -> None:
    """Let a worker's results pipe hold a whole chunk's results (Linux; elsewhere, or refused, as it is).

    At the default 64 KiB a chunk (~450 KB) crosses in a few rounds of the worker writing and blocking
    and the writer waking to read; each is a pair of context switches on a core the other is using.
    """
    with contextlib.suppress(ImportError, AttributeError, OSError):  # no fcntl, no F_SETPIPE_SZ, refused
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # type: ignore[attr-defined]


def workers_setting() -> int | None:
    """The worker count set by the environment (None: not set); :class:`UsageError` if it is not a count."""
    raw = os.environ.get(ENV_WORKERS, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise UsageError(f"{ENV_WORKERS}={raw!r}: expected a whole number of worker processes (0 for none)")
    return min(int(raw), 8)


def worker_count(files: int) -> int:
    """How many worker processes to read *files* files with (0: read them in the writer)."""
    if (setting := workers_setting()) is not None:
        return setting
    if files < READ_AHEAD_MIN_FILES:
        return 0
    return min(2, (os.cpu_count() or 1) - 1)  # the writer keeps a core of its own


class Fork:
    """One stream of (file, profile id if unchanged) read at two paces: every item by the writer's
    loop, the files still to decide by the read-ahead; each item is pulled from the stream once."""

    def __init__(self, items: Iterator[tuple[str, str | None]]) -> None:
        self._items = items
        self._for_all: deque[tuple[str, str | None]] = deque()
        self._for_undecided: deque[str] = deque()

    def _pull(self) -> bool:
        item = next(self._items, None)
        if item is None:
            return False
        self._for_all.append(item)
        if item[1] is None:
            self._for_undecided.append(item[0])
        return True

    def all(self) -> Iterator[tuple[str, str | None]]:
        while self._for_all or self._pull():
            yield self._for_all.popleft()

    def undecided(self) -> Iterator[str]:
        while self._for_undecided or self._pull():
            if self._for_undecided:
                yield self._for_undecided.popleft()


class ReadAhead:
    """Loads, in *workers* processes and in order, the files of *paths* that *plan* says will be read.

    *plan* gives a file's job (or None: not to be read, as far as can be told now); :meth:`take`
    returns what was loaded for a file, or None when it was not (the caller then reads it itself).
    Unless *eager*, the workers start only at a stretch where files to read are dense
    (:data:`SPARSE_RATIO`); before that the writer reads the files itself. With *dense*, every path
    given is one to read (the writer sorted the unchanged ones out): the workers start at the first
    full chunk.
    """

    def __init__(
        self,
        paths: Iterable[str],
        plan: Callable[[str], Job | None],
        workers: int,
        *,
        eager: bool = False,
        dense: bool = False,
    ) -> None:
        self._paths = iter(paths)
        self._eager = eager  # start the workers at the first file to read, however sparse (a count was set)
        self._dense = dense
        self._consumed = self._taken = 0  # paths scanned ahead, and paths the writer has reached
        self._plan = plan
        self._planned: set[str] = set()
        self._pending: deque[tuple[int, list[str]]] = deque()  # (worker, paths) in the order sent
        self._ready: dict[str, Loaded] = {}
        self._next = 0
        self._wanted = workers
        self._workers: list[subprocess.Popen[bytes]] = []
        self._fill()

    def _start(self) -> None:
        """Start the workers, when the first file to read is found."""
        try:
            for _ in range(self._wanted):  # a fresh interpreter: no copy of the writer's catalog connection
                command = [sys.executable, "-m", __name__]
                process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                self._workers.append(process)
                if process.stdout is not None:
                    _widen_pipe(process.stdout.fileno())
        except BaseException:
            self.close()
            raise
        self._wanted = 0

    def _fill(self) -> None:
        scanned = 0
        while (self._workers or self._wanted) and len(self._pending) < CHUNKS_AHEAD and scanned < SCAN_AHEAD:
            chunk: list[Job] = []
            first = scanned
            for path in self._paths:
                scanned += 1
                if (job := self._plan(path)) is not None:
                    chunk.append(job)
                    if len(chunk) == CHUNK_FILES:
                        break
                if scanned >= SCAN_AHEAD:
                    break
            self._consumed += scanned - first
            if not chunk:
                return
            few = len(chunk) < CHUNK_FILES if self._dense else len(chunk) * SPARSE_RATIO < scanned - first
            if self._wanted and not self._eager and few:
                continue  # sparse, or a few files at the end: the writer reads these itself (not planned)
            if self._wanted:
                self._start()
            worker = self._next % len(self._workers)
            self._next += 1
            try:
                tasks = self._workers[worker].stdin
                assert tasks is not None
                pickle.dump(chunk, tasks, pickle.HIGHEST_PROTOCOL)
                tasks.flush()
            except OSError:
                self.close()  # a worker died: the writer reads the rest itself
                return
            self._planned.update(job[0] for job in chunk)
            self._pending.append((worker, [job[0] for job in chunk]))

    def take(self, path: str) -> Loaded | None:
        """What was loaded for *path* (then forgotten), or None."""
        self._taken += 1
        if self._wanted and self._taken >= self._consumed:
            self._fill()  # workers not started yet and the writer is past the scan: look further ahead
        if path not in self._planned:
            return None
        while path not in self._ready and self._pending and self._workers:
            worker, paths = self._pending.popleft()
            try:
                results: list[Loaded] = pickle.load(self._workers[worker].stdout)  # type: ignore[arg-type]
            except (EOFError, OSError, pickle.UnpicklingError):
                self.close()
                break
            self._ready.update(zip(paths, results, strict=True))
            self._fill()
        self._planned.discard(path)
        return self._ready.pop(path, None)

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        workers, self._workers, self._wanted = self._workers, [], 0
        for process in workers:
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()  # the worker's signal to stop
        for process in workers:
            if process.stdout is not None:
                process.stdout.close()  # unblocks a worker still sending a result
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._pending.clear()
        self._ready.clear()
        self._planned.clear()


if __name__ == "__main__":  # a ReadAhead worker; pickles name this module by its package name, not __main__
    from scholar_catalog.db.ingest_files import work as _work

    _work(sys.stdin.buffer, sys.stdout.buffer)
