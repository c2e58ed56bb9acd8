"""How much of a file the operating system's page cache holds, and reading a file into it.

A tool call that reads a page from disk instead of the cache can take from a tenth of a millisecond to
over half a second on this machine, whose host takes page cache back within minutes (bench/HISTORY.md,
round thirty-one). So each run records how much of the catalog the cache held as its tool calls started
and ended; ``--warm-cache`` reads the catalog whole first, to measure the statements on a warm cache.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHUNK = 1 << 20


def resident_share(path: Path) -> float | None:
    """The share (0-1) of *path*'s bytes in the page cache, from util-linux's ``fincore``; None where it
    is missing or fails (not Linux, say)."""
    fincore = shutil.which("fincore")
    size = path.stat().st_size
    if fincore is None or size == 0:
        return None
    run = subprocess.run(
        [fincore, "--bytes", "--noheadings", "--output", "RES", str(path)], capture_output=True, text=True
    )
    if run.returncode != 0 or not run.stdout.strip().isdigit():
        return None
    return min(1.0, int(run.stdout.strip()) / size)


def warm(path: Path) -> int:
    """Read *path* whole, so that the page cache holds it (for as long as the system lets it); its size."""
    read = 0
    with path.open("rb", buffering=0) as f:
        while chunk := f.read(CHUNK):
            read += len(chunk)
    return read
