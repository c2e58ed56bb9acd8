"""Helpers for the reliability tests: a profile generator, CLI subprocesses, database checks.

The generated profiles are written from a small template of our own (fictional people,
made-up titles); papers are drawn from a shared pool, so most papers are listed by
several profiles, and every profile has two versions that differ in header numbers,
scores, dates and which papers are listed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "profiles"
AS_OF = date(2026, 11, 24)
AS_OF_ARG = AS_OF.isoformat()
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/', "  File ")

# -- running the CLI ----------------------------------------------------------------------


def cli_command(*args: str | os.PathLike[str]) -> list[str]:
    """The ``scholar-catalog`` command line (the installed script next to this Python, else ``-m``)."""
    script = Path(sys.executable).with_name("scholar-catalog")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "scholar_catalog"]
    return [*head, *map(str, args)]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_", "PYTEST_"))}
    env.pop("SCHOLAR_CATALOG_DB", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_cli(*args: str | os.PathLike[str], timeout: float = 300, prefix: Sequence[str] = ()) -> CLIResult:
    """Run ``scholar-catalog ARGS`` to completion (killed if it outlives *timeout*: a safety net)."""
    proc = subprocess.run(
        [*prefix, *cli_command(*args)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
    )
    return CLIResult(proc.returncode, proc.stdout, proc.stderr)


@dataclass(slots=True)
class CLIResult:
    returncode: int
    stdout: str
    stderr: str
    peak_rss: int = 0  # bytes, when measured

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


_MEASURE = r"""
import json, resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, stdin=subprocess.DEVNULL)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stdout.write(json.dumps({"rc": proc.returncode, "maxrss_kb": usage.ru_maxrss,
    "out": proc.stdout.decode("utf-8", "replace"), "err": proc.stderr.decode("utf-8", "replace")}))
"""


def run_cli_measured(*args: str | os.PathLike[str], timeout: float = 300, prefix: Sequence[str] = ()) -> CLIResult:
    """Run the CLI under a fresh wrapper process and report the CLI's peak RSS.

    The wrapper's ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` covers exactly one child, the CLI,
    unlike the test process's own RUSAGE_CHILDREN, which includes every earlier subprocess.
    """
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *prefix, *cli_command(*args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    return CLIResult(data["rc"], data["out"], data["err"], peak_rss=data["maxrss_kb"] * 1024)


def spawn_cli(*args: str | os.PathLike[str], prefix: Sequence[str] = ()) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*prefix, *cli_command(*args)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=cli_env(),
    )


def stop(proc: subprocess.Popen[Any], *, timeout: float = 30) -> None:
    """Stop a process this test started (terminate, then kill) and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=timeout)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def kill9(proc: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)


def assert_no_traceback(text: str, what: str = "output") -> None:
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, f"traceback in {what}:\n{text[-3000:]}"


def privilege_drop_prefix() -> list[str] | None:
    """A command prefix that runs a child as root *without* the DAC override capabilities.

    Root ignores file permissions; without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH a
    root-owned mode-000 file is unreadable even to uid 0, while the (possibly 0700) venv
    stays usable. None when this cannot be done here (not root, or no setpriv).
    """
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        return None
    prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all", "--"]
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    return prefix if probe.returncode == 0 else None


# -- the profile generator ----------------------------------------------------------------

