"""bench/run.py's report: its results as markdown tables, checked against issue 11's targets."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"

# Issue 11's targets: each a ratio to a floor measured in the same run, except where it cannot be.
LARGE = 250_000  # sizes from here on are held to the 250k targets, smaller ones to the 50k targets
P99_RATIO = {False: 6.0, True: 9.0}  # every tool workload's p99 ÷ the no-op call's p99 (50k, 250k)
RSS_MB = {False: 400, True: 600}  # peak RSS of ingest's whole process tree
FLOOR_RATIO = 1.3  # ingest ÷ bench/floor.py, 50k
CHANGED_S = 2.0  # a 1%-changed re-ingest, 50k
BYTES_PER_PAPER = 3500  # database bytes per paper, 50k
GROWTH_RATIO = 5.5  # 250k ingest time ÷ 50k ingest time (same run)
COLD_RATIO = 1.3  # cold start to the first result ÷ the minimal server's, 250k
SERVER_SIDE = ("get_author", "shared_coauthors", "collaboration_path, 1 hop", "collaboration_path, 2 hops")


def mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def fmt_s(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "–"


def fmt_ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def fmt_share(value: float | None) -> str:
    return "?" if value is None else f"{value:.1%}"


def render(info: dict, command: str, ingests: list, tools: dict, colds: dict, load: list) -> str:
    lines = [
        f"Machine: {info['cores']} cores, {info['memory_gb']} GB, {info['cpu']}; Python {info['python']}, "
        f"SQLite {info['sqlite']} (ingest and floor: Python's sqlite3) and {info.get('sqlite_reader', '?')} "
        f"(the server: APSW), mcp {info['mcp']}; commit {info['commit']}; "
        f"load average {load[0]:.2f} at start, {load[1]:.2f} at end; {info['date']}"
        + ("; **with the [semantic] extra** (ingest embeds every paper)." if info.get("semantic_extra") else "."),
        "",
        f"Command: `{command}`",
        "",
        *ingest_table(ingests),
        "",
        *latency_table(tools, ingests),
        "",
        *cold_table(colds),
        "",
        *stage_table(ingests),
        "",
        *targets(ingests, tools, colds),
    ]
    return "\n".join(lines) + "\n"


def ingest_table(ingests: list) -> list[str]:
    lines = [
        "### Ingest (`scholar-catalog ingest`, a subprocess) vs the bare floor loader (`bench/floor.py`)",
        "",
        "Peak RSS: the most the process tree held at once (its processes' RSS summed every 0.5 s) or the "
        "largest single process's peak (`wait4`), whichever is larger.",
        "",
        "| profiles | papers | listings | ingest s | profiles/s | peak RSS MB | DB bytes/paper | floor s "
        "| floor profiles/s | floor RSS MB | floor bytes/paper | ingest ÷ floor | unchanged re-ingest s "
        "| 1% changed s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in ingests:
        ingest_s = statistics.median(r.ingest)
        if r.floor:
            floor_s = statistics.median(r.floor)
            floor = (
                f"{floor_s:.2f} | {r.profiles / floor_s:,.0f} | {r.floor_rss_mb:.0f} | {r.floor_bytes_per_paper:,.0f}"
            )
            floor += f" | {ingest_s / floor_s:.2f}"
        else:
            floor = "– | – | – | – | –"
        lines.append(
            f"| {r.profiles:,} | {r.papers:,} | {r.listings:,} | {ingest_s:.2f} | {r.profiles / ingest_s:,.0f} "
            f"| {r.ingest_rss_mb:.0f} | {r.ingest_bytes_per_paper:,.0f} | {floor} "
            f"| {fmt_s(r.unchanged)} | {fmt_s(r.changed)} ({r.changed_files} files) |"
        )
    return lines


def latency_table(tools: dict, ingests: list) -> list[str]:
    sizes = sorted(tools)
    lines = [
        "### Tool latency over stdio, ms (`scholar-catalog serve` + the SDK's `Client`; "
        "floor: a no-op tool on a minimal MCPServer)",
        "",
        "p50/p99: the client's round trip. server p50: inside the server, from the request line read to the "
        "response written (parsing, the tool, serializing), so the rest of the round trip is the pipes and the "
        "client (which validates every result against the tool's outputSchema). bytes: the median JSON-RPC "
        "result (content and structuredContent) as compact JSON." + page_cache_note(ingests, sizes),
        "",
        "| workload | "
        + " | ".join(f"{s:,}: p50 | {s:,}: p99 | {s:,}: server p50 | {s:,}: bytes" for s in sizes)
        + " | errors |",
        "|---|" + "---:|---:|---:|---:|" * len(sizes) + "---:|",
    ]
    labels = list(dict.fromkeys(lat.label for s in sizes for lat in tools[s]))
    for label in labels:
        cells, errors = [], 0
        for s in sizes:
            lat = next((x for x in tools[s] if x.label == label), None)
            if lat is None:
                cells.append("– | – | – | –")
                continue
            size = "–" if lat.result_bytes is None else f"{lat.result_bytes:,}"
            cells.append(f"{lat.p50_ms:.1f} | {lat.p99_ms:.1f} | {fmt_ms(lat.server_p50_ms)} | {size}")
            errors += lat.errors
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {errors} |")
    return lines


def page_cache_note(ingests: list, sizes: list[int]) -> str:
    """The catalog's share in the page cache before and after each size's tool calls, where it was measured."""
    parts = []
    for r in ingests:
        if r.profiles in sizes and len(r.page_cache) == 2:
            shown = " and ".join(fmt_share(v) for v in r.page_cache)
            warmed = ", read whole just before (`--warm-cache`)" if r.cache_warmed else ""
            parts.append(f"{r.profiles:,}: {shown}{warmed}")
    if not parts:
        return ""
    return (
        " The catalog file in the OS page cache (util-linux `fincore`) before the servers started and after the "
        "last call: " + "; ".join(parts) + " (a page read from disk costs far more than one in the cache: "
        "HISTORY.md, round thirty-one)."
    )


def cold_table(colds: dict) -> list[str]:
    lines = [
        "### Cold start: spawn to first tool result, s (median of the repetitions)",
        "",
        "| catalog | minimal MCPServer → no-op | serve → search_papers | ÷ minimal | serve → get_author | ÷ minimal |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for s in sorted(colds):
        c = colds[s]
        noop = statistics.median(c["noop"])
        sp, ga = statistics.median(c["search_papers"]), statistics.median(c["get_author"])
        lines.append(f"| {s:,} | {noop:.2f} | {sp:.2f} | {sp / noop:.2f} | {ga:.2f} | {ga / noop:.2f} |")
    return lines


def stage_table(ingests: list) -> list[str]:
    stages = list(dict.fromkeys(stage for r in ingests for stage in r.stages))
    lines = [
        "### Time per stage, s (wall clock of this run)",
        "",
        "| stage | " + " | ".join(f"{r.profiles:,}" for r in ingests) + " |",
        "|---|" + "---:|" * len(ingests),
    ]
    for stage in [*stages, "total"]:
        cells = []
        for r in ingests:
            value = sum(r.stages.values()) if stage == "total" else r.stages.get(stage)
            cells.append("–" if value is None else f"{value:,.0f}" if value >= 10 else f"{value:.1f}")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return lines


def targets(ingests: list, tools: dict, colds: dict) -> list[str]:
    """Issue 11's targets: the 50k ones at the largest size below 250k, the 250k ones at 250k and above."""
    small = [r for r in ingests if r.profiles < LARGE]
    reference = max(small, key=lambda r: r.profiles) if small else None
    chosen = [reference] if reference else []
    chosen += [r for r in ingests if r.profiles >= LARGE]
    out: list[str] = []
    for r in chosen:
        large = r.profiles >= LARGE
        which = "250,000" if large else "50,000"
        out += [f"### Targets at {r.profiles:,} profiles (issue 11's targets for {which})", ""]
        out += ["| target | measured | met |", "|---|---:|:---:|"]
        out += latency_targets(tools.get(r.profiles, []), large)
        out += ingest_targets(r, reference if large else None, large)
        if large and r.profiles in colds:
            noop = statistics.median(colds[r.profiles]["noop"])
            for tool in ("search_papers", "get_author"):
                ratio = statistics.median(colds[r.profiles][tool]) / noop
                out.append(
                    f"| cold start → {tool} ≤ {COLD_RATIO:g}× minimal server | {ratio:.2f}× "
                    f"| {mark(ratio <= COLD_RATIO)} |"
                )
        out.append("")
    return out[:-1]


