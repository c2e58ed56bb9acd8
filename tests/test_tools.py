"""The tools' answers, through a real MCP client session connected in-process.

Seed-based tests use the two real seed profiles (``seed_db``); example-based tests use
the bundled fictional profiles (``example_db``), whose facts are listed in
``examples/profiles/README.md``. Every successful call goes through
:func:`helpers_mcp.ok`, which also validates the result against the tool's outputSchema.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers_mcp import error, ok, titles
from mcp import Client

from scholar_catalog.server.app import build_server

pytestmark = pytest.mark.anyio

RITIKA = "000_67c3570f253eda13"
ABHINAV = "004_cc442b40650344ee"
NEMOTRON_3_SUPER = (
    "Nemotron 3 Super: Open, Efficient Mixture-of-Experts Hybrid Mamba-Transformer Model for Agentic Reasoning"
)
# The papers both seed profiles list (read from the two files).
SEED_SHARED_PAPERS = {
    NEMOTRON_3_SUPER,
    "NVIDIA Nemotron Nano 2: An Accurate and Efficient Hybrid Mamba-Transformer Reasoning Model",
    "LatentMoE: Toward Optimal Accuracy per FLOP and Parameter in Mixture of Experts",
    "Nemotron 3 Nano: Open, Efficient Mixture-of-Experts Hybrid Mamba-Transformer Model for Agentic Reasoning",
    "NVIDIA Nemotron 3: Efficient and Open Intelligence",
}

LUKASZ, ZOE, CHEN, JOSE = "ex01_lukasz-wrobel", "ex02_zoe-hartmann", "ex03_chen-ming", "ex04_jose-alvarez"
WEI_DB, WEI_CV, HENRIK = "ex05_wei-zhang-db", "ex09_wei-zhang-cv", "ex08_henrik-solberg"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def seed(seed_db: Path) -> AsyncIterator[Client]:
    async with Client(build_server(seed_db)) as client:
        yield client


@pytest.fixture(scope="module")
async def ex(example_db: Path) -> AsyncIterator[Client]:
    async with Client(build_server(example_db)) as client:
        yield client


async def paper_by_title(client: Client, title: str) -> dict:
    found = await ok(client, "search_papers", query=f'"{title}"', limit=5)
    ids = [p["paper_id"] for p in found["results"] if p["title"] == title]
    assert ids, f"{title!r} not found"
    return await ok(client, "get_paper", paper_id=ids[0])


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


# -- seed profiles ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "other", "other_id"),
    [("Ritika Borkar", "Abhinav Khattar", ABHINAV), ("Abhinav Khattar", "Ritika Borkar", RITIKA)],
)
async def test_seed_owners_are_each_others_coauthors(seed: Client, name: str, other: str, other_id: str) -> None:
    result = await ok(seed, "coauthors", name=name, limit=100)
    by_name = {c["name"]: c for c in result["coauthors"]}
    assert other in by_name
    assert by_name[other]["profile_id"] == other_id
    assert by_name[other]["shared_papers"] == len(SEED_SHARED_PAPERS)
    assert set(by_name[other]["titles"]) == SEED_SHARED_PAPERS
    assert result["total"] >= len(result["coauthors"])
    assert "lower bound" in result["note"]


async def test_seed_shared_coauthors(seed: Client) -> None:
    result = await ok(seed, "shared_coauthors", author_a="Ritika Borkar", author_b="Abhinav Khattar")
    shared = {s["name"]: s for s in result["shared"]}
    assert "Aaron Blakeman" in shared
    assert "Tiyasa Mitra" not in shared  # only in Ritika's profile
    assert {"Ritika Borkar", "Abhinav Khattar"}.isdisjoint(shared)
    blakeman = shared["Aaron Blakeman"]
    assert set(titles(blakeman["papers_with_a"])) <= SEED_SHARED_PAPERS | {
        "Nemotron-H: A Family of Accurate and Efficient Hybrid Mamba-Transformer Models"
    }
    assert "Nemotron-H: A Family of Accurate and Efficient Hybrid Mamba-Transformer Models" in titles(
        blakeman["papers_with_b"]
    )
    assert set(titles(result["direct"])) == SEED_SHARED_PAPERS
    assert len(result["direct"]) == 5
    assert "truncated" in result["note"] and "lower bound" in result["note"]
    assert result["author_a"]["profile_id"] == RITIKA and result["author_b"]["profile_id"] == ABHINAV


async def test_seed_yearless_date_and_both_listings(seed: Client) -> None:
    paper = await paper_by_title(seed, NEMOTRON_3_SUPER)
    assert paper["date"] == "2026-04-14"  # 'Apr 14' with as_of 2026-11-24
    listings = {listing["profile_id"]: listing for listing in paper["listed_in"]}
    assert set(listings) == {RITIKA, ABHINAV}
    assert listings[RITIKA]["score"] == 95.3
    assert listings[ABHINAV]["score"] == 95.1
    for listing in listings.values():
        assert listing["date_raw"] == "Apr 14"
        assert listing["date"] == "2026-04-14"
        assert listing["category"] == "LG"
        assert listing["has_code"] is True
    assert paper["has_code"] is True
    assert paper["authors_truncated"] is True
    assert paper["affiliations"] == ["amazon-science", "cmu"]


async def test_seed_get_paper_lists_both_owners_as_authors(seed: Client) -> None:
    paper = await paper_by_title(seed, NEMOTRON_3_SUPER)
    authors = {a["name"]: a for a in paper["authors"]}
    listed = [a["name"] for a in paper["authors"] if a["position"] is not None]
    assert listed == ["Aakshita Chandiramani", "Aaron Blakeman", "Abdullahi Olaoye"]
    assert [a["position"] for a in paper["authors"] if a["position"] is not None] == [1, 2, 3]
    for owner, pid in (("Ritika Borkar", RITIKA), ("Abhinav Khattar", ABHINAV)):
        assert authors[owner]["known_as"] == "profile_owner"
        assert authors[owner]["profile_id"] == pid
        assert authors[owner]["position"] is None
    assert authors["Aaron Blakeman"]["known_as"] == "listed"


@pytest.mark.parametrize(
    ("typed", "resolved", "profile_id"),
    [("Ritika Borker", "Ritika Borkar", RITIKA), ("abhinav khatar", "Abhinav Khattar", ABHINAV)],
)
async def test_seed_typo_resolves_fuzzily(seed: Client, typed: str, resolved: str, profile_id: str) -> None:
    author = await ok(seed, "get_author", name=typed)
    assert author["name"] == resolved
    assert author["profile_id"] == profile_id
    assert author["resolution"]["match"] == "fuzzy"
    assert 0 < author["resolution"]["confidence"] < 1
    assert author["resolution"]["query"] == typed
    assert "resolved_from" not in author and "confidence" not in author  # said once, in `resolution`
    assert author["h_index"] == 57
    coauthors = await ok(seed, "coauthors", name=typed)
    assert coauthors["resolution"]["match"] == "fuzzy"
    assert coauthors["author"]["profile_id"] == profile_id


async def test_seed_typo_in_pair_tools(seed: Client) -> None:
    result = await ok(seed, "shared_coauthors", author_a="Ritika Borker", author_b="abhinav khatar")
    assert result["author_a"]["match"] == result["author_b"]["match"] == "fuzzy"
    assert len(result["direct"]) == 5


async def test_seed_name_below_threshold_lists_closest_names(seed: Client) -> None:
    message = await error(seed, "get_author", name="Ritika Sharma")
    assert "Ritika Sharma" in message
    assert "Ritika Borkar" in message  # the closest name is offered
    assert "search_authors" in message


async def test_seed_profile_stats(seed: Client) -> None:
    author = await ok(seed, "get_author", name="Abhinav Khattar")
    assert author["resolution"]["match"] == "exact"
    assert author["resolution"]["confidence"] == 1.0
    assert (author["primary_category"], author["h_index"], author["citations"]) == ("CL", 57, 306)
    assert (author["papers_declared"], author["novelty"], author["ai_score"]) == (10, 49, 58)
    assert author["papers_in_catalog"] == 10
    assert author["years_active"] == [2019, 2026]


async def test_seed_listed_only_author(seed: Client) -> None:
    author = await ok(seed, "get_author", name="Aaron Blakeman")
    assert author["profile_id"] is None
    assert author["h_index"] is None
    assert author["note"]  # says there is no profile
    assert NEMOTRON_3_SUPER in titles(author["papers"])
    coauthor_names = {c["name"] for c in author["top_coauthors"]}
    assert {"Ritika Borkar", "Abhinav Khattar"} <= coauthor_names


# -- example profiles: people -----------------------------------------------------------


async def test_two_wei_zhangs_are_candidates_not_merged(ex: Client) -> None:
    result = await ok(ex, "get_author", name="Wei Zhang")
    candidates = {c["profile_id"]: c for c in result["candidates"]}
    assert set(candidates) == {WEI_DB, WEI_CV}
    assert (candidates[WEI_DB]["primary_category"], candidates[WEI_DB]["h_index"]) == ("DB", 41)
    assert (candidates[WEI_CV]["primary_category"], candidates[WEI_CV]["h_index"]) == ("CV", 9)
    assert candidates[WEI_DB]["papers"] == 12 and candidates[WEI_CV]["papers"] == 6
    assert all(c["top_paper"] for c in candidates.values())
    # nothing of either person is merged into the answer
    assert result["profile_id"] is None
    assert result["papers"] == [] and result["top_coauthors"] == []
    assert result["h_index"] is None
    assert "profile_id" in result["note"]


async def test_profile_id_picks_one_wei_zhang(ex: Client) -> None:
    db = await ok(ex, "get_author", name="Wei Zhang", profile_id=WEI_DB, papers_limit=100)
    cv = await ok(ex, "get_author", name="Wei Zhang", profile_id=WEI_CV, papers_limit=100)
    assert (db["profile_id"], db["primary_category"], db["h_index"], db["citations"]) == (WEI_DB, "DB", 41, 5120)
    assert (cv["profile_id"], cv["primary_category"], cv["h_index"], cv["citations"]) == (WEI_CV, "CV", 9, 143)
    assert db["candidates"] == [] and cv["candidates"] == []
    assert db["papers_in_catalog"] == 12 and cv["papers_in_catalog"] == 6
    assert set(titles(db["papers"])).isdisjoint(titles(cv["papers"]))
    assert "Provenance-Aware Query Optimization" in titles(db["papers"])
    assert "Event-Camera Optical Flow with Spiking Recurrent Networks" in titles(cv["papers"])
    assert db["resolution"]["match"] == cv["resolution"]["match"] == "profile_id"


async def test_wei_zhangs_keep_separate_coauthors(ex: Client) -> None:
    db = await ok(ex, "coauthors", profile_id=WEI_DB, limit=100)
    cv = await ok(ex, "coauthors", profile_id=WEI_CV, limit=100)
    db_names = {c["name"] for c in db["coauthors"]}
    cv_names = {c["name"] for c in cv["coauthors"]}
    assert {"Rohan Mehta", "Henrik Solberg"} <= db_names
    assert {"Mariana Costa", "Amara Okonkwo"} <= cv_names
    assert db_names.isdisjoint(cv_names)
    assert "Wei Zhang" not in db_names | cv_names
    shared = await ok(ex, "shared_coauthors", profile_id_a=WEI_DB, profile_id_b=WEI_CV)
    assert shared["shared"] == [] and shared["direct"] == []


async def test_ambiguous_name_is_refused_where_one_person_is_needed(ex: Client) -> None:
    for tool, arguments in [
        ("coauthors", {"name": "Wei Zhang"}),
        ("shared_coauthors", {"author_a": "Wei Zhang", "author_b": "Henrik Solberg"}),
        ("collaboration_path", {"author_a": "Henrik Solberg", "author_b": "Wei Zhang"}),
        ("search_papers", {"author": "Wei Zhang"}),
    ]:
        message = await error(ex, tool, **arguments)
        assert WEI_DB in message and WEI_CV in message, (tool, message)


async def test_search_authors_returns_both_wei_zhangs(ex: Client) -> None:
    result = await ok(ex, "search_authors", query="wei zhang")
    ids = [r["profile_id"] for r in result["results"][:2]]
    assert sorted(ids) == [WEI_DB, WEI_CV]


@pytest.mark.parametrize("typed", ["Lukasz Wrobel", "lukasz wróbel", "LUKASZ WROBEL"])
async def test_unaccented_name_finds_lukasz(ex: Client, typed: str) -> None:
    found = await ok(ex, "search_authors", query=typed)
    best = found["results"][0]
    assert (best["name"], best["profile_id"]) == ("Łukasz Wróbel", LUKASZ)
    assert best["h_index"] == 23 and best["primary_category"] == "IR"
    author = await ok(ex, "get_author", name=typed)
    assert (author["name"], author["profile_id"]) == ("Łukasz Wróbel", LUKASZ)
    assert author["resolution"]["match"] in ("normalized", "exact")
    assert author["resolution"]["confidence"] == 1.0
    assert author["resolution"]["query"] == typed


async def test_search_authors_partial_and_limit(ex: Client) -> None:
    partial = await ok(ex, "search_authors", query="Lukasz")
    assert partial["results"][0]["name"] == "Łukasz Wróbel"
    scores = [r["score"] for r in partial["results"]]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 100 for s in scores)
    one = await ok(ex, "search_authors", query="Lukasz", limit=1)
    assert len(one["results"]) == 1
    chen = await ok(ex, "search_authors", query="陈明")
    assert chen["results"][0]["profile_id"] == CHEN


async def test_get_author_profile_fields(ex: Client) -> None:
    author = await ok(ex, "get_author", name="Henrik Solberg")
    assert (author["primary_category"], author["h_index"], author["citations"]) == ("OS", 14, 389)
    assert (author["papers_declared"], author["novelty"], author["ai_score"]) == (6, 41, 50)
    dates = [p["date"] for p in author["papers"]]
    assert dates == sorted(dates, reverse=True)  # newest first
    assert len(dates) == author["papers_in_catalog"] == 6
    assert author["years_active"] == [2020, 2026]
    assert sum(c["count"] for c in author["categories"]) == 6
    assert {c["value"]: c["count"] for c in author["categories"]}["OS"] == 4
    counts = [c["shared_papers"] for c in author["top_coauthors"]]
    assert counts == sorted(counts, reverse=True)
    assert author["top_coauthors"][0]["name"] in ("Ana Lúcia Gonçalves", "Erik Nyström", "Kofi Asante")
    limited = await ok(ex, "get_author", name="Henrik Solberg", papers_limit=2)
    assert titles(limited["papers"]) == titles(author["papers"])[:2]
    missing_header = await ok(ex, "get_author", profile_id="ex10_marguerite-dubois")
    assert missing_header["novelty"] is None and missing_header["ai_score"] == 54


async def test_get_author_without_profile(ex: Client) -> None:
    author = await ok(ex, "get_author", name="Ingrid Solheim")
    assert author["profile_id"] is None
    assert set(titles(author["papers"])) == {
        "Sharded Vector Search with Calibrated Recall Guarantees",
        "Elastic Sharding for Vector Databases under Skewed Workloads",
    }
    assert {"Łukasz Wróbel", "José Álvarez"} <= {c["name"] for c in author["top_coauthors"]}
    assert "profile" in author["note"]


async def test_unknown_profile_id_suggests_ids(ex: Client) -> None:
    message = await error(ex, "get_author", profile_id="ex09_wei-zhang")
    assert WEI_CV in message


# -- example profiles: papers -----------------------------------------------------------


async def test_get_paper_marks_how_authors_are_known(ex: Client) -> None:
    late = await paper_by_title(ex, "Late-Interaction Retrieval Under a Memory Budget")
    assert [(a["name"], a["position"], a["known_as"]) for a in late["authors"]] == [
        ("Zoë Hartmann", 1, "listed_profile_owner"),
        ("Mateo Ruiz", 2, "listed"),
        ("Łukasz Wróbel", 3, "listed_profile_owner"),
    ]
    assert late["authors_truncated"] is False
    caching = await paper_by_title(ex, "Caching Embeddings at the Edge for Low-Latency Semantic Search")
    hidden = {a["name"]: a for a in caching["authors"]}["Łukasz Wróbel"]
    assert (hidden["known_as"], hidden["position"], hidden["profile_id"]) == ("profile_owner", None, LUKASZ)


async def test_get_paper_lists_every_listing(ex: Client) -> None:
    paper = await paper_by_title(ex, "OpenQA-Drift: A Benchmark for Retrieval Robustness Under Temporal Corpus Shift")
    scores = {listing["profile_id"]: listing["score"] for listing in paper["listed_in"]}
    assert scores == {LUKASZ: 84.2, ZOE: 83.9, "ex10_marguerite-dubois": 85.1}
    assert {listing["profile_name"] for listing in paper["listed_in"]} == {
        "Łukasz Wróbel",
        "Zoë Hartmann",
        "Marguerite Dubois",
    }
    assert all(listing["date"] == "2025-10-02" for listing in paper["listed_in"])
    assert paper["abstract"].startswith("Open-domain question answering systems")
    assert paper["affiliations"] == ["rhone-ai-institute", "vistula-univ"]
    no_abstract = await paper_by_title(ex, "A Crash-Consistency Checker for Persistent-Memory File Systems")
    assert no_abstract["abstract"] == ""


async def test_get_paper_unknown_id(ex: Client) -> None:
    message = await error(ex, "get_paper", paper_id=999_999)
    assert "999999" in message and "search_papers" in message
    assert "paper_id" in await error(ex, "get_paper", paper_id="not a number")


# -- collaboration ----------------------------------------------------------------------


async def check_chain(client: Client, result: dict, start: str, end: str) -> None:
    """Each hop links the previous person to the next by a paper both are authors of."""
    hops = result["hops"]
    assert result["found"] is True
    assert result["length"] == len(hops)
    assert hops[0]["from"]["profile_id"] == start
    assert hops[-1]["to"]["profile_id"] == end
    for left, right in itertools.pairwise(hops):
        assert left["to"] == right["from"]
    for hop in hops:
        paper = await ok(client, "get_paper", paper_id=hop["paper"]["paper_id"])
        assert paper["title"] == hop["paper"]["title"]
        names = {a["name"] for a in paper["authors"]}
        assert hop["from"]["name"] in names and hop["to"]["name"] in names


async def test_collaboration_path_lukasz_to_jose(ex: Client) -> None:
    # The README's owner chain ex01-ex02-ex03-ex04 has 3 hops, but the two share a
    # non-owner coauthor (Ingrid Solheim), so the shortest chain has 2.
    result = await ok(ex, "collaboration_path", author_a="Łukasz Wróbel", author_b="José Álvarez")
    await check_chain(ex, result, LUKASZ, JOSE)
    assert result["length"] == 2
    assert result["hops"][0]["to"]["name"] == "Ingrid Solheim"
    assert titles([h["paper"] for h in result["hops"]]) == [
        "Sharded Vector Search with Calibrated Recall Guarantees",
        "Elastic Sharding for Vector Databases under Skewed Workloads",
    ]


async def test_collaboration_path_of_three_hops(ex: Client) -> None:
    result = await ok(ex, "collaboration_path", author_a="Lukasz Wrobel", author_b="Henrik Solberg")
    await check_chain(ex, result, LUKASZ, HENRIK)
    assert result["length"] == 3
    assert result["author_a"]["match"] == "normalized"


async def test_collaboration_path_direct_hop(ex: Client) -> None:
    result = await ok(ex, "collaboration_path", author_a="Zoë Hartmann", author_b="陈明", max_hops=1)
    await check_chain(ex, result, ZOE, CHEN)
    assert result["length"] == 1


@pytest.mark.parametrize(("b", "hops"), [("José Álvarez", 1), ("Henrik Solberg", 2)])
async def test_collaboration_path_beyond_max_hops(ex: Client, b: str, hops: int) -> None:
    result = await ok(ex, "collaboration_path", author_a="Łukasz Wróbel", author_b=b, max_hops=hops)
    assert result["found"] is False
    assert result["hops"] == [] and result["length"] is None
    assert f"within {hops} hop" in result["note"]
    assert b in result["note"]


async def test_collaboration_path_bad_arguments(ex: Client) -> None:
    assert "max_hops" in await error(ex, "collaboration_path", author_a="Zoë Hartmann", author_b="陈明", max_hops=0)
    assert "max_hops" in await error(ex, "collaboration_path", author_a="Zoë Hartmann", author_b="陈明", max_hops=99)
    same = await error(ex, "collaboration_path", author_a="Zoë Hartmann", author_b="zoe hartmann")
    assert "different" in same


async def test_shared_coauthors_of_lukasz_and_jose(ex: Client) -> None:
    result = await ok(ex, "shared_coauthors", author_a="Łukasz Wróbel", author_b="José Álvarez")
    shared = {s["name"]: s for s in result["shared"]}
    assert "Ingrid Solheim" in shared
    assert titles(shared["Ingrid Solheim"]["papers_with_a"]) == [
        "Sharded Vector Search with Calibrated Recall Guarantees"
    ]
    assert titles(shared["Ingrid Solheim"]["papers_with_b"]) == [
        "Elastic Sharding for Vector Databases under Skewed Workloads"
    ]
    assert result["direct"] == []  # ex01 and ex04 share no paper
    assert "lower bound" in result["note"]


# -- the three questions an assistant must answer from these tools alone ---------------------


async def test_question_what_has_x_published_on_t_since_2025_with_code(ex: Client) -> None:
    """ "What has Zoë Hartmann published on retrieval since 2025, with code?" """
    result = await ok(ex, "search_papers", author="Zoe Hartmann", query="retrieval", year_from=2025, has_code=True)
    assert result["author_resolved"]["profile_id"] == ZOE
    assert set(titles(result["results"])) == {
        "OpenQA-Drift: A Benchmark for Retrieval Robustness Under Temporal Corpus Shift",
        "Late-Interaction Retrieval Under a Memory Budget",
        "Quantized Students, Fluent Teachers: Distilling Multilingual Encoders into 4-Bit Models",
        "Calibrated Abstention for Retrieval-Augmented Question Answering",
    }
    assert result["total"] == 4 and result["next_cursor"] is None
    for paper in result["results"]:
        assert paper["has_code"] is True
        assert paper["date"] >= "2025-01-01"
        assert "Zoë Hartmann" in paper["authors"]


async def test_question_who_has_worked_with_both_x_and_y_on_what(ex: Client) -> None:
    """ "Who has worked with both Zoë Hartmann and 陈明, and on what?" """
    result = await ok(ex, "shared_coauthors", author_a="Zoe Hartmann", author_b="陈明")
    assert {s["name"] for s in result["shared"]} == {"Rafael Quintero", "Chloé Bénard"}
    rafael = {s["name"]: s for s in result["shared"]}["Rafael Quintero"]
    both = {
        "Quantized Students, Fluent Teachers: Distilling Multilingual Encoders into 4-Bit Models",
        "Token Pruning for Long-Document Summarization Without Retraining",
    }
    assert set(titles(rafael["papers_with_a"])) == both == set(titles(rafael["papers_with_b"]))
    assert set(titles(result["direct"])) == both


async def test_question_how_is_x_connected_to_z(ex: Client) -> None:
    """ "How is Łukasz Wróbel connected to Henrik Solberg?" """
    result = await ok(ex, "collaboration_path", author_a="Łukasz Wróbel", author_b="Henrik Solberg", max_hops=4)
    await check_chain(ex, result, LUKASZ, HENRIK)
    people = [result["hops"][0]["from"]["name"]] + [hop["to"]["name"] for hop in result["hops"]]
    assert people[0] == "Łukasz Wróbel" and people[-1] == "Henrik Solberg"
    assert len(set(people)) == len(people)


async def test_seed_question_what_has_x_published(seed: Client) -> None:
    """ "What has Ritika Borkar published on mixture of experts since 2026, with code?" """
    result = await ok(
        seed, "search_papers", author="Ritika Borkar", query="mixture of experts", year_from=2026, has_code=True
    )
    assert set(titles(result["results"])) == {
        NEMOTRON_3_SUPER,
        "LatentMoE: Toward Optimal Accuracy per FLOP and Parameter in Mixture of Experts",
    }


# -- search_papers ----------------------------------------------------------------------


@pytest.mark.parametrize("query", ["retrieval", "compression", "memory"])
async def test_title_matches_rank_above_abstract_matches(ex: Client, query: str) -> None:
    result = await ok(ex, "search_papers", query=query, limit=100)
    in_title = [query in words(p["title"]) for p in result["results"]]
    assert any(in_title) and not all(in_title), "the query must match both titles and abstracts only"
    first_abstract_only = in_title.index(False)
    assert all(in_title[:first_abstract_only]) and not any(in_title[first_abstract_only:])
    assert result["total"] == len(result["results"])


async def test_search_finds_author_names_and_snippets(ex: Client) -> None:
    by_name = await ok(ex, "search_papers", query="Ingrid Solheim")
    assert set(titles(by_name["results"])) == {
        "Sharded Vector Search with Calibrated Recall Guarantees",
        "Elastic Sharding for Vector Databases under Skewed Workloads",
    }
    phrase = await ok(ex, "search_papers", query='"error feedback"')
    assert titles(phrase["results"]) == [
        "Gradient Compression That Survives Stragglers: Error Feedback for Asynchronous Data Parallelism"
    ]
    snippet = (await ok(ex, "search_papers", query="codebook"))["results"][0]["snippet"]
    assert "[codebook]" in snippet.lower()


async def test_filters(ex: Client) -> None:
    stats = await ok(ex, "catalog_stats")
    per_category = {c["value"]: c["count"] for c in stats["categories"]}
    per_year = {y["year"]: y["papers"] for y in stats["years"]}

    ir = await ok(ex, "search_papers", category="ir", limit=100)
    assert {p["category"] for p in ir["results"]} == {"IR"}
    assert ir["total"] == len(ir["results"]) == per_category["IR"]

    years = await ok(ex, "search_papers", year_from=2022, year_to=2023, limit=100)
    assert all("2022-01-01" <= p["date"] <= "2023-12-31" for p in years["results"])
    assert years["total"] == per_year[2022] + per_year[2023]

    with_code = await ok(ex, "search_papers", has_code=True, limit=100)
    without = await ok(ex, "search_papers", has_code=False, limit=100)
    assert all(p["has_code"] for p in with_code["results"])
    assert not any(p["has_code"] for p in without["results"])
    assert with_code["total"] + without["total"] == stats["papers"]

    top = await ok(ex, "search_papers", min_score=90)
    assert {(p["title"], p["score"]) for p in top["results"]} == {
        ("Tiered KV-Cache Offloading for Multi-Tenant LLM Serving", 93.2),
        ("Late-Interaction Retrieval Under a Memory Budget", 91.4),
    }

    fjord = await ok(ex, "search_papers", affiliation="Fjord Systems")
    assert set(titles(fjord["results"])) == {
        "Tiered KV-Cache Offloading for Multi-Tenant LLM Serving",
        "Userspace Page-Fault Handling for Disaggregated Memory",
        "Lightweight Isolation for Function-as-a-Service with Memory Tagging",
        "Write-Optimized Learned Indexes on Persistent Memory",
    }

    henrik = await ok(ex, "search_papers", author="henrik solberg", limit=100)
    assert henrik["total"] == 6
    assert henrik["author_resolved"]["profile_id"] == HENRIK

    by_profile = await ok(ex, "search_papers", author_profile_id=WEI_CV, query="segmentation")
    assert set(titles(by_profile["results"])) == {
        "Label-Efficient Segmentation of Aerial Imagery with Graph-Regularized Pseudo-Labels",
        "Test-Time Adaptation for Semantic Segmentation under Weather Shift",
    }

    combined = await ok(ex, "search_papers", category="CV", year_from=2024, has_code=True, min_score=70, limit=100)
    for paper in combined["results"]:
        assert paper["category"] == "CV" and paper["has_code"] and paper["score"] >= 70
        assert paper["date"] >= "2024-01-01"
    assert combined["total"] == len(combined["results"]) > 0


async def test_sorts(ex: Client) -> None:
    by_date = await ok(ex, "search_papers", sort="date", limit=100)
    dates = [p["date"] for p in by_date["results"]]
    assert dates == sorted(dates, reverse=True)
    by_score = await ok(ex, "search_papers", sort="score", limit=100)
    scores = [p["score"] for p in by_score["results"]]
    scored = [s for s in scores if s is not None]
    assert scored == sorted(scored, reverse=True)
    assert scores == scored + [None] * (len(scores) - len(scored))  # unscored last
    default = await ok(ex, "search_papers", limit=100)  # no query: relevance means newest first
    assert [p["date"] for p in default["results"]] == dates
    assert "sort" in await error(ex, "search_papers", sort="popularity")


@pytest.mark.parametrize("sort", ["relevance", "date", "score"])
@pytest.mark.parametrize("query", ["", "retrieval"])
async def test_pagination_covers_everything_once(ex: Client, sort: str, query: str) -> None:
    everything = await ok(ex, "search_papers", query=query, sort=sort, limit=100)
    seen: list[int] = []
    cursor = None
    for _ in range(100):
        arguments = {"query": query, "sort": sort, "limit": 3}
        if cursor:
            arguments["cursor"] = cursor
        page = await ok(ex, "search_papers", **arguments)
        assert page["total"] == everything["total"]
        assert len(page["results"]) <= 3
        seen += [p["paper_id"] for p in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == everything["total"]
    assert seen == [p["paper_id"] for p in everything["results"]]


async def test_cursor_from_another_query_is_rejected(ex: Client) -> None:
    first = await ok(ex, "search_papers", query="retrieval", limit=2)
    assert first["next_cursor"]
    for other in ({"query": "graph"}, {"query": "retrieval", "has_code": True}, {"query": "retrieval", "sort": "date"}):
        message = await error(ex, "search_papers", limit=2, cursor=first["next_cursor"], **other)
        assert "cursor" in message and "next_cursor" in message
    assert "cursor" in await error(ex, "search_papers", cursor="not-a-cursor")


@pytest.mark.parametrize("limit", [101, 1000, 0, -5])
async def test_limit_out_of_range_is_refused(ex: Client, limit: int) -> None:
    message = await error(ex, "search_papers", query="retrieval", limit=limit)
    assert "`limit`" in message


async def test_limit_at_the_cap(ex: Client) -> None:
    result = await ok(ex, "search_papers", limit=100)
    assert len(result["results"]) == result["total"] == 68  # the examples hold 68 distinct papers
    assert result["next_cursor"] is None


async def test_empty_query_with_filters_lists_papers(ex: Client) -> None:
    result = await ok(ex, "search_papers", query="", category="OS")
    assert result["total"] == 4
    assert {p["category"] for p in result["results"]} == {"OS"}
    assert not result["fuzzy_fallback"]
    assert all(p["snippet"] is None for p in result["results"])


async def test_unknown_category_lists_valid_ones(ex: Client) -> None:
    message = await error(ex, "search_papers", category="XX")
    assert "XX" in message
    for code in ("CL", "CV", "DB", "DC", "IR", "LG", "OS"):
        assert code in message


async def test_bad_year_ranges(ex: Client) -> None:
    message = await error(ex, "search_papers", year_from=2025, year_to=2020)
    assert "year_from" in message and "year_to" in message
    assert "year_from" in await error(ex, "search_papers", year_from=20)
    assert "min_score" in await error(ex, "search_papers", min_score=150)


@pytest.mark.parametrize(
    ("typed", "title"),
    [
        ("Late-Interaction Retreival Under a Memroy Budgt", "Late-Interaction Retrieval Under a Memory Budget"),
        ("Sharded Vektor Serch", "Sharded Vector Search with Calibrated Recall Guarantees"),
        ("Speculative Decodng", "Speculative Decoding for Encoder-Decoder Translation Models"),
    ],
)
async def test_misspelled_title_falls_back_to_fuzzy(ex: Client, typed: str, title: str) -> None:
    result = await ok(ex, "search_papers", query=typed)
    assert result["fuzzy_fallback"] is True
    assert result["results"][0]["title"] == title
    assert "fuzzy" in result["note"]
    assert result["next_cursor"] is None


@pytest.mark.parametrize("query", ["quantum tunneling for spintronics", "cooking recipes of the world"])
async def test_fuzzy_fallback_does_not_return_unrelated_titles(ex: Client, query: str) -> None:
    result = await ok(ex, "search_papers", query=query)
    assert result["results"] == [], titles(result["results"])
    assert result["fuzzy_fallback"] is False


async def test_misspelled_short_title_ranks_the_right_paper_first(seed: Client) -> None:
    result = await ok(seed, "search_papers", query="Nemotrn 3 Supr")
    assert result["fuzzy_fallback"] is True
    assert result["results"][0]["title"] == NEMOTRON_3_SUPER


# -- catalog_stats ----------------------------------------------------------------------


async def test_catalog_stats(ex: Client) -> None:
    stats = await ok(ex, "catalog_stats")
    assert (stats["profiles"], stats["papers"], stats["listings"]) == (10, 68, 80)
    assert stats["authors"] > stats["profiles"]
    assert {c["value"] for c in stats["categories"]} == {"CL", "CV", "DB", "DC", "IR", "LG", "OS"}
    assert sum(c["count"] for c in stats["categories"]) == stats["papers"]
    assert sum(y["papers"] for y in stats["years"]) == stats["papers"]
    assert [y["year"] for y in stats["years"]] == sorted(y["year"] for y in stats["years"])
    assert stats["built_at"]
    assert [(Path(s["directory"]).name, s["profiles"]) for s in stats["sources"]] == [("profiles", 10)]
    assert stats["note"] is None


def test_catalog_stats_are_counted_once_per_catalog_version(tmp_path: Path) -> None:
    import shutil

    from conftest import EXAMPLES, build_catalog, ingest_elsewhere, traced
    from scholar_catalog.db.catalog import Catalog
    from scholar_catalog.tools import catalog_stats

    folder = tmp_path / "profiles"
    folder.mkdir()
    files = sorted(EXAMPLES.glob("*.txt"))
    for path in files[:-1]:
        shutil.copy(path, folder)
    db = build_catalog(tmp_path / "catalog.db", folder)
    catalog = Catalog(db)
    try:
        first = catalog_stats(catalog)
        with catalog.connection() as conn, traced(conn) as statements:
            again = catalog_stats(catalog)
            assert again == first and not [s for s in statements if "count(" in s], statements
            again.profiles = -1  # each call gets its own copy
            assert catalog_stats(catalog).profiles == first.profiles == len(files) - 1

            shutil.copy(files[-1], folder)
            ingest_elsewhere(db, folder)  # another process adds a profile: the next call counts again
            after = catalog_stats(catalog)
            assert after.profiles == first.profiles + 1 and after.listings > first.listings
            assert [s for s in statements if "count(" in s]
    finally:
        catalog.close()


async def test_seed_catalog_stats(seed: Client) -> None:
    stats = await ok(seed, "catalog_stats")
    # 9 + 10 listings, 5 of them the same papers
    assert (stats["profiles"], stats["listings"], stats["papers"]) == (2, 19, 14)


async def test_words_found_but_filtered_out_say_so_instead_of_fuzzy_titles(ex: Client) -> None:
    result = await ok(ex, "search_papers", query="retrieval", year_from=2100)
    assert result["results"] == [] and result["total"] == 0
    assert result["fuzzy_fallback"] is False
    assert "contain these words, but none passes the filters" in result["note"]