_FIRST = "Ada Bruno Cleo Dario Elin Farah Goran Hana Ivo Jana Kemal Lior Mira Nuno Oona Pavel Quinn Rosa Sami Tove"
_LAST = "Arkwright Bellamy Castellan Drummond Eskildsen Fairweather Grimaldi Holloway Ishikawa Jablonski Kowalczyk"
_LAST += " Lindqvist Marchetti Novak Okafor Pellegrini Quarshie Rautio Szabo Thorvaldsen Uhlmann Varga Whitlock"
_ADJ = "Sparse Robust Streaming Federated Contrastive Causal Quantized Adaptive Hierarchical Private Lazy Incremental"
_NOUN = "Indexes Retrievers Schedulers Encoders Planners Caches Samplers Compilers Graphs Tokenizers Agents Ledgers"
_TOPIC = (
    "Low-Resource Translation",
    "Edge Inference",
    "Log Analytics",
    "Protein Folding",
    "Crop Forecasting",
    "Code Search",
    "Legal Documents",
    "Satellite Imagery",
    "Speech Archives",
    "Traffic Control",
    "Question Answering",
    "Time Series",
)
_AFF = ("north-ridge-univ", "tallinn-ai-lab", "harbor-institute", "kestrel-research", "mesa-college", "fjord-labs")
_CATS = ("CL", "LG", "CV", "IR", "DB", "OS", "DC", "AI")
_SENTENCES = (
    "We revisit a common assumption and find that it rarely holds once data drifts.",
    "A small change to the training objective removes most of the observed gap.",
    "Experiments on four synthetic benchmarks show consistent gains at modest cost.",
    "The method needs no labels beyond those already used for evaluation.",
    "We release a reference implementation and a reproducible evaluation harness.",
    "Ablations suggest the improvement comes from better calibration, not capacity.",
)


@dataclass(slots=True)
class Paper:
    title: str
    category: str
    month: int
    day: int
    year: int | None  # None: written without a year ("Mar 4"), resolved against AS_OF
    authors: list[str]
    truncated: bool
    affiliations: list[str]
    abstract: str

    @property
    def date_iso(self) -> str:
        year = self.year
        if year is None:
            year = AS_OF.year if (self.month, self.day) <= (AS_OF.month, AS_OF.day) else AS_OF.year - 1
        return date(year, self.month, self.day).isoformat()

    @property
    def date_raw(self) -> str:
        text = f"{MONTHS[self.month - 1]} {self.day}"
        return text if self.year is None else f"{text}, {self.year}"

    @property
    def authors_raw(self) -> str:
        raw = ", ".join(self.authors) + (" et al." if self.truncated else "")
        return raw + (" · " + ", ".join(self.affiliations) if self.affiliations else "")


@dataclass(slots=True)
class Listing:
    paper: int
    score: float | None
    code: bool
    cut: bool = False  # this profile shows the abstract cut short with "…"


@dataclass(slots=True)
class Version:
    name: str
    category: str
    h_index: int
    citations: int
    novelty: int
    ai_score: int
    listings: list[Listing]


