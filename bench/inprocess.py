"""Tool latency in-process: bench/run.py's workloads called straight on a Catalog (no MCP, no pipes).

    python bench/inprocess.py CATALOG.db GENERATED_DIR [--calls 60] [--only WORD]

GENERATED_DIR is the folder ``bench/generate.py`` wrote (its ``bench-manifest.json`` names owners and hubs).
Prints, per workload, p50 / p99 / max of the measured calls and the first (cold) call, in ms. What the
server adds on top (JSON-RPC, validation, the client's schema check) is what bench/run.py measures.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import percentile, workloads  # noqa: E402

from scholar_catalog import tools  # noqa: E402
from scholar_catalog.db.catalog import Catalog  # noqa: E402
from scholar_catalog.db.library import skip_memory_statistics  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalog", type=Path)
    parser.add_argument("generated", type=Path)
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5, help="first calls of each workload not measured")
    parser.add_argument("--only", default="", help="only workloads whose label contains this")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    manifest = json.loads((args.generated / "bench-manifest.json").read_text())
    skip_memory_statistics()  # as `scholar-catalog serve` does
    catalog = Catalog(args.catalog)
    gc.freeze()  # as the server does once it is built
    for label, tool, calls in workloads(args.catalog, manifest, args.calls, args.seed):
        if args.only not in label:
            continue
        fn = getattr(tools, tool)
        times: list[float] = []
        errors = 0
        for args_ in calls:
            start = time.perf_counter()
            try:
                fn(catalog, **args_)
            except tools.ToolInputError:
                errors += 1
            times.append((time.perf_counter() - start) * 1000)
        measured = sorted(times[args.warmup :]) or sorted(times)
        print(
            f"{label:45s} n={len(measured):4d} errors={errors:3d} p50={percentile(measured, 0.5):8.2f} "
            f"p99={percentile(measured, 0.99):8.2f} max={measured[-1]:8.2f} first={times[0]:8.1f}",
            flush=True,
        )
    catalog.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
