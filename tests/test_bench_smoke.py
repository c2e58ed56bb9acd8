"""The benchmark (bench/) runs end to end on a tiny catalog and produces its tables (not how fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def test_smoke_run_produces_the_tables(tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--smoke", "--workdir", str(tmp_path / "work"), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = out.read_text(encoding="utf-8")
    for heading in ("### Ingest", "### Tool latency", "### Cold start", "### Targets at 300 profiles"):
        assert heading in text, text
    for row in ("| 300 |", "| no-op tool (floor) |", "| search_papers (1-3 title words) |", "| get_author |"):
        assert row in text, text
    assert "collaboration_path" in text and "shared_coauthors" in text and "search_authors (typos)" in text
    results = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert results["ingest"][0]["profiles"] == 300 and results["ingest"][0]["papers"] > 0
    assert all(lat["errors"] == 0 for lat in results["tools"]["300"]), results["tools"]["300"]
    assert not (tmp_path / "work").exists(), "the benchmark left its work folder behind"


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
