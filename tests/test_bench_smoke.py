"""The benchmark (bench/) runs end to end on a tiny catalog and produces its tables (not how fast)."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def test_generator_is_deterministic_and_parses(tmp_path: Path) -> None:
    from datetime import date

    from scholar_catalog.db.parser import parse_profile

    sys.path.insert(0, str(BENCH))
    try:
        import generate
    finally:
        sys.path.remove(str(BENCH))
    a, b = tmp_path / "a", tmp_path / "b"
    manifest = generate.generate(a, 60, seed=7)
    generate.generate(b, 60, seed=7)
    files = sorted(a.glob("*.txt"))
    assert len(files) == 60 == manifest["profiles"]
    assert all((b / f.name).read_bytes() == f.read_bytes() for f in files)
    entries = [parse_profile(f.read_bytes(), as_of=date(2026, 11, 24), path=str(f)).entries for f in files]
    assert sum(map(len, entries)) == manifest["listings"]


def _bench(name: str) -> Any:  # a module of bench/, imported (bench/ is not a package)
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


def test_profiles_cache_is_reused_only_when_complete_and_unedited(tmp_path: Path) -> None:
    run = _bench("run")
    folder = tmp_path / "profiles-40-seed3"
    run.generate.generate(folder, 40, seed=3)
    assert run.cached_manifest(folder, 40, 3)["profiles"] == 40
    assert run.cached_manifest(folder, 40, 4) is None and run.cached_manifest(folder, 41, 3) is None
    before = {f.name: f.read_bytes() for f in folder.glob("*.txt")}
    originals: dict[Path, bytes] = {}
    assert run.change_files(folder, 0.1, originals) == 4
    assert run.cached_manifest(folder, 40, 3) is None  # edited files in it: not reusable
    run.restore_files(folder, originals)
    assert {f.name: f.read_bytes() for f in folder.glob("*.txt")} == before
    assert run.cached_manifest(folder, 40, 3) is not None
    next(folder.glob("*.txt")).unlink()
    assert run.cached_manifest(folder, 40, 3) is None


def test_smoke_run_produces_the_tables_and_leaves_what_was_in_its_workdir(tmp_path: Path) -> None:
    work = tmp_path / "work"
    out = work / "results.md"  # the results and a log beside the run's own folder, which it removes
    work.mkdir()
    (work / "run.log").write_text("kept\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--smoke", "--warm-cache", "--workdir", str(work), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.name for p in work.iterdir()) == ["results.json", "results.md", "run.log"]
    text = out.read_text(encoding="utf-8")
    headings = ("### Ingest", "### Tool latency", "### Cold start", "### Time per stage", "### Targets at 300 profiles")
    for heading in headings:
        assert heading in text, text
    for row in ("| 300 |", "| no-op tool (floor) |", "| search_papers (1-3 title words) |", "| get_author |"):
        assert row in text, text
    assert "collaboration_path" in text and "shared_coauthors" in text and "search_authors (typos)" in text
    for label in (
        "very common words + filters",
        "find_experts",
        "similar_papers",
        "similar_authors",
        "topic_trends",
        "get_paper",
        "catalog_stats",
    ):
        assert f"| search_papers, {label} |" in text or f"| {label}" in text, label
    assert "server-side p50 < no-op round trip p50" in text and "p99 ≤ 6× no-op p99" in text
    results = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    ingest = results["ingest"][0]
    assert ingest["profiles"] == 300 and ingest["papers"] > 0 and ingest["ingest_rss_mb"] > 0
    assert {"generate profiles", "ingest", "tool calls"} <= set(ingest["stages"])
    lats = results["tools"]["300"]
    assert all(lat["errors"] == 0 for lat in lats), lats
    # every workload got its time inside the server (the timing hook) and, but the no-op, its result size
    assert all(lat["server_p50_ms"] and 0 < lat["server_p50_ms"] <= lat["max_ms"] for lat in lats), lats
    assert all(lat["result_bytes"] > 50 for lat in lats[1:]), lats
    assert not list(work.glob("scholar-bench-*")), "the benchmark left its own work folder behind"
    # the catalog read whole before the tool calls, and how much of it the page cache held around them
    assert ingest["cache_warmed"] is True and "reading the catalog into the page cache" in ingest["stages"]
    shares = ingest["page_cache"]
    if _fincore() is None:
        assert shares == [None, None]
    else:
        assert len(shares) == 2 and all(s is not None and 0.0 <= s <= 1.0 for s in shares), shares
        assert shares[0] == 1.0, "the catalog was read whole just before"
        caption = (
            "in the OS page cache (util-linux `fincore`) before the servers started and after the last call: 300: "
        )
        assert caption + "100.0% and " in text and "read whole just before (`--warm-cache`)" in text


def _fincore() -> str | None:
    """util-linux's fincore (Debian: util-linux-extra), which .ci/run installs: missing in CI is a failure."""
    found = shutil.which("fincore")
    if found is None and os.environ.get("CI"):
        pytest.fail("fincore is required in CI (.ci/run installs util-linux-extra) but was not found")
    return found


