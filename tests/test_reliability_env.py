"""Reliability: a bad database file, a full disk and a read-only disk (issue 6, "Environment").

Every case must end in a clear message (``error: ...`` or click's usage error, never a
traceback) and leave existing data as it was. Full and read-only disks are real where
the tests run as root (a size-limited tmpfs, ``mount -o remount,ro``, ``chattr +i``);
the in-process variants use SQLite's ``max_page_count`` and ``query_only`` to make the
writes fail at a chosen moment of an ingest.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import pytest
from fault_helpers import (
    AS_OF,
    AS_OF_ARG,
    EXAMPLES,
    Corpus,
    assert_no_traceback,
    canonical_dump,
    chattr,
    connect_ro,
    consistency_problems,
    content_checksum,
    dump_differences,
    file_state,
    integrity,
    make_corpus,
    privilege_drop_prefix,
    profile_state,
    remount,
    run_cli,
    tmpfs,
)
from mcp import Client

import scholar_catalog.db.ingest as ingest_mod
from conftest import build_catalog
from scholar_catalog.db.connection import open_writable
from scholar_catalog.server.app import build_server

# -- bad database files --------------------------------------------------------------------


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "nowhere" / "catalog.db"


def _text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.db"
    path.write_text("These are my notes, not a database.\n" * 100)
    return path


def _random_bytes(tmp_path: Path) -> Path:
    path = tmp_path / "noise.db"
    path.write_bytes(bytes(range(256)) * 64)
    return path


def _foreign_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "other-app.sqlite"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
        conn.execute("INSERT INTO invoices (amount) VALUES (12.5), (99.0)")
    return path


def _older_schema(tmp_path: Path) -> Path:
    path = build_catalog(tmp_path / "old.db", EXAMPLES)
    # As an older version would have left it: another version number, and one index fewer.
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
        conn.execute("DROP INDEX authors_listed_name")
    return path


def _empty_file(tmp_path: Path) -> Path:
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    return path


BAD_DATABASES: dict[str, tuple[Callable[[Path], Path], str, str | None]] = {
    # kind: (make it, what serve/call must say, what ingest must say; None: ingest may use it)
    "missing": (_missing, "no catalog here yet", None),
    "text file": (_text_file, "not a database", "not an sqlite database"),
    "random bytes": (_random_bytes, "not a database", "not an sqlite database"),
    "another program's SQLite database": (_foreign_sqlite, "not a scholar-catalog catalog", "not a scholar-catalog"),
    "older schema version": (_older_schema, "schema version 0", "schema version 0"),
    "empty file": (_empty_file, "not a scholar-catalog catalog", None),
}


def _snapshot(path: Path) -> Any:
    """The folder's entries (less SQLite's -shm/-wal, which any reader may create), the file, its rows."""
    rows = None
    if path.exists() and path.stat().st_size:
        try:
            rows = content_checksum(path)
        except sqlite3.DatabaseError:
            rows = "not sqlite"
    folder = None
    if path.parent.exists():
        folder = sorted(p.name for p in path.parent.iterdir() if not p.name.endswith(("-shm", "-wal")))
    return folder, file_state(path) if path.exists() else None, rows


@pytest.mark.parametrize("kind", list(BAD_DATABASES))
def test_a_bad_database_file_gets_a_clear_message_and_no_damage(tmp_path: Path, kind: str) -> None:
    make, serve_says, ingest_says = BAD_DATABASES[kind]
    (tmp_path / "dbdir").mkdir()
    db = make(tmp_path / "dbdir")
    before = _snapshot(db)

    # The CLI's `call` (the MCP client code path) and the in-process server.
    result = run_cli("call", "catalog_stats", "--db", db)
    assert result.returncode == 1, result.output
    assert_no_traceback(result.output)
    assert result.stderr.startswith("error: ") and serve_says in result.stderr.lower(), result.stderr

    async def in_process() -> str:
        async with Client(build_server(db)) as client:
            answer = await client.call_tool("search_papers", {"query": "retrieval"})
            assert answer.is_error
            return answer.content[0].text

    text = anyio.run(in_process)
    assert serve_says in text.lower(), text
    assert_no_traceback(text)
    assert _snapshot(db) == before, "serving changed the file or its folder"

    if ingest_says is None:
        return
    profiles = tmp_path / "profiles"
    shutil.copytree(EXAMPLES, profiles)
    result = run_cli("ingest", profiles, "--db", db, "--as-of", AS_OF_ARG)
    assert result.returncode == 1, result.output
    assert_no_traceback(result.output)
    assert result.stderr.startswith(f"error: {db}:"), result.stderr
    assert ingest_says in result.stderr.lower(), result.stderr
    assert _snapshot(db) == before, "a refused ingest changed the file or its folder"


def test_an_unreadable_database_file(tmp_path: Path) -> None:
    prefix = privilege_drop_prefix()
    if prefix is None:
        pytest.skip(
            "not tested here: serving and ingesting a catalog file that cannot be read (needs root and "
            "setpriv, to drop CAP_DAC_OVERRIDE: root reads any file otherwise)"
        )
    db = build_catalog(tmp_path / "catalog.db", EXAMPLES)
    db.chmod(0)
    before = _snapshot(db)
    for args in (("call", "catalog_stats", "--db", db), ("ingest", EXAMPLES, "--db", db, "--as-of", AS_OF_ARG)):
        result = run_cli(*args, prefix=prefix)
        assert result.returncode == 2, result.output  # click refuses the --db path before the command runs
        assert_no_traceback(result.output)
        assert f"{db}' is not readable" in result.stderr, result.stderr
    assert _snapshot(db) == before
    assert db.stat().st_mode & 0o777 == 0


# -- helpers for the disk tests ------------------------------------------------------------


def _corpus_folder(tmp_path: Path, n: int = 300) -> tuple[Corpus, Path]:
    corpus = make_corpus(n, seed=99)
    folder = tmp_path / "profiles"
    corpus.write(folder, dict.fromkeys(corpus.profiles, 0))
    return corpus, folder


def _check_partial(db: Path, corpus: Corpus, examples_before: dict[str, Any]) -> int:
    """Sound catalog, the examples untouched, each corpus profile absent or wholly applied; returns how many."""
    assert integrity(db) == []
    assert consistency_problems(db) == []
    applied = 0
    with connect_ro(db) as conn:
        for pid in sorted(p.stem for p in EXAMPLES.glob("*.txt")):
            assert profile_state(conn, pid) == examples_before[pid], pid
        for pid in corpus.profiles:
            state = profile_state(conn, pid)
            assert state is None or state == corpus.expected(pid, 0), pid
            applied += state is not None
    return applied


def _examples_state(db: Path) -> dict[str, Any]:
    with connect_ro(db) as conn:
        return {p.stem: profile_state(conn, p.stem) for p in EXAMPLES.glob("*.txt")}


def _equals_clean_build(db: Path, tmp_path: Path, folder: Path) -> None:
    clean = tmp_path / "clean" / "catalog.db"
    assert run_cli("ingest", EXAMPLES, folder, "--db", clean, "--as-of", AS_OF_ARG).returncode == 0
    assert dump_differences(canonical_dump(db), canonical_dump(clean)) == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    try:
        with tmpfs(tmp_path / "disk", "1600k") as mountpoint:  # 8 KB pages: the examples take ~1.2 MB with their WAL
            yield mountpoint
    except OSError as err:
        pytest.skip(
            f"not tested here: ingest onto a real full or read-only disk (a size-limited tmpfs needs root and "
            f"mount(8): {err}); the in-process max_page_count and query_only variants still run"
        )


def _fill_disk_with_cli(small_disk: Path, tmp_path: Path) -> tuple[Any, Path, Corpus, Path, dict[str, Any]]:
    db = small_disk / "catalog.db"
    assert run_cli("ingest", EXAMPLES, "--db", db, "--as-of", AS_OF_ARG).returncode == 0
    examples = _examples_state(db)
    corpus, folder = _corpus_folder(tmp_path)
    result = run_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG)
    return result, db, corpus, folder, examples


def _fill_disk_in_process(tmp_path: Path) -> tuple[BaseException | None, Path, Corpus, Path, dict[str, Any]]:
    """Ingest until SQLite's max_page_count (set after 40 files) makes the database 'full'."""
    db = build_catalog(tmp_path / "catalog.db", EXAMPLES)
    examples = _examples_state(db)
    corpus, folder = _corpus_folder(tmp_path)
    database = open_writable(db)
    seen = 0

    def fill_up(outcome: ingest_mod.FileOutcome) -> None:
        nonlocal seen
        seen += 1
        if seen == 40:
            pages = database.conn.execute("PRAGMA page_count").fetchone()[0]
            database.conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    raised: BaseException | None = None
    try:
        ingest_mod.ingest(database, [folder], as_of=AS_OF, on_file=fill_up)
    except Exception as err:
        raised = err
    finally:
        database.conn.close()
    return raised, db, corpus, folder, examples


