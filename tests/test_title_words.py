"""Title keys and the ``title_words`` table (db/title_words.py).

Papers are found by a hash of their normalized title and told apart by the title itself; the table of
title words holds, after a fresh ingest and after incremental ones (a renamed title, a pruned profile, a
rejected file in the same batch), each word's count of papers as a recount from the titles gives it and
as a clean rebuild holds it; the misspelt search's vocabulary is its words; a failure inside a batch's
sync leaves it as it was; a catalog of schema 4 is refused by the server and upgraded in place by ingest.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from conftest import EXAMPLES, build_catalog, downgrade_to_schema_4, reingest
from scholar_catalog.db import title_words
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.db.connection import CatalogError, open_readonly, open_writable
from scholar_catalog.db.schema import SCHEMA_VERSION

CHEN = "ex03_chen-ming.txt"


def rows(db: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def table(db: Path) -> list[tuple[str, int]]:
    return rows(db, "SELECT word, papers FROM title_words ORDER BY word")


def recount(db: Path) -> list[tuple[str, int]]:
    """Each word's number of papers whose normalized title has it, counted from the titles."""
    counts: Counter[str] = Counter()
    for (key,) in rows(db, "SELECT title_norm FROM papers"):
        counts.update(set(key.split()))
    return sorted(counts.items())


def papers(db: Path) -> list[tuple]:
    return rows(db, "SELECT id, title, title_norm FROM papers ORDER BY id")


def rename_a_title(folder: Path) -> None:
    """Give one of Chen Ming's papers a new title (its old title's paper goes unless others list it)."""
    path = folder / CHEN
    text = path.read_text("utf-8")
    blocks = text.split("\n\n")
    i = next(i for i, block in enumerate(blocks) if block.startswith(tuple("0123456789")) and "\n" in block)
    old = blocks[i].split("\n")[1]
    new = old + " Zorbulated Quasiwords"
    blocks[i] = blocks[i].replace(old, new, 1)
    path.write_text("\n\n".join(blocks), "utf-8")


def test_after_a_fresh_ingest_the_table_holds_every_title_word_with_its_papers(tmp_path: Path) -> None:
    db = build_catalog(tmp_path / "c.db", EXAMPLES)
    counted = table(db)
    assert counted == recount(db) and len(counted) > 100
    assert rows(db, "SELECT count(*) FROM papers WHERE title_key IS NULL") == [(0,)]
    for key, hashed in rows(db, "SELECT title_norm, title_key FROM papers"):
        assert hashed == title_words.title_hash(key)
    with closing(Catalog(db)) as catalog, catalog.connection():
        assert catalog.titles().words == {word for word, _ in counted}


def test_incremental_ingests_keep_the_counts_of_a_clean_rebuild(folder: Path, tmp_path: Path) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    before = table(db)
    rename_a_title(folder)
    (folder / "ex08_henrik-solberg.txt").unlink()
    (folder / "zz_truncated.txt").write_text((folder / CHEN).read_text("utf-8")[:300], "utf-8")  # rejected
    reingest(db, folder)
    after = dict(table(db))
    assert list(after.items()) == recount(db)
    (folder / "zz_truncated.txt").unlink()
    assert list(after.items()) == table(build_catalog(tmp_path / "clean.db", folder))
    assert after["zorbulated"] == 1 and "zorbulated" not in dict(before)
    assert any(dict(before)[word] > after.get(word, 0) for word, _ in before)  # Henrik's papers left
    # Back to the first files: back to the first counts, words no title has any more removed.
    shutil.copy(EXAMPLES / CHEN, folder)
    shutil.copy(EXAMPLES / "ex08_henrik-solberg.txt", folder)
    reingest(db, folder)
    assert table(db) == before


