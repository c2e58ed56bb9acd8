"""The scholar-catalog benchmark: ingest, re-ingest, tool latency and cold start, each beside its floor.

    python bench/run.py                          # 1k, 10k and 50k profiles (about 10 minutes on 2 cores)
    python bench/run.py --sizes 50000,250000 --floor-sizes 50000 --profiles-cache bench/out/cache  # issue 11
    python bench/run.py --smoke                  # a few hundred profiles, a few calls (CI)

For every size it generates a catalog with ``bench/generate.py`` (same seed, so the
same files on every machine; ``--profiles-cache`` keeps them for later runs) and, on
those files, measures:

1. ``scholar-catalog ingest`` (a subprocess): wall time, profiles/s, peak memory of its
   process tree, database bytes per paper; beside the floor, ``bench/floor.py``: a bare
   regex + ``executemany`` loader into the same tables in one transaction with a single
   FTS5 rebuild.
2. Re-ingest with nothing changed, and with 1% of the files changed.
3. Tool latency over real stdio (``scholar-catalog serve`` as a subprocess, the SDK's
   ``Client``): p50 and p99 of each workload, the server-side time of each call
   (``SCHOLAR_CATALOG_BENCH_TIMING``, server/bench_timing.py) and the median result size,
   beside a no-op tool on a minimal MCPServer (``bench/noop_server.py``) driven by the same client.
4. Cold start: process spawn to the first tool result, beside the minimal server's.

Markdown tables (bench/report.py, with issue 11's targets) go to stdout and ``--out``
(default ``bench/out/results.md``, with ``results.json`` beside it; rewritten after each
size); ``--readme`` also writes them into ``bench/README.md``. Everything runs in a
temporary work folder that is deleted at the end (``--keep`` keeps it); every subprocess
is waited for, and killed if it overruns ``--timeout``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apsw

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # bench/generate.py
import pagecache  # bench/pagecache.py
import report  # bench/report.py

from scholar_catalog.db import vectors
from scholar_catalog.db.terms import tokens

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

AS_OF = generate.AS_OF.isoformat()
TIMING_ENV = "SCHOLAR_CATALOG_BENCH_TIMING"  # read by `serve` (server/bench_timing.py) and bench/noop_server.py

# -- processes ---------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    max_rss_mb: float  # the largest single process of the tree (wait4's ru_maxrss)
    returncode: int
    output: str
    tree_peak_mb: float = 0.0  # the most the whole process tree held at once (sampled sum of RSS)

    @property
    def peak_mb(self) -> float:
        return max(self.max_rss_mb, self.tree_peak_mb)


def tree_rss_mb(root: int) -> float:
    """RSS of *root* and all its descendants now, MB.

    From /proc/PID/status (PSS from smaps_rollup would split pages shared after a fork fairly,
    but reading it costs ~35 ms here against 0.04 ms): a page shared by two processes counts twice.
    """
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_bytes()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(b")", 1)[1].split()[1]), []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            found = re.search(r"(?m)^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
        except OSError:
            continue
        total += int(found.group(1)) if found else 0
    return total / 1024


def run_measured(cmd: list[str], timeout: float, cwd: Path | None = None, sample_s: float = 0.5) -> Run:
    """Run *cmd*; its wall time and peak memory. Killed if it overruns *timeout*.

    Peak memory is both wait4's ``ru_maxrss`` (exact, but of the largest single process: the
    command or a reaped worker of it) and the RSS of the whole process tree summed every
    *sample_s* (so an ingest with worker processes is counted whole; ~3 ms a sample).
    """
    out = tempfile.TemporaryFile()  # noqa: SIM115  (closed below, after the child is reaped)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd)
    result: dict[str, Any] = {}
    tree_peak = 0.0

    def reap() -> None:
        _, status, usage = os.wait4(proc.pid, 0)
        result["seconds"] = time.perf_counter() - started
        result["status"] = status
        result["usage"] = usage

    waiter = threading.Thread(target=reap, daemon=True)
    waiter.start()
    deadline = started + timeout
    while waiter.is_alive() and time.perf_counter() < deadline:
        if Path("/proc/self/status").exists():
            tree_peak = max(tree_peak, tree_rss_mb(proc.pid))
        waiter.join(sample_s)
    if waiter.is_alive():
        proc.kill()
        waiter.join()
    proc.returncode = os.waitstatus_to_exitcode(result["status"])  # reaped above; keep Popen from waiting again
    out.seek(0)
    text = out.read().decode("utf-8", "replace")
    out.close()
    if result["seconds"] >= timeout:
        raise RuntimeError(f"timed out after {timeout:.0f}s: {' '.join(cmd)}\n{text[-2000:]}")
    return Run(result["seconds"], result["usage"].ru_maxrss / 1024, proc.returncode, text, tree_peak)


def checked(run: Run, what: str) -> Run:
    if run.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {run.returncode}):\n{run.output[-3000:]}")
    return run


def scholar_catalog() -> str:
    beside = Path(sys.executable).parent / "scholar-catalog"
    found = str(beside) if beside.exists() else shutil.which("scholar-catalog")
    if not found:
        raise SystemExit("scholar-catalog is not installed (pip install -e .)")
    return found


# -- machine ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,  # ingest's and the floor's (Python's sqlite3 module)
        "sqlite_reader": apsw.sqlite_lib_version(),  # the server's (APSW)
        "platform": platform.platform(),
    }
    try:
        meminfo = Path("/proc/meminfo").read_text()
        info["memory_gb"] = round(int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) / 1024**2, 1)  # type: ignore[union-attr]
        cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        info["cpu"] = cpu.group(1).strip() if cpu else platform.processor()
    except (OSError, AttributeError):
        info["memory_gb"] = None
        info["cpu"] = platform.processor()
    try:
        from importlib.metadata import version

        info["mcp"] = version("mcp")
    except Exception:
        info["mcp"] = "?"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
        info["commit"] = commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        info["commit"] = "?"
    # With the [semantic] extra (which the test extra pulls in), ingest also embeds every paper and the
    # topic tools rank by words and meaning: another workload. Issue 11's tables are made without it.
    info["semantic_extra"] = vectors.installed()
    return info


# -- ingest --------------------------------------------------------------------------------


def db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def count(path: Path, table: str) -> int:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


SCORE_RE = re.compile(rb"(?m)^(\d{1,2})\.(\d)([A-Z]{2}(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) )")
EDITING = ".bench-editing"  # present while change_files' edits are in a cached profiles folder


def change_files(folder: Path, share: float, originals: dict[Path, bytes]) -> int:
    """Edit every (1/share)-th profile like a page update: a new h-index and a re-scored paper.

    The first bytes of every edited file go into *originals* (for restore_files).
    """
    files = sorted(folder.glob("*.txt"))
    step = max(1, round(1 / share))
    (folder / EDITING).touch()
    for path in files[::step]:
        data = path.read_bytes()
        originals.setdefault(path, data)
        data = re.sub(rb"h-index(\d+)", lambda m: b"h-index%d" % (int(m.group(1)) + 1), data, count=1)
        data = SCORE_RE.sub(lambda m: b"%s.%d%s" % (m.group(1), (int(m.group(2)) + 3) % 10, m.group(3)), data, 1)
        path.write_bytes(data)
    return len(files[::step])


def restore_files(folder: Path, originals: dict[Path, bytes]) -> None:
    for path, data in originals.items():
        path.write_bytes(data)
    (folder / EDITING).unlink(missing_ok=True)


def cached_manifest(folder: Path, size: int, seed: int) -> dict | None:
    """The manifest of a cached profiles folder if it is complete and was generated for *size* and *seed*."""
    try:
        manifest = json.loads((folder / generate.MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    wanted = {"generator": "bench/generate.py", "version": generate.VERSION, "seed": seed, "profiles": size}
    if any(manifest.get(k) != v for k, v in wanted.items()) or manifest.get("as_of") != AS_OF:
        return None
    if (folder / EDITING).exists() or sum(1 for _ in folder.glob("*.txt")) != size:
        return None  # an interrupted run left edited files, or the generation did not finish
    return manifest


def profiles_for(size: int, work: Path, args: argparse.Namespace, log: Any) -> tuple[Path, dict, float, bool]:
    """The profiles folder for *size* (generated, or reused from --profiles-cache), its manifest, seconds, reused."""
    started = time.perf_counter()
    if args.profiles_cache:
        folder = args.profiles_cache / f"profiles-{size}-seed{args.seed}"
        manifest = cached_manifest(folder, size, args.seed)
        if manifest is not None:
            log(f"[{size}] reusing {folder} (manifest checked)")
            return folder, manifest, time.perf_counter() - started, True
        shutil.rmtree(folder, ignore_errors=True)
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        manifest = generate.generate(partial, size, seed=args.seed)  # the manifest is written last
        partial.rename(folder)
    else:
        folder = work / f"profiles-{size}"
        manifest = generate.generate(folder, size, seed=args.seed)
    seconds = time.perf_counter() - started
    log(f"[{size}] generated {size} profiles in {seconds:.1f}s")
    return folder, manifest, seconds, False


@dataclass
class IngestResult:
    profiles: int
    papers: int
    listings: int
    generate_s: float
    profiles_reused: bool = False
    ingest: list[float] = field(default_factory=list)
    ingest_rss_mb: float = 0.0  # peak of the process tree (see Run.peak_mb)
    ingest_max_process_rss_mb: float = 0.0
    ingest_bytes_per_paper: float = 0.0
    floor: list[float] = field(default_factory=list)
    floor_rss_mb: float = 0.0
    floor_bytes_per_paper: float = 0.0
    unchanged: list[float] = field(default_factory=list)
    unchanged_rss_mb: float = 0.0
    changed_files: int = 0
    changed: list[float] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)  # wall seconds of each stage of this size's run
    # the catalog file's share in the OS page cache before the tool stage's servers start and after its last
    # call (None: not known)
    page_cache: list[float | None] = field(default_factory=list)
    cache_warmed: bool = False  # --warm-cache: the catalog was read whole just before the tool calls


def bench_ingest(size: int, work: Path, args: argparse.Namespace, log: Any) -> tuple[IngestResult, Path, dict]:
    profiles, manifest, gen_s, reused = profiles_for(size, work, args, log)
    result = IngestResult(size, 0, manifest["listings"], gen_s, reused)
    result.stages["profiles (reused)" if reused else "generate profiles"] = gen_s
    cli = scholar_catalog()
    catalog = work / f"catalog-{size}.db"
    floor_db = work / f"floor-{size}.db"
    ingest_cmd = [cli, "ingest", str(profiles), "--db", str(catalog), "--as-of", AS_OF, "-q"]
    floor_cmd = [sys.executable, str(BENCH / "floor.py"), str(profiles), "--db", str(floor_db), "--as-of", AS_OF]
    for rep in range(args.reps):
        if size in args.floor_sizes:
            remove_db(floor_db)
            run = checked(run_measured(floor_cmd, args.timeout), "floor loader")
            result.floor.append(run.seconds)
            result.floor_rss_mb = max(result.floor_rss_mb, run.peak_mb)
            log(f"[{size}] floor #{rep + 1}: {run.seconds:.2f}s, {run.peak_mb:.0f} MB")
        remove_db(catalog)
        run = checked(run_measured(ingest_cmd, args.timeout), "ingest")
        result.ingest.append(run.seconds)
        result.ingest_rss_mb = max(result.ingest_rss_mb, run.peak_mb)
        result.ingest_max_process_rss_mb = max(result.ingest_max_process_rss_mb, run.max_rss_mb)
        log(f"[{size}] ingest #{rep + 1}: {run.seconds:.2f}s, {run.peak_mb:.0f} MB (one process {run.max_rss_mb:.0f})")
    if result.floor:
        result.stages["floor"] = sum(result.floor)
    result.stages["ingest"] = sum(result.ingest)
    result.papers = count(catalog, "papers")
    result.ingest_bytes_per_paper = db_bytes(catalog) / max(1, result.papers)
    if result.floor:
        result.floor_bytes_per_paper = db_bytes(floor_db) / max(1, count(floor_db, "papers"))
        remove_db(floor_db)
    for rep in range(args.reingest_reps):  # seconds each, and noisy: a median of several
        run = checked(run_measured(ingest_cmd, args.timeout), "unchanged re-ingest")
        result.unchanged.append(run.seconds)
        result.unchanged_rss_mb = max(result.unchanged_rss_mb, run.peak_mb)
        log(f"[{size}] unchanged re-ingest #{rep + 1}: {run.seconds:.2f}s")
    originals: dict[Path, bytes] = {}
    try:
        for rep in range(args.reingest_reps):
            result.changed_files = change_files(profiles, 0.01, originals)
            run = checked(run_measured(ingest_cmd, args.timeout), "re-ingest of changed files")
            result.changed.append(run.seconds)
            log(f"[{size}] 1% changed ({result.changed_files} files) #{rep + 1}: {run.seconds:.2f}s")
    finally:
        restore_files(profiles, originals)  # a cached folder stays as generated (the catalog is not reused)
    result.stages["re-ingests"] = sum(result.unchanged) + sum(result.changed)
    return result, catalog, manifest


# -- tool workloads ---------------------------------------------------------------------------


def typo(rng: random.Random, name: str) -> str:
    """One keyboard slip: swap, drop or double a letter (not the first)."""
    letters = list(name)
    if len(letters) < 4:
        return name + name[-1]
    i = rng.randrange(1, len(letters) - 2)
    kind = rng.randrange(3)
    if kind == 0:
        letters[i], letters[i + 1] = letters[i + 1], letters[i]
    elif kind == 1:
        del letters[i]
    else:
        letters.insert(i, letters[i])
    return "".join(letters)


def coauthor_graph(catalog: Path) -> tuple[dict[int, list[int]], dict[int, list[int]], dict[int, str]]:
    """author -> papers, paper -> authors, owner author id -> profile id (read-only)."""
    conn = sqlite3.connect(f"{catalog.resolve().as_uri()}?mode=ro", uri=True)
    try:
        by_author: dict[int, list[int]] = {}
        by_paper: dict[int, list[int]] = {}
        for paper, author in conn.execute("SELECT paper_id, author_id FROM paper_authors"):
            by_author.setdefault(author, []).append(paper)
            by_paper.setdefault(paper, []).append(author)
        owners = dict(conn.execute("SELECT id, profile_id FROM authors WHERE profile_id IS NOT NULL"))
    finally:
        conn.close()
    return by_author, by_paper, owners


def distances(start: int, graph: tuple, limit: int) -> dict[int, int]:
    by_author, by_paper, _ = graph
    seen = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        depth = seen[node]
        if depth >= limit:
            continue
        for paper in by_author.get(node, ()):
            for other in by_paper[paper]:
                if other not in seen:
                    seen[other] = depth + 1
                    queue.append(other)
    return seen


def sample_papers(catalog: Path, rng: random.Random, n: int) -> list[tuple[int, str]]:
    """*n* random papers (id, title)."""
    conn = sqlite3.connect(f"{catalog.resolve().as_uri()}?mode=ro", uri=True)
    try:
        top = conn.execute("SELECT max(id) FROM papers").fetchone()[0] or 0
        out: list[tuple[int, str]] = []
        while len(out) < n and top:
            ids = [rng.randint(1, top) for _ in range(n - len(out))]
            found = dict(
                conn.execute(
                    "SELECT id, title FROM papers WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(ids)]
                )
            )
            out += [(i, found[i]) for i in ids if i in found]
    finally:
        conn.close()
    return out


def sample_titles(catalog: Path, rng: random.Random, n: int) -> list[str]:
    return [title for _, title in sample_papers(catalog, rng, n)]


def listed_names(catalog: Path, rng: random.Random, n: int) -> list[str]:
    conn = sqlite3.connect(f"{catalog.resolve().as_uri()}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM authors WHERE profile_id IS NULL ORDER BY id")]
    finally:
        conn.close()
    return rng.sample(names, min(n, len(names)))


def workloads(catalog: Path, manifest: dict, calls: int, seed: int) -> list[tuple[str, str, list[dict]]]:
    """(label, tool, argument dicts) for every measured workload."""
    rng = random.Random(seed)
    owners = [o["name"] for o in manifest["owners"]]
    hubs = [h["name"] for h in manifest["hubs"]]
    listed = listed_names(catalog, rng, 300)  # people known only from author lists, as the catalog has them
    categories = manifest["categories"][:8]
    titles = sample_titles(catalog, rng, 6 * calls)

    def query(misspell: bool = False) -> str:
        """1-3 consecutive words of a paper's title (a topic someone would type); maybe with a typo."""
        words = [w for w in re.findall(r"[\w-]+", titles.pop()) if len(w) > 2] or ["model"]
        start = rng.randrange(max(1, len(words) - 2))
        picked = words[start : start + rng.randint(2 if misspell else 1, 3)]
        if misspell:
            i = rng.randrange(len(picked))
            picked[i] = typo(rng, picked[i])
        return " ".join(picked)

    def common() -> str:
        """One of the 10 commonest title words (the commonest is in ~1/3 of the papers), or two of the 20."""
        head = manifest["title_words"][:20]
        return rng.choice(head[:10]) if rng.random() < 0.6 else " ".join(rng.sample(head, 2))

    def filtered(text: str) -> dict[str, Any]:
        args: dict[str, Any] = {"query": text}
        kind = rng.randrange(4)
        if kind == 0:
            args["year_from"] = rng.choice([2020, 2023, 2025])
        elif kind == 1:
            args["category"] = rng.choice(categories)
        elif kind == 2:
            args.update(has_code=True, year_from=2024)
        else:
            args.update(sort="date", category=rng.choice(categories))
        return args

    plain = [{"query": query()} for _ in range(calls)]
    with_filters = [filtered(query()) for _ in range(calls)]
    misspelt = [{"query": query(misspell=True)} for _ in range(calls)]
    common_words = [{"query": common()} for _ in range(calls)]
    common_filtered = [filtered(common()) for _ in range(calls)]
    people = [*owners, *owners, *hubs, *listed]
    get_author = [{"name": rng.choice(people)} for _ in range(calls)]
    search_authors = [{"query": typo(rng, rng.choice(people))} for _ in range(calls)]

    graph = coauthor_graph(catalog)
    owner_profile = graph[2]
    sources = rng.sample(sorted(owner_profile), min(len(owner_profile), 40))
    by_distance: dict[int, list[tuple[int, int]]] = {d: [] for d in range(1, 6)}
    for source in sources:
        found = distances(source, graph, 5)
        for target, depth in found.items():
            if depth >= 1 and target in owner_profile:
                by_distance[depth].append((source, target))
        reachable = set(found)
        far = [t for t in owner_profile if t not in reachable]
        by_distance[5].extend((source, t) for t in rng.sample(far, min(len(far), 20)))
    del graph

    def pairs(depths: tuple[int, ...], n: int) -> list[dict]:
        pool = [p for d in depths for p in by_distance[d]]
        chosen = [rng.choice(pool) for _ in range(n)] if pool else []
        return [{"profile_id_a": owner_profile[a], "profile_id_b": owner_profile[b]} for a, b in chosen]

    def topic() -> str:
        """query()'s words, redrawn while they are only stopwords (find_experts refuses those, as documented)."""
        for _ in range(20):
            text = query()
            if tokens(text):
                return text
        return "graph"

    experts = [{"topic": topic()} for _ in range(calls)]
    similar_papers = [{"paper_id": pid} for pid, _ in sample_papers(catalog, rng, calls)]
    profiles = [o["profile_id"] for o in [*manifest["owners"], *manifest["hubs"]]]  # namesakes need a profile_id
    similar_authors = [
        {"profile_id": rng.choice(profiles), "exclude_coauthors": rng.random() < 0.5} for _ in range(calls)
    ]
    trends = [
        {"query": query() if rng.random() < 0.9 else "", "group_by": rng.choice(["year", "category"])}
        for _ in range(calls)
    ]
    out = [
        ("search_papers (1-3 title words)", "search_papers", plain),
        ("search_papers + filters", "search_papers", with_filters),
        ("search_papers, misspelt (fuzzy fallback)", "search_papers", misspelt),
        ("search_papers, very common words", "search_papers", common_words),
        ("search_papers, very common words + filters", "search_papers", common_filtered),
        ("get_author", "get_author", get_author),
        ("search_authors (typos)", "search_authors", search_authors),
        ("shared_coauthors", "shared_coauthors", pairs((1, 2), calls)),
        ("find_experts (1-3 title words)", "find_experts", experts),
        ("similar_papers", "similar_papers", similar_papers),
        ("similar_authors", "similar_authors", similar_authors),
        ("topic_trends (1-3 title words, or all)", "topic_trends", trends),
    ]
    for depth in (1, 2, 3, 4):
        path_calls = [dict(a, max_hops=4) for a in pairs((depth,), calls)]
        if path_calls:
            out.append((f"collaboration_path, {depth} hop{'s' if depth > 1 else ''}", "collaboration_path", path_calls))
    unreachable = [dict(a, max_hops=4) for a in pairs((5,), calls)]
    if unreachable:
        out.append(("collaboration_path, none within 4", "collaboration_path", unreachable))
    # Drawn from a second generator, so that the workloads above stay the ones earlier runs measured.
    papers = [{"paper_id": pid} for pid, _ in sample_papers(catalog, random.Random(seed + 1), calls)]
    out.append(("get_paper", "get_paper", papers))
    out.append(("catalog_stats", "catalog_stats", [{} for _ in range(calls)]))
    return out


