"""The ``term_docs`` table: each term's paper count, anywhere and in titles, kept exact at ingest
(db/term_docs.py).

Its truth is FTS5's own count (``fts5vocab``'s ``row`` table, ``doc``, and its ``col`` table's rows
for ``title``), which reads walk no more: after a fresh ingest and after incremental ones (an edited
abstract with accents and combining marks, an edited title, a pruned profile, a profile listing
already-known papers, a namesake) the table equals it and equals a clean rebuild's; a failure inside
the sync leaves it as it was; catalogs of schemas 3 and 5 are refused by the server and upgraded in
place by ingest.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    EXAMPLES,
    build_catalog,
    downgrade_to_schema_4,
    downgrade_to_schema_5,
    downgrade_to_schema_6,
    facet_rows,
    kept_counts,
    reingest,
    vocab_counts,
)
from scholar_catalog.db import facets, term_docs, terms, vectors
from scholar_catalog.db.connection import CatalogError, open_readonly, open_writable
from scholar_catalog.db.schema import SCHEMA_VERSION

SENTENCE = "We learn a compression scheme for scene graphs"
# Precomposed and combining accents, a ligature, Cyrillic, CJK, a number and a superscript: FTS5 decides.
ADDED = " Zorbulated naïve nai\u0308ve e\u0301tude ﬁligree Кодек 編碼器 2048 x² "
NAMESAKE = "ex09_wei-zhang-cv.txt"  # the other Wei Zhang (ex05) is there from the start
TITLE = "Mixed-Precision Quantization Search as Knapsack Optimization"
RETITLED = "Mixed-Precision Quantization Search as Knapsack Optimization of Quillworts"


def docs(counts: list[tuple[str, int, int]]) -> dict[str, int]:
    """Each term's number of papers, from :func:`kept_counts` or :func:`vocab_counts`."""
    return {term: n for term, n, _ in counts}


def title_docs(counts: list[tuple[str, int, int]]) -> dict[str, int]:
    """Each term's number of papers holding it in their title."""
    return {term: n for term, _, n in counts}