def test_titles_sharing_a_hash_stay_different_papers(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = papers(build_catalog(tmp_path / "normal.db", folder))
    monkeypatch.setattr(title_words, "title_hash", lambda key: 7)  # every title has the same hash
    db = build_catalog(tmp_path / "c.db", folder)
    assert papers(db) == expected
    reingest(db, folder)  # every listing found again among the colliding titles: nothing new
    assert papers(db) == expected and table(db) == recount(db)


def test_a_failure_inside_the_sync_leaves_the_counts_as_they_were(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    before = table(db)
    rename_a_title(folder)
    real = title_words.apply

    def broken(*args: object) -> None:
        raise RuntimeError("sync failed")

    monkeypatch.setattr(title_words, "apply", broken)
    with pytest.raises(RuntimeError, match="sync failed"):
        reingest(db, folder)
    assert table(db) == before == recount(db)
    monkeypatch.setattr(title_words, "apply", real)
    reingest(db, folder)  # and the next ingest brings it up to date
    assert table(db) == recount(db) != before


def schema(db: Path) -> list[tuple]:
    """Every table's columns, every index's columns and uniqueness, every trigger's table."""
    out: list[tuple] = []
    with closing(sqlite3.connect(db)) as conn:
        for kind, name, tbl in conn.execute("SELECT type, name, tbl_name FROM sqlite_master ORDER BY name"):
            if kind == "table":
                out.append((kind, name, [r[1:3] for r in conn.execute(f'PRAGMA table_info("{name}")')]))
            elif kind == "index":
                listed = f'SELECT "unique" FROM pragma_index_list("{tbl}") WHERE name = ?'
                unique = conn.execute(listed, [name]).fetchone()
                out.append((kind, name, [r[2] for r in conn.execute(f'PRAGMA index_info("{name}")')], unique))
            else:
                out.append((kind, name, tbl))
    return out


def test_a_schema_4_catalog_is_refused_by_the_server_and_upgraded_in_place_by_ingest(
    folder: Path, tmp_path: Path
) -> None:
    fresh = build_catalog(tmp_path / "fresh.db", folder)
    db = build_catalog(tmp_path / "c.db", folder)
    index = rows(db, "SELECT * FROM papers_fts_data ORDER BY id")  # the full-text index, as stored
    downgrade_to_schema_4(db)
    with pytest.raises(CatalogError, match=r"schema version 4.*run `scholar-catalog ingest .*--rebuild"):
        open_readonly(db)
    open_writable(db).conn.close()
    assert rows(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    assert schema(db) == schema(fresh)  # same tables, indexes and triggers as a new catalog's
    assert rows(db, "SELECT * FROM papers ORDER BY id") == rows(fresh, "SELECT * FROM papers ORDER BY id")
    assert table(db) == table(fresh)
    assert rows(db, "SELECT * FROM papers_fts_data ORDER BY id") == index  # no paper was indexed again
    reingest(db, folder)  # the upgraded catalog finds its papers by their new keys: nothing changes
    assert papers(db) == papers(fresh)


def test_an_upgrade_that_fails_leaves_the_schema_4_catalog_as_it_was(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    downgrade_to_schema_4(db)
    before = schema(db)
    monkeypatch.setattr(title_words, "words", lambda key: 1 / 0)
    with pytest.raises(CatalogError, match="division by zero"):
        open_writable(db)
    assert schema(db) == before
    assert rows(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [("4",)]


def test_a_file_rolled_back_after_adding_papers_leaves_no_word_behind(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scholar_catalog.db.ingest_rows import RowWriter

    db = build_catalog(tmp_path / "c.db", folder)
    before = table(db)
    rename_a_title(folder)  # Chen Ming's first paper gets a new title ...
    poisoned = folder / "zz_poisoned.txt"
    poisoned.write_text((folder / CHEN).read_text("utf-8").replace("lumen-ai", "poison-univ"), "utf-8")
    (folder / CHEN).write_text((EXAMPLES / CHEN).read_text("utf-8"), "utf-8")  # ... in the poisoned copy only
    real = RowWriter._affiliation
    poisoned_papers: list[int] = []

    def affiliation(self: RowWriter, name: str) -> int:
        if name == "poison-univ":  # after the file's new paper is written: its savepoint is rolled back
            poisoned_papers.append(self.conn.execute("SELECT max(id) FROM papers").fetchone()[0])
            raise ValueError("poisoned")
        return real(self, name)

    monkeypatch.setattr(RowWriter, "_affiliation", affiliation)
    reingest(db, folder)
    assert rows(db, "SELECT count(*) FROM profiles WHERE id = 'zz_poisoned'") == [(0,)]
    assert poisoned_papers and poisoned_papers[0] > max(paper_id for paper_id, *_ in papers(db))  # written, undone
    assert table(db) == before == recount(db)