# -- over stdio -----------------------------------------------------------------------------


@dataclass
class Latency:
    label: str
    tool: str
    calls: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    first_error: str | None = None
    server_p50_ms: float | None = None  # inside the server, request read to response written (bench_timing)
    server_p99_ms: float | None = None
    result_bytes: int | None = None  # median size of the JSON-RPC result, serialized compactly


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def result_size(result: Any) -> int:
    """Bytes of a tool's JSON-RPC result (content and structuredContent) as compact JSON."""
    return len(result.model_dump_json(by_alias=True, exclude_none=True).encode("utf-8"))


async def measure_calls(
    client: Any, label: str, tool: str, calls: list[dict], warmup: int, floor: Any, floor_times: list[float]
) -> Latency:
    """Time each call; before each one, time a no-op call on *floor* (the floor, under the same conditions)."""
    for args in calls[:warmup]:
        await client.call_tool(tool, args)
    times = []
    sizes = []
    errors = 0
    first_error = None
    for args in calls:
        started = time.perf_counter()
        await floor.call_tool("noop", {})
        floor_times.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        result = await client.call_tool(tool, args)
        times.append((time.perf_counter() - started) * 1000)
        sizes.append(result_size(result))
        if result.is_error:
            errors += 1
            if first_error is None:
                first_error = f"{args}: {result.content[0].text if result.content else '?'}"[:300]
    out = latency(label, tool, times, errors, first_error)
    out.result_bytes = round(statistics.median(sizes)) if sizes else None
    return out