# -- full disk -----------------------------------------------------------------------------


def test_full_disk_during_ingest_keeps_the_catalog_sound_tmpfs(small_disk: Path, tmp_path: Path) -> None:
    result, db, corpus, folder, examples = _fill_disk_with_cli(small_disk, tmp_path)
    assert result.returncode != 0, "the disk never filled up: make the tmpfs smaller"
    applied = _check_partial(db, corpus, examples)
    assert applied < len(corpus.profiles)
    # Room again: the same command finishes the job, ending as a clean build.
    remount(small_disk, "size=64m")
    again = run_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG)
    assert again.returncode == 0, again.output
    _equals_clean_build(db, tmp_path, folder)


def test_full_disk_during_ingest_says_so_tmpfs(small_disk: Path, tmp_path: Path) -> None:
    result, *_ = _fill_disk_with_cli(small_disk, tmp_path)
    assert result.returncode == 1, result.output
    assert_no_traceback(result.output)
    assert result.stderr.startswith("error: ingest stopped") and "disk is full" in result.stderr, result.stderr


def test_full_database_during_ingest_keeps_the_catalog_sound_in_process(tmp_path: Path) -> None:
    raised, db, corpus, folder, examples = _fill_disk_in_process(tmp_path)
    assert raised is not None, "the database never filled up"
    _check_partial(db, corpus, examples)
    assert run_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG).returncode == 0
    _equals_clean_build(db, tmp_path, folder)