def test_a_file_read_whole_is_all_in_the_page_cache(tmp_path: Path) -> None:
    pagecache = _bench("pagecache")
    if _fincore() is None:
        pytest.skip("util-linux's fincore is not installed (apt-get install util-linux-extra)")
    path = tmp_path / "catalog.db"
    path.write_bytes(os.urandom(3 * pagecache.CHUNK + 4321))
    with path.open("rb") as f:
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    if pagecache.resident_share(path) == 1.0:
        pytest.skip("this file system keeps files in memory whatever is advised (tmpfs): nothing to warm")
    assert pagecache.warm(path) == path.stat().st_size
    assert pagecache.resident_share(path) == 1.0


def _fake_fincore(folder: Path, output: str, status: int = 0) -> None:
    folder.mkdir(exist_ok=True)
    script = folder / "fincore"
    script.write_text(f"#!/bin/sh\nprintf '%s' '{output}'\nexit {status}\n", encoding="utf-8")
    script.chmod(0o755)


@pytest.mark.parametrize(
    ("output", "status", "share"),
    [("2500", 0, 0.25), ("12288", 0, 1.0), ("RES\n0", 0, None), ("", 1, None), ("oops", 0, None)],
    ids=["a quarter", "a whole last page counts as the file", "a header", "a failure", "not a number"],
)
def test_page_cache_share_is_fincores_resident_bytes_over_the_file_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output: str, status: int, share: float | None
) -> None:
    pagecache = _bench("pagecache")
    path = tmp_path / "catalog.db"
    path.write_bytes(b"x" * 10_000)
    _fake_fincore(tmp_path / "bin", output, status)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert pagecache.resident_share(path) == share


def test_page_cache_share_is_unknown_without_fincore_or_without_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pagecache = _bench("pagecache")
    path = tmp_path / "catalog.db"
    _fake_fincore(tmp_path / "bin", "10000")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert pagecache.resident_share(path) is None  # no such file
    path.write_bytes(b"")
    assert pagecache.resident_share(path) is None  # an empty one
    path.write_bytes(b"x" * 10_000)
    assert pagecache.resident_share(path) == 1.0
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert pagecache.resident_share(path) is None


def test_the_latency_tables_caption_says_how_much_of_each_catalog_was_cached() -> None:
    report = _bench("report")
    run = _bench("run")
    cold = run.IngestResult(50_000, 0, 0, 0.0, page_cache=[0.123, None])
    warm = run.IngestResult(250_000, 0, 0, 0.0, page_cache=[1.0, 0.9996], cache_warmed=True)
    untimed = run.IngestResult(1_000, 0, 0, 0.0)  # no tool calls at this size
    note = report.page_cache_note([untimed, cold, warm], [50_000, 250_000])
    assert "50,000: 12.3% and ?; 250,000: 100.0% and 100.0%, read whole just before (`--warm-cache`)" in note
    assert "1,000" not in note
    assert report.page_cache_note([untimed], [1_000]) == ""


async def _two_calls(example_db: Path, env: dict[str, str]) -> list[int]:
    from helpers_mcp import server_executable
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=str(server_executable()), args=["serve", "--db", str(example_db)], env=env)
    sizes = []
    async with Client(params) as client:
        for tool, arguments in (("search_papers", {"query": "retrieval"}), ("get_author", {"name": "nobody at all"})):
            result = await client.call_tool(tool, arguments)
            sizes.append(len(result.model_dump_json(by_alias=True, exclude_none=True)))
    return sizes