def latency(label: str, tool: str, times: list[float], errors: int = 0, first_error: str | None = None) -> Latency:
    return Latency(
        label, tool, len(times), errors, percentile(times, 0.5), percentile(times, 0.99), max(times), first_error
    )


def server_params(kind: str, catalog: Path | None = None, timing: Path | None = None) -> Any:
    """How to start the no-op floor or ``serve``; with *timing*, each writes its per-call times there."""
    from mcp.client.stdio import StdioServerParameters

    env = {TIMING_ENV: str(timing)} if timing else None
    if kind == "noop":
        return StdioServerParameters(command=sys.executable, args=[str(BENCH / "noop_server.py")], env=env)
    return StdioServerParameters(command=scholar_catalog(), args=["serve", "--db", str(catalog)], env=env)


def read_timings(path: Path) -> list[tuple[str, float]]:
    """(tool, ms) per tool call, in call order, from a server's timing log (empty if it wrote none)."""
    if not path.exists():
        return []
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [(row[0], float(row[1])) for row in rows]


def attach_server_times(lat: Latency, rows: list[tuple[str, float]]) -> None:
    """Put the server-side percentiles of *rows* on *lat*, if they are the calls it timed (same tool, same count)."""
    if rows and len(rows) == lat.calls and all(tool == lat.tool for tool, _ in rows):
        times = [ms for _, ms in rows]
        lat.server_p50_ms, lat.server_p99_ms = percentile(times, 0.5), percentile(times, 0.99)


