"""Reliability: hostile tool arguments and read-only guarantees (issue 6).

Property-based (hypothesis) calls of every tool through an in-process MCP ``Client``
with FTS operators, quotes, NUL bytes, 1 MB strings, mixed scripts, negative and huge
numbers and wrong types. Each call must come back as a result (never a protocol error),
with no traceback in its text, and must not write: the database files' bytes and mtime
and a checksum of every row stay the same, and an audit hook sees no file opened for
writing, no new SQLite connection, and no file read outside the installation.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import apsw
import pytest
from fault_helpers import EXAMPLES, ROOT, assert_no_traceback, content_checksum, db_files_state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.shared.exceptions import MCPError
from test_fts_query import fts_text

from conftest import TOOL_NAMES, build_catalog
from scholar_catalog.server.app import build_server

INT64 = (-(2**63), 2**63 - 1)

# -- watching for writes and stray file access ------------------------------------------

_WATCH = threading.Event()
_EVENTS: list[tuple[str, tuple[Any, ...]]] = []
_WRITE_EVENTS = {
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.truncate",
    "os.chmod",
    "os.link",
    "os.symlink",
    "shutil.rmtree",
    "shutil.move",
    "shutil.copyfile",
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "sqlite3.connect",
    "scholar_catalog.open_readonly",
    "socket.connect",
}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _WATCH.is_set() and (event == "open" or event in _WRITE_EVENTS):
        _EVENTS.append((event, args))


sys.addaudithook(_audit)  # cannot be removed; inert unless _WATCH is set
_ALLOWED_READ_ROOTS = tuple(
    str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, ROOT, *sys.path} if p
)


def stray_access() -> list[str]:
    """Audit events that are not a read of the installation's own files (lazy imports)."""
    problems = []
    for event, args in _EVENTS:
        if event != "open":
            problems.append(f"{event}{args!r}"[:200])
            continue
        path, mode, flags = args
        writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (
            flags is not None and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
        )
        if isinstance(path, int):
            continue  # an already-open descriptor
        resolved = str(Path(os.fsdecode(path)).resolve())
        if writing or not resolved.startswith(_ALLOWED_READ_ROOTS):
            problems.append(f"open({resolved!r}, {mode!r}, {flags!r})")
    return problems


# -- one server for the whole module, driven from synchronous hypothesis tests ---------------


class Session:
    def __init__(self, portal: anyio.from_thread.BlockingPortal, client: Client, db: Path) -> None:
        self.portal, self.client, self.db = portal, client, db
        self.files = db_files_state(db)
        self.checksum = content_checksum(db)
        self.tools = {t.name: t for t in portal.call(client.list_tools).tools}

    def call(self, tool: str, arguments: dict[str, Any], *, warm_up: bool = False) -> tuple[bool, str, Any]:
        """Call a tool; fail on a protocol error, a traceback, a write or stray file access."""
        _EVENTS.clear()
        _WATCH.set()
        try:
            result = self.portal.call(self.client.call_tool, tool, arguments)
        except MCPError as err:  # a JSON-RPC error instead of a tool result
            pytest.fail(f"protocol error from {tool}({_short(arguments)}): {err!r}")
        finally:
            _WATCH.clear()
        text = "\n".join(getattr(block, "text", "") for block in result.content)
        assert_no_traceback(text, f"{tool}({_short(arguments)})")
        assert text.strip(), f"{tool}({_short(arguments)}) returned no text"
        if not warm_up:  # the first call opens the catalog (and SQLite creates its -shm and -wal)
            assert stray_access() == [], f"{tool}({_short(arguments)})"
            assert db_files_state(self.db) == self.files, f"{tool}({_short(arguments)}) changed the database files"
        return result.is_error, text, result.structured_content