@pytest.fixture(params=["by delta", "by recount"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each batch's counts moved by the delta of its texts, or recounted from the index (a small catalog)."""
    monkeypatch.setattr(term_docs, "RECOUNT_RATIO", 0 if request.param == "by delta" else 10**9)
    return request.param


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "profiles"
    shutil.copytree(EXAMPLES, out)
    (out / NAMESAKE).unlink()
    return out


def change(folder: Path) -> None:
    """Edit an abstract and a title, remove a profile, add one listing known papers only, add a namesake."""
    chen = folder / "ex03_chen-ming.txt"
    text = chen.read_text("utf-8")
    assert SENTENCE in text and TITLE in text
    chen.write_text(text.replace(SENTENCE, SENTENCE + ADDED, 1).replace(TITLE, RETITLED, 1), "utf-8")
    (folder / "ex08_henrik-solberg.txt").unlink()
    (folder / "ex10_kai-maren.txt").write_text("Kai Maren" + text.split("\n", 1)[1], "utf-8")
    shutil.copy(EXAMPLES / NAMESAKE, folder / NAMESAKE)


def test_after_a_fresh_ingest_the_table_holds_the_index_own_count_of_every_kept_term(
    folder: Path, tmp_path: Path, way: str
) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    counts = kept_counts(db)
    assert counts == vocab_counts(db)
    assert docs(counts)["compression"] >= 2 and "the" in docs(counts)  # stopwords are counted too
    assert all(len(t) >= 2 and not t.isdigit() for t, _, _ in counts)
    assert 0 < title_docs(counts)["compression"] < docs(counts)["compression"]  # titles hold it less often
    assert title_docs(counts)["zhang"] == 0 < docs(counts)["zhang"]  # an author's name, in no title


def test_after_incremental_ingests_the_table_equals_the_index_and_a_clean_rebuild(
    folder: Path, tmp_path: Path, way: str
) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    first = kept_counts(db)
    before = docs(first)
    change(folder)
    reingest(db, folder)
    counts = kept_counts(db)
    after = docs(counts)
    assert counts == vocab_counts(db)
    assert counts == kept_counts(build_catalog(tmp_path / "clean.db", folder))
    assert "zorbulated" in after and "zorbulated" not in before
    assert title_docs(counts)["zorbulated"] == 0 and title_docs(counts)["quillworts"] == 1  # abstract; title
    assert after["maren"] == before.get("maren", 0) + 9  # Kai Maren's 9 papers, all already known
    assert after != before and any(before[t] > after.get(t, 0) for t in before)  # Henrik's papers left
    # Back to the first files: back to the first counts, terms no paper has any more removed.
    (folder / "ex10_kai-maren.txt").unlink()
    (folder / NAMESAKE).unlink()
    shutil.copy(EXAMPLES / "ex03_chen-ming.txt", folder)
    shutil.copy(EXAMPLES / "ex08_henrik-solberg.txt", folder)
    reingest(db, folder)
    assert kept_counts(db) == first


@pytest.mark.parametrize("where", ["term counts", "vectors"])
def test_a_failure_inside_the_sync_leaves_the_counts_as_they_were(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.setattr(term_docs, "RECOUNT_RATIO", 0)  # by delta: a recount cannot fail half-way otherwise
    db = build_catalog(tmp_path / "c.db", folder)
    before = kept_counts(db)
    change(folder)

    real = term_docs._counts if where == "term counts" else vectors.refresh

    def broken(*args: object) -> None:
        raise RuntimeError("sync failed")

    monkeypatch.setattr(*(term_docs, "_counts") if where == "term counts" else (vectors, "refresh"), broken)
    with pytest.raises(RuntimeError, match="sync failed"):
        reingest(db, folder)
    assert kept_counts(db) == before == vocab_counts(db)
    monkeypatch.setattr(*(term_docs, "_counts", real) if where == "term counts" else (vectors, "refresh", real))
    reingest(db, folder)  # and the next ingest brings it up to date
    assert kept_counts(db) == vocab_counts(db) != before


@pytest.mark.parametrize("column", ["docs", "title_docs"])
def test_the_readers_read_the_kept_counts(folder: Path, tmp_path: Path, column: str) -> None:
    """``terms.document_frequencies`` (anywhere; terms no paper has left out) and ``term_docs.in_titles``
    (in titles; 0 for a term no title has) read the table, not the index."""
    db = build_catalog(tmp_path / "c.db", folder)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(f"UPDATE term_docs SET {column} = 12345 WHERE term = 'compression'")
        conn.commit()
    read = terms.document_frequencies if column == "docs" else term_docs.in_titles
    conn = open_readonly(db)
    try:
        found = read(conn, ["compression", "zorbulated", "scene", "scene"])
    finally:
        conn.close()
    truth = (docs if column == "docs" else title_docs)(vocab_counts(db))
    assert found == {"compression": 12345, "scene": truth["scene"]} | (
        {"zorbulated": 0} if column == "title_docs" else {}
    )


def downgrade_to_schema_3(db: Path) -> None:
    """Make *db* what scholar-catalog built at schema version 3: schema 4's, without the term_docs table."""
    downgrade_to_schema_4(db)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("DROP TABLE term_docs")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
        conn.commit()


DOWNGRADES = {
    3: downgrade_to_schema_3,
    4: downgrade_to_schema_4,
    5: downgrade_to_schema_5,
    6: downgrade_to_schema_6,
}


def as_is(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The catalog's schema objects with their SQL, its meta rows, and its term_docs rows (none without)."""
    with closing(sqlite3.connect(db)) as conn:
        objects = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        meta = conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall()
        has_table = any(name == "term_docs" for _, name, _, _ in objects)
        return objects, meta, conn.execute("SELECT * FROM term_docs ORDER BY term").fetchall() if has_table else []


@pytest.mark.parametrize("version", sorted(DOWNGRADES))
def test_an_older_catalog_is_refused_by_the_server_and_upgraded_in_place_by_ingest(
    folder: Path, tmp_path: Path, version: int
) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    fresh = kept_counts(db)
    DOWNGRADES[version](db)
    with pytest.raises(CatalogError, match=rf"schema version {version}.*run `scholar-catalog ingest .*--rebuild"):
        open_readonly(db)
    open_writable(db).conn.close()
    assert kept_counts(db) == fresh
    assert facet_rows(db) == (papers_columns := facet_rows(db, "papers")) and len(papers_columns) > 50
    with closing(sqlite3.connect(db)) as plain:
        assert plain.execute("SELECT 1 FROM sqlite_master WHERE name = 'papers_facets'").fetchone() is None
        assert facets.intact(plain)  # and they stay equal as papers change (tests/test_facets.py)
    conn = open_readonly(db)
    try:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    finally:
        conn.close()


@pytest.mark.parametrize("version", sorted(DOWNGRADES))
def test_an_upgrade_that_fails_leaves_the_older_catalog_as_it_was(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: int
) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    DOWNGRADES[version](db)
    before = as_is(db)
    assert dict(before[1])["schema_version"] == str(version) and bool(before[2]) == (version > 3)
    if version < 6:
        monkeypatch.setattr(term_docs, "kept", lambda term: 1 / 0)  # fails after the title keys (from 3 and 4)
    else:  # schema 6 only gains the facets table: fail once it is made and filled, and the old index dropped
        real = facets.upgrade
        monkeypatch.setattr(facets, "upgrade", lambda conn: (real(conn), 1 / 0))
    with pytest.raises(CatalogError, match="division by zero"):
        open_writable(db)
    assert as_is(db) == before


def stale(db: Path) -> bool:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT 1 FROM meta WHERE key = ?", [term_docs.STALE_KEY]).fetchone() is not None


def test_a_new_catalog_is_counted_once_at_the_end_and_reads_meanwhile_count_from_the_index(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(term_docs, "RECOUNT_RATIO", 10**9)  # every batch changes "much" of the catalog
    fills: list[int] = []
    real_fill = term_docs.fill
    monkeypatch.setattr(term_docs, "fill", lambda conn: (fills.append(1), real_fill(conn))[1])
    monkeypatch.setattr("scholar_catalog.db.ingest.BATCH_FILES", 2)  # several batches

    def stopped(self: object) -> None:
        raise KeyboardInterrupt  # the run stops after its batches were committed, before its last one

    monkeypatch.setattr("scholar_catalog.db.ingest.Ingester.finish", stopped)
    with pytest.raises(KeyboardInterrupt):
        build_catalog(tmp_path / "c.db", folder)
    db = tmp_path / "c.db"
    assert stale(db) and fills == []
    truth = docs(vocab_counts(db))
    conn = open_readonly(db)
    try:  # the counts lag, so reads ask the index itself: the same answers
        assert terms.document_frequencies(conn, ["compression", "scene", "zorbulated"]) == {
            "compression": truth["compression"],
            "scene": truth["scene"],
        }
    finally:
        conn.close()

    monkeypatch.undo()
    monkeypatch.setattr(term_docs, "fill", lambda conn: (fills.append(1), real_fill(conn))[1])
    change(folder)
    reingest(db, folder)  # the next run's last batch counts once
    assert not stale(db) and fills == [1]
    assert kept_counts(db) == vocab_counts(db)