async def bench_tools(catalog: Path, loads: list, warmup: int, work: Path | None = None) -> list[Latency]:
    """Every workload against `serve`, each call paired with a no-op call on the minimal server.

    Both servers log each call's time inside them (``SCHOLAR_CATALOG_BENCH_TIMING``); the calls run one
    after the other, so the logs' lines are the calls in order: warm-ups, then the measured ones.
    """
    from mcp import Client

    out = []
    floor_times: list[float] = []
    logs = Path(tempfile.mkdtemp(prefix="timing-", dir=work))
    floor_log, serve_log = logs / "noop.tsv", logs / "serve.tsv"
    try:
        async with (
            Client(server_params("noop", timing=floor_log)) as floor,
            Client(server_params("serve", catalog, serve_log)) as client,
        ):
            for _ in range(warmup):
                await floor.call_tool("noop", {})
            for label, tool, calls in loads:
                out.append(await measure_calls(client, label, tool, calls, warmup, floor, floor_times))
        noop = latency("no-op tool (floor)", "noop", floor_times)
        attach_server_times(noop, read_timings(floor_log)[warmup:])
        served = read_timings(serve_log)
        at = 0
        for lat, (_, _, calls) in zip(out, loads, strict=True):
            at += len(calls[:warmup])
            attach_server_times(lat, served[at : at + lat.calls])
            at += lat.calls
    finally:
        shutil.rmtree(logs, ignore_errors=True)
    return [noop, *out]