def _short(arguments: Any) -> str:
    text = repr(arguments)
    return text if len(text) < 300 else text[:297] + "..."


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    db = build_catalog(tmp_path_factory.mktemp("hostile") / "catalog.db", EXAMPLES)
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(build_server(db))) as client,
    ):
        session = Session(portal, client, db)
        session.call("catalog_stats", {}, warm_up=True)
        session.files = db_files_state(db)
        yield session
    assert content_checksum(db) == session.checksum, "a tool call changed the catalog's content"
    assert db_files_state(db) == session.files


# -- hostile values --------------------------------------------------------------------------

MEGA = "x" * 1_000_000
NASTY = [
    "",
    " ",
    '"',
    '""',
    '"unbalanced',
    "a OR b",
    "retrieval NOT dense",
    "NEAR(memory budget, 2)",
    "title:retrieval",
    "abstract:* OR author_names:*",
    "*",
    "ret*",
    "^start",
    "-minus",
    "(paren",
    "a AND (b OR c",
    "'; DROP TABLE papers; --",
    "1' OR '1'='1",
    "%",
    "_%_",
    "\\",
    "\x00",
    "a\x00b",
    "\x00" * 1000,
    "\ud800",
    "\u202eevil",
    "\ufeffZoë",
    "Zoë Hartmann",
    "zoe hartmann",
    "陈明",
    "Łukasz Wróbel",
    "Дмитрий Орлов",
    "佐藤 健",
    "مرحبا",
    "🙂" * 50,
    "\n\r\t\x0b\x0c",
    "/etc/passwd",
    "../../../../etc/shadow",
    "file:///etc/passwd",
    "catalog.db",
    MEGA,
    "retrieval " * 100_000,
    '"' * 100_000,
    "Zoë " + "é" * 999_000,
    "ex02_zoe-hartmann",
]
BIG_INTS = [0, -1, 1, 7, 100, 101, -(2**31), 2**31, 2**53 + 1, *INT64, 2**63, -(2**63) - 1, 10**30, -(10**30)]
FLOATS = [0.0, -0.0, 0.5, 99.99, 100.0, 100.01, -1e-300, 1e308, float("inf"), float("-inf"), float("nan")]

texts = st.one_of(
    st.sampled_from(NASTY),
    fts_text,  # FTS5 syntax: quotes, parentheses, * ^ : - +, AND/OR/NOT/NEAR, column names
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.tuples(st.sampled_from(NASTY), st.text(max_size=10), st.sampled_from(NASTY)).map("".join),
)
ints = st.one_of(st.sampled_from(BIG_INTS), st.integers(), st.integers(-5, 2200))
floats = st.one_of(st.sampled_from(FLOATS), st.floats())
wrong = st.one_of(
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.lists(st.sampled_from(NASTY[:10]), max_size=2),
)
anything = st.one_of(texts, ints, floats, wrong)


