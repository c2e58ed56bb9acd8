"""Questions by meaning: find_experts, similar_papers, similar_authors, topic_trends, get_author's topics.

Through an MCP client on the examples (the five questions of the issue, from tools alone) and on the
labelled evaluation catalog (``bench/eval``: 8 topics, specialists, people spanning two topics, two
prolific generalists, and its ground truth); incremental ingest against a clean rebuild.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from helpers_mcp import error, ok
from mcp import Client

from conftest import AS_OF, ROOT, build_catalog, ingest_elsewhere, traced
from scholar_catalog import tools
from scholar_catalog.db import terms as T
from scholar_catalog.db import vectors
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.db.connection import open_writable
from scholar_catalog.db.ingest import ingest
from scholar_catalog.server.app import build_server

EVAL = ROOT / "bench" / "eval"
TRUTH = json.loads((EVAL / "truth.json").read_text("utf-8"))

anyio = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def test_term_counts_split_ascii_and_accented_text_into_the_same_words_as_the_letters_and_digits_rule() -> None:
    texts = [
        "Graph Neural Networks: 3D point-clouds, x_y and __init__ (A1b2)!",
        "Łukasz Kaiser's naïve Bayes in Straße, Ærø and İstanbul",
        "ℌilbert spaces, ﬁne-tuning, ① and ² (text that folds to ASCII)",
        "数据挖掘 データ e\u0301cole ʻOkina",
        "",
    ]
    for title in texts:
        for abstract in texts:
            rule = Counter(t for t in T._TOKEN_RE.findall(T.fold(abstract)) if T._accept(t))
            for t in T._TOKEN_RE.findall(T.fold(title)):
                if T._accept(t):
                    rule[t] += T.TITLE_WEIGHT
            got = T.term_counts(title, abstract)
            assert list(got.items()) == list(rule.items())  # the same terms, counts and order (sums are ordered)
    assert T.tokens("Graph-based GRAPHS, graphs") == ["graph", "graphs", "graphs"]


def test_all_words_weighed_with_zero_for_non_topic_words_give_the_topic_terms_vector() -> None:
    texts = [
        "Graph Neural Networks for the 3D point clouds of the graphs we propose",
        "Łukasz's naïve Bayes: a simple, novel method in 2024 (x y z) graph graph",
        "",
    ]
    idfs = {"graph": 2.0, "neural": 1.5, "networks": 0.5, "point": 1.0, "clouds": 3.0, "bayes": 2.5, "naive": 1.2}
    weights = {"the": 0.0, "for": 0.0, "2024": 0.0, "x": 0.0, **idfs, "propose": 0.0}  # non-topic words weigh 0
    for title in texts:
        for abstract in texts:
            words = T.word_counts(title, abstract)
            topic = Counter({t: c for t, c in words.items() if T.is_topic_term(t)})
            assert list(topic.items()) == list(T.term_counts(title, abstract).items())
            expected = T.weigh_idf(T.term_counts(title, abstract), idfs)
            assert list(T.weigh_idf(words, weights).items()) == list(expected.items())


def test_paper_vectors_stay_exact_when_the_word_weight_cache_starts_again(
    example_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scholar_catalog.tools import profiles

    with closing(Catalog(example_db)) as fresh, fresh.connection() as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM papers ORDER BY id LIMIT 6")]
        expected = {i: profiles.paper_vectors(fresh, conn, [i])[i] for i in ids}
    monkeypatch.setattr(profiles, "CACHED_WEIGHTS", 5)  # every call past the first starts the cache again
    with closing(Catalog(example_db)) as small, small.connection() as conn:
        for i in ids:
            assert profiles.paper_vectors(small, conn, [i])[i] == expected[i]


@pytest.fixture(scope="module")
def eval_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_catalog(tmp_path_factory.mktemp("eval") / "catalog.db", EVAL / "profiles")


@pytest.fixture(scope="module")
async def ev(eval_db: Path) -> AsyncIterator[Client]:
    async with Client(build_server(eval_db)) as client:
        yield client


@pytest.fixture(scope="module")
async def ex(example_db: Path) -> AsyncIterator[Client]:
    async with Client(build_server(example_db)) as client:
        yield client


@pytest.fixture
async def lexical_ex(example_db: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Client]:
    """The examples served as without the semantic extra (a server of its own: the method is cached)."""
    monkeypatch.setattr(vectors, "available", lambda: False)
    async with Client(build_server(example_db)) as client:
        yield client


# -- the five questions, on the examples, from tools alone ---------------------------------------


@anyio
async def test_the_five_questions_are_answered_on_the_examples_from_tools_alone(lexical_ex: Client) -> None:
    ex = lexical_ex
    # 1. "Who in here works on speculative decoding?"
    experts = await ok(ex, "find_experts", topic="speculative decoding", profiles_only=True)
    assert experts["method"] == "lexical" and experts["terms"] == ["speculative", "decoding"]
    assert [e["name"] for e in experts["results"]] == ["Zoë Hartmann"]
    assert (
        experts["results"][0]["evidence"][0]["title"] == "Speculative Decoding for Encoder-Decoder Translation Models"
    )
    assert experts["results"][0]["score"] == 1.0

    # 2. "What else is like this paper?"
    paper = (await ok(ex, "search_papers", query="Late-Interaction Retrieval Under a Memory Budget"))["results"][0]
    similar = await ok(ex, "similar_papers", paper_id=paper["paper_id"], limit=5)
    assert similar["paper"]["paper_id"] == paper["paper_id"]
    assert paper["paper_id"] not in [r["paper_id"] for r in similar["results"]]
    assert len(similar["results"]) == 5
    sims = [r["similarity"] for r in similar["results"]]
    assert sims == sorted(sims, reverse=True) and all(0 < s <= 1 for s in sims)
    assert all(r["why"].startswith("shares ") for r in similar["results"])

    # 3. "Who works on what Y works on but has never written with Y?"
    coauthors = {c["name"] for c in (await ok(ex, "coauthors", name="Łukasz Wróbel", limit=100))["coauthors"]}
    meet = await ok(ex, "similar_authors", name="Lukasz Wrobel", exclude_coauthors=True)
    assert meet["author"]["resolved_to"] == "Łukasz Wróbel" and meet["author"]["match"] == "normalized"
    assert meet["results"] and not {r["name"] for r in meet["results"]} & coauthors
    assert not any(r["coauthor"] for r in meet["results"])
    alike = await ok(ex, "similar_authors", name="Łukasz Wróbel", limit=50)
    assert all(r["coauthor"] == (r["name"] in coauthors) for r in alike["results"])
    assert any(r["coauthor"] for r in alike["results"])

    # 4. "What does X work on?"
    author = await ok(ex, "get_author", name="Łukasz Wróbel")
    terms = [t["term"] for t in author["topics"]]
    assert "retrieval" in terms[:3] and len(terms) == 10
    weights = [t["weight"] for t in author["topics"]]
    assert weights == sorted(weights, reverse=True) and 0 < weights[-1] <= weights[0] <= 1

    # 5. "How has work on retrieval grown since 2022?"
    trends = await ok(ex, "topic_trends", query="retrieval", year_from=2022)
    assert [b["key"] for b in trends["buckets"]] == ["2022", "2023", "2024", "2025", "2026"]
    search = await ok(ex, "search_papers", query="retrieval", year_from=2022, limit=100)
    assert trends["total"] == search["total"] == len(search["results"])
    years: dict[str, int] = {}
    for r in search["results"]:
        years[r["date"][:4]] = years.get(r["date"][:4], 0) + 1
    assert {b["key"]: b["papers"] for b in trends["buckets"] if b["papers"]} == years


@anyio
async def test_catalog_stats_names_the_ranking_method(ex: Client, lexical_ex: Client) -> None:
    stats = await ok(lexical_ex, "catalog_stats")
    assert stats["ranking_method"] == "lexical" and vectors.INSTALL_HINT in stats["note"]
    if vectors.available():  # the test extra installs the model: CI checks both
        stats = await ok(ex, "catalog_stats")
        assert stats["ranking_method"] == "hybrid" and stats["note"] is None


# -- the labelled catalog --------------------------------------------------------------------------


@anyio
@pytest.mark.parametrize("topic", sorted(TRUTH["topics"]))
async def test_the_right_experts_come_first_and_generalists_below_every_specialist(ev: Client, topic: str) -> None:
    experts = set(TRUTH["experts"][topic])
    found = await ok(ev, "find_experts", topic=TRUTH["topics"][topic]["query"], limit=50)
    names = [r["name"] for r in found["results"]]
    assert set(names[:4]) <= experts, names[:6]
    assert experts <= set(names[: len(experts) + 2]), (experts, names[:8])
    for generalist in TRUTH["generalists"]:
        # Each generalist wrote as many papers on the topic as a spanner, and more than some specialists.
        assert TRUTH["people"][generalist][topic] == 2
        if generalist in names:
            assert all(names.index(generalist) > names.index(e) for e in experts)
    scores = [r["score"] for r in found["results"]]
    assert scores[0] == 1.0 and scores == sorted(scores, reverse=True)
    top = found["results"][0]
    assert top["papers_on_topic"] >= 4 and 1 <= len(top["evidence"]) <= 3
    assert all(TRUTH["papers"][e["title"]] == topic for e in top["evidence"])


@anyio
async def test_find_experts_filters_and_profiles_only(ev: Client) -> None:
    everyone = await ok(ev, "find_experts", topic="federated learning", limit=50)
    owners = await ok(ev, "find_experts", topic="federated learning", profiles_only=True, limit=50)
    assert any(r["profile_id"] is None for r in everyone["results"])
    assert owners["results"] and all(r["profile_id"] for r in owners["results"])
    recent = await ok(ev, "find_experts", topic="federated learning", year_from=2024, limit=50)
    for expert in recent["results"]:
        assert all(e["date"] >= "2024" for e in expert["evidence"])
    none = await ok(ev, "find_experts", topic="federated", category="RO")
    assert none["results"] == [] and "filter" in none["note"]
    unknown = await ok(ev, "find_experts", topic="zyzzyva quokka")
    assert unknown["results"] == [] and unknown["terms"] == [] and "No paper uses" in unknown["note"]


def test_a_paper_is_never_similar_to_itself_and_neighbours_share_its_topic(eval_db: Path) -> None:
    catalog = Catalog(eval_db)
    try:
        with catalog.connection() as conn:
            papers = conn.execute("SELECT id, title FROM papers").fetchall()
        same = 0
        for paper_id, title in papers:
            found = tools.similar_papers(catalog, paper_id, limit=5).results
            assert paper_id not in [r.paper_id for r in found] and title not in [r.title for r in found]
            same += sum(TRUTH["papers"][r.title] == TRUTH["papers"][title] for r in found)
        assert same / (5 * len(papers)) >= 0.8
    finally:
        catalog.close()


@anyio
async def test_similar_papers_names_shared_authors(ev: Client) -> None:
    paper = (await ok(ev, "search_papers", query="Tree-Structured Drafts for Speculative Decoding"))["results"][0]
    found = await ok(ev, "similar_papers", paper_id=paper["paper_id"], limit=9)
    mine = set(paper["authors"])
    for r in found["results"]:
        details = await ok(ev, "get_paper", paper_id=r["paper_id"])
        assert set(r["shared_authors"]) == mine & {a["name"] for a in details["authors"]}
        assert "same author" not in r["why"]  # each fact once: the authors are in `shared_authors`
    assert any(r["shared_authors"] for r in found["results"])


@anyio
async def test_similar_authors_share_a_topic_and_exclude_coauthors_is_honoured(ev: Client) -> None:
    owners = set(TRUTH["profiles"])
    for name in ("Oskar Lindqvist", "Stefan Ivanov", "Keiko Morita"):
        mine = set(TRUTH["person_topics"][name])
        found = await ok(ev, "similar_authors", name=name, limit=50)
        alike = [r["name"] for r in found["results"] if r["name"] in owners][:4]
        assert all(set(TRUTH["person_topics"][o]) & mine for o in alike), (name, alike)
        coauthors = {c["name"] for c in (await ok(ev, "coauthors", name=name, limit=100))["coauthors"]}
        assert {r["name"] for r in found["results"] if r["coauthor"]} <= coauthors
        strangers = await ok(ev, "similar_authors", name=name, exclude_coauthors=True, limit=50)
        assert strangers["results"] and not any(r["coauthor"] for r in strangers["results"])
        assert not {r["name"] for r in strangers["results"]} & coauthors
        assert name not in {r["name"] for r in found["results"]}
        assert all(r["shared_topics"] for r in found["results"])


@anyio
async def test_topics_of_a_person_are_distinctive_not_frequent(ev: Client, eval_db: Path) -> None:
    catalog = Catalog(eval_db)
    try:
        with catalog.connection() as conn:
            texts = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT title, title, abstract FROM papers")}
    finally:
        catalog.close()
    spread: dict[str, set[str]] = {}
    for title, (_, abstract) in texts.items():
        for t in T.tokens(title + " " + abstract):
            spread.setdefault(t, set()).add(TRUTH["papers"][title])
    common = {t for t, topics in spread.items() if len(topics) >= 6}  # words of most topics
    assert {"model", "data"} <= common
    for topic, q in TRUTH["topics"].items():
        specialist = TRUTH["experts"][topic][0]
        author = await ok(ev, "get_author", name=specialist)
        terms = [t["term"] for t in author["topics"]]
        assert len(terms) == 10 and not common & set(terms), (specialist, terms)
        assert set(T.tokens(q["query"])) & set(terms[:5]), (specialist, q["query"], terms)
        # Not simply their most frequent words: those include words every topic uses.
        mine = Counter(t for p in author["papers"] for t in T.tokens(" ".join(texts[p["title"]])))
        frequent = [t for t, _ in mine.most_common(10)]
        assert terms != frequent


@anyio
async def test_trend_counts_equal_the_counts_of_the_same_search(ev: Client) -> None:
    cases: list[dict[str, Any]] = [
        {"query": "graph"},
        {"query": "privacy", "year_from": 2021, "year_to": 2025},
        {"query": '"dense retrieval"', "category": "IR"},
        {"query": "query optimizer", "author": "Viktor Halász"},
        {"query": ""},
        {"query": "!!!"},
    ]
    for case in cases:
        for group_by in ("year", "category"):
            trends = await ok(ev, "topic_trends", group_by=group_by, **case)
            search = await ok(ev, "search_papers", limit=100, **case)
            assert trends["total"] == search["total"], case
            key = (lambda r: r["date"][:4]) if group_by == "year" else (lambda r: r["category"])
            counts: dict[str, list[int]] = {}
            for r in search["results"]:
                counts.setdefault(key(r), [0, 0])
                counts[key(r)][0] += 1
                counts[key(r)][1] += r["has_code"]
            got = {b["key"]: [b["papers"], b["with_code"]] for b in trends["buckets"] if b["papers"]}
            assert got == counts, case
    none = await ok(ev, "topic_trends", query="zyzzyva")
    assert none["total"] == 0 and none["buckets"] == [] and none["note"]


def test_trend_counts_without_words_equal_a_plain_count_per_year_under_each_filter(eval_db: Path) -> None:
    # Without words the years are counted category by category first (no sort of every paper): the
    # answer must be the plain GROUP BY's, whatever the filters.
    catalog = Catalog(eval_db)
    cases: list[tuple[dict[str, Any], str, list[Any]]] = [
        ({}, "1", []),
        ({"category": "IR"}, "category = ?", ["IR"]),
        ({"year_from": 2022}, "year >= ?", [2022]),
        (
            {"category": "LG", "year_from": 2020, "year_to": 2024},
            "category = ? AND year BETWEEN ? AND ?",
            ["LG", 2020, 2024],
        ),
    ]
    try:
        with catalog.connection() as conn:
            for case, where, params in cases:
                expected = {
                    str(year): (papers, with_code)
                    for year, papers, with_code in conn.execute(
                        f"SELECT year, count(*), sum(has_code) FROM papers WHERE {where} GROUP BY year", params
                    )
                }
                assert expected, case
                result = tools.topic_trends(catalog, **case)
                assert {b.key: (b.papers, b.with_code) for b in result.buckets if b.papers} == expected, case
                assert result.total == sum(n for n, _ in expected.values())
    finally:
        catalog.close()


def test_the_trend_of_every_paper_is_counted_once_until_the_catalog_changes(tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    shutil.copytree(EVAL / "profiles", folder)
    db = build_catalog(tmp_path / "catalog.db", folder)
    catalog = Catalog(db)
    try:
        first = {g: tools.topic_trends(catalog, group_by=g) for g in ("year", "category")}
        with catalog.connection() as conn, traced(conn) as statements:
            again = {g: tools.topic_trends(catalog, group_by=g) for g in ("year", "category")}
            filtered = tools.topic_trends(catalog, year_from=2022)
        assert again == first
        assert [s for s in statements if "GROUP BY" in s] == [s for s in statements if "year >= " in s] != []
        assert filtered.total < first["year"].total

        for added in sorted((ROOT / "examples" / "profiles").glob("*.txt"))[:2]:
            shutil.copy(added, folder)
        assert "2 applied" in ingest_elsewhere(db, folder), "the two profiles added"
        after = {g: tools.topic_trends(catalog, group_by=g) for g in ("year", "category")}
        with catalog.connection() as conn:
            papers = conn.execute("SELECT count(*) FROM papers").fetchone()[0]
        assert after["year"].total == after["category"].total == papers > first["year"].total
    finally:
        catalog.close()


@anyio
async def test_bad_arguments_of_the_new_tools_are_explained(ev: Client) -> None:
    assert "content words" in await error(ev, "find_experts", topic="the of and")
    assert "content words" in await error(ev, "find_experts", topic="")
    assert "Unknown category" in await error(ev, "find_experts", topic="privacy", category="ZZ")
    assert "swap them" in await error(ev, "find_experts", topic="privacy", year_from=2025, year_to=2020)
    assert "No paper with paper_id 999999" in await error(ev, "similar_papers", paper_id=999999)
    assert "less than or equal to 50" in await error(ev, "similar_papers", paper_id=1, limit=51)
    assert "Give `name`" in await error(ev, "similar_authors", name="")
    assert "No author matches" in await error(ev, "similar_authors", name="Xyzzy Plugh")
    assert "No profile with profile_id" in await error(ev, "similar_authors", profile_id="nope")
    assert "group_by" in await error(ev, "topic_trends", group_by="month")
    assert "No author matches" in await error(ev, "topic_trends", query="graph", author="Xyzzy Plugh")


@anyio
async def test_namesakes_must_be_told_apart_for_similar_authors(ex: Client) -> None:
    message = await error(ex, "similar_authors", name="Wei Zhang")
    assert "ex05_wei-zhang-db" in message and "ex09_wei-zhang-cv" in message
    db = await ok(ex, "similar_authors", profile_id="ex05_wei-zhang-db", limit=3)
    assert db["author"]["profile_id"] == "ex05_wei-zhang-db" and db["author"]["match"] == "profile_id"


# -- incremental ingest gives the rankings of a clean rebuild ---------------------------------------


def _answers(db: Path) -> dict[str, Any]:
    """Every ranking the new tools give, keyed and described without paper ids (which differ by build)."""
    catalog = Catalog(db)
    out: dict[str, Any] = {}
    try:
        for topic, q in TRUTH["topics"].items():
            for text in (q["query"], q["paraphrase"]):
                found = tools.find_experts(catalog, text, limit=50).results
                out[f"experts:{text}"] = [
                    (r.name, r.profile_id, r.score, r.papers_on_topic, r.papers, [e.title for e in r.evidence])
                    for r in found
                ]
            out[f"trends:{topic}"] = tools.topic_trends(catalog, q["query"].split()[0]).model_dump()
        with catalog.connection() as conn:
            papers = conn.execute("SELECT id, title FROM papers").fetchall()
            people = [r[0] for r in conn.execute("SELECT name FROM profiles")]
        for paper_id, title in papers:
            found = tools.similar_papers(catalog, paper_id, limit=10).results
            out[f"similar:{title}"] = [(r.title, r.similarity, r.shared_authors, r.why) for r in found]
        for name in people:
            found = tools.similar_authors(catalog, name, limit=20).results
            out[f"alike:{name}"] = [(r.name, r.similarity, r.coauthor, r.shared_topics) for r in found]
            out[f"topics:{name}"] = [(t.term, t.weight) for t in tools.get_author(catalog, name).topics]
    finally:
        catalog.close()
    return out


def test_a_changed_or_removed_profile_ranks_as_a_clean_rebuild_would(tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    shutil.copytree(EVAL / "profiles", folder)
    incremental = build_catalog(tmp_path / "incremental.db", folder)
    before = _answers(incremental)

    sys.path.insert(0, str(EVAL))
    try:
        import make_profiles
    finally:
        sys.path.remove(str(EVAL))
    papers, owned = make_profiles.deal()
    authors = make_profiles.authors_of(papers, owned)
    # Changed: Tariq Mensah keeps three of his papers; Ilse Brandvold's listing of one gains a longer
    # abstract, about privacy. Removed: Oskar Lindqvist, a dense-retrieval specialist.
    tariq = folder / f"{TRUTH['profiles']['Tariq Mensah']}.txt"
    tariq.write_text(make_profiles.profile_text("Tariq Mensah", owned["Tariq Mensah"][:3], papers, authors), "utf-8")
    ilse = folder / f"{TRUTH['profiles']['Ilse Brandvold']}.txt"
    text = ilse.read_text("utf-8")
    sentence = "Speculative sampling preserves the target distribution exactly through a rejection step."
    assert sentence in text
    ilse.write_text(text.replace(sentence, sentence + " The drafts are kept under differential privacy."), "utf-8")
    (folder / f"{TRUTH['profiles']['Oskar Lindqvist']}.txt").unlink()

    database = open_writable(incremental)
    try:
        report = ingest(database, [folder], as_of=AS_OF, prune=True)
    finally:
        database.conn.close()
    assert report.applied == 2 and report.pruned == [TRUTH["profiles"]["Oskar Lindqvist"]]
    rebuilt = build_catalog(tmp_path / "rebuilt.db", folder)

    after, clean = _answers(incremental), _answers(rebuilt)
    assert after == clean
    assert after != before
    # Oskar Lindqvist's papers still name him: now as a person known only from author lists.
    assert ("Oskar Lindqvist", TRUTH["profiles"]["Oskar Lindqvist"]) in [
        r[:2] for r in before["experts:dense retrieval"]
    ]
    assert ("Oskar Lindqvist", None) in [r[:2] for r in after["experts:dense retrieval"]]


def test_the_examples_catalog_is_untouched_by_asking(example_db: Path) -> None:
    """The vocabulary view lives in the connection's temp schema: asking writes nothing to the catalog."""
    before = example_db.stat().st_mtime_ns, example_db.stat().st_size
    catalog = Catalog(example_db)
    try:
        assert tools.find_experts(catalog, "retrieval").results
        with catalog.connection() as conn:
            assert conn.execute("PRAGMA query_only").fetchone()[0] == 1
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            assert not any("vocab" in t for t in tables)
    finally:
        catalog.close()
    assert (example_db.stat().st_mtime_ns, example_db.stat().st_size) == before