def test_timing_hook_logs_each_tool_call_only_when_the_benchmark_asks(example_db: Path, tmp_path: Path) -> None:
    import anyio

    log = tmp_path / "timing.tsv"
    anyio.run(_two_calls, example_db, {"SCHOLAR_CATALOG_BENCH_TIMING": str(log)})
    rows = [line.split("\t") for line in log.read_text(encoding="utf-8").splitlines()]
    assert [row[0] for row in rows] == ["search_papers", "get_author"]  # the error result is timed too
    assert all(float(ms) > 0 and int(size) > 100 for _, ms, size in rows), rows

    log.unlink()
    anyio.run(_two_calls, example_db, {"SCHOLAR_CATALOG_BENCH_TIMING": ""})
    assert not log.exists()


def test_timing_hook_brackets_a_call_from_its_line_read_to_its_response_flushed() -> None:
    import io
    import time

    from scholar_catalog.server.bench_timing import TimedStdin, TimedStdout

    pending: dict[str, tuple[str, float]] = {}
    log, wire = io.StringIO(), io.StringIO()
    requests = TimedStdin(
        io.StringIO(
            '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_author","arguments":{}}}\n'
            '{"jsonrpc":"2.0","id":8,"method":"tools/list"}\n'
        ),
        pending,
    )
    responses = TimedStdout(wire, pending, log)
    assert requests.readline().startswith("{") and requests.readline().startswith("{")
    assert list(pending) == ["7"]  # only tools/call is timed
    time.sleep(0.03)
    responses.write('{"jsonrpc":"2.0","id":8,"result":{"tools":[]}}\n')
    responses.flush()
    responses.write('{"jsonrpc":"2.0","method":"notifications/message","params":{}}\n')
    responses.flush()
    assert log.getvalue() == ""
    response = '{"jsonrpc":"2.0","id":7,"result":{"content":[]}}\n'
    responses.write(response)
    assert log.getvalue() == ""  # logged once flushed
    responses.flush()
    tool, ms, size = log.getvalue().rstrip("\n").split("\t")
    assert (tool, int(size)) == ("get_author", len(response)) and 30 <= float(ms) < 1000
    assert wire.getvalue().count("\n") == 3 and pending == {}


def test_the_250k_growth_target_names_the_floor_loaders_own_growth_when_both_sizes_ran_it() -> None:
    run = _bench("run")
    ingest_targets, IngestResult = run.report.ingest_targets, run.IngestResult
    small = IngestResult(profiles=50_000, papers=1, listings=1, generate_s=0, ingest=[60.0], floor=[50.0])
    large = IngestResult(profiles=250_000, papers=1, listings=1, generate_s=0, ingest=[360.0], floor=[350.0])
    line = ingest_targets(large, small, large=True)[0]
    assert "360 s (6.00×); the floor loader 350 s (7.00×)" in line and line.endswith("| ❌ |"), line
    large.ingest = [300.0]  # the mark is the ingest's growth (5.0×), not the loader's (7.0×)
    line = ingest_targets(large, small, large=True)[0]
    assert "300 s (5.00×); the floor loader 350 s (7.00×)" in line and line.endswith("| ✅ |"), line
    large.floor = []
    assert "floor loader" not in ingest_targets(large, small, large=True)[0]


def test_sql_profile_times_the_writers_statements_and_builds_the_same_catalog(example_db: Path, tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "profiled.db"
    profiles = str(ROOT / "examples" / "profiles")
    command = [sys.executable, str(BENCH / "sql_profile.py"), profiles, "--db", str(db), "--as-of", "2026-11-24"]
    proc = subprocess.run([*command, "--top", "1000"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("total ") and " in SQL " in lines[0], lines[0]
    statements = {line.split("us/call", 1)[1].strip() for line in lines[1:]}
    assert "COMMIT" in statements and any(s.startswith("INSERT INTO papers (") for s in statements), statements
    # every row, row id and full-text answer as a plain ingest of the same files on the same date has them
    compare = [sys.executable, str(BENCH / "compare_catalogs.py"), "--dbs", str(example_db), str(db)]
    same = subprocess.run(compare, capture_output=True, text=True, timeout=120)
    assert same.returncode == 0, same.stdout + same.stderr
    with sqlite3.connect(db) as conn:
        listings = conn.execute("SELECT count(*) FROM listings").fetchone()[0]
    insert = next(line for line in lines if "INSERT INTO listings" in line)  # one executemany a profile
    assert " 10 calls " in insert and f" {listings} rows " in insert, insert
