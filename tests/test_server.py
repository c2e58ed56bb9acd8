"""The MCP surface of the server, in-process: tool metadata and schemas, hostile input, resources,
prompts, completions, instructions, and what an empty or missing catalog says."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import apsw
import pytest
from helpers_mcp import (
    TOOL_ARGUMENTS,
    answer,
    catalog_fingerprint,
    check_result,
    error,
    ok,
    output_schemas,
    text_of,
)
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import PromptReference, ResourceTemplateReference

from conftest import EXAMPLES, ingest_elsewhere
from scholar_catalog.server.app import build_server

pytestmark = pytest.mark.anyio

LUKASZ = "ex01_lukasz-wrobel"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def ex(example_db: Path) -> AsyncIterator[Client]:
    async with Client(build_server(example_db)) as client:
        yield client


@pytest.fixture(scope="module")
async def tools(ex: Client) -> dict[str, Any]:
    return {tool.name: tool for tool in (await ex.list_tools()).tools}


# One normal call of every tool (all must succeed and match their outputSchema).
NORMAL_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("search_papers", {"query": "retrieval", "year_from": 2025, "has_code": True}),
    ("search_papers", {"query": "Speculative Decodng"}),  # fuzzy fallback
    ("search_papers", {"query": "", "category": "OS", "sort": "score", "limit": 2}),
    ("get_paper", {"paper_id": 1}),
    ("get_author", {"name": "Lukasz Wrobel"}),
    ("get_author", {"name": "Wei Zhang"}),  # candidates
    ("get_author", {"name": "Ingrid Solheim"}),  # no profile
    ("get_author", {"name": "Marguerite Dupont"}),  # fuzzy
    ("search_authors", {"query": "Lukasz"}),
    ("coauthors", {"name": "Zoë Hartmann", "limit": 3}),
    ("shared_coauthors", {"author_a": "Łukasz Wróbel", "author_b": "José Álvarez"}),
    ("collaboration_path", {"author_a": "Łukasz Wróbel", "author_b": "Henrik Solberg"}),
    ("collaboration_path", {"author_a": "Łukasz Wróbel", "author_b": "Henrik Solberg", "max_hops": 1}),  # not found
    ("find_experts", {"topic": "retrieval", "year_from": 2022}),
    ("find_experts", {"topic": "translation", "category": "CL", "profiles_only": True, "limit": 3}),
    ("similar_papers", {"paper_id": 1, "limit": 5}),
    ("similar_authors", {"name": "Zoe Hartmann"}),
    ("similar_authors", {"name": "Lukasz Wrobel", "exclude_coauthors": True, "limit": 3}),
    ("topic_trends", {"query": "retrieval", "year_from": 2022}),
    ("topic_trends", {}),
    ("topic_trends", {"query": "graph", "group_by": "category"}),
    ("catalog_stats", {}),
]


# -- tools/list ---------------------------------------------------------------------------


async def test_tool_names_and_arguments_are_the_public_contract(tools: dict[str, Any]) -> None:
    assert set(tools) == set(TOOL_ARGUMENTS)
    for name, required in TOOL_ARGUMENTS.items():
        properties = set(tools[name].input_schema.get("properties", {}))
        assert required <= properties, (name, required - properties)


async def test_input_schema_defaults_and_caps(tools: dict[str, Any]) -> None:
    search = tools["search_papers"].input_schema["properties"]
    assert search["limit"]["default"] == 10
    assert search["limit"]["maximum"] == 100
    assert search["sort"]["default"] == "relevance"
    assert set(search["sort"]["enum"]) == {"relevance", "date", "score"}
    assert search["query"]["default"] == ""
    assert tools["collaboration_path"].input_schema["properties"]["max_hops"]["default"] == 4
    assert tools["coauthors"].input_schema["properties"]["limit"]["default"] == 20
    assert tools["search_authors"].input_schema["properties"]["limit"]["default"] == 10
    assert tools["get_paper"].input_schema["required"] == ["paper_id"]
    assert tools["catalog_stats"].input_schema.get("properties", {}) == {}
    for tool in tools.values():  # the catalog is an implementation detail, never an argument
        assert "catalog" not in tool.input_schema.get("properties", {})


async def test_every_tool_has_output_schema_annotations_and_description(tools: dict[str, Any]) -> None:
    for name, tool in tools.items():
        assert tool.output_schema and tool.output_schema.get("type") == "object", name
        assert tool.output_schema.get("properties"), name
        annotations = tool.annotations
        assert annotations is not None, name
        assert annotations.read_only_hint is True, name
        assert annotations.destructive_hint is not True, name
        assert annotations.title and annotations.title.strip(), name
        assert tool.title == annotations.title
        assert tool.description and len(tool.description) > 80, name  # written for a model choosing tools


async def test_output_schemas_have_the_documented_fields(tools: dict[str, Any]) -> None:
    def fields(schema: dict[str, Any], ref: str | None = None) -> set[str]:
        node = schema["$defs"][ref] if ref else schema
        return set(node["properties"])

    search = tools["search_papers"].output_schema
    assert {"results", "total", "next_cursor", "fuzzy_fallback"} <= fields(search)
    assert {
        "paper_id",
        "title",
        "date",
        "category",
        "score",
        "has_code",
        "authors",
        "authors_truncated",
        "snippet",
    } <= fields(search, "PaperSummary")
    author = tools["get_author"].output_schema
    assert {
        "name",
        "profile_id",
        "primary_category",
        "h_index",
        "citations",
        "papers_declared",
        "novelty",
        "ai_score",
        "papers",
        "top_coauthors",
        "categories",
        "years_active",
        "candidates",
        "resolution",
    } <= fields(author)
    assert not {"resolved_from", "confidence"} & fields(author)  # each fact once: inside `resolution`
    shared = tools["shared_coauthors"].output_schema
    assert {"shared", "direct", "note"} <= fields(shared)
    assert {"name", "papers_with_a", "papers_with_b"} <= fields(shared, "SharedCoauthor")
    assert {"found", "hops", "length", "note"} <= fields(tools["collaboration_path"].output_schema)
    assert {"profiles", "papers", "authors", "listings", "categories", "years", "built_at", "sources"} <= fields(
        tools["catalog_stats"].output_schema
    )
    paper = tools["get_paper"].output_schema
    assert {"abstract", "authors", "affiliations", "listed_in"} <= fields(paper)
    assert {"score", "category", "date", "date_raw"} <= fields(paper, "Listing")


@pytest.mark.parametrize(("tool", "arguments"), NORMAL_CALLS, ids=[f"{t}-{i}" for i, (t, _) in enumerate(NORMAL_CALLS)])
async def test_structured_content_matches_output_schema(ex: Client, tool: str, arguments: dict[str, Any]) -> None:
    await ok(ex, tool, **arguments)  # ok() validates with jsonschema and checks the text block


async def test_every_tool_is_covered_by_the_schema_test() -> None:
    assert {tool for tool, _ in NORMAL_CALLS} == set(TOOL_ARGUMENTS)


async def test_instructions_and_server_info(ex: Client) -> None:
    assert ex.instructions and len(ex.instructions) > 100
    for tool in (
        "search_papers",
        "get_author",
        "shared_coauthors",
        "collaboration_path",
        "find_experts",
        "topic_trends",
    ):
        assert tool in ex.instructions
    assert ex.server_info is not None and ex.server_info.name == "scholar-catalog"
    capabilities = ex.server_capabilities
    assert capabilities.tools is not None and capabilities.resources is not None
    assert capabilities.prompts is not None and capabilities.completions is not None


async def test_legacy_handshake_client(example_db: Path) -> None:
    async with Client(build_server(example_db), mode="legacy") as client:
        assert client.instructions and "search_papers" in client.instructions
        result = await ok(client, "shared_coauthors", author_a="Lukasz Wrobel", author_b="Jose Alvarez")
        assert [s["name"] for s in result["shared"]] == ["Ingrid Solheim"]


# -- errors ---------------------------------------------------------------------------------


async def test_validation_errors_name_the_argument(ex: Client) -> None:
    cases = [
        ("search_papers", {"limit": 500}, "`limit`"),
        ("search_papers", {"has_code": "perhaps"}, "`has_code`"),
        ("search_papers", {"year_from": "twenty"}, "`year_from`"),
        ("get_paper", {}, "`paper_id`"),
        ("get_author", {"name": "Zoë Hartmann", "papers_limit": 0}, "`papers_limit`"),
        ("search_authors", {}, "`query`"),
        ("coauthors", {"name": "Zoë Hartmann", "limit": 101}, "`limit`"),
        ("shared_coauthors", {"author_a": "Zoë Hartmann", "author_b": "陈明", "limit": 0}, "`limit`"),
    ]
    for tool, arguments, argument in cases:
        message = await error(ex, tool, **arguments)
        assert argument in message, (tool, message)
        assert tool in message


async def test_missing_names_say_what_to_give(ex: Client) -> None:
    assert "name" in await error(ex, "get_author")
    assert "name" in await error(ex, "coauthors", name="  ")
    assert "author_b" in await error(ex, "shared_coauthors", author_a="Zoë Hartmann")
    assert "author_a" in await error(ex, "collaboration_path", author_b="Zoë Hartmann")
    assert "query" in await error(ex, "search_authors", query="")


async def test_unknown_tool_is_an_error_result(ex: Client) -> None:
    message = await error(ex, "delete_everything")
    assert "delete_everything" in message
    assert "search_papers" in message  # lists the real tools


@pytest.mark.parametrize("paper_id", [2**63, 10**30])
async def test_huge_paper_id_gives_a_helpful_error(ex: Client, paper_id: int) -> None:
    message = await error(ex, "get_paper", paper_id=paper_id)
    assert "paper_id" in message


async def test_tampered_cursor_gives_a_helpful_error(ex: Client) -> None:
    cursor = (await ok(ex, "search_papers", limit=5))["next_cursor"]
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    data["o"] = 10**30
    tampered = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    result = await answer(ex, "search_papers", limit=5, cursor=tampered)  # a helpful error, or an empty last page
    if result.is_error:
        assert "cursor" in text_of(result)
    else:
        assert result.structured_content["results"] == []


async def test_overlong_text_reports_its_real_length(ex: Client) -> None:
    message = await error(ex, "search_papers", query="x" * 100_000)
    assert "`query`" in message
    assert "8,000" not in message


# -- hostile input --------------------------------------------------------------------------

HOSTILE = [
    '"',
    "'",
    "*",
    "NEAR(",
    "a OR b",
    "title:x",
    "'); DROP TABLE papers; --",
    "\x00",
    "x" * 100_000,
    "🔥🚀 📚",
    "Łukasz 陈明 Дмитрий retrieval ⊕ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    'retrieval" OR "1"="1',
    "%_\\",
    "\u202e\u200b\ufeff",
]
HOSTILE_IDS = [
    "dquote",
    "squote",
    "star",
    "near",
    "or",
    "column",
    "sql",
    "nul",
    "100kb",
    "emoji",
    "mixed-scripts",
    "injection-or",
    "like-wildcards",
    "invisible",
]
# What search_papers searches for, given each as its query: quoted words only (None: no words at all).
HOSTILE_QUERY_USED: dict[str, str | None] = {
    '"': None,
    "'": None,
    "*": None,
    "NEAR(": '"NEAR"',
    "a OR b": '"a" "OR" "b"',
    "title:x": '"title x"',
    "'); DROP TABLE papers; --": '"DROP" "TABLE" "papers"',
    "\x00": None,
    "x" * 100_000: "too long",
    "🔥🚀 📚": None,
    "Łukasz 陈明 Дмитрий retrieval ⊕ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢": '"Łukasz" "陈明" "Дмитрий" "retrieval" "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"',
    'retrieval" OR "1"="1': '"retrieval" "OR" "1" "1"',
    "%_\\": None,
    "\u202e\u200b\ufeff": None,
}
# Every text argument a model could fill with it.
HOSTILE_SLOTS: list[tuple[str, str, dict[str, Any]]] = [
    ("search_papers", "query", {}),
    ("search_papers", "author", {}),
    ("search_papers", "author_profile_id", {}),
    ("search_papers", "category", {}),
    ("search_papers", "affiliation", {}),
    ("search_papers", "cursor", {}),
    ("get_author", "name", {}),
    ("get_author", "profile_id", {}),
    ("search_authors", "query", {}),
    ("coauthors", "name", {}),
    ("shared_coauthors", "author_a", {"author_b": "Zoë Hartmann"}),
    ("collaboration_path", "author_b", {"author_a": "Zoë Hartmann"}),
]


@pytest.fixture(scope="module")
def catalog_before(example_db: Path) -> tuple[str, dict[str, int]]:
    return catalog_fingerprint(example_db)


@pytest.mark.parametrize("text", HOSTILE, ids=HOSTILE_IDS)
async def test_hostile_text_never_breaks_the_protocol(
    ex: Client, text: str, catalog_before: tuple[str, dict[str, int]]
) -> None:
    for tool, argument, others in HOSTILE_SLOTS:
        result = await answer(ex, tool, **{argument: text, **others})  # raises on a protocol error
        if argument == "query" and tool == "search_papers":
            expected = HOSTILE_QUERY_USED[text]
            if expected == "too long":
                assert result.is_error and "`query` is 100,000 characters long" in text_of(result)
            else:
                assert not result.is_error, text_of(result)
                assert result.structured_content.get("query_used") == expected
                if expected is None:  # nothing to search for: every paper, newest first
                    assert result.structured_content["total"] == 68


async def test_hostile_queries_are_searched_as_plain_words(ex: Client) -> None:
    near = await ok(ex, "search_papers", query="NEAR(")
    assert near["query_used"] == '"NEAR"'
    assert all("near" in (p["snippet"] or p["title"]).lower() for p in near["results"])
    column = await ok(ex, "search_papers", query="title:x")
    assert column["query_used"] == '"title x"'
    injection = await ok(ex, "search_papers", query="'); DROP TABLE papers; --")
    assert injection["query_used"] == '"DROP" "TABLE" "papers"'
    no_words = await ok(ex, "search_papers", query='"*"')
    assert no_words["total"] == 68 and no_words["note"]  # nothing to search for: lists papers and says so
    phrase = await ok(ex, "search_papers", query='"memory budget')  # unbalanced quote
    assert phrase["results"][0]["title"] == "Late-Interaction Retrieval Under a Memory Budget"


async def test_catalog_unchanged_after_hostile_input(
    ex: Client, example_db: Path, catalog_before: tuple[str, dict[str, int]]
) -> None:
    for text in HOSTILE:
        for tool, argument, others in HOSTILE_SLOTS:
            await answer(ex, tool, **{argument: text, **others})
    assert catalog_fingerprint(example_db) == catalog_before
    stats = await ok(ex, "catalog_stats")
    assert (stats["profiles"], stats["papers"], stats["listings"]) == (10, 68, 80)


async def test_server_connection_is_read_only(ex: Client, example_db: Path) -> None:
    await ok(ex, "catalog_stats")
    server = build_server(example_db)
    catalog = server.catalog_handle.get()
    try:
        with catalog.connection() as conn, pytest.raises(apsw.ReadOnlyError):
            conn.execute("DELETE FROM papers")
    finally:
        server.catalog_handle.close()


# -- resources --------------------------------------------------------------------------------


async def test_resources_are_listed(ex: Client) -> None:
    resources = {str(r.uri) for r in (await ex.list_resources()).resources}
    assert "catalog://stats" in resources
    templates = {t.uri_template for t in (await ex.list_resource_templates()).resource_templates}
    assert {"catalog://author/{profile_id}", "catalog://paper/{paper_id}"} <= templates


async def read_json(client: Client, uri: str) -> dict[str, Any]:
    result = await client.read_resource(uri)
    (content,) = result.contents
    assert content.mime_type == "application/json"
    return json.loads(content.text)


async def test_stats_resource(ex: Client) -> None:
    stats = await read_json(ex, "catalog://stats")
    tool = await ok(ex, "catalog_stats")
    assert stats == {k: v for k, v in tool.items() if v is not None}


async def test_author_resource(ex: Client) -> None:
    author = await read_json(ex, f"catalog://author/{LUKASZ}")
    assert (author["name"], author["profile_id"], author["h_index"]) == ("Łukasz Wróbel", LUKASZ, 23)
    assert len(author["papers"]) == 8
    wei = await read_json(ex, "catalog://author/ex09_wei-zhang-cv")
    assert (wei["primary_category"], wei["h_index"]) == ("CV", 9)


async def test_paper_resource(ex: Client) -> None:
    paper = await read_json(ex, "catalog://paper/1")
    detail = await ok(ex, "get_paper", paper_id=1)
    assert paper["title"] == detail["title"]
    assert paper["listed_in"] == detail["listed_in"]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("catalog://author/ex99_nobody", "ex99_nobody"),
        ("catalog://paper/999999", "999999"),
        ("catalog://paper/abc", "abc"),
        ("catalog://nothing/here", "catalog://nothing/here"),
    ],
)
async def test_missing_resource_is_an_error(ex: Client, uri: str, expected: str) -> None:
    with pytest.raises(MCPError) as raised:
        await ex.read_resource(uri)
    assert expected in str(raised.value)


# -- prompts ---------------------------------------------------------------------------------

PROMPTS = {
    "author_brief": ({"name": "Zoë Hartmann"}, {"get_author", "get_paper", "coauthors"}),
    "compare_authors": (
        {"author_a": "Łukasz Wróbel", "author_b": "José Álvarez"},
        {"get_author", "shared_coauthors", "collaboration_path"},
    ),
    "literature_scan": ({"topic": "dense retrieval", "since_year": "2025"}, {"search_papers", "get_paper"}),
}


async def test_prompts_are_listed(ex: Client) -> None:
    listed = {p.name: p for p in (await ex.list_prompts()).prompts}
    assert set(listed) == set(PROMPTS)
    for name, (arguments, _) in PROMPTS.items():
        prompt = listed[name]
        assert prompt.description
        declared = {a.name for a in prompt.arguments or []}
        assert set(arguments) <= declared
        required = {a.name for a in prompt.arguments or [] if a.required}
        assert required <= set(arguments)


@pytest.mark.parametrize("name", sorted(PROMPTS))
async def test_get_prompt_names_the_tools_it_expects(ex: Client, tools: dict[str, Any], name: str) -> None:
    arguments, expected_tools = PROMPTS[name]
    result = await ex.get_prompt(name, arguments)
    text = "\n".join(m.content.text for m in result.messages)
    mentioned = {tool for tool in tools if re.search(rf"\b{tool}\b", text)}
    assert expected_tools <= mentioned
    for value in arguments.values():
        assert value in text  # the arguments are woven into the prompt


async def test_literature_scan_uses_since_year(ex: Client) -> None:
    with_year = await ex.get_prompt("literature_scan", {"topic": "retrieval", "since_year": "2025"})
    assert "year_from=2025" in with_year.messages[0].content.text
    without = await ex.get_prompt("literature_scan", {"topic": "retrieval"})
    assert "year_from" not in without.messages[0].content.text


# -- completions -------------------------------------------------------------------------------


async def complete_prompt(client: Client, prompt: str, argument: str, value: str) -> list[str]:
    result = await client.complete(PromptReference(type="ref/prompt", name=prompt), {"name": argument, "value": value})
    return result.completion.values


async def test_complete_prompt_name_argument(ex: Client) -> None:
    assert await complete_prompt(ex, "author_brief", "name", "Zo") == ["Zoë Hartmann"]
    assert "Łukasz Wróbel" in await complete_prompt(ex, "author_brief", "name", "luk")  # accent-insensitive
    assert "陈明" in await complete_prompt(ex, "compare_authors", "author_b", "陈")
    assert await complete_prompt(ex, "compare_authors", "author_a", "Wei") == ["Wei Zhang"]
    assert await complete_prompt(ex, "author_brief", "name", "zzzz") == []
    assert await complete_prompt(ex, "literature_scan", "topic", "ret") == []


async def test_complete_resource_template_profile_id(ex: Client) -> None:
    ref = ResourceTemplateReference(type="ref/resource", uri="catalog://author/{profile_id}")
    values = (await ex.complete(ref, {"name": "profile_id", "value": "ex0"})).completion.values
    assert values == [
        f"ex0{i}_{rest}"
        for i, rest in [
            (1, "lukasz-wrobel"),
            (2, "zoe-hartmann"),
            (3, "chen-ming"),
            (4, "jose-alvarez"),
            (5, "wei-zhang-db"),
            (6, "amara-okonkwo"),
            (7, "priya-raghunathan"),
            (8, "henrik-solberg"),
            (9, "wei-zhang-cv"),
        ]
    ]
    assert (await ex.complete(ref, {"name": "profile_id", "value": "ex05"})).completion.values == ["ex05_wei-zhang-db"]
    assert (await ex.complete(ref, {"name": "profile_id", "value": "zz"})).completion.values == []


# -- empty and missing catalogs -------------------------------------------------------------------

EMPTY_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("search_papers", {"query": "retrieval"}),
    ("search_papers", {}),
    ("get_paper", {"paper_id": 1}),
    ("get_author", {"name": "Zoë Hartmann"}),
    ("search_authors", {"query": "Zoë"}),
    ("coauthors", {"name": "Zoë Hartmann"}),
    ("shared_coauthors", {"author_a": "Zoë Hartmann", "author_b": "陈明"}),
    ("collaboration_path", {"author_a": "Zoë Hartmann", "author_b": "陈明"}),
]


@pytest.fixture
def empty_db(tmp_path: Path) -> Path:
    from scholar_catalog.db.connection import open_writable

    path = tmp_path / "empty.db"
    open_writable(path).conn.close()
    return path


async def test_empty_catalog_says_how_to_fill_it(empty_db: Path) -> None:
    async with Client(build_server(empty_db)) as client:
        for tool, arguments in EMPTY_CALLS:
            message = await error(client, tool, **arguments)
            assert "scholar-catalog ingest" in message, (tool, message)
            assert str(empty_db) in message
        stats = await ok(client, "catalog_stats")
        assert (stats["profiles"], stats["papers"], stats["listings"]) == (0, 0, 0)
        assert "empty" in stats["note"] and "scholar-catalog ingest" in stats["note"]
        resource = await read_json(client, "catalog://stats")
        assert "scholar-catalog ingest" in resource["note"]
        assert await complete_prompt(client, "author_brief", "name", "Zo") == []


async def test_missing_database_says_how_to_fill_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "catalog.db"
    async with Client(build_server(path)) as client:
        for tool, arguments in [*EMPTY_CALLS, ("catalog_stats", {})]:
            message = await error(client, tool, **arguments)
            assert "scholar-catalog ingest" in message, (tool, message)
        with pytest.raises(MCPError) as raised:
            await client.read_resource("catalog://stats")
        assert "scholar-catalog ingest" in str(raised.value)
        assert await complete_prompt(client, "author_brief", "name", "Zo") == []
    assert not path.exists()  # the read-only server creates nothing


async def test_catalog_filled_while_serving_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "later.db"
    (nothing := tmp_path / "nothing").mkdir()
    async with Client(build_server(path)) as client:
        assert "scholar-catalog ingest" in await error(client, "catalog_stats")
        ingest_elsewhere(path, nothing)  # another process creates the catalog, empty
        assert "empty" in await error(client, "search_papers", query="retrieval")
        ingest_elsewhere(path, EXAMPLES)
        result = await ok(client, "search_papers", query="retrieval")
        assert result["total"] == 13
        assert (await ok(client, "get_author", name="Lukasz Wrobel"))["profile_id"] == LUKASZ


async def test_errors_are_results_not_structured_content(ex: Client) -> None:
    result = await ex.call_tool("get_paper", {"paper_id": 424242})
    assert result.is_error
    assert "424242" in text_of(result)
    schemas = await output_schemas(ex)
    with pytest.raises(AssertionError):  # an error result does not pose as a normal one
        check_result(schemas["get_paper"], result)