def typed_value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value of the declared type (or one of them) with hostile content."""
    types = {schema.get("type")} | {option.get("type") for option in schema.get("anyOf", [])}
    options: list[st.SearchStrategy[Any]] = []
    if "string" in types:
        options.append(texts)
        if "enum" in schema:
            options.append(st.sampled_from(schema["enum"]))
    if "integer" in types:
        options.append(ints)
    if "number" in types:
        options.append(floats)
    if "boolean" in types:
        options.append(st.booleans())
    if "null" in types:
        options.append(st.none())
    return st.one_of(*options) if options else anything


# Values that resolve, so that a single hostile argument reaches the code behind the others.
VALID = {
    "name": "Zoë Hartmann",
    "author": "Zoë Hartmann",
    "author_a": "Zoë Hartmann",
    "author_b": "陈明",
    "query": "retrieval",
    "topic": "retrieval",
    "paper_id": 1,
}


def arguments_for(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """One hostile argument among valid ones, or every argument hostile (any type), plus unknown keys."""
    properties = schema.get("properties", {})
    extra = st.dictionaries(st.sampled_from(["path", "file", "db", "sql", "__proto__", ""]), anything, max_size=2)
    if not properties:
        return st.one_of(st.just({}), extra)

    def one_hostile(name: str) -> st.SearchStrategy[dict[str, Any]]:
        base = {k: v for k, v in VALID.items() if k in properties and k != name}
        return typed_value(properties[name]).map(lambda value: {**base, name: value})

    single = st.sampled_from(sorted(properties)).flatmap(one_hostile)
    every = st.fixed_dictionaries(
        {}, optional={name: st.one_of(typed_value(sub), anything) for name, sub in properties.items()}
    )
    with_extra = st.tuples(every, extra).map(lambda pair: {**pair[1], **pair[0]})
    return st.one_of(single, single, every, with_extra)


def test_the_tool_list_is_the_one_fuzzed(session: Session) -> None:
    assert sorted(session.tools) == sorted(TOOL_NAMES)


@pytest.mark.parametrize("tool", TOOL_NAMES)
def test_hostile_arguments_never_break_the_protocol_or_write(session: Session, tool: str) -> None:
    schema = session.tools[tool].input_schema
    crashes: list[str] = []

    @settings(
        max_examples=100,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(arguments=arguments_for(schema))
    def check(arguments: dict[str, Any]) -> None:
        is_error, text, structured = session.call(tool, arguments)
        if is_error:
            # An unanticipated exception inside the tool shows as the bare "Error executing tool X".
            if text.strip() == f"Error executing tool {tool}":
                crashes.append(_short(arguments))
        else:
            assert isinstance(structured, dict), text[:200]
            json.dumps(structured)  # the structured result is plain JSON

    check()
    assert crashes == [], f"{tool} crashed (an unanticipated exception) on: {crashes[:5]}"


# Targeted cases the generator rarely reaches, each with its own expected outcome: the start of the
# error message, or None for an answer (a NaN reaches the server as null: no score filter).
@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        (
            "search_papers",
            {"query": MEGA, "author": MEGA, "category": MEGA, "affiliation": MEGA},
            "`query` is 1,000,000 characters long; give at most 2000.",
        ),
        (
            "search_papers",
            {"query": "\x00OR\x00", "year_from": 2100, "year_to": 1900},
            "`year_from` (2100) is after `year_to` (1900); swap them.",
        ),
        ("search_papers", {"cursor": "!!!not base64!!!"}, "`cursor` is not valid for this query"),
        (
            "search_papers",
            {"cursor": base64.urlsafe_b64encode(b'{"o": -5, "f": "x"}').decode()},
            "`cursor` is not valid for this query",
        ),
        ("search_papers", {"min_score": float("nan")}, None),
        ("get_author", {"name": "", "profile_id": ""}, "Give `name` (a researcher's name) or `profile_id`."),
        ("get_author", {"profile_id": "../../etc/passwd"}, "No profile with profile_id '../../etc/passwd'."),
        (
            "shared_coauthors",
            {"author_a": "Zoë Hartmann", "author_b": "Zoë Hartmann"},
            "`author_a` and `author_b` both resolve to 'Zoë Hartmann'; give two different people.",
        ),
        (
            "collaboration_path",
            {"author_a": "Zoë Hartmann", "author_b": "Wei Zhang", "max_hops": 6},
            "Several profiles are named 'Wei Zhang' and they are different people: profile_id='ex05_wei-zhang-db'",
        ),
        ("get_paper", {"paper_id": INT64[1]}, f"No paper with paper_id {INT64[1]} (ids run from 1 to 68, with gaps)."),
        ("get_paper", {"paper_id": INT64[0]}, "`paper_id`: Input should be greater than or equal to 1"),
    ],
)
def test_targeted_hostile_calls(session: Session, tool: str, arguments: dict[str, Any], expected: str | None) -> None:
    is_error, text, structured = session.call(tool, arguments)
    if expected is None:
        assert not is_error, text
        assert structured["total"] == 68, text[:300]
    else:
        assert is_error, text[:300]
        message = text.removeprefix(f"Error executing tool {tool}: ").removeprefix(f"Invalid arguments for {tool}: ")
        assert message.startswith(expected), text


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("find_experts", {"topic": MEGA, "category": MEGA}, "`topic` is 1,000,000 characters long; give at most 2000."),
        (
            "find_experts",
            {"topic": '" OR NEAR(a b) * title: {abstract} -', "year_from": 2100, "year_to": 1900},
            "`year_from` (2100) is after `year_to` (1900); swap them.",
        ),
        ("find_experts", {"topic": " ".join(["retrieval"] * 500)}, "`topic` is 4,999 characters long"),
        ("similar_papers", {"paper_id": INT64[1], "limit": 50}, f"No paper with paper_id {INT64[1]}"),
        ("similar_papers", {"paper_id": INT64[0]}, "`paper_id`: Input should be greater than or equal to 1"),
        (
            "similar_authors",
            {"name": "", "profile_id": "../../etc/passwd"},
            "No profile with profile_id '../../etc/passwd'.",
        ),
        (
            "similar_authors",
            {"name": "Wei Zhang", "exclude_coauthors": True},
            "Several profiles are named 'Wei Zhang' and they are different people: profile_id='ex05_wei-zhang-db'",
        ),
        ("similar_authors", {"name": MEGA}, "`name` is 1,000,000 characters long; give at most 2000."),
        (
            "topic_trends",
            {"query": '"unbalanced NEAR( OR *', "group_by": "category", "author": MEGA},
            "`author` is 1,000,000 characters long; give at most 2000.",
        ),
        (
            "topic_trends",
            {"query": "\x00OR\x00", "year_from": 2100, "year_to": 1900},
            "`year_from` (2100) is after `year_to` (1900); swap them.",
        ),
    ],
)
def test_targeted_hostile_calls_to_topic_tools(
    session: Session, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    is_error, text, _ = session.call(tool, arguments)
    assert is_error, text[:300]
    message = text.removeprefix(f"Error executing tool {tool}: ").removeprefix(f"Invalid arguments for {tool}: ")
    assert message.startswith(expected), text


def test_control_characters_in_a_topic_are_dropped_and_the_words_searched(session: Session) -> None:
    is_error, text, structured = session.call(
        "find_experts", {"topic": "\x00" * 50 + "graph", "profiles_only": True, "limit": 50}
    )
    assert not is_error, text
    assert structured["topic"] == "graph"
    assert structured["results"] and all(r["profile_id"] for r in structured["results"])


def test_integers_beyond_64_bits_are_refused_naming_the_argument(session: Session) -> None:
    for tool in TOOL_NAMES:
        for name, schema in session.tools[tool].input_schema.get("properties", {}).items():
            types = {schema.get("type")} | {o.get("type") for o in schema.get("anyOf", [])}
            if "integer" not in types:
                continue
            base = {k: v for k, v in VALID.items() if k in session.tools[tool].input_schema["properties"]}
            for value in (2**64, -(2**64), 10**30):
                is_error, text, _ = session.call(tool, {**base, name: value})
                assert is_error, (tool, name, value, text[:200])
                assert f"`{name}`" in text and text.strip() != f"Error executing tool {tool}", (tool, name, text)


def _forged_cursor(session: Session, offset: Any) -> str:
    _, _, first = session.call("search_papers", {"limit": 2})
    cursor = first["next_cursor"]
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    data["o"] = offset
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_get_paper_with_an_id_beyond_64_bits_is_refused_by_name(session: Session) -> None:
    is_error, text, _ = session.call("get_paper", {"paper_id": 2**64})
    assert is_error and "`paper_id`" in text and "less than or equal to" in text, text


def test_a_forged_cursor_with_a_huge_offset_is_refused_as_invalid(session: Session) -> None:
    is_error, text, _ = session.call("search_papers", {"limit": 2, "cursor": _forged_cursor(session, 10**30)})
    assert is_error and "`cursor` is not valid" in text, text


def test_a_too_long_argument_is_reported_with_its_real_length(session: Session) -> None:
    is_error, text, _ = session.call("search_authors", {"query": MEGA})
    assert is_error and "1,000,000 characters" in text, text


# -- read-only means read-only ----------------------------------------------------------------

WRITES = [
    "INSERT INTO meta(key, value) VALUES ('owned', 'yes')",
    "UPDATE profiles SET name = 'x'",
    "DELETE FROM papers",
    "DROP TABLE listings",
    "CREATE TABLE evil(x)",
    "CREATE INDEX evil ON papers(title)",
    "ALTER TABLE papers ADD COLUMN evil",
    "INSERT INTO papers_fts(papers_fts) VALUES ('rebuild')",
    "PRAGMA user_version = 7",
    "PRAGMA journal_mode = DELETE",
    "VACUUM",
    "REINDEX",
    "ANALYZE",
]


def test_the_servers_connection_cannot_write(tmp_path: Path) -> None:
    db = build_catalog(tmp_path / "catalog.db", EXAMPLES)
    server = build_server(db)
    catalog = server.catalog_handle.get()  # type: ignore[attr-defined]
    before_files, before_rows = db_files_state(db), content_checksum(db)
    listing = sorted(os.listdir(tmp_path))
    with catalog.connection() as conn:
        for sql in WRITES:
            with pytest.raises(apsw.Error):
                conn.execute(sql)
            assert not conn.in_transaction
        # Turning query_only off does not help: the file is opened with mode=ro.
        conn.execute("PRAGMA query_only = OFF")
        with pytest.raises(apsw.ReadOnlyError, match="readonly"):
            conn.execute("INSERT INTO meta(key, value) VALUES ('owned', 'yes')")
        assert not conn.in_transaction
        # Nor can it create files: no ATTACH, no VACUUM INTO.
        for sql in (f"ATTACH DATABASE '{tmp_path / 'new.db'}' AS other", f"VACUUM INTO '{tmp_path / 'copy.db'}'"):
            with pytest.raises(apsw.Error):
                conn.execute(sql)
    assert (journal := catalog._conn.execute("PRAGMA journal_mode").fetchone()[0]) == "wal", journal
    catalog.close()
    assert sorted(os.listdir(tmp_path)) == listing, "the read-only connection created files"
    assert db_files_state(db) == before_files
    assert content_checksum(db) == before_rows


FILE_WORDS = ("path", "file", "dir", "folder", "db", "database", "uri", "url", "sql")


def test_no_tool_takes_a_file_path(session: Session) -> None:
    for tool in session.tools.values():
        properties = tool.input_schema.get("properties", {})
        for name, schema in properties.items():
            words = set(name.lower().replace("-", "_").split("_"))
            assert not words & set(FILE_WORDS), f"{tool.name}.{name} looks like a path argument"
            description = (schema.get("description") or "").lower()
            assert not any(f" {w} " in f" {description} " for w in ("path", "file", "filename", "directory")), (
                f"{tool.name}.{name}: {description}"
            )
            types = {schema.get("type")} | {o.get("type") for o in schema.get("anyOf", [])}
            assert types - {None} <= {"string", "integer", "number", "boolean", "null"}, (tool.name, name, types)
            assert schema.get("format") not in ("uri", "uri-reference", "path"), (tool.name, name)


def test_path_like_arguments_open_no_files(session: Session, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("Zoë Hartmann\n")
    copy = tmp_path / "other.db"
    shutil.copy(session.db, copy)
    for tool in TOOL_NAMES:
        for name, schema in session.tools[tool].input_schema.get("properties", {}).items():
            types = {schema.get("type")} | {o.get("type") for o in schema.get("anyOf", [])}
            if "string" not in types:
                continue
            for value in (str(secret), f"file://{secret}", str(copy), f"{copy}?mode=rwc", "/dev/zero"):
                session.call(tool, {name: value})  # stray_access() inside fails on any open of these
