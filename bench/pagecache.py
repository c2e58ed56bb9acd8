"""How much of a file the operating system's page cache holds, and reading a file into it.

A tool call that reads a page from disk instead of the cache can take far longer, and some hosts take page
cache back within minutes (bench/HISTORY.md, round thirty-one). So each run records how much of the
catalog the cache held around its tool calls; ``--warm-cache`` reads the catalog whole first, to measure
the statements on a warm cache.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHUNK = 1 << 20
FINCORE_TIMEOUT_S = 30


def resident_share(path: Path) -> float | None:
    """The share (0-1) of *path*'s bytes in the page cache, from ``fincore`` (Debian: util-linux-extra).

    None where that cannot be told: no ``fincore`` (not Linux, say), a missing or empty file, or
    ``fincore`` failing or printing something else than a byte count.
    """
    fincore = shutil.which("fincore")
    if fincore is None:
        return None
    try:
        size = path.stat().st_size
        run = subprocess.run(
            [fincore, "--bytes", "--noheadings", "--output", "RES", str(path)],
            capture_output=True,
            text=True,
            timeout=FINCORE_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    resident = run.stdout.strip()
    if size == 0 or run.returncode != 0 or not resident.isdigit():
        return None
    return min(1.0, int(resident) / size)  # whole pages: a file's last one counts in full


def warm(path: Path) -> int:
    """Read *path* whole, so that the page cache holds it (for as long as the system lets it); its size."""
    read = 0
    with path.open("rb", buffering=0) as f:
        while chunk := f.read(CHUNK):
            read += len(chunk)
    return read
