"""A first build finds existing titles and listed names in tables of its own (db/ingest_lookups.py), and
counts title words once at its end (db/title_words.py): the catalog it leaves is the one a build through
the catalog's own indexes and per-batch counts leaves."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from fault_helpers import canonical_dump, dump_differences, make_corpus

from conftest import AS_OF
from scholar_catalog.db import ingest as ingest_mod
from scholar_catalog.db import title_words
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.db.connection import open_writable
from scholar_catalog.db.ingest_lookups import BuildLookups
from scholar_catalog.db.schema import LOOKUP_INDEXES
from scholar_catalog.tools import search_papers

N_PROFILES = 40


def indexes(db: Path) -> set[str]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def dump(db: Path) -> dict[str, object]:
    """canonical_dump plus the title words' counts and the meta keys an ingest keeps."""
    out = canonical_dump(db)
    out["title_words"] = query(db, "SELECT word, papers FROM title_words ORDER BY word")
    out["meta"] = query(db, "SELECT key FROM meta WHERE key NOT IN ('created_at', 'built_at') ORDER BY key")
    return out


def run(db: Path, *folders: Path, **kwargs: object) -> ingest_mod.IngestReport:
    database = open_writable(db)
    try:
        return ingest_mod.ingest(database, list(folders), as_of=AS_OF, **kwargs)  # type: ignore[arg-type]
    finally:
        database.conn.close()


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_mod, "BATCH_FILES", 4)
    monkeypatch.setattr(ingest_mod, "BATCH_SECONDS", 1e9)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """Two folders of different profiles listing papers from one pool (shared titles and co-author names)."""
    corpus = make_corpus(N_PROFILES, seed=11)
    pids = sorted(corpus.profiles)
    first, second = tmp_path / "first", tmp_path / "second"
    corpus.write(first, dict.fromkeys(pids[: N_PROFILES // 2], 0))
    corpus.write(second, dict.fromkeys(pids[N_PROFILES // 2 :], 0))
    return first, second


def reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *folders: Path) -> Path:
    """A catalog of *folders* built through the catalog's own indexes."""
    db = tmp_path / "reference.db"
    with monkeypatch.context() as patch:
        patch.setattr(ingest_mod, "BuildLookups", lambda conn, building: BuildLookups(conn, building=False))
        assert run(db, *folders).ok
    return db


def test_a_first_build_keeps_title_and_name_keys_out_of_the_catalog_and_makes_their_indexes_at_its_end(
    tmp_path: Path, folders: tuple[Path, Path], small_batches: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "catalog.db"
    during: list[set[str]] = []

    def look(outcome: ingest_mod.FileOutcome) -> None:
        if not during and query(db, "SELECT count(*) FROM profiles")[0][0] > 0:
            during.append(indexes(db))

    assert run(db, *folders, on_file=look).ok
    assert during and not set(LOOKUP_INDEXES) & during[0], "the build's batches wrote the two indexes"
    assert set(LOOKUP_INDEXES) <= indexes(db)
    clean = reference(tmp_path, monkeypatch, *folders)
    assert dump_differences(dump(db), dump(clean)) == []
    # Papers listed by several profiles, in different batches, are one paper each.
    shared = query(db, "SELECT count(*) FROM (SELECT paper_id FROM listings GROUP BY 1 HAVING count(*) > 1)")[0][0]
    assert shared > 10
    assert query(db, "SELECT count(*) - count(DISTINCT title_norm) FROM papers") == [(0,)]
    assert query(db, "SELECT count(*) - count(DISTINCT name_norm) FROM authors WHERE profile_id IS NULL") == [(0,)]


def test_the_build_tables_leave_the_connection_with_the_ingest(tmp_path: Path, folders: tuple[Path, Path]) -> None:
    database = open_writable(tmp_path / "catalog.db")
    try:
        assert ingest_mod.ingest(database, list(folders), as_of=AS_OF).ok
        left = database.conn.execute("SELECT type, name FROM temp.sqlite_master WHERE name LIKE 'build_%'").fetchall()
        assert left == []
    finally:
        database.conn.close()


def test_a_build_stopped_midway_leaves_the_next_ingest_to_make_the_two_indexes_and_the_title_words(
    tmp_path: Path, folders: tuple[Path, Path], small_batches: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "catalog.db"
    seen = 0

    def stop_after_ten(outcome: ingest_mod.FileOutcome) -> None:
        nonlocal seen
        seen += 1
        if seen == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(db, *folders, on_file=stop_after_ten)
    assert not set(LOOKUP_INDEXES) & indexes(db)
    assert query(db, "SELECT key FROM meta WHERE key = 'title_words_stale'") == [("title_words_stale",)]
    assert run(db, *folders).ok
    assert set(LOOKUP_INDEXES) <= indexes(db)
    assert dump_differences(dump(db), dump(reference(tmp_path, monkeypatch, *folders))) == []


def test_another_ingest_writing_between_two_batches_of_a_build_makes_the_build_use_the_catalogs_indexes(
    tmp_path: Path, folders: tuple[Path, Path], small_batches: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The build's own tables know only what it wrote: papers and names the other ingest added in between
    # would be made a second time (and the unique index of listed names could not be made at the end).
    db = tmp_path / "catalog.db"
    first, second = folders
    other: list[ingest_mod.IngestReport] = []

    def between_batches(outcome: ingest_mod.FileOutcome) -> None:
        if not other and query(db, "SELECT count(*) FROM profiles")[0][0] > 0:  # a batch is committed
            other.append(run(db, second))

    assert run(db, first, on_file=between_batches).ok
    assert other and other[0].ok and other[0].applied == N_PROFILES // 2
    assert dump_differences(dump(db), dump(reference(tmp_path, monkeypatch, first, second))) == []


def test_a_file_rolled_back_during_a_build_leaves_none_of_its_titles_or_names_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    entry = "80IRMar 4, 2025\n{title}\n\n{authors}\n\nAn abstract of the study.\n"
    head = "{name}\n\nIR\nh-index3\n2papers\n10citations\n\n2 Papers\n\n"
    for stem, name, lab in (("a_first", "Ada Quill", "Poison Lab"), ("b_second", "Ben Moss", "Good Lab")):
        text = head.format(name=name) + "\n".join(
            entry.format(title=title, authors=f"Zed Orr, Yara Lind, {name} · {lab}")
            for title in ("Sparse Retrieval at Scale", f"A Paper Only {name} Lists")
        )
        (folder / f"{stem}.txt").write_text(text, encoding="utf-8")
    real = ingest_mod.Ingester._affiliation

    def poisoned(self: ingest_mod.Ingester, name: str) -> int:
        if name == "Poison Lab":  # after the file's papers and listed authors were written
            raise ValueError("poisoned affiliation")
        return real(self, name)

    monkeypatch.setattr(ingest_mod.Ingester, "_affiliation", poisoned)
    db = tmp_path / "catalog.db"
    report = run(db, folder)
    assert [(r.profile_id, "could not be stored" in (r.reason or "")) for r in report.rejected] == [("a_first", True)]
    (folder / "a_first.txt").unlink()
    monkeypatch.undo()
    assert dump_differences(dump(db), dump(reference(tmp_path, monkeypatch, folder))) == []
    assert query(db, "SELECT name FROM authors ORDER BY name") == [("Ben Moss",), ("Yara Lind",), ("Zed Orr",)]


def test_a_first_build_counts_title_words_at_its_end_and_readers_take_them_from_the_titles_meanwhile(
    tmp_path: Path, folders: tuple[Path, Path], small_batches: None
) -> None:
    db = tmp_path / "catalog.db"
    during: list[tuple[list[tuple[object, ...]], frozenset[str], set[str], int]] = []

    def look(outcome: ingest_mod.FileOutcome) -> None:
        if not during and query(db, "SELECT count(*) FROM profiles")[0][0] > 0:
            catalog = Catalog(db)
            try:
                with catalog.connection() as conn:
                    words = catalog.titles().words
                    title = conn.execute("SELECT title_norm FROM papers ORDER BY id LIMIT 1").fetchone()[0]
                word = max(title.split(), key=len)
                found = search_papers(catalog, query=word[0] + word[2] + word[1] + word[3:])  # two letters swapped
            finally:
                catalog.close()
            titles = [row[0] for row in query(db, "SELECT title_norm FROM papers")]
            rows = query(db, "SELECT * FROM title_words")
            during.append((rows, words, set(title_words.count(titles)), found.total))

    assert run(db, *folders, on_file=look).ok
    rows, words, expected, misspelt_total = during[0]
    assert rows == [] and words == expected  # the table waits for the end; the words come from the titles
    assert misspelt_total > 0
    titles = [row[0] for row in query(db, "SELECT title_norm FROM papers")]
    assert query(db, "SELECT word, papers FROM title_words ORDER BY word") == sorted(title_words.count(titles).items())
    assert query(db, "SELECT key FROM meta WHERE key = 'title_words_stale'") == []


def test_a_small_re_ingest_moves_the_title_word_counts_without_a_recount(
    tmp_path: Path, folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "catalog.db"
    first, second = folders
    assert run(db, first, second).ok
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "z_new.txt").write_text(
        "Cora Vale\n\nIR\nh-index3\n1papers\n10citations\n\n1 Papers\n\n"
        "80IRMar 4, 2025\nQuasicrystal Retrieval Benchmarks\n\nCora Vale\n\nAn abstract.\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(title_words, "fill", lambda conn: pytest.fail("recounted every title"))
    assert run(db, first, second, extra).ok
    counts = dict(query(db, "SELECT word, papers FROM title_words"))
    assert counts["quasicrystal"] == 1 and counts["benchmarks"] >= 1