def test_full_database_during_ingest_says_so_in_process(tmp_path: Path) -> None:
    raised, *_ = _fill_disk_in_process(tmp_path)
    assert isinstance(raised, ingest_mod.IngestAbort), repr(raised)
    assert "disk is full" in str(raised)


# -- read-only disk ------------------------------------------------------------------------


def test_read_only_disk_refuses_ingest_clearly_and_still_serves(small_disk: Path, tmp_path: Path) -> None:
    db = small_disk / "catalog.db"
    assert run_cli("ingest", EXAMPLES, "--db", db, "--as-of", AS_OF_ARG).returncode == 0
    remount(small_disk, "ro")
    before = _snapshot(db)
    _, folder = _corpus_folder(tmp_path, 20)
    result = run_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG)
    assert result.returncode == 1, result.output
    assert_no_traceback(result.output)
    assert result.stderr.startswith(f"error: {db}:") and "read-only" in result.stderr, result.stderr
    # A catalog on read-only media is still served (SQLite cannot create its -shm there).
    served = run_cli("call", "catalog_stats", "--db", db, "--json")
    assert served.returncode == 0, served.output
    assert '"profiles": 10' in served.stdout
    assert _snapshot(db) == before
    remount(small_disk, "rw")


def test_immutable_catalog_file_refuses_ingest_clearly(tmp_path: Path) -> None:
    db = build_catalog(tmp_path / "catalog.db", EXAMPLES)
    if not chattr(db, "+i"):
        pytest.skip(
            "not tested here: ingest refusing an immutable catalog file (chattr +i needs root and a file "
            "system with the immutable flag)"
        )
    try:
        before = _snapshot(db)
        _, folder = _corpus_folder(tmp_path, 20)
        result = run_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG)
        assert result.returncode == 1, result.output
        assert_no_traceback(result.output)
        assert result.stderr.startswith("error: ") and "read-only" in result.stderr, result.stderr
        assert _snapshot(db)[1:] == before[1:]
        assert run_cli("call", "catalog_stats", "--db", db).returncode == 0
    finally:
        chattr(db, "-i")


def test_disk_turning_read_only_during_ingest_keeps_what_was_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process: after 60 files the connection becomes query_only, as if the disk went read-only."""
    monkeypatch.setattr(ingest_mod, "BATCH_FILES", 25)  # commits after files 25 and 50
    monkeypatch.setattr(ingest_mod, "BATCH_SECONDS", 1e9)
    db = build_catalog(tmp_path / "catalog.db", EXAMPLES)
    examples = _examples_state(db)
    corpus, folder = _corpus_folder(tmp_path)
    database = open_writable(db)
    seen = 0

    def go_read_only(outcome: ingest_mod.FileOutcome) -> None:
        nonlocal seen
        seen += 1
        if seen == 60:
            database.conn.execute("PRAGMA query_only = ON")

    try:
        with pytest.raises(ingest_mod.IngestAbort, match="read-only"):
            ingest_mod.ingest(database, [folder], as_of=AS_OF, on_file=go_read_only)
    finally:
        database.conn.close()
    # The batches committed before are kept, whole; the one under way is rolled back, whole.
    assert 50 <= _check_partial(db, corpus, examples) <= 60
    assert run_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG).returncode == 0
    _equals_clean_build(db, tmp_path, folder)


@pytest.mark.parametrize("kind", ["another program's SQLite database", "text file"])
def test_rebuild_refuses_to_overwrite_a_file_that_is_not_a_catalog(tmp_path: Path, kind: str) -> None:
    make, _, ingest_says = BAD_DATABASES[kind]
    (tmp_path / "dbdir").mkdir()
    db = make(tmp_path / "dbdir")
    before = _snapshot(db)
    result = run_cli("ingest", EXAMPLES, "--db", db, "--as-of", AS_OF_ARG, "--rebuild")
    assert_no_traceback(result.output)
    assert _snapshot(db) == before, "--rebuild destroyed a file that is not a catalog"
    assert result.returncode == 1 and ingest_says in result.stderr.lower(), result.output
