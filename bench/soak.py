"""Soak: many concurrent MCP sessions through nginx to stateless replicas, for minutes, watching the replicas.

    python bench/soak.py --db CATALOG [--sessions 32] [--duration 600] [--replicas 2] [--readme]

Starts the replicas (``scholar-catalog serve --http --stateless``) and a real nginx in front of them
(bench/balancer.py, the config docs/deploy.md recommends), then runs ``--sessions`` official-SDK
clients (half with the initialize handshake, half with the newer discover) that each make the
benchmark's tool calls (bench/run.py's workloads, drawn at random) back to back until the time is up.
Every 5 s it samples each replica's RSS and open file descriptors from /proc. Reported: calls/s,
p50/p99 over the measured window (after ``--warmup`` seconds), errors of any kind (transport
failures and tool errors), RSS after warm-up and at the end, file descriptors, the machine and its
load. Everything it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import run  # noqa: E402  (bench/ is not a package)
from balancer import free_port, running_nginx, stop  # noqa: E402

SERVE = [run.scholar_catalog(), "serve", "--http", "--stateless", "--port", "0"]
SOAK_START = "<!-- soak:start -->"
SOAK_END = "<!-- soak:end -->"


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@contextmanager
def replica(db: Path, balancer_port: int, log: Path) -> Any:
    """One ``serve --http --stateless`` process; yields (process, port) once it announced its URL."""
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [*SERVE, "--db", str(db), "--allow-host", f"127.0.0.1:{balancer_port}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 120
        while not (match := re.search(r"127\.0\.0\.1:(\d+)/mcp", log.read_text(errors="replace"))):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"replica did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        yield process, int(match.group(1))
    finally:
        stop(process)


def sample(pid: int) -> tuple[float, int, float]:
    """(RSS in MB, open file descriptors, CPU seconds used so far) of process *pid*."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd")), cpu


def call_pool(db: Path, manifest_path: Path, seed: int) -> list[tuple[str, str, dict]]:
    """(workload label, tool, arguments) drawn from bench/run.py's workloads on this catalog."""
    if not manifest_path.exists():
        raise SystemExit(f"{manifest_path} not found: give --manifest (bench/generate.py writes it with the profiles)")
    manifest = json.loads(manifest_path.read_text())
    pool = [(label, tool, args) for label, tool, calls in run.workloads(db, manifest, 200, seed) for args in calls]
    random.Random(seed).shuffle(pool)
    return pool


async def drive(url: str, pool: list, args: argparse.Namespace, pids: list[int]) -> dict[str, Any]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    started = time.monotonic()
    stop_at = started + args.duration
    calls: list[tuple[float, float, str]] = []  # (seconds since start, ms, label)
    errors: list[str] = []
    samples: list[dict[str, Any]] = []

    async def session(number: int) -> None:
        rng = random.Random(number)
        mode = "legacy" if number % 2 else "auto"
        async with (
            httpx2.AsyncClient(timeout=120) as http,
            Client(streamable_http_client(url, http_client=http), mode=mode) as client,
        ):
            while time.monotonic() < stop_at:
                label, tool, arguments = pool[rng.randrange(len(pool))]
                t0 = time.monotonic()
                try:
                    result = await client.call_tool(tool, arguments)
                    if result.is_error:
                        errors.append(f"{tool} {arguments}: {result.content[0].text if result.content else '?'}")
                except Exception as err:  # counted, reported, and the session goes on
                    errors.append(f"{tool} {arguments}: {err!r}")
                calls.append((t0 - started, (time.monotonic() - t0) * 1000, label))

    async def watch() -> None:
        while time.monotonic() < stop_at + 1:
            row: dict[str, Any] = {"t": round(time.monotonic() - started, 1), "client_cpu": sum(os.times()[:2])}
            for i, pid in enumerate(pids):
                row[f"rss{i}"], row[f"fd{i}"], row[f"cpu{i}"] = sample(pid)
            samples.append(row)
            await anyio.sleep(5)

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        for number in range(args.sessions):
            group.start_soon(session, number)
    return {"calls": calls, "errors": errors, "samples": samples, "elapsed": time.monotonic() - started}