@dataclass
class Corpus:
    """Profiles with two versions each (0 and 1), listing papers from a shared pool."""

    papers: list[Paper]
    profiles: dict[str, tuple[Version, Version]] = field(default_factory=dict)

    def text(self, pid: str, version: int) -> str:
        v = self.profiles[pid][version]
        out = [
            v.name,
            "",
            v.category,
            f"h-index{v.h_index}",
            f"{len(v.listings)}papers",
            f"{v.citations:,}citations",
            f"Novelty{v.novelty}%",
            f"AI Score{v.ai_score}",
            "",
            f"{len(v.listings)} Papers",
        ]
        for item in v.listings:
            p = self.papers[item.paper]
            score = "" if item.score is None else (f"{item.score:.1f}" if item.score % 1 else f"{int(item.score)}")
            out += ["", f"{score}{p.category}{p.date_raw}{'Code' if item.code else ''}", p.title, "", p.authors_raw]
            if p.abstract:
                out += ["", p.abstract[: len(p.abstract) // 2].rstrip() + "…" if item.cut else p.abstract]
        return "\n".join(out) + "\n"

    def expected(self, pid: str, version: int) -> tuple[Any, ...]:
        """What the catalog must hold for this profile version: header and listings in order."""
        v = self.profiles[pid][version]
        rows = []
        for item in v.listings:
            p = self.papers[item.paper]
            rows.append((p.title, item.score, p.category, p.date_iso, p.date_raw, int(item.code), p.authors_raw))
        head = (v.name, v.category, v.h_index, len(v.listings), v.citations, v.novelty, v.ai_score, len(v.listings))
        return head, tuple(rows)

    def write(self, folder: Path, versions: dict[str, int]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for pid, version in versions.items():
            (folder / f"{pid}.txt").write_text(self.text(pid, version), encoding="utf-8")


def make_corpus(n_profiles: int, *, seed: int = 1234, papers_per_profile: tuple[int, int] = (5, 9)) -> Corpus:
    rng = random.Random(seed)
    first, last = _FIRST.split(), _LAST.split()
    owners = [f"{first[i % len(first)]} {last[(i * 7 + i // len(first)) % len(last)]}" for i in range(n_profiles)]
    # Make owner names unique without relying on the name lists' sizes.
    owners = [name if owners.index(name) == i else f"{name} {chr(65 + i % 26)}." for i, name in enumerate(owners)]
    n_papers = max(8, n_profiles * 2)
    adj, noun = _ADJ.split(), _NOUN.split()
    papers: list[Paper] = []
    titles: set[str] = set()
    while len(papers) < n_papers:
        k = len(papers)
        title = f"{rng.choice(adj)} {rng.choice(noun)} for {rng.choice(_TOPIC)}: Study {k + 1}"
        if title in titles:
            continue
        titles.add(title)
        names = rng.sample(owners, k=min(len(owners), rng.randint(1, 3)))
        names += [f"{rng.choice(first)} {rng.choice(last)}" for _ in range(rng.randint(0, 2))]
        names = list(dict.fromkeys(names))
        papers.append(
            Paper(
                title=title,
                category=rng.choice(_CATS),
                month=rng.randint(1, 12),
                day=rng.randint(1, 28),
                year=None if rng.random() < 0.3 else rng.randint(2019, 2026),
                authors=names,
                truncated=rng.random() < 0.5,
                affiliations=rng.sample(_AFF, k=rng.randint(0, 2)),
                abstract=" ".join(rng.sample(_SENTENCES, k=rng.randint(0, 3))),
            )
        )
    corpus = Corpus(papers)
    for i, owner in enumerate(owners):
        pid = f"p{i:04d}_{owner.split()[0].lower()}"
        chosen = rng.sample(range(n_papers), k=rng.randint(*papers_per_profile))
        spare = [p for p in rng.sample(range(n_papers), k=6) if p not in chosen]
        scores = [rng.choice([None, round(rng.uniform(40, 99), 1), float(rng.randint(40, 99))]) for _ in chosen]
        base = [
            Listing(p, score, rng.random() < 0.4, rng.random() < 0.3) for p, score in zip(chosen, scores, strict=True)
        ]
        header = (rng.randint(3, 60), rng.randint(10, 9000), rng.randint(20, 90), rng.randint(20, 90))
        v0 = Version(owner, rng.choice(_CATS), *header, base)
        # Version 1: other header numbers, one paper dropped, one or two added, some scores changed.
        listings = [Listing(x.paper, x.score, x.code, x.cut != (rng.random() < 0.3)) for x in base[1:]]
        for x in listings[::2]:
            x.score = None if x.score is not None and rng.random() < 0.3 else round(rng.uniform(40, 99), 1)
        listings += [Listing(p, round(rng.uniform(40, 99), 1), rng.random() < 0.5) for p in spare[:2]]
        rng.shuffle(listings)
        v1 = Version(owner, v0.category, v0.h_index + 1, v0.citations + 17, v0.novelty, v0.ai_score + 1, listings)
        corpus.profiles[pid] = (v0, v1)
    return corpus


# -- looking into a catalog ---------------------------------------------------------------


@contextlib.contextmanager
def connect_ro(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def integrity(path: Path) -> list[str]:
    """``PRAGMA integrity_check`` and ``foreign_key_check`` problems (empty: healthy)."""
    with connect_ro(path) as conn:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        problems = [] if rows == ["ok"] else rows
        problems += [f"foreign key: {r}" for r in conn.execute("PRAGMA foreign_key_check")]
    return problems


def fts_integrity(path: Path) -> None:
    """FTS5's own check that papers_fts matches the papers table (raises if not)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


def consistency_problems(path: Path) -> list[str]:
    """Cross-table invariants every committed catalog state must satisfy."""
    checks = {
        "paper without a listing": "SELECT count(*) FROM papers p WHERE NOT EXISTS "
        "(SELECT 1 FROM listings l WHERE l.paper_id = p.id)",
        "listing of a missing paper": "SELECT count(*) FROM listings l LEFT JOIN papers p ON p.id = l.paper_id "
        "WHERE p.id IS NULL",
        "listing of a missing profile": "SELECT count(*) FROM listings l LEFT JOIN profiles p ON p.id = l.profile_id "
        "WHERE p.id IS NULL",
        "profile whose papers_listed differs from its listings": "SELECT count(*) FROM profiles p WHERE "
        "p.papers_listed != (SELECT count(*) FROM listings l WHERE l.profile_id = p.id)",
        "profile without an owner author": "SELECT count(*) FROM profiles p WHERE NOT EXISTS "
        "(SELECT 1 FROM authors a WHERE a.profile_id = p.id)",
        "listing whose owner is not an author of the paper": "SELECT count(*) FROM listings l "
        "JOIN authors a ON a.profile_id = l.profile_id WHERE NOT EXISTS (SELECT 1 FROM paper_authors pa "
        "WHERE pa.paper_id = l.paper_id AND pa.author_id = a.id AND pa.is_owner = 1)",
        "paper_authors row of a missing paper or author": "SELECT count(*) FROM paper_authors pa WHERE NOT EXISTS "
        "(SELECT 1 FROM papers p WHERE p.id = pa.paper_id) OR NOT EXISTS (SELECT 1 FROM authors a "
        "WHERE a.id = pa.author_id)",
        "FTS rows differ from papers": "SELECT (SELECT count(*) FROM papers) != (SELECT count(*) FROM papers_fts)",
    }
    problems = []
    with connect_ro(path) as conn:
        for what, sql in checks.items():
            n = conn.execute(sql).fetchone()[0]
            if n:
                problems.append(f"{what}: {n}")
    return problems


def profile_state(conn: sqlite3.Connection, pid: str) -> tuple[Any, ...] | None:
    """A profile as stored, in the shape of :meth:`Corpus.expected` (None if absent)."""
    head = conn.execute(
        """SELECT name, primary_category, h_index, papers_declared, citations, novelty, ai_score, papers_listed
           FROM profiles WHERE id = ?""",
        [pid],
    ).fetchone()
    if head is None:
        return None
    rows = conn.execute(
        """SELECT coalesce(l.title, p.title), l.score, l.category, l.date, l.date_raw, l.has_code, l.authors_raw
           FROM listings l JOIN papers p ON p.id = l.paper_id WHERE l.profile_id = ? ORDER BY l.position""",
        [pid],
    ).fetchall()
    return tuple(head), tuple(tuple(r) for r in rows)


def _columns(conn: sqlite3.Connection, table: str, *, drop: tuple[str, ...] = ()) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[1] not in drop]


def canonical_dump(path: Path) -> dict[str, Any]:
    """The catalog's content keyed by natural keys (row ids, paths, mtimes and timestamps left out)."""
    with connect_ro(path) as conn:
        q = conn.execute

        def cols(table: str, alias: str, drop: tuple[str, ...]) -> str:
            return ", ".join(f"{alias}.{c}" for c in _columns(conn, table, drop=drop))

        dump: dict[str, Any] = {}
        profile_cols = cols("profiles", "p", ("source_path", "source_size", "source_mtime_ns", "ingested_at"))
        dump["profiles"] = q(f"SELECT {profile_cols} FROM profiles p").fetchall()
        dump["papers"] = q(f"SELECT {cols('papers', 'p', ('id',))} FROM papers p").fetchall()
        dump["listings"] = q(
            f"""SELECT p.title_norm, {cols("listings", "l", ("paper_id",))}
                FROM listings l JOIN papers p ON p.id = l.paper_id"""
        ).fetchall()
        dump["paper_authors"] = q(
            f"""SELECT p.title_norm, a.name_norm, a.name, a.profile_id,
                       {cols("paper_authors", "pa", ("paper_id", "author_id"))}
                FROM paper_authors pa JOIN papers p ON p.id = pa.paper_id JOIN authors a ON a.id = pa.author_id"""
        ).fetchall()
        dump["authors"] = q(f"SELECT {cols('authors', 'a', ('id',))} FROM authors a").fetchall()
        dump["affiliations"] = q(
            """SELECT p.title_norm, f.name_norm, f.name FROM paper_affiliations pf JOIN papers p ON p.id = pf.paper_id
               JOIN affiliations f ON f.id = pf.affiliation_id"""
        ).fetchall()
        dump["fts"] = q(
            """SELECT p.title_norm FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid
               WHERE papers_fts MATCH 'study OR paper'"""
        ).fetchall()
    return {key: sorted(rows, key=repr) for key, rows in dump.items()}


def dump_differences(a: dict[str, Any], b: dict[str, Any], limit: int = 5) -> list[str]:
    out = []
    for key in a:
        left, right = set(a[key]), set(b[key])
        if left != right:
            first, second = sorted(left - right, key=repr)[:limit], sorted(right - left, key=repr)[:limit]
            out.append(f"{key}: only in the first {first}; only in the second {second}")
    return out


def content_checksum(path: Path) -> str:
    """A checksum of every row of every table (read through a fresh read-only connection)."""
    digest = hashlib.sha256()
    with connect_ro(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            digest.update(table.encode())
            for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1'):
                digest.update(repr(row).encode())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class FileState:
    sha256: str
    size: int
    mtime_ns: int


def file_state(path: Path) -> FileState:
    st = path.stat()
    return FileState(hashlib.sha256(path.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns)


def db_files_state(path: Path) -> dict[str, FileState | None]:
    """The database file and its -wal (the bytes a reader must never change)."""
    out: dict[str, FileState | None] = {}
    for suffix in ("", "-wal"):
        candidate = path.with_name(path.name + suffix)
        out[suffix or "db"] = file_state(candidate) if candidate.exists() else None
    return out


# -- a raw stdio server -------------------------------------------------------------------


class RawServer:
    """``scholar-catalog serve`` with raw access to its stdin and a reader thread on its stdout."""

    def __init__(self, *args: str | os.PathLike[str]) -> None:
        self.proc = subprocess.Popen(
            cli_command("serve", *args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(),
        )
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.stderr_chunks: list[bytes] = []
        self._threads = [
            threading.Thread(target=self._pump_stdout, daemon=True),
            threading.Thread(target=self._pump_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.received: list[dict[str, Any]] = []

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        for chunk in iter(lambda: self.proc.stderr.read(65536), b""):  # type: ignore[union-attr]
            self.stderr_chunks.append(chunk)

    @property
    def stderr(self) -> str:
        return b"".join(self.stderr_chunks).decode("utf-8", "replace")

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_raw(json.dumps(message).encode() + b"\n")

    def wait_for(self, ids: set[Any], *, safety_timeout: float = 60) -> dict[Any, dict[str, Any]]:
        """Read messages until responses to every id in *ids* have arrived; return them by id.

        *safety_timeout* only keeps a broken server from hanging the suite; it is not a
        performance assertion.
        """
        found: dict[Any, dict[str, Any]] = {}
        while not ids <= found.keys():
            line = self.lines.get(timeout=safety_timeout)
            if line is None:
                raise AssertionError(f"server closed stdout; waiting for {ids - found.keys()}; stderr:\n{self.stderr}")
            message = json.loads(line)
            self.received.append(message)
            if "id" in message:
                found[message["id"]] = message
        return found

    def request(self, ident: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": ident, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self.wait_for({ident})[ident]

    def initialize(self) -> dict[str, Any]:
        reply = self.request(
            0,
            "initialize",
            {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw-test", "version": "1"}},
        )
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return reply

    def close(self) -> list[dict[str, Any]]:
        """Close stdin (the server exits on EOF), collect what is left, stop the process."""
        rest: list[dict[str, Any]] = []
        try:
            if self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
        finally:
            stop(self.proc)
            for thread in self._threads:
                thread.join(timeout=10)
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                rest.append(json.loads(line))
        self.received += rest
        return rest


# -- file systems -------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    """Mount a size-limited tmpfs at *mountpoint* (root only); unmounted on exit.

    Raises ``OSError`` when it cannot be mounted here (not root, no mount permission).
    """
    mountpoint.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        raise OSError("mounting a tmpfs needs root and mount(8)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise OSError(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def remount(mountpoint: Path, options: str) -> None:
    done = subprocess.run(["mount", "-o", f"remount,{options}", str(mountpoint)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def chattr(path: Path, flag: str) -> bool:
    """``chattr FLAG path``; False when the file system or the system does not support it."""
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0