def latency_targets(lats: list, large: bool) -> list[str]:
    if not lats:
        return []
    floor, out = lats[0], []
    limit = P99_RATIO[large]
    for lat in lats[1:]:
        ratio = lat.p99_ms / floor.p99_ms
        out.append(
            f"| {lat.label}: p99 ≤ {limit:g}× no-op p99 ({floor.p99_ms:.1f} ms) | {lat.p99_ms:.1f} ms ({ratio:.1f}×) "
            f"| {mark(ratio <= limit and not lat.errors)} |"
        )
    if large:
        return out
    for lat in lats[1:]:
        if lat.label in SERVER_SIDE:
            ok = lat.server_p50_ms is not None and lat.server_p50_ms < floor.p50_ms
            measured = "not measured" if lat.server_p50_ms is None else f"{lat.server_p50_ms:.2f} ms"
            out.append(
                f"| {lat.label}: server-side p50 < no-op round trip p50 ({floor.p50_ms:.2f} ms) | {measured} "
                f"| {mark(ok)} |"
            )
    return out


def ingest_targets(r: Any, smaller: Any, large: bool) -> list[str]:
    ingest_s = statistics.median(r.ingest)
    rss = RSS_MB[large]
    out = []
    if large:
        if smaller is not None:
            before = statistics.median(smaller.ingest)
            growth = ingest_s / before
            measured = f"{ingest_s:.0f} s ({growth:.2f}×)"
            if r.floor and smaller.floor:  # what the same rows cost SQLite alone at the two sizes
                floor_s = statistics.median(r.floor)
                measured += f"; the floor loader {floor_s:.0f} s ({floor_s / statistics.median(smaller.floor):.2f}×)"
            out.append(
                f"| ingest time ≤ {GROWTH_RATIO:g}× the {smaller.profiles:,} time ({before:.0f} s) "
                f"| {measured} | {mark(growth <= GROWTH_RATIO)} |"
            )
        else:
            out.append(f"| ingest time ≤ {GROWTH_RATIO:g}× the 50,000 time | not measured in this run | – |")
    else:
        out += [
            floor_target(r, ingest_s),
            f"| 1%-changed re-ingest ≤ {CHANGED_S:g} s | {fmt_s(r.changed)} s "
            f"| {mark(bool(r.changed) and statistics.median(r.changed) <= CHANGED_S)} |",
        ]
    out.append(
        f"| peak RSS < {rss} MB (ingest's process tree) | {r.ingest_rss_mb:.0f} MB | {mark(r.ingest_rss_mb < rss)} |"
    )
    if not large:
        per = r.ingest_bytes_per_paper
        out.append(f"| ≤ {BYTES_PER_PAPER:,} DB bytes per paper | {per:,.0f} | {mark(per <= BYTES_PER_PAPER)} |")
    return out


def floor_target(r: Any, ingest_s: float) -> str:
    if not r.floor:
        return f"| ingest ≤ {FLOOR_RATIO:g}× the floor | floor not run (`--floor-sizes`) | – |"
    floor_s = statistics.median(r.floor)
    ratio = ingest_s / floor_s
    measured = f"{ratio:.2f}× ({r.profiles / ingest_s:,.0f} profiles/s; floor {r.profiles / floor_s:,.0f}/s)"
    return f"| ingest ≤ {FLOOR_RATIO:g}× the floor | {measured} | {mark(ratio <= FLOOR_RATIO)} |"


def write_readme(text: str, readme: Path) -> None:
    current = readme.read_text(encoding="utf-8") if readme.exists() else ""
    block = f"{README_START}\n{text}{README_END}"
    if README_START in current and README_END in current:
        head, _, rest = current.partition(README_START)
        _, _, tail = rest.partition(README_END)
        readme.write_text(head + block + tail, encoding="utf-8")
    else:
        readme.write_text(current + ("\n" if current else "") + block + "\n", encoding="utf-8")
