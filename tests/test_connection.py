"""How the catalog is opened (db/connection.py): each layer of read-only checked on its own, and the
refusals of files that are not catalogs, each with the message that says what to do."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import apsw
import pytest

from conftest import EXAMPLES, build_catalog
from scholar_catalog.db import connection
from scholar_catalog.db.connection import (
    BUSY_TIMEOUT_MS,
    LOCKED_HINT,
    CatalogError,
    busy_timeout_ms,
    check_replaceable,
    default_db_path,
    open_readonly,
    open_writable,
    resolve_db_path,
)
from scholar_catalog.db.schema import SCHEMA_VERSION


@pytest.fixture(scope="module")
def catalog_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_catalog(tmp_path_factory.mktemp("conn") / "catalog.db", EXAMPLES)


@pytest.fixture
def reader(catalog_path: Path) -> Iterator[apsw.Connection]:
    conn = open_readonly(catalog_path)
    yield conn
    conn.close()


def foreign_db(path: Path, tables: int = 1) -> Path:
    conn = sqlite3.connect(path)
    for i in range(tables):
        conn.execute(f"CREATE TABLE t{i} (x)")
    conn.commit()
    conn.close()
    return path


# -- read-only, layer by layer -------------------------------------------------------------


def table_names(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_the_reader_is_query_only(reader: apsw.Connection) -> None:
    assert reader.execute("PRAGMA query_only").fetchone()[0] == 1
    with pytest.raises(apsw.ReadOnlyError, match="readonly"):
        reader.execute(
            "CREATE TEMP TABLE scratch (x)"
        )  # a temp table needs no write to the file: only query_only stops it


def test_the_reader_opens_the_file_with_mode_ro(reader: apsw.Connection, catalog_path: Path) -> None:
    reader.execute("PRAGMA query_only = OFF")
    reader.execute("CREATE TEMP TABLE scratch (x)")  # allowed again: query_only was what refused it
    with pytest.raises(apsw.ReadOnlyError, match="attempt to write a readonly database"):
        reader.execute("INSERT INTO meta (key, value) VALUES ('owned', 'yes')")
    database_list = {row[1]: row[2] for row in reader.execute("PRAGMA database_list")}
    assert database_list["main"] == str(catalog_path.resolve())


def test_the_reader_can_attach_no_database_and_waits_for_locks(reader: apsw.Connection) -> None:
    assert reader.limit(apsw.SQLITE_LIMIT_ATTACHED, -1) == 0
    assert reader.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
    with pytest.raises(apsw.SQLError, match="too many attached databases"):
        reader.execute("ATTACH DATABASE ':memory:' AS other")


def test_opening_a_reader_raises_an_audit_event_naming_the_file(catalog_path: Path) -> None:
    seen: list[str] = []

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == "scholar_catalog.open_readonly":
            seen.append(str(args[0]))

    sys.addaudithook(hook)  # cannot be removed: it only records this one event
    open_readonly(catalog_path).close()
    assert seen == [f"{catalog_path.resolve().as_uri()}?mode=ro"]


def test_a_process_reading_a_catalog_is_refused_a_writer_of_it(catalog_path: Path) -> None:
    # Python's sqlite3 would not see APSW's reader: closing, it would remove the WAL under it (db/connection.py).
    reader = open_readonly(catalog_path)
    try:
        with pytest.raises(CatalogError) as err:
            open_writable(catalog_path)
        assert str(err.value) == (
            f"{catalog_path}: this process has the catalog open for reading (a server or Catalog); write it "
            "from another process (`scholar-catalog ingest`), or close the reader first"
        )
    finally:
        reader.close()
    open_writable(catalog_path).conn.close()  # once the reader is closed


def test_the_reader_runs_on_a_recent_sqlite_of_its_own(reader: apsw.Connection) -> None:
    # APSW's SQLite, not the one Python's sqlite3 module is linked to (db/connection.py says why).
    version = reader.execute("SELECT sqlite_version()").fetchone()[0]
    assert version == apsw.sqlite_lib_version()
    assert tuple(int(part) for part in version.split(".")[:2]) >= (3, 50)


def test_the_reader_keeps_a_page_cache_of_up_to_64_mb(reader: apsw.Connection) -> None:
    assert reader.execute("PRAGMA cache_size").fetchone()[0] == -64 * 1024  # KiB: SQLite's default is 2 MB


def test_the_writer_uses_wal_and_enforces_foreign_keys(tmp_path: Path) -> None:
    db = open_writable(tmp_path / "sub" / "new.db")
    try:
        pragma = {name: db.conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("journal_mode", "foreign_keys")}
        assert pragma == {"journal_mode": "wal", "foreign_keys": 1}
        assert db.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert db.conn.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
        assert db.conn.execute("PRAGMA cache_size").fetchone()[0] == -65536
        assert db.conn.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
        assert db.conn.isolation_level is None
        assert {"meta", "papers", "papers_fts"} <= table_names(db.conn)
    finally:
        db.conn.close()


def test_reopening_a_catalog_for_writing_keeps_it(catalog_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    copy.write_bytes(catalog_path.read_bytes())
    db = open_writable(copy)
    try:
        assert db.execute("SELECT count(*) FROM papers").fetchone()[0] == 68
    finally:
        db.conn.close()


# -- settings ----------------------------------------------------------------------------------


def test_updating_a_catalog_does_not_import_sqlite_utils_but_creating_one_does(
    catalog_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.db"
    copy.write_bytes(catalog_path.read_bytes())
    probe = (
        "import sys\n"
        "from scholar_catalog.db.connection import open_writable\n"
        "from scholar_catalog.db.ingest import ingest\n"
        "db = open_writable(sys.argv[1])\n"
        "report = ingest(db, [sys.argv[2]])\n"
        "db.conn.close()\n"
        "print(report.profiles, 'sqlite_utils' in sys.modules)\n"
    )
    for target, imported in ((copy, "False"), (tmp_path / "new.db", "True")):
        out = subprocess.run(
            [sys.executable, "-c", probe, str(target), str(EXAMPLES)], capture_output=True, text=True, check=True
        ).stdout.split()
        assert out == [str(len(list(EXAMPLES.glob("*.txt")))), imported]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, 10_000), ("", 10_000), ("abc", 10_000), ("-5", 10_000), ("2.5", 10_000), (" 250 ", 250), ("0", 0)],
)
def test_busy_timeout_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str | None, expected: int
) -> None:
    if raw is None:
        monkeypatch.delenv(connection.ENV_BUSY_TIMEOUT, raising=False)
    else:
        monkeypatch.setenv(connection.ENV_BUSY_TIMEOUT, raw)
    assert busy_timeout_ms() == expected


def test_busy_timeout_is_capped_at_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(connection.ENV_BUSY_TIMEOUT, str(10**12))
    assert busy_timeout_ms() == 86_400_000
    monkeypatch.setenv(connection.ENV_BUSY_TIMEOUT, "86400000")
    assert busy_timeout_ms() == 86_400_000
    monkeypatch.setenv(connection.ENV_BUSY_TIMEOUT, "86399999")
    assert busy_timeout_ms() == 86_399_999


def test_the_database_path_comes_from_the_argument_then_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(connection.ENV_DB, "~/from-env.db")
    assert default_db_path() == Path.home() / "from-env.db"
    assert resolve_db_path(None) == Path.home() / "from-env.db"
    assert resolve_db_path("") == Path.home() / "from-env.db"
    assert resolve_db_path("~/given.db") == Path.home() / "given.db"
    monkeypatch.delenv(connection.ENV_DB)
    assert default_db_path().name == "catalog.db"
    assert default_db_path().parent.name == "scholar-catalog"


# -- refusals ----------------------------------------------------------------------------------


def test_opening_a_missing_catalog_says_how_to_build_one(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    with pytest.raises(CatalogError) as err:
        open_readonly(missing)
    assert str(err.value) == (
        f"{missing}: no catalog here yet. Build one with `scholar-catalog ingest PROFILES_DIR --db {missing}`."
    )
    assert not missing.exists()


def test_a_folder_is_not_a_catalog(tmp_path: Path) -> None:
    for opener in (open_readonly, open_writable, check_replaceable):
        with pytest.raises(CatalogError, match="not a regular file; give the catalog's file name with --db"):
            opener(tmp_path)


def test_a_text_file_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    text = tmp_path / "notes.db"
    text.write_text("not a database, just notes\n" * 10)
    before = text.read_bytes()
    with pytest.raises(CatalogError, match=r"not a readable SQLite catalog \(file is not a database\)"):
        open_readonly(text)
    with pytest.raises(CatalogError, match=r"the file is not an SQLite database .*; choose another --db"):
        open_writable(text)
    with pytest.raises(CatalogError, match="not an SQLite database; refusing to replace it"):
        check_replaceable(text)
    assert text.read_bytes() == before


def test_another_programs_database_is_refused_naming_its_tables(tmp_path: Path) -> None:
    few = foreign_db(tmp_path / "few.db", 2)
    many = foreign_db(tmp_path / "many.db", 7)
    before = many.read_bytes()
    with pytest.raises(CatalogError) as err:
        open_writable(few)
    assert str(err.value) == (
        f"{few}: this SQLite database is not a scholar-catalog catalog (it has tables t0, t1); "
        "refusing to write into it. Choose another --db."
    )
    with pytest.raises(CatalogError, match=r"\(it has tables t0, t1, t2, t3, t4, \.\.\.\); refusing to write"):
        open_writable(many)
    with pytest.raises(CatalogError, match=r"\(it has tables t0, t1, t2, t3, t4\); refusing to replace it"):
        check_replaceable(many)
    with pytest.raises(CatalogError, match=r"the database is not a scholar-catalog catalog \(no meta.schema_version\)"):
        open_readonly(many)
    assert many.read_bytes() == before


def test_a_catalog_of_another_schema_version_is_refused_with_the_fix(catalog_path: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    old.write_bytes(catalog_path.read_bytes())
    conn = sqlite3.connect(old)
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(CatalogError, match=r"built by an older scholar-catalog \(schema version 1; this one reads "):
        open_readonly(old)
    with pytest.raises(
        CatalogError, match=f"schema version 1, this scholar-catalog expects {SCHEMA_VERSION}; rebuild it"
    ):
        open_writable(old)
    assert check_replaceable(old) is None


def test_an_empty_sqlite_database_becomes_a_catalog(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    db = open_writable(empty)
    db.conn.close()
    conn = open_readonly(empty)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    conn.close()


def test_what_rebuild_may_replace(catalog_path: Path, tmp_path: Path) -> None:
    assert check_replaceable(tmp_path / "missing.db") is None
    (tmp_path / "empty.db").write_bytes(b"")
    assert check_replaceable(tmp_path / "empty.db") is None
    assert check_replaceable(catalog_path) is None
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(catalog_path.read_bytes()[:100] + b"\xff" * 4000)
    assert check_replaceable(damaged) is None
    empty_sqlite = tmp_path / "empty-sqlite.db"
    sqlite3.connect(empty_sqlite).execute("CREATE TABLE meta (key, value)").connection.close()
    assert check_replaceable(empty_sqlite) is None


@pytest.mark.parametrize(
    ("message", "explained"),
    [
        ("database is locked", f"{LOCKED_HINT} (database is locked)"),
        ("database table is BUSY", f"{LOCKED_HINT} (database table is BUSY)"),
        ("file is not a database", "the file is not an SQLite database (file is not a database); choose another --db"),
        (
            "attempt to write a readonly database",
            "the catalog or its folder is read-only (attempt to write a readonly database); choose a writable --db",
        ),
        ("Read-Only medium", "the catalog or its folder is read-only (Read-Only medium); choose a writable --db"),
        ("database or disk is full", "the disk is full (database or disk is full); free some space and retry"),
        ("disk I/O error", "disk I/O error"),
    ],
)
def test_sqlite_errors_are_explained(message: str, explained: str, tmp_path: Path) -> None:
    assert connection._explain(sqlite3.OperationalError(message), tmp_path / "c.db") == explained


def test_unable_to_open_says_whether_the_folder_is_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    err = sqlite3.OperationalError("unable to open database file")
    monkeypatch.setattr(connection.os, "access", lambda path, mode: (path, mode) != (tmp_path, connection.os.W_OK))
    assert connection._explain(err, tmp_path / "c.db") == (
        f"its folder {tmp_path} is not writable (unable to open database file); choose a writable --db"
    )
    monkeypatch.setattr(connection.os, "access", lambda path, mode: True)
    assert connection._explain(err, tmp_path / "c.db") == (
        "unable to open database file (is the file or its folder readable and writable?)"
    )
    monkeypatch.setattr(connection, "_on_readonly_filesystem", lambda path: path == Path("."))
    assert connection._explain(err, Path("c.db")) == (
        "its folder . is on a read-only file system (unable to open database file); choose a writable --db"
    )


def test_the_read_only_file_system_check_reads_the_mount_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert connection._on_readonly_filesystem(tmp_path) is False
    assert connection._on_readonly_filesystem(tmp_path / "missing" / "deeper") is False
    flags = {tmp_path: connection.os.ST_RDONLY, tmp_path / "rw": 0}
    monkeypatch.setattr(connection.os, "statvfs", lambda path: type("Stat", (), {"f_flag": flags[path]})())
    assert connection._on_readonly_filesystem(tmp_path) is True
    assert connection._on_readonly_filesystem(tmp_path / "rw") is False


def test_five_foreign_tables_are_all_named(tmp_path: Path) -> None:
    five, six = foreign_db(tmp_path / "five.db", 5), foreign_db(tmp_path / "six.db", 6)
    with pytest.raises(CatalogError, match=r"\(it has tables t0, t1, t2, t3, t4\); refusing to write"):
        open_writable(five)
    with pytest.raises(CatalogError, match=r"\(it has tables t0, t1, t2, t3, t4, \.\.\.\); refusing to write"):
        open_writable(six)


def test_a_refused_old_catalog_is_left_byte_for_byte(catalog_path: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    old.write_bytes(catalog_path.read_bytes())
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    before = old.read_bytes()
    with pytest.raises(CatalogError, match="schema version 1"):
        open_writable(old)
    assert old.read_bytes() == before  # refused before the switch to WAL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.db"]


def test_the_reader_sees_commits_still_in_the_write_ahead_log(catalog_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    copy.write_bytes(catalog_path.read_bytes())
    writer = open_writable(copy)
    try:
        writer.conn.execute("INSERT INTO meta (key, value) VALUES ('fresh', 'yes')")
        assert (tmp_path / "copy.db-wal").stat().st_size > 0  # not checkpointed: the row is in the WAL only
        reader = open_readonly(copy)
        assert reader.execute("SELECT value FROM meta WHERE key = 'fresh'").fetchone()[0] == "yes"
        reader.close()
        # Opened immutable (only done on a read-only file system, where no WAL can be pending) it reads
        # the main file alone: the proof that the flag reaches SQLite.
        frozen = connection._connect_readonly(copy, immutable=True)
        assert frozen.execute("SELECT value FROM meta WHERE key = 'fresh'").fetchone() is None
        frozen.close()
    finally:
        writer.conn.close()


def test_a_damaged_catalog_is_refused_as_unreadable(catalog_path: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.db"
    data = bytearray(catalog_path.read_bytes())
    data[4096 : 4096 * 2] = b"\xff" * 4096  # page 2: the meta table
    damaged.write_bytes(bytes(data))
    with pytest.raises(CatalogError) as err:
        open_readonly(damaged)
    assert str(err.value) == f"{damaged}: not a readable SQLite catalog (database disk image is malformed)"


def test_a_catalog_that_cannot_be_read_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "c.db"
    target.write_bytes(b"")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(connection, "open", denied, raising=False)
    for opener in (open_readonly, check_replaceable):
        with pytest.raises(CatalogError) as err:
            opener(target)
        assert str(err.value) == f"{target}: cannot read the catalog: Permission denied"


def test_a_wal_catalog_on_a_read_only_file_system_is_opened_immutable(
    catalog_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = connection._connect_readonly
    calls: list[tuple[Path, bool]] = []

    def no_shm(path: Path, *, immutable: bool) -> apsw.Connection:
        calls.append((path, immutable))
        if not immutable:
            raise apsw.CantOpenError("unable to open database file")
        return real(path, immutable=True)

    monkeypatch.setattr(connection, "_connect_readonly", no_shm)
    monkeypatch.setattr(connection, "_on_readonly_filesystem", lambda path: path == catalog_path.parent)
    conn = open_readonly(catalog_path)
    try:
        assert conn.execute("SELECT count(*) FROM papers").fetchone()[0] == 68
        assert conn.execute("PRAGMA query_only").fetchone()[0] == 1
    finally:
        conn.close()
    assert calls == [(catalog_path, False), (catalog_path, True)]


def test_sqlite_itself_raises_the_open_error_the_immutable_fallback_catches(tmp_path: Path) -> None:
    # The fallback below catches apsw.CantOpenError only: this is what APSW's SQLite raises for a file it cannot open.
    with pytest.raises(apsw.CantOpenError, match="unable to open"):
        connection._connect_readonly(tmp_path / "no such folder" / "catalog.db", immutable=False)


def test_unable_to_open_on_a_writable_file_system_is_an_error(
    catalog_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(message: str, again: str | None = None) -> object:
        def connect(path: Path, *, immutable: bool) -> apsw.Connection:
            raise apsw.CantOpenError(again if immutable and again else message)

        return connect

    monkeypatch.setattr(connection, "_on_readonly_filesystem", lambda path: False)
    monkeypatch.setattr(connection, "_connect_readonly", fails("unable to open database file"))
    with pytest.raises(CatalogError) as err:
        open_readonly(catalog_path)
    assert str(err.value) == f"{catalog_path}: not a readable SQLite catalog (unable to open database file)"

    # On a read-only file system only "unable to open" is retried as immutable; other errors are errors.
    real = connection._connect_readonly

    def io_error(path: Path, *, immutable: bool) -> apsw.Connection:
        if immutable:
            return real(path, immutable=True)
        raise apsw.IOError("disk I/O error")

    monkeypatch.setattr(connection, "_on_readonly_filesystem", lambda path: True)
    monkeypatch.setattr(connection, "_connect_readonly", io_error)
    with pytest.raises(CatalogError) as err:
        open_readonly(catalog_path)
    assert str(err.value) == f"{catalog_path}: not a readable SQLite catalog (disk I/O error)"

    monkeypatch.setattr(connection, "_connect_readonly", fails("unable to open database file", "still no luck"))
    with pytest.raises(CatalogError) as err:
        open_readonly(catalog_path)
    assert str(err.value) == f"{catalog_path}: not a readable SQLite catalog (still no luck)"


def test_the_reader_may_be_used_from_another_thread(reader: sqlite3.Connection) -> None:
    import threading

    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(reader.execute("SELECT count(*) FROM papers").fetchone()[0]))
    worker.start()
    worker.join()
    assert seen == [68]


def test_the_writer_makes_every_missing_folder(tmp_path: Path) -> None:
    db = open_writable(tmp_path / "a" / "b" / "c" / "new.db")
    db.conn.close()
    assert (tmp_path / "a" / "b" / "c" / "new.db").is_file()


def test_a_folder_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(CatalogError) as err:
        open_writable(tmp_path / "file" / "sub" / "c.db")
    assert (
        str(err.value) == f"{tmp_path / 'file' / 'sub' / 'c.db'}: cannot create the catalog's folder: Not a directory"
    )


def test_a_catalog_whose_creation_was_interrupted_is_completed(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    db = open_writable(path)
    for trigger in [r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]:
        db.conn.execute(f"DROP TRIGGER [{trigger}]")
    db.conn.execute("DROP TABLE papers_fts")
    db.conn.close()
    db = open_writable(path)
    try:
        assert "papers_fts" in table_names(db.conn)
    finally:
        db.conn.close()


class _Tracked(sqlite3.Connection):
    closed: ClassVar[list[bool]] = []

    def close(self) -> None:
        _Tracked.closed.append(True)
        super().close()


@pytest.fixture
def tracked(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every connection open_writable makes records its close()."""
    real = sqlite3.connect
    _Tracked.closed = []
    monkeypatch.setattr(connection.sqlite3, "connect", lambda *a, **k: real(*a, factory=_Tracked, **k))
    return _Tracked.closed