def summarize(raw: dict[str, Any], args: argparse.Namespace, replicas: int) -> dict[str, Any]:
    measured = [(t, ms, label) for t, ms, label in raw["calls"] if t >= args.warmup]
    window = max(1e-9, args.duration - args.warmup)
    times = [ms for _, ms, _ in measured]
    by_label: dict[str, list[float]] = {}
    for _, ms, label in measured:
        by_label.setdefault(label, []).append(ms)
    samples = raw["samples"]
    after_warmup = next((s for s in samples if s["t"] >= args.warmup), samples[-1])
    end = samples[-1]
    out: dict[str, Any] = {
        "calls_total": len(raw["calls"]),
        "calls_measured": len(measured),
        "calls_per_s": len(measured) / window,
        "p50_ms": run.percentile(times, 0.5) if times else None,
        "p99_ms": run.percentile(times, 0.99) if times else None,
        "max_ms": max(times) if times else None,
        "errors": len(raw["errors"]),
        "first_errors": raw["errors"][:5],
        "by_workload": {
            label: {"calls": len(v), "p50_ms": run.percentile(v, 0.5), "p99_ms": run.percentile(v, 0.99)}
            for label, v in sorted(by_label.items())
        },
        "replicas": [],
        "client_cpu_s": end["client_cpu"] - after_warmup["client_cpu"],
        "sampled_s": end["t"] - after_warmup["t"],
    }
    for i in range(replicas):
        fds = [s[f"fd{i}"] for s in samples if s["t"] >= args.warmup]
        rss_warm, rss_end = after_warmup[f"rss{i}"], end[f"rss{i}"]
        out["replicas"].append(
            {
                "rss_after_warmup_mb": rss_warm,
                "rss_end_mb": rss_end,
                "rss_growth_pct": 100 * (rss_end - rss_warm) / rss_warm,
                "fd_min": min(fds) if fds else None,
                "fd_max": max(fds) if fds else None,
                "cpu_s": end[f"cpu{i}"] - after_warmup[f"cpu{i}"],
            }
        )
    return out


