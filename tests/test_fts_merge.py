"""The full-text index is merged into one segment after the runs that wrote much of it (db/ingest_fts.py)."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from conftest import AS_OF, EXAMPLES, kept_counts, vocab_counts
from scholar_catalog.db import ingest as ingest_mod
from scholar_catalog.db import ingest_fts, term_docs
from scholar_catalog.db.connection import open_writable
from scholar_catalog.db.ingest import Ingester, IngestReport, discover, ingest

QUERIES = ['"retrieval"', '"sparse retrieval"', '"vector" "search"', 'title : "benchmark"', '"hartmann"', '"the"']


def run(db_path: Path, folder: Path) -> IngestReport:
    database = open_writable(db_path)
    try:
        return ingest(database, [folder], as_of=AS_OF)
    finally:
        database.conn.close()


def query(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db_path)) as conn:
        return conn.execute(sql, params).fetchall()


def segments(db_path: Path) -> int:
    """How many segments the index has (each has at least one row in FTS5's ``%_idx`` table)."""
    return query(db_path, "SELECT count(DISTINCT segid) FROM papers_fts_idx")[0][0]


def merge_settings(db_path: Path) -> dict[str, int]:
    """FTS5's merge options as the index's config table keeps them."""
    return dict(query(db_path, "SELECT k, v FROM papers_fts_config WHERE k IN ('automerge', 'crisismerge')"))


def churn(db_path: Path) -> int:
    rows = query(db_path, "SELECT value FROM meta WHERE key = ?", (ingest_fts.FTS_CHURN,))
    return int(rows[0][0]) if rows else 0


def indexed(db_path: Path) -> dict[int, tuple[Any, ...]]:
    return {r[0]: r[1:] for r in query(db_path, "SELECT id, title, abstract, author_search FROM papers")}


def answers(db_path: Path, queries: list[str] = QUERIES) -> list[list[tuple[Any, ...]]]:
    sql = "SELECT rowid, bm25(papers_fts, 10.0, 1.0, 3.0) FROM papers_fts WHERE papers_fts MATCH ? ORDER BY 2, 1"
    return [query(db_path, sql, (q,)) for q in queries]


def revise_abstracts(folder: Path, files: int) -> None:
    """Append a word to the first abstract of each of the first *files* profiles."""
    for path in sorted(folder.glob("*.txt"))[:files]:
        lines = path.read_text(encoding="utf-8").split("\n")
        first = next(i for i, line in enumerate(lines) if len(line) > 150)  # titles and author lines are shorter
        lines[first] += " Revised."
        path.write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture
def one_file_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit after every file: FTS5 writes a segment per commit and merges only a few at a time."""
    monkeypatch.setattr(ingest_mod, "BATCH_FILES", 1)
    monkeypatch.setattr(ingest_mod, "BATCH_SECONDS", 1e9)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLES, tmp_path / "profiles"))


def test_a_first_ingest_leaves_the_full_text_index_in_one_segment(
    tmp_path: Path, folder: Path, one_file_per_batch: None
) -> None:
    db = tmp_path / "c.db"
    run(db, folder)
    assert segments(db) == 1
    assert churn(db) == 0  # counted from the merge on
    assert merge_settings(db) == ingest_fts.USUAL_MERGE


def test_a_first_build_writes_a_segment_per_batch_without_fts5_merging_them_and_the_next_run_restores_merging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "bench"))
    import generate

    folder = tmp_path / "generated"
    generate.generate(folder, 120, seed=5)
    monkeypatch.setattr(ingest_mod, "BATCH_FILES", 5)  # 24 batches: more than FTS5 keeps on a level by default
    monkeypatch.setattr(ingest_mod, "BATCH_SECONDS", 1e9)
    monkeypatch.setattr(ingest_fts, "MERGE_SHARE", float("inf"))  # the build stops before its final merge
    built, merging = tmp_path / "built.db", tmp_path / "merging.db"
    run(built, folder)
    assert segments(built) == 120 // 5
    assert merge_settings(built) == ingest_fts.BUILD_MERGE
    monkeypatch.setattr(ingest_mod, "BUILD_MERGE", ingest_fts.USUAL_MERGE)  # the same build merging as it goes
    run(merging, folder)
    assert 1 < segments(merging) < 120 // 5
    titles = [row[0].split() for row in query(built, "SELECT title FROM papers ORDER BY id LIMIT 60 OFFSET 30")]
    queries = [f'"{words[0]}"' for words in titles[::10]] + [f'"{words[1]}" "{words[2]}"' for words in titles[::15]]
    assert all(answers(built, queries))
    assert answers(built, queries) == answers(merging, queries)

    monkeypatch.setattr(ingest_mod, "BUILD_MERGE", ingest_fts.BUILD_MERGE)
    report = run(built, folder)  # nothing changed, and still no merge: its first batch restores the settings
    assert report.unchanged == 120
    assert merge_settings(built) == ingest_fts.USUAL_MERGE
    assert segments(built) == 120 // 5
    monkeypatch.setattr(ingest_fts, "MERGE_SHARE", 0.1)
    run(built, folder)
    assert segments(built) == 1
    assert answers(built, queries) == answers(merging, queries)


def test_unmerged_the_same_ingest_leaves_several_segments_and_gives_the_same_answers(
    tmp_path: Path, folder: Path, one_file_per_batch: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    merged, unmerged = tmp_path / "merged.db", tmp_path / "unmerged.db"
    run(merged, folder)
    monkeypatch.setattr(ingest_fts, "MERGE_SHARE", float("inf"))
    run(unmerged, folder)
    assert segments(unmerged) > 1
    assert churn(unmerged) >= len(indexed(unmerged))  # an entry per paper, two more per paper rewritten later
    assert all(answers(merged)), "every query should find papers"
    assert answers(merged) == answers(unmerged)


def test_a_small_re_ingest_counts_what_it_wrote_and_the_merge_waits_until_it_adds_up(
    tmp_path: Path, folder: Path
) -> None:
    db = tmp_path / "c.db"
    run(db, folder)
    papers = len(indexed(db))
    before = indexed(db)
    revise_abstracts(folder, 1)
    run(db, folder)
    after = indexed(db)
    changed = sum(1 for paper_id, values in after.items() if before[paper_id] != values)
    assert changed == 1
    assert churn(db) == 2  # the paper's old entry dropped, its new one added
    assert ingest_fts.MERGE_SHARE * papers > 2
    assert segments(db) > 1  # the merged index and what the run wrote

    revise_abstracts(folder, 6)  # five papers (two of the files list the same one): 2 + 10 entries, past a tenth
    run(db, folder)
    assert ingest_fts.MERGE_SHARE * papers <= 12
    assert segments(db) == 1
    assert churn(db) == 0


@pytest.mark.parametrize(
    "error",
    [sqlite3.OperationalError("database or disk is full"), sqlite3.DatabaseError("database disk image is malformed")],
)
def test_a_merge_that_fails_leaves_the_ingest_applied_and_the_merge_due_for_the_next_run(
    tmp_path: Path, folder: Path, one_file_per_batch: None, error: sqlite3.Error
) -> None:
    class NoOptimize:
        """The writer's connection, refusing the merge as a full disk or a damaged index would."""

        def __init__(self, conn: sqlite3.Connection) -> None:
            self._conn = conn

        def __getattr__(self, name: str) -> Any:
            return getattr(self._conn, name)

        def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
            if "'optimize'" in sql:
                raise error
            return self._conn.execute(sql, params)

    db = tmp_path / "c.db"
    database = open_writable(db)
    try:
        ingester = Ingester(database, as_of=AS_OF)
        for path in discover([folder]):
            assert ingester.apply_file(path).status == "applied"
        ingester.conn = NoOptimize(ingester.conn)  # type: ignore[assignment]
        ingester.finish()
        assert not database.conn.in_transaction
    finally:
        database.conn.close()
    assert query(db, "SELECT count(*) FROM profiles")[0][0] == len(list(folder.glob("*.txt")))
    assert segments(db) > 1
    assert churn(db) >= len(indexed(db))

    assert merge_settings(db) == ingest_fts.BUILD_MERGE  # restored with the merge, or by the next run

    report = run(db, folder)  # nothing changed: only the merge left to do
    assert report.unchanged == report.profiles
    assert segments(db) == 1
    assert churn(db) == 0
    assert merge_settings(db) == ingest_fts.USUAL_MERGE


def test_a_re_ingest_that_rewrites_papers_text_adds_one_segment_per_batch_and_answers_as_a_fresh_build(
    tmp_path: Path, folder: Path
) -> None:
    db, fresh = tmp_path / "c.db", tmp_path / "fresh.db"
    run(db, folder)
    assert segments(db) == 1
    revise_abstracts(folder, 3)
    run(db, folder)
    assert churn(db) >= 4  # at least two papers' entries dropped and added again, in one batch
    # Dropping and adding in rowid order, paper by paper, lets FTS5 keep the batch in one new segment.
    assert segments(db) == 2
    run(fresh, folder)
    assert answers(db) == answers(fresh)


def test_a_batch_synced_a_few_papers_at_a_time_writes_the_same_index_and_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_mod, "BATCH_FILES", 10**9)  # the whole run in one batch: many parts in one sync
    monkeypatch.setattr(ingest_mod, "BATCH_SECONDS", 1e9)
    monkeypatch.setattr(term_docs, "RECOUNT_RATIO", 0)  # a re-ingest's counts moved by delta, from the parts' texts
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    for name in (whole, parts):
        shutil.copytree(EXAMPLES, name)
    for step in ("from empty", "abstracts revised"):
        if step == "abstracts revised":
            revise_abstracts(whole, 6)
            revise_abstracts(parts, 6)
        run(tmp_path / "whole.db", whole)
        monkeypatch.setattr(ingest_fts, "SYNC_PART", 3)
        run(tmp_path / "parts.db", parts)
        monkeypatch.setattr(ingest_fts, "SYNC_PART", 2_000)
        assert indexed(tmp_path / "parts.db") == indexed(tmp_path / "whole.db"), step
        assert all(answers(tmp_path / "whole.db")), step
        assert answers(tmp_path / "parts.db") == answers(tmp_path / "whole.db"), step
        assert churn(tmp_path / "parts.db") == churn(tmp_path / "whole.db"), step
        kept, own = kept_counts(tmp_path / "parts.db"), vocab_counts(tmp_path / "parts.db")
        assert kept == own and kept == kept_counts(tmp_path / "whole.db"), step