def test_each_refusal_closes_the_connection_and_says_why(
    tmp_path: Path, tracked: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    foreign = foreign_db(tmp_path / "foreign.db")
    text = tmp_path / "text.db"
    text.write_text("not a database, just notes\n" * 10)
    tracked.clear()  # making the foreign database opened (and closed) one
    with pytest.raises(CatalogError, match="is not a scholar-catalog catalog"):
        open_writable(foreign)
    assert tracked == [True]
    with pytest.raises(CatalogError) as err:
        open_writable(text)
    assert str(err.value) == (
        f"{text}: cannot open the catalog for writing: the file is not an SQLite database "
        "(file is not a database); choose another --db"
    )
    assert tracked == [True, True]

    def explode(db: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(connection, "create_schema", explode)
    with pytest.raises(CatalogError) as err:
        open_writable(tmp_path / "new.db")
    assert str(err.value) == f"{tmp_path / 'new.db'}: boom"
    assert tracked == [True, True, True]

    def no_space(db: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(connection, "create_schema", no_space)
    with pytest.raises(CatalogError) as err:
        open_writable(tmp_path / "new2.db")
    assert str(err.value) == f"{tmp_path / 'new2.db'}: cannot create the catalog: No space left on device"
    assert tracked == [True, True, True, True]


def test_a_connection_that_fails_to_open_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def cannot(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(connection.sqlite3, "connect", cannot)
    monkeypatch.setattr(connection.os, "access", lambda path, mode: False)
    with pytest.raises(CatalogError) as err:
        open_writable(tmp_path / "c.db")
    assert str(err.value) == (
        f"{tmp_path / 'c.db'}: cannot open the catalog for writing: its folder {tmp_path} is not writable "
        "(unable to open database file); choose a writable --db"
    )