def render(info: dict[str, Any], result: dict[str, Any], args: argparse.Namespace, nginx: dict[str, int]) -> str:
    lines = [
        f"Machine: {info['cores']} cores, {info['memory_gb']} GB, {info['cpu']}; Python {info['python']}, "
        f"SQLite {info['sqlite']}, mcp {info['mcp']}; commit {info['commit']}; {info['when']}.",
        "The cores are shared with other engineers' work during the run (see the load averages); the load "
        f"generator ({args.sessions} SDK clients in one Python process) and nginx run on the same 2 cores as the "
        "replicas.",
        "",
        f"Command: `python bench/soak.py --db CATALOG --sessions {args.sessions} --duration {args.duration:g} "
        f"--replicas {args.replicas} --warmup {args.warmup:g}` on {info['profiles']:,} profiles "
        f"({info['papers']:,} papers).",
        "",
        f"- load before: `{info['uptime_start']}`",
        f"- load after: `{info['uptime_end']}`",
        "",
        "| sessions | replicas | measured s | calls | calls/s | p50 ms | p99 ms | max ms | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {args.sessions} | {args.replicas} | {args.duration - args.warmup:g} | {result['calls_measured']:,} | "
        f"{result['calls_per_s']:.1f} | {result['p50_ms']:.1f} | {result['p99_ms']:.1f} | {result['max_ms']:.0f} | "
        f"{result['errors']} |",
        "",
        "| replica | RSS after warm-up MB | RSS at end MB | growth | fds after warm-up (min-max) |",
        "|---:|---:|---:|---:|---|",
    ]
    for i, r in enumerate(result["replicas"]):
        lines.append(
            f"| {i + 1} | {r['rss_after_warmup_mb']:.0f} | {r['rss_end_mb']:.0f} | {r['rss_growth_pct']:+.1f}% | "
            f"{r['fd_min']}-{r['fd_max']} |"
        )
    replica_cpu = sum(r["cpu_s"] for r in result["replicas"])
    rate = result["calls_measured"] * result["sampled_s"] / max(1e-9, args.duration - args.warmup)
    lines += [
        "",
        f"CPU over the measured window ({result['sampled_s']:.0f} s): replicas {replica_cpu:.0f} s in all "
        f"({1000 * replica_cpu / max(1.0, rate):.1f} ms of replica CPU per call), the load generator "
        f"{result['client_cpu_s']:.0f} s ({1000 * result['client_cpu_s'] / max(1.0, rate):.1f} ms per call).",
        "",
        f"nginx: {nginx['requests']:,} requests, {nginx['non_2xx']} answered other than 2xx, "
        f"{nginx['errors']} upstream errors logged. Calls made in the {args.warmup:g} s warm-up: "
        f"{result['calls_total'] - result['calls_measured']:,} (counted for errors, not for latency).",
        "",
        "| workload (under load) | calls | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    for label, row in result["by_workload"].items():
        lines.append(f"| {label} | {row['calls']:,} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} |")
    return "\n".join(lines) + "\n"


def nginx_counts(folder: Path) -> dict[str, int]:
    access = (folder / "access.log").read_text(errors="replace").splitlines()
    statuses = [line.split('"')[2].split()[0] for line in access if line.count('"') >= 2]
    error_log = (folder / "error.log").read_text(errors="replace")
    return {
        "requests": len(statuses),
        "non_2xx": sum(1 for s in statuses if not s.startswith("2")),
        "errors": error_log.count("[error]"),
    }


def write_readme(text: str) -> None:
    readme = BENCH / "README.md"
    current = readme.read_text()
    block = f"{SOAK_START}\n{text}{SOAK_END}"
    if SOAK_START in current:
        head, rest = current.split(SOAK_START, 1)
        current = head + block + rest.split(SOAK_END, 1)[1]
    else:
        current = current.rstrip() + "\n\n" + block + "\n"
    readme.write_text(current)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="catalog built from bench/generate.py profiles")
    parser.add_argument(
        "--manifest", type=Path, help="bench-manifest.json of the profiles (default: DB without .db, as a folder)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (replica and nginx logs)")
    parser.add_argument("--sessions", type=int, default=32)
    parser.add_argument("--duration", type=float, default=600, help="seconds of load (default 600)")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before latency and RSS are measured")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "soak.md")
    parser.add_argument("--readme", action="store_true", help="write the results into bench/README.md")
    args = parser.parse_args(argv)

    db = args.db.resolve()
    info = run.machine()
    info.update(
        when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        profiles=run.count(db, "profiles"),
        papers=run.count(db, "papers"),
        uptime_start=uptime(),
    )
    pool = call_pool(db, args.manifest or db.with_suffix("") / "bench-manifest.json", args.seed)
    work = Path(tempfile.mkdtemp(prefix="scholar-soak-"))
    port = free_port()
    with ExitStack() as stack:
        started = [stack.enter_context(replica(db, port, work / f"replica{i}.log")) for i in range(args.replicas)]
        stack.enter_context(running_nginx(work / "nginx", [p for _, p in started], port))
        print(f"soak: {args.sessions} sessions for {args.duration:g} s via 127.0.0.1:{port} ({work})", file=sys.stderr)
        raw = anyio.run(drive, f"http://127.0.0.1:{port}/mcp", pool, args, [p.pid for p, _ in started])
        nginx = nginx_counts(work / "nginx")
    info["uptime_end"] = uptime()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    result = summarize(raw, args, args.replicas)
    text = render(info, result, args, nginx)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(
        json.dumps({"info": info, "result": result, "nginx": nginx, "samples": raw["samples"]}, indent=2)
    )
    if args.readme:
        write_readme(text)
    print(text)
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