async def cold_start(kind: str, catalog: Path | None, tool: str, args: dict) -> float:
    """Seconds from spawning the server to the first tool result (the shutdown is not counted)."""
    from mcp import Client

    started = time.perf_counter()
    async with Client(server_params(kind, catalog)) as client:
        result = await client.call_tool(tool, args)
        elapsed = time.perf_counter() - started
        if result.is_error:
            raise RuntimeError(f"cold start {kind}/{tool}: {result.content[0].text if result.content else '?'}")
    return elapsed


async def bench_cold(catalog: Path, manifest: dict, reps: int) -> dict[str, list[float]]:
    first_owner = manifest["owners"][0]["profile_id"]
    out: dict[str, list[float]] = {"noop": [], "search_papers": [], "get_author": []}
    for _ in range(reps):  # interleaved, so that a slow moment of the machine hits all three alike
        out["noop"].append(await cold_start("noop", None, "noop", {}))
        out["search_papers"].append(
            await cold_start("serve", catalog, "search_papers", {"query": manifest["title_words"][0]})
        )
        out["get_author"].append(await cold_start("serve", catalog, "get_author", {"profile_id": first_owner}))
    return out


# -- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000", help="profile counts, comma-separated")
    parser.add_argument("--reps", type=int, default=1, help="repetitions of each ingest measurement (median)")
    parser.add_argument(
        "--reingest-reps",
        type=int,
        help="repetitions of the unchanged and the 1%%-changed re-ingest (median; default 5, 1 with --smoke)",
    )
    parser.add_argument("--calls", type=int, default=200, help="measured calls per tool workload")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured calls before each workload")
    parser.add_argument("--cold-reps", type=int, default=5, help="cold starts of each server")
    parser.add_argument("--tools-sizes", default=None, help="sizes to measure tools at (default: all)")
    parser.add_argument(
        "--floor-sizes",
        default=None,
        help="sizes to run the floor loader at (default: all; 'none' for none). No 250k target needs it",
    )
    parser.add_argument(
        "--warm-cache",
        action="store_true",
        help="read each catalog whole just before its tool calls, so they run on a warm page cache",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="a quick run: 300 profiles, few calls (for CI)")
    parser.add_argument(
        "--workdir", type=Path, help="where to build: a new folder inside it (default: inside the temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "results.md", help="markdown results file")
    parser.add_argument("--readme", action="store_true", help="also write the results into bench/README.md")
    parser.add_argument("--timeout", type=float, default=7200, help="seconds any one subprocess may take")
    parser.add_argument(
        "--profiles-cache",
        type=Path,
        help="keep generated profiles here (profiles-SIZE-seedSEED/) and reuse them in later runs when their "
        "manifest matches; the catalogs are still built in every run",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.calls, args.warmup, args.cold_reps, args.reps = "300", 10, 2, 1, 1
    if args.reingest_reps is None:
        args.reingest_reps = 1 if args.smoke else 5
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    tool_sizes = {int(s) for s in args.tools_sizes.split(",")} if args.tools_sizes else set(sizes)
    floor_sizes = args.floor_sizes or args.sizes
    args.floor_sizes = set() if floor_sizes == "none" else {int(s) for s in floor_sizes.split(",") if s.strip()}

    import anyio

    command = "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    info = machine()
    info["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_start = os.getloadavg()[0]
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    log(f"machine: {info}")
    if info["semantic_extra"]:
        log("note: the [semantic] extra is installed here: ingest embeds every paper (slower, ~256 more bytes a paper)")
    if args.workdir is not None:  # a folder of the run's own inside it: only that is removed at the end
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="scholar-bench-", dir=args.workdir))
    ingests: list[IngestResult] = []
    tools: dict[int, list[Latency]] = {}
    colds: dict[int, dict[str, list[float]]] = {}
    text = ""
    try:
        for size in sizes:
            result, catalog, manifest = bench_ingest(size, work, args, log)
            ingests.append(result)
            if size in tool_sizes:
                started = time.perf_counter()
                loads = workloads(catalog, manifest, args.calls, args.seed)
                result.stages["drawing the workloads (BFS)"] = time.perf_counter() - started
                if args.warm_cache:
                    started = time.perf_counter()
                    pagecache.warm(catalog)
                    result.stages["reading the catalog into the page cache"] = time.perf_counter() - started
                    result.cache_warmed = True
                result.page_cache.append(pagecache.resident_share(catalog))
                started = time.perf_counter()
                tools[size] = anyio.run(bench_tools, catalog, loads, args.warmup, work)
                result.stages["tool calls"] = time.perf_counter() - started
                result.page_cache.append(pagecache.resident_share(catalog))
                shares = ", ".join(report.fmt_share(v) for v in result.page_cache)
                log(f"[{size}] catalog in the page cache before the servers started and after the last call: {shares}")
                for lat in tools[size]:
                    log(
                        f"[{size}] {lat.label}: p50 {lat.p50_ms:.1f} ms, p99 {lat.p99_ms:.1f} ms, "
                        f"server p50 {report.fmt_ms(lat.server_p50_ms)} ms, {lat.result_bytes} B, {lat.errors} errors"
                    )
                started = time.perf_counter()
                colds[size] = anyio.run(bench_cold, catalog, manifest, args.cold_reps)
                result.stages["cold starts"] = time.perf_counter() - started
                log(f"[{size}] cold start: { {k: round(statistics.median(v), 2) for k, v in colds[size].items()} }")
            shutil.rmtree(work / f"profiles-{size}", ignore_errors=True)
            for path in work.glob(f"catalog-{size}.db*"):
                path.unlink()
            text = write_results(args, info, command, ingests, tools, colds, load_start)  # kept if a later size fails
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(text)
    if args.readme:
        report.write_readme(text, BENCH / "README.md")
    return 0


def write_results(
    args: argparse.Namespace, info: dict, command: str, ingests: list, tools: dict, colds: dict, load_start: float
) -> str:
    """Write the tables so far to ``--out`` (markdown) and its ``.json``; return the markdown."""
    text = report.render(info, command, ingests, tools, colds, [load_start, os.getloadavg()[0]])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    raw = {
        "machine": info,
        "command": command,
        "ingest": [asdict(r) for r in ingests],
        "tools": {str(k): [asdict(x) for x in v] for k, v in tools.items()},
        "cold_start": {str(k): v for k, v in colds.items()},
        "max_rss_mb_of_this_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    args.out.with_suffix(".json").write_text(json.dumps(raw, indent=1, ensure_ascii=False), encoding="utf-8")
    return text


if __name__ == "__main__":
    sys.exit(main())
