"""``scholar-catalog status``: what a catalog holds, whether its folder changed since, and who serves it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLES, build_catalog
from scholar_catalog.db.schema import SCHEMA_VERSION
from scholar_catalog.server.cli import cli


@pytest.fixture
def folder_and_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    folder = tmp_path / "profiles"
    shutil.copytree(EXAMPLES, folder)
    (folder / "README.md").unlink()
    return folder, build_catalog(tmp_path / "catalog.db", folder)


def status(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["status", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_status_reports_counts_schema_and_an_in_sync_folder(folder_and_db: tuple[Path, Path]) -> None:
    folder, db = folder_and_db
    code, out, _ = status("--db", str(db), "--json")
    assert code == 0
    report = json.loads(out)
    profiles = len(list(folder.glob("*.txt")))
    assert report["path"] == str(db)
    assert report["schema_version"] == SCHEMA_VERSION
    assert report["profiles"] == profiles
    assert report["size_bytes"] >= db.stat().st_size > 0
    assert report["built_at"].startswith("20")
    assert report["sources"] == [
        {"folder": str(folder.resolve()), "profiles": profiles, "new_files": 0, "changed_files": 0, "missing_files": 0}
    ]
    assert report["clients"] == []


def test_status_counts_new_changed_and_missing_files_since_the_build(folder_and_db: tuple[Path, Path]) -> None:
    folder, db = folder_and_db
    files = sorted(folder.glob("*.txt"))
    files[0].unlink()
    with files[1].open("a", encoding="utf-8") as handle:
        handle.write("\n")
    shutil.copy(files[2], folder / "zz_new.txt")
    code, out, _ = status("--db", str(db))
    assert code == 0
    assert "changed since: 1 new, 1 changed, 1 missing file(s)" in out
    assert f"run `scholar-catalog ingest {folder.resolve()} --db {db}`" in out


def test_touched_file_counts_as_changed(folder_and_db: tuple[Path, Path]) -> None:
    folder, db = folder_and_db
    target = sorted(folder.glob("*.txt"))[3]
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    report = json.loads(status("--db", str(db), "--json")[1])
    assert report["sources"][0]["changed_files"] == 1


def test_status_lists_client_configs_that_serve_this_catalog(folder_and_db: tuple[Path, Path], tmp_path: Path) -> None:
    folder, db = folder_and_db
    connect = CliRunner().invoke(cli, ["connect", "claude-desktop", "--profiles", str(folder), "--db", str(db)])
    assert connect.exit_code == 0, connect.output
    other = CliRunner().invoke(cli, ["connect", "cursor", "--profiles", str(folder), "--db", str(tmp_path / "x.db")])
    assert other.exit_code == 0
    code, out, _ = status("--db", str(db))
    assert code == 0
    config = tmp_path / "home" / ".config" / "Claude" / "claude_desktop_config.json"
    assert f"served to: claude-desktop ({config})" in out
    assert "cursor" not in out  # that config serves another catalog


def test_status_of_a_missing_catalog_says_how_to_build_one(tmp_path: Path) -> None:
    code, _, err = status("--db", str(tmp_path / "none.db"))
    assert code == 1
    assert "no catalog here yet" in err and "scholar-catalog ingest" in err
    assert not (tmp_path / "none.db").exists()
