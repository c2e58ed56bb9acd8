"""Shared fixtures: the real seed profiles, the bundled examples, and catalogs built from them."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import apsw
import pytest

from scholar_catalog.db import facets, term_docs

ROOT = Path(__file__).resolve().parent.parent
# The real seed profiles; SCHOLAR_CATALOG_TEST_SEEDS points elsewhere (the tests of this rule use it).
SEEDS = Path(os.environ.get("SCHOLAR_CATALOG_TEST_SEEDS") or ROOT.parent / "shared" / "seeds")
EXAMPLES = ROOT / "examples" / "profiles"
AS_OF = date(2026, 11, 24)  # reference date used for year-less dates in tests

# The tool names, in the order the server lists them: a public contract (configs and prompts use them).
TOOL_NAMES = [
    "search_papers",
    "get_paper",
    "get_author",
    "search_authors",
    "coauthors",
    "shared_coauthors",
    "collaboration_path",
    "find_experts",
    "similar_papers",
    "similar_authors",
    "topic_trends",
    "catalog_stats",
]

NO_SEEDS = f"not tested here: the real seed profiles ({SEEDS} is absent)"
requires_seeds = pytest.mark.skipif(not SEEDS.is_dir(), reason=NO_SEEDS)


def missing_seeds_error(seeds: Path, environ: Mapping[str, str]) -> str | None:
    """Why the run must fail: in CI (``$CI`` set) the seed-based tests may not skip for want of the seeds."""
    if environ.get("CI") and not seeds.is_dir():
        return (
            f"CI is set but the seed profiles are missing ({seeds}): the tests that need them would skip. "
            "Provide ../shared/seeds next to the repository, or unset CI to run without them."
        )
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    if error := missing_seeds_error(SEEDS, os.environ):
        raise pytest.UsageError(error)


@contextmanager
def traced(conn: apsw.Connection | sqlite3.Connection) -> Iterator[list[str]]:
    """The SQL of every statement *conn* starts in the body, its parameters' values written in (a reader's
    APSW connection or a sqlite3 one)."""
    statements: list[str] = []
    if isinstance(conn, apsw.Connection):
        conn.exec_trace = lambda cursor, _sql, _bindings: statements.append(cursor.expanded_sql) or True
    else:
        conn.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        if isinstance(conn, apsw.Connection):
            conn.exec_trace = None
        else:
            conn.set_trace_callback(None)


def ingest_elsewhere(db_path: Path, *paths: Path, as_of: date = AS_OF, prune: bool = False) -> str:
    """Ingest *paths* into *db_path* from another process, as `scholar-catalog ingest` does beside a running
    server (a process must not write a catalog it has open for reading: see db/connection.py); its report."""
    command = [sys.executable, "-m", "scholar_catalog", "ingest", *map(str, paths), "--db", str(db_path)]
    command += ["--as-of", as_of.isoformat(), *(["--prune"] if prune else [])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def build_catalog(db_path: Path, *paths: Path, as_of: date = AS_OF) -> Path:
    """Ingest *paths* into a new catalog at *db_path* and return the path."""
    from scholar_catalog.db.connection import open_writable
    from scholar_catalog.db.ingest import ingest

    database = open_writable(db_path)
    try:
        report = ingest(database, list(paths), as_of=as_of)
        assert report.ok, [r.reason for r in report.rejected]
    finally:
        database.conn.close()
    return db_path


def reingest(db_path: Path, *paths: Path, as_of: date = AS_OF) -> None:
    """Ingest *paths* again into the catalog at *db_path*, removing profiles whose files are gone."""
    from scholar_catalog.db.connection import open_writable
    from scholar_catalog.db.ingest import ingest

    database = open_writable(db_path)
    try:
        ingest(database, list(paths), as_of=as_of, prune=True)
    finally:
        database.conn.close()


def downgrade_to_schema_4(db: Path) -> None:
    """Make the catalog *db* what scholar-catalog built at schema version 4: titles indexed as they are
    (a unique index), no title keys, no title_words table."""
    downgrade_to_schema_5(db)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("DROP TABLE title_words")
        conn.execute("DROP INDEX idx_papers_title_key")
        conn.execute("ALTER TABLE papers DROP COLUMN title_key")
        conn.execute("CREATE UNIQUE INDEX idx_papers_title_norm ON papers (title_norm)")
        conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
        conn.commit()


def vocab_counts(db: Path) -> list[tuple[str, int, int]]:
    """What FTS5 itself says: each kept term's number of papers and of papers holding it in their title,
    in term order."""
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, papers_fts, row)")
        conn.execute("CREATE VIRTUAL TABLE temp.c USING fts5vocab(main, papers_fts, col)")
        titles = dict(conn.execute("SELECT term, doc FROM temp.c WHERE col = 'title'"))
        return [
            (t, d, titles.get(t, 0))
            for t, d in conn.execute("SELECT term, doc FROM temp.v ORDER BY term")
            if term_docs.kept(t)
        ]


def kept_counts(db: Path) -> list[tuple[str, int, int]]:
    """The catalog's kept term counts (``term_docs``: anywhere, in titles), in term order."""
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT term, docs, title_docs FROM term_docs ORDER BY term").fetchall()


def facet_rows(db: Path, table: str = "facets") -> list[tuple[Any, ...]]:
    """Every paper's id, category, year, has_code and date, in id order, from *table* (``facets`` or ``papers``)."""
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(f"SELECT id, {', '.join(facets.COLUMNS)} FROM {table} ORDER BY id").fetchall()


def downgrade_to_schema_6(db: Path) -> None:
    """Make the catalog *db* what scholar-catalog built at schema version 6: the columns searches filter
    on as an index of papers, not a table."""
    with closing(sqlite3.connect(db)) as conn:
        for trigger in sorted(facets.TRIGGERS):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE facets")
        conn.execute("CREATE INDEX papers_facets ON papers(id, category, year, has_code, date)")
        conn.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
        conn.commit()


def downgrade_to_schema_5(db: Path) -> None:
    """Make the catalog *db* what scholar-catalog built at schema version 5: term counts without their
    counts in titles."""
    downgrade_to_schema_6(db)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("ALTER TABLE term_docs DROP COLUMN title_docs")
        conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
        conn.commit()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the example profiles, to edit (a module may define its own)."""
    out = tmp_path / "profiles"
    shutil.copytree(EXAMPLES, out)
    return out


@pytest.fixture(scope="session")
def seed_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A catalog of the two real seed profiles (skips where ../shared/seeds is absent)."""
    if not SEEDS.is_dir():
        pytest.skip(NO_SEEDS)
    yield build_catalog(tmp_path_factory.mktemp("seed") / "catalog.db", SEEDS)


@pytest.fixture(scope="session")
def example_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A catalog of the bundled example profiles."""
    yield build_catalog(tmp_path_factory.mktemp("examples") / "catalog.db", EXAMPLES)
