"""Tests for ``scholar-catalog ingest``: exit codes, messages, summary, database location."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import AS_OF, SEEDS, requires_seeds
from scholar_catalog.server.cli import cli

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "parser"
TRUNCATED_REASON = "19: heading declares 3 papers but 2 entries were found (truncated or damaged file?)"
SUMMARY_END = re.compile(r"catalog now holds (\d+) profiles and (\d+) papers \(\d+\.\d\ds\)")


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def lines(result: Result) -> list[str]:
    return result.stdout.splitlines()


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.stdout and "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def rows(db: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def good_dir(root: Path) -> Path:
    """A folder with two small valid profiles (from the parser fixtures)."""
    folder = root / "good"
    folder.mkdir(parents=True)
    for name in ("crlf.txt", "integer_scores.txt"):
        (folder / name).write_bytes((FIXTURES / name).read_bytes())
    return folder


def add_truncated(folder: Path) -> Path:
    bad = folder / "truncated.txt"
    bad.write_bytes((FIXTURES / "truncated_heading.txt").read_bytes())
    return bad


# ----------------------------------------------------------------------------------------


@requires_seeds
def test_ingest_seeds_then_rerun(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    first = invoke("ingest", SEEDS, "--db", db, "--as-of", AS_OF.isoformat())
    assert first.exit_code == 0, first.output
    assert first.stderr == ""
    out = lines(first)
    assert out[:3] == [
        f"catalog: {db}",
        "files: 2 applied, 0 unchanged, 0 rejected",
        "papers: 14 new, 5 updated",
    ]
    assert SUMMARY_END.fullmatch(out[3]) and SUMMARY_END.fullmatch(out[3]).groups() == ("2", "14")
    assert len(out) == 4

    second = invoke("ingest", SEEDS, "--db", db, "--as-of", AS_OF.isoformat())
    assert second.exit_code == 0
    assert lines(second)[1:3] == ["files: 0 applied, 2 unchanged, 0 rejected", "papers: 0 new, 0 updated"]
    assert SUMMARY_END.fullmatch(lines(second)[3]).groups() == ("2", "14")


def test_all_applied_exit_0(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    result = invoke("ingest", good_dir(tmp_path), "--db", db, "--as-of", "2026-11-24")
    assert result.exit_code == 0, result.output
    assert lines(result)[1:3] == ["files: 2 applied, 0 unchanged, 0 rejected", "papers: 5 new, 0 updated"]
    assert SUMMARY_END.fullmatch(lines(result)[3]).groups() == ("2", "5")
    assert rows(
        db,
        """SELECT l.date FROM listings l JOIN papers p ON p.id = l.paper_id
           WHERE coalesce(l.title, p.title) = 'Tidepool Segmentation in Coastal Imagery'""",
    ) == [("2026-11-02",)]  # --as-of was used for the year-less 'Nov 2'


def test_rejected_file_exit_1_with_path_line_reason(tmp_path: Path) -> None:
    folder = good_dir(tmp_path)
    bad = add_truncated(folder)
    db = tmp_path / "c.db"
    result = invoke("ingest", folder, "--db", db, "--as-of", "2026-11-24")
    assert result.exit_code == 1
    no_traceback(result)
    assert result.stderr == f"rejected: {bad}:{TRUNCATED_REASON}\n"
    assert lines(result)[1] == "files: 2 applied, 0 unchanged, 1 rejected"
    assert rows(db, "SELECT id FROM profiles ORDER BY id") == [("crlf",), ("integer_scores",)]
    # Still 1 on the next run (the bad file is re-read and rejected again), the others unchanged.
    again = invoke("ingest", folder, "--db", db, "--as-of", "2026-11-24")
    assert again.exit_code == 1
    assert lines(again)[1] == "files: 0 applied, 2 unchanged, 1 rejected"


@pytest.mark.parametrize("name", ["empty.txt", "binary.bin", "readme.txt", "unrecognized_header.txt"])
def test_every_kind_of_bad_file_is_a_clean_rejection(tmp_path: Path, name: str) -> None:
    bad = tmp_path / "in" / name
    bad.parent.mkdir()
    bad.write_bytes((FIXTURES / name).read_bytes())
    result = invoke("ingest", bad, "--db", tmp_path / "c.db", "--as-of", "2026-11-24")
    assert result.exit_code == 1
    no_traceback(result)
    assert result.stderr.startswith(f"rejected: {bad}")
    assert re.match(rf"rejected: {re.escape(str(bad))}(:\d+)?: \S", result.stderr)


def test_missing_path_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    missing = tmp_path / "nope"
    result = invoke("ingest", good_dir(tmp_path), missing, "--db", db)
    assert result.exit_code == 2
    no_traceback(result)
    assert f"{missing}: no such file or directory" in result.stderr
    assert not db.exists()  # nothing was ingested


def test_a_worker_count_that_is_not_a_number_is_refused_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, profiles = tmp_path / "c.db", good_dir(tmp_path)
    invoke("ingest", profiles, "--db", db)
    before = db.read_bytes()
    monkeypatch.setenv("SCHOLAR_CATALOG_INGEST_WORKERS", "two")
    result = invoke("ingest", profiles, "--db", db, "--rebuild")
    assert result.exit_code == 2
    no_traceback(result)
    assert "SCHOLAR_CATALOG_INGEST_WORKERS='two': expected a whole number of worker processes" in result.stderr
    assert db.read_bytes() == before  # refused before anything was touched


def test_no_path_exit_2(tmp_path: Path) -> None:
    result = invoke("ingest", "--db", tmp_path / "c.db")
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


@pytest.mark.parametrize("value", ["2026-13-01", "2026-02-30", "yesterday", "24/11/2026", ""])
def test_bad_as_of_exit_2(tmp_path: Path, value: str) -> None:
    db = tmp_path / "c.db"
    result = invoke("ingest", good_dir(tmp_path), "--db", db, "--as-of", value)
    assert result.exit_code == 2
    no_traceback(result)
    assert f"{value!r} is not a date in YYYY-MM-DD form" in result.stderr
    assert not db.exists()


def test_env_var_names_the_database(tmp_path: Path) -> None:
    db = tmp_path / "from-env" / "catalog.db"
    result = invoke("ingest", good_dir(tmp_path), "--as-of", "2026-11-24", env={"SCHOLAR_CATALOG_DB": str(db)})
    assert result.exit_code == 0, result.output
    assert lines(result)[0] == f"catalog: {db}"
    assert rows(db, "SELECT count(*) FROM profiles") == [(2,)]
    # --db wins over the variable.
    other = tmp_path / "explicit.db"
    result = invoke("ingest", good_dir(tmp_path / "x"), "--db", other, env={"SCHOLAR_CATALOG_DB": str(db)})
    assert result.exit_code == 0
    assert lines(result)[0] == f"catalog: {other}"
    assert other.exists()


def test_created_database_uses_wal(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    assert invoke("ingest", good_dir(tmp_path), "--db", db).exit_code == 0
    assert rows(db, "PRAGMA journal_mode") == [("wal",)]
    from scholar_catalog.db.schema import SCHEMA_VERSION

    assert rows(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]


def test_prune_is_counted_in_the_summary(tmp_path: Path) -> None:
    folder = good_dir(tmp_path)
    db = tmp_path / "c.db"
    assert invoke("ingest", folder, "--db", db).exit_code == 0
    (folder / "crlf.txt").unlink()
    result = invoke("ingest", folder, "--db", db, "--prune")
    assert result.exit_code == 0
    assert lines(result)[1] == "files: 0 applied, 1 unchanged, 0 rejected, 1 pruned"
    assert SUMMARY_END.fullmatch(lines(result)[3]).groups() == ("1", "3")


def test_quiet_prints_only_rejections(tmp_path: Path) -> None:
    folder = good_dir(tmp_path)
    db = tmp_path / "c.db"
    result = invoke("ingest", folder, "--db", db, "-q")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    bad = add_truncated(folder)
    result = invoke("ingest", folder, "--db", db, "--quiet")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"rejected: {bad}:{TRUNCATED_REASON}\n"


def test_unusable_database_exit_1(tmp_path: Path) -> None:
    db = tmp_path / "not-a-db.db"
    db.write_text("this is not SQLite, " * 100)
    result = invoke("ingest", good_dir(tmp_path), "--db", db)
    assert result.exit_code == 1
    no_traceback(result)
    assert result.stderr.startswith(f"error: {db}")
    assert db.read_text() == "this is not SQLite, " * 100


def test_rebuild_replaces_the_catalog(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    folder = good_dir(tmp_path)
    assert invoke("ingest", folder, "--db", db).exit_code == 0
    result = invoke("ingest", folder / "crlf.txt", "--db", db, "--rebuild")
    assert result.exit_code == 0, result.output
    assert lines(result)[1] == "files: 1 applied, 0 unchanged, 0 rejected"
    assert rows(db, "SELECT id FROM profiles") == [("crlf",)]
    assert rows(db, "PRAGMA journal_mode") == [("wal",)]
    assert not [p.name for p in tmp_path.iterdir() if "rebuild" in p.name]  # no scratch files left behind


def test_rebuild_with_a_rejected_file_keeps_the_old_catalog(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    folder = good_dir(tmp_path)
    assert invoke("ingest", folder, "--db", db).exit_code == 0
    before = rows(db, "SELECT * FROM listings ORDER BY profile_id, paper_id")
    (tmp_path / "other").mkdir()
    bad = add_truncated(tmp_path / "other")
    result = invoke("ingest", folder / "crlf.txt", bad, "--db", db, "--rebuild")
    assert result.exit_code == 1
    no_traceback(result)
    assert f"rejected: {bad}:{TRUNCATED_REASON}" in result.stderr
    assert "the catalog is unchanged" in result.stderr
    assert rows(db, "SELECT * FROM listings ORDER BY profile_id, paper_id") == before
    assert rows(db, "SELECT id FROM profiles ORDER BY id") == [("crlf",), ("integer_scores",)]


def test_number_too_large_for_sqlite_is_a_clean_rejection(tmp_path: Path) -> None:
    folder = good_dir(tmp_path)
    huge = folder / "huge.txt"
    huge.write_text(
        (FIXTURES / "single_author.txt").read_text(encoding="utf-8").replace("h-index4", "h-index" + "9" * 30),
        encoding="utf-8",
    )
    result = invoke("ingest", folder, "--db", tmp_path / "c.db")
    no_traceback(result)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"rejected: {huge}")


def test_installed_command_in_a_real_process(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / ("scholar-catalog.exe" if os.name == "nt" else "scholar-catalog")
    assert exe.exists(), f"the scholar-catalog console script is not installed next to {sys.executable}"
    folder = good_dir(tmp_path)
    bad = add_truncated(folder)
    db = tmp_path / "env" / "catalog.db"
    env = {**os.environ, "SCHOLAR_CATALOG_DB": str(db)}
    env.pop("NO_COLOR", None)
    proc = subprocess.run(
        [str(exe), "ingest", str(folder), "--as-of", "2026-11-24"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr == f"rejected: {bad}:{TRUNCATED_REASON}\n"
    assert proc.stdout.splitlines()[:2] == [f"catalog: {db}", "files: 2 applied, 0 unchanged, 1 rejected"]
    assert rows(db, "PRAGMA journal_mode") == [("wal",)]

    bad.unlink()
    proc = subprocess.run(
        [str(exe), "ingest", str(folder), "--as-of", "2026-11-24", "--prune"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.splitlines()[1] == "files: 0 applied, 2 unchanged, 0 rejected"


def set_schema_version(db: Path, value: str) -> None:
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [value])
        conn.commit()


def test_catalog_of_another_schema_version_exit_1_and_says_rebuild(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    folder = good_dir(tmp_path)
    assert invoke("ingest", folder, "--db", db).exit_code == 0
    set_schema_version(db, "999")
    result = invoke("ingest", folder, "--db", db)
    assert result.exit_code == 1
    no_traceback(result)
    assert result.stderr.startswith(f"error: {db}: the catalog has schema version 999")
    assert "ingest --rebuild" in result.stderr


def test_rebuild_replaces_a_catalog_of_another_schema_version(tmp_path: Path) -> None:
    from scholar_catalog.db.schema import SCHEMA_VERSION

    db = tmp_path / "c.db"
    folder = good_dir(tmp_path)
    assert invoke("ingest", folder, "--db", db).exit_code == 0
    set_schema_version(db, "999")
    result = invoke("ingest", folder, "--db", db, "--rebuild")
    no_traceback(result)
    assert result.exit_code == 0, result.stderr
    assert rows(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    assert rows(db, "SELECT id FROM profiles ORDER BY id") == [("crlf",), ("integer_scores",)]
