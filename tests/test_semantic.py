"""The ``[semantic]`` extra: paper vectors kept at ingest, hybrid ranking, and lexical ranking without it.

The model (wordllama, weights inside its wheel) comes with the ``test`` extra; tests that need it are
skipped where it is missing, and the rest simulate its absence by switching ``vectors.available`` off.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, build_catalog, ingest_elsewhere, reingest
from scholar_catalog import tools
from scholar_catalog.db import vectors
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.db.connection import CatalogError, open_readonly, open_writable

EVAL = ROOT / "bench" / "eval"
TRUTH = json.loads((EVAL / "truth.json").read_text("utf-8"))
PARAPHRASES = json.loads((EVAL / "paraphrases.json").read_text("utf-8"))
SENTENCE = "Speculative sampling preserves the target distribution exactly through a rejection step."
ADDED = " The drafts are zorbulated."  # a word no paper uses
LONER = """Quill Ashdown

DB
h-index3
1papers
9citations

1 Papers

70.0DBMar 3, 2025
Compaction Schedules for Log-Structured Merge Trees on Shingled Disks

Quill Ashdown · tarn-univ

We schedule compactions of log-structured merge trees around the write zones of shingled disks.
"""

needs_model = pytest.mark.skipif(not vectors.installed(), reason="the semantic extra is not installed")


def stored(db: Path) -> dict[str, bytes]:
    """Title -> stored vector."""
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT p.title, v.vec FROM paper_vectors v JOIN papers p ON p.id = v.paper_id"))


def scalar(db: Path, sql: str) -> object:
    with sqlite3.connect(db) as conn:
        row = conn.execute(sql).fetchone()
        return row[0] if row else None


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "profiles"
    shutil.copytree(EVAL / "profiles", out)
    return out


@pytest.fixture(scope="module")
def eval_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_catalog(tmp_path_factory.mktemp("semantic") / "catalog.db", EVAL / "profiles")


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the extra were not installed."""
    monkeypatch.setattr(vectors, "available", lambda: False)
    monkeypatch.setattr(vectors, "installed", lambda: False)


# -- ingest ------------------------------------------------------------------------------------


@needs_model
def test_ingest_stores_one_int8_vector_per_paper_and_names_the_model(eval_db: Path) -> None:
    vecs = stored(eval_db)
    assert len(vecs) == scalar(eval_db, "SELECT count(*) FROM papers") == len(TRUTH["papers"])
    assert {len(v) for v in vecs.values()} == {vectors.DIM}
    assert scalar(eval_db, "SELECT value FROM meta WHERE key = 'vector_model'") == vectors.MODEL_NAME


@needs_model
def test_a_changed_abstract_gets_a_new_vector_and_a_removed_profile_takes_its_papers_vectors(
    folder: Path, tmp_path: Path
) -> None:
    (folder / "loner.txt").write_text(LONER, "utf-8")
    db = build_catalog(tmp_path / "c.db", folder)
    before = stored(db)
    assert len(before) == len(TRUTH["papers"]) + 1
    ilse = folder / f"{TRUTH['profiles']['Ilse Brandvold']}.txt"
    ilse.write_text(ilse.read_text("utf-8").replace(SENTENCE, SENTENCE + ADDED), "utf-8")
    (folder / "loner.txt").unlink()
    reingest(db, folder)

    after = stored(db)
    titles = {r for (r,) in sqlite3.connect(db).execute("SELECT title FROM papers")}
    assert set(after) == titles == set(TRUTH["papers"])  # the removed profile's only paper and its vector: gone
    changed = [t for t in titles if after[t] != before[t]]
    assert len(changed) == 1 and TRUTH["papers"][changed[0]] == "speculative_decoding"
    # The same vectors as a clean build of the same files.
    assert after == stored(build_catalog(tmp_path / "clean.db", folder))


