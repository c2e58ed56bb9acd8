"""SQLite's memory statistics are off in a server: ``db/library.py`` restarts the library, but only safely.

Each case runs in a fresh interpreter: restarting the library is process-wide, and the test process has
connections open.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from scholar_catalog.db import library
from scholar_catalog.server.cli import cli


def run_python(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.split()


def test_a_fresh_process_turns_memory_statistics_off_and_its_connections_still_work(example_db: Path) -> None:
    out = run_python(
        "from scholar_catalog.db import library\n"
        "before = library.memory_statistics_on()\n"
        "turned = library.skip_memory_statistics()\n"
        "from scholar_catalog.db.catalog import Catalog\n"
        f"catalog = Catalog({str(example_db)!r})\n"
        "with catalog.connection() as conn:\n"
        "    papers = conn.execute('SELECT count(*) FROM papers').fetchone()[0]\n"
        "import apsw\n"  # the reader's library (APSW's own SQLite): its statistics are off too
        "print(before, turned, library.memory_statistics_on(), apsw.memory_used(), papers)\n"
    )
    assert out[:4] == ["True", "True", "False", "0"]
    assert int(out[4]) > 0


def test_with_a_reader_open_apsws_library_is_not_restarted(example_db: Path) -> None:
    out = run_python(
        "import apsw\n"
        "from scholar_catalog.db import library\n"
        f"reader = apsw.Connection({str(example_db)!r}, flags=apsw.SQLITE_OPEN_READONLY)\n"
        "turned = library.skip_memory_statistics()\n"
        "papers = reader.execute('SELECT count(*) FROM papers').fetchone()[0]\n"
        "print(turned, apsw.memory_used() > 0, papers)\n"
    )
    assert out[:2] == ["False", "True"]
    assert int(out[2]) > 0


def test_with_a_connection_open_the_library_is_not_restarted() -> None:
    out = run_python(
        "import sqlite3\n"
        "from scholar_catalog.db import library\n"
        "conn = sqlite3.connect(':memory:')\n"
        "conn.execute('CREATE TABLE kept (x)')\n"
        "turned = library.skip_memory_statistics()\n"
        "conn.execute('INSERT INTO kept VALUES (1)')\n"
        "print(turned, library.memory_statistics_on(), conn.execute('SELECT count(*) FROM kept').fetchone()[0])\n"
    )
    assert out == ["False", "True", "1"]


def test_serve_turns_memory_statistics_off_before_it_opens_the_catalog(
    example_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scholar_catalog.server.app as app

    order: list[str] = []
    monkeypatch.setattr(library, "skip_memory_statistics", lambda: order.append("statistics off") or True)

    def build_server(*args: object, **kwargs: object) -> None:
        order.append("catalog opened")
        raise SystemExit(3)

    monkeypatch.setattr(app, "build_server", build_server)
    result = CliRunner().invoke(cli, ["serve", "--db", str(example_db)])
    assert result.exit_code == 3
    assert order == ["statistics off", "catalog opened"]