@needs_model
def test_a_failure_while_embedding_leaves_papers_index_and_vectors_as_they_were(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    before = (stored(db), scalar(db, "SELECT group_concat(abstract, '|') FROM papers"))
    ilse = folder / f"{TRUTH['profiles']['Ilse Brandvold']}.txt"
    ilse.write_text(ilse.read_text("utf-8").replace(SENTENCE, SENTENCE + ADDED), "utf-8")

    def broken(texts: list[str]) -> None:
        raise RuntimeError("embedding failed")

    monkeypatch.setattr(vectors, "embed", broken)
    with pytest.raises(RuntimeError, match="embedding failed"):
        reingest(db, folder)
    assert (stored(db), scalar(db, "SELECT group_concat(abstract, '|') FROM papers")) == before
    assert scalar(db, "SELECT count(*) FROM papers_fts WHERE papers_fts MATCH 'zorbulated'") == 0


def test_without_the_extra_ingest_writes_no_vectors_and_the_tools_rank_lexically(
    tmp_path: Path, no_model: None
) -> None:
    db = build_catalog(tmp_path / "c.db", EVAL / "profiles")
    assert scalar(db, "SELECT count(*) FROM paper_vectors") == 0
    assert scalar(db, "SELECT value FROM meta WHERE key = 'vector_model'") is None
    catalog = Catalog(db)
    try:
        experts = tools.find_experts(catalog, "speculative decoding")
        assert experts.method == "lexical" and vectors.INSTALL_HINT in experts.note
        assert experts.results[0].name in TRUTH["experts"]["speculative_decoding"]
        similar = tools.similar_papers(catalog, 1, limit=3)
        assert similar.method == "lexical" and similar.results
        assert tools.catalog_stats(catalog).ranking_method == "lexical"
    finally:
        catalog.close()


@needs_model
def test_an_unchanged_reingest_of_a_complete_catalog_never_loads_the_model(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    before = stored(db)
    loads: list[str] = []
    monkeypatch.setattr(vectors, "_load", lambda: loads.append("load"))
    reingest(db, folder)
    assert loads == [] and stored(db) == before
    # A changed file does need it (and here gets none: the stand-in loader returns no model).
    ilse = folder / f"{TRUTH['profiles']['Ilse Brandvold']}.txt"
    ilse.write_text(ilse.read_text("utf-8").replace(SENTENCE, SENTENCE + ADDED), "utf-8")
    reingest(db, folder)
    assert loads


@needs_model
def test_a_catalog_built_without_vectors_says_reingest_and_reingest_fills_them(tmp_path: Path, folder: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vectors, "available", lambda: False)
        db = build_catalog(tmp_path / "c.db", folder)
    catalog = Catalog(db)
    try:
        stats = tools.catalog_stats(catalog)
        assert stats.ranking_method == "lexical" and "re-run `scholar-catalog ingest`" in (stats.note or "")
        ingest_elsewhere(db, folder, prune=True)  # no file changed: only the vectors are added
        assert len(stored(db)) == len(TRUTH["papers"])
        assert tools.catalog_stats(catalog).ranking_method == "hybrid"
        assert tools.find_experts(catalog, "speculative decoding").method == "hybrid"
    finally:
        catalog.close()


@needs_model
def test_vectors_of_another_model_are_replaced_at_the_next_ingest(tmp_path: Path, folder: Path) -> None:
    db = build_catalog(tmp_path / "c.db", folder)
    fresh = stored(db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = 'some-other-model' WHERE key = 'vector_model'")
        conn.execute("UPDATE paper_vectors SET vec = zeroblob(256)")
    catalog = Catalog(db)
    try:
        assert tools.find_experts(catalog, "speculative decoding").method == "lexical"
    finally:
        catalog.close()
    reingest(db, folder)
    assert stored(db) == fresh
    assert scalar(db, "SELECT value FROM meta WHERE key = 'vector_model'") == vectors.MODEL_NAME


def test_a_catalog_of_the_previous_schema_is_refused_with_the_rebuild_command(tmp_path: Path) -> None:
    db = build_catalog(tmp_path / "c.db", EVAL / "profiles")
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE paper_vectors")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    with pytest.raises(CatalogError, match=r"rebuild it from the profile files with `scholar-catalog ingest --rebuild"):
        open_readonly(db)
    with pytest.raises(CatalogError, match=r"rebuild it with `scholar-catalog ingest --rebuild"):
        open_writable(db)


# -- hybrid ranking ----------------------------------------------------------------------------------


def _precision(names: list[str], topic: str) -> float:
    return sum(n in TRUTH["experts"][topic] for n in names[:5]) / 5


@needs_model
def test_hybrid_finds_the_experts_of_paraphrased_topics_better_than_words_alone(
    eval_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = [(t, p) for t, q in TRUTH["topics"].items() for p in [q["paraphrase"], *PARAPHRASES[t]]]
    hybrid, lexical = Catalog(eval_db), Catalog(eval_db)
    try:
        found = {q: tools.find_experts(hybrid, q) for _, q in queries}
        assert {r.method for r in found.values()} == {"hybrid"}
        hybrid_p = [_precision([e.name for e in found[q].results], t) for t, q in queries]
        with monkeypatch.context() as patch:
            patch.setattr(vectors, "available", lambda: False)
            lexical_p = [_precision([e.name for e in tools.find_experts(lexical, q).results], t) for t, q in queries]
        # Dense retrieval without its words: all five first are its experts only when meaning counts.
        i = [q for _, q in queries].index(PARAPHRASES["dense_retrieval"][1])
        assert hybrid_p[i] == 1.0 and lexical_p[i] <= 0.6
        assert sum(hybrid_p) / len(queries) > sum(lexical_p) / len(queries) + 0.05
        # Own words stay right: every expert of speculative decoding in the first five, generalists below.
        own = [e.name for e in tools.find_experts(hybrid, "speculative decoding").results]
        assert set(own[:5]) == set(TRUTH["experts"]["speculative_decoding"])
        assert not set(own[:5]) & set(TRUTH["generalists"])
    finally:
        hybrid.close()
        lexical.close()


@needs_model
def test_hybrid_similar_papers_never_returns_the_paper_and_a_made_up_topic_finds_nobody(eval_db: Path) -> None:
    catalog = Catalog(eval_db)
    try:
        with catalog.connection() as conn:
            papers = conn.execute("SELECT id, title FROM papers").fetchall()
        same = 0
        for paper_id, title in papers:
            found = tools.similar_papers(catalog, paper_id, limit=5)
            assert found.method == "hybrid" and paper_id not in [r.paper_id for r in found.results]
            sims = [r.similarity for r in found.results]
            assert sims == sorted(sims, reverse=True) and all(0 < s <= 1 for s in sims)
            same += sum(TRUTH["papers"][r.title] == TRUTH["papers"][title] for r in found.results)
        assert same / (5 * len(papers)) >= 0.95
        nothing = tools.find_experts(catalog, "zyzzyva quokka")
        assert nothing.results == [] and "close to them in meaning" in nothing.note
        assert tools.similar_authors(catalog, "Ilse Brandvold").method == "lexical"
    finally:
        catalog.close()


@needs_model
def test_the_model_loads_with_no_network_and_no_cache(tmp_path: Path) -> None:
    script = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from scholar_catalog.db import vectors\n"
        "assert vectors.available(), vectors.load_error()\n"
        "v = vectors.embed(['learned index structures', 'graph neural networks'])\n"
        "assert v.shape == (2, vectors.DIM)\n"
        "print('ok')\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env |= {"HF_HUB_OFFLINE": "1", "NO_PROXY": "*"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert not (tmp_path / "cache").exists() and not (tmp_path / ".cache").exists()


def test_status_reports_the_active_ranking_method_and_how_to_get_hybrid(
    eval_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scholar_catalog.server.status import catalog_status, render

    if vectors.available():
        assert "ranking: hybrid\n" in render(catalog_status(eval_db, home=eval_db.parent, workspace=eval_db.parent))
    monkeypatch.setattr(vectors, "available", lambda: False)
    status = catalog_status(eval_db, home=eval_db.parent, workspace=eval_db.parent)
    assert (
        status.ranking_method == "lexical"
        and f"ranking: lexical (For hybrid (by meaning) ranking: {vectors.INSTALL_HINT}" in render(status)
    )
