"""End to end: the installed ``scholar-catalog serve`` spoken to over stdio.

One session through the SDK's stdio client (``Client`` over ``stdio_client``), and a raw
JSON-RPC exchange that checks every byte on stdout is protocol while logs go to stderr.
"""

from __future__ import annotations

import json
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_mcp import TOOL_ARGUMENTS, catalog_fingerprint, ok, server_executable
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from conftest import AS_OF, EXAMPLES, SEEDS

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

RESPONSE_WAIT = 60.0  # generous: only bounds a hang, never asserted


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def serve_params(*args: str) -> StdioServerParameters:
    return StdioServerParameters(command=str(server_executable()), args=["serve", *args])


async def test_stdio_session(example_db: Path, tmp_path: Path) -> None:
    before = catalog_fingerprint(example_db)
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as errlog:
        async with Client(stdio_client(serve_params("--db", str(example_db)), errlog=errlog)) as client:
            assert client.server_info is not None and client.server_info.name == "scholar-catalog"
            assert client.instructions and "search_papers" in client.instructions

            listed = (await client.list_tools()).tools
            assert {tool.name for tool in listed} == set(TOOL_ARGUMENTS)
            assert all(tool.output_schema and tool.annotations.read_only_hint for tool in listed)

            found = await ok(client, "search_papers", query="retrieval", year_from=2025, has_code=True)
            assert found["total"] > 0
            assert all(p["has_code"] and p["date"] >= "2025" for p in found["results"])

            shared = await ok(client, "shared_coauthors", author_a="Lukasz Wrobel", author_b="José Álvarez")
            assert [s["name"] for s in shared["shared"]] == ["Ingrid Solheim"]

            path = await ok(client, "collaboration_path", author_a="Łukasz Wróbel", author_b="Henrik Solberg")
            assert path["found"] and path["length"] == 3

            error = await client.call_tool("search_papers", {"query": "retrieval", "limit": 1000})
            assert error.is_error and "`limit`" in error.content[0].text

            stats = json.loads((await client.read_resource("catalog://stats")).contents[0].text)
            assert (stats["profiles"], stats["papers"]) == (10, 68)
            author = json.loads((await client.read_resource("catalog://author/ex04_jose-alvarez")).contents[0].text)
            assert author["name"] == "José Álvarez"

            prompts = {p.name for p in (await client.list_prompts()).prompts}
            assert prompts == {"author_brief", "compare_authors", "literature_scan"}
    assert catalog_fingerprint(example_db) == before  # serving never writes


async def test_stdio_seed_session(seed_db: Path) -> None:
    async with Client(stdio_client(serve_params("--db", str(seed_db)))) as client:
        shared = await ok(client, "shared_coauthors", author_a="Ritika Borkar", author_b="Abhinav Khattar")
        names = {s["name"] for s in shared["shared"]}
        assert "Aaron Blakeman" in names and "Tiyasa Mitra" not in names
        assert len(shared["direct"]) == 5
        found = await ok(client, "search_papers", query="Nemotron 3 Super", limit=1)
        assert found["results"][0]["date"] == "2026-04-14"


async def test_serve_profiles_syncs_the_folder_first(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    shutil.copytree(EXAMPLES, profiles)
    db = tmp_path / "synced" / "catalog.db"
    stderr_path = tmp_path / "stderr.txt"
    args = ("--db", str(db), "--profiles", str(profiles), "--as-of", AS_OF.isoformat())
    with stderr_path.open("w") as errlog:
        async with Client(stdio_client(serve_params(*args), errlog=errlog)) as client:
            stats = await ok(client, "catalog_stats")
            assert (stats["profiles"], stats["papers"], stats["listings"]) == (10, 68, 80)
            assert [Path(s["directory"]) for s in stats["sources"]] == [profiles.resolve()]
            wei = await ok(client, "get_author", name="Wei Zhang")
            assert len(wei["candidates"]) == 2
    log = stderr_path.read_text()
    assert "10 applied" in log and "10 profiles" in log  # the sync summary goes to stderr
    assert db.exists()

    # A second start with one more profile in the folder syncs incrementally.
    if SEEDS.is_dir():
        shutil.copy(SEEDS / "000_67c3570f253eda13.txt", profiles)
    with stderr_path.open("w") as errlog:
        async with Client(stdio_client(serve_params(*args), errlog=errlog)) as client:
            stats = await ok(client, "catalog_stats")
            assert stats["profiles"] == (11 if SEEDS.is_dir() else 10)
    assert "10 unchanged" in stderr_path.read_text()


# -- raw JSON-RPC: stdout is protocol only ------------------------------------------------------


class RawServer:
    """A ``scholar-catalog serve`` process driven line by line over stdin/stdout."""

    def __init__(self, args: list[str], stderr_path: Path) -> None:
        self.stderr = stderr_path.open("w")
        self.proc = subprocess.Popen(
            [str(server_executable()), "serve", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        self.lines: list[bytes] = []

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + RESPONSE_WAIT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if ready:
                line = self.proc.stdout.readline()
                assert line, "the server closed stdout"
                self.lines.append(line)
                return json.loads(line)  # anything that is not JSON-RPC fails here
        raise AssertionError("no response from the server")

    def request(self, request_id: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        while True:
            reply = self.receive()
            assert reply.get("jsonrpc") == "2.0", reply
            if reply.get("id") == request_id:
                return reply
            assert "method" in reply, f"unexpected message {reply!r}"  # a notification is fine

    def close(self) -> tuple[int, bytes]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        rest = self.proc.stdout.read()
        code = self.proc.wait(timeout=RESPONSE_WAIT)
        self.stderr.close()
        return code, rest


@pytest.fixture
def raw_server(tmp_path: Path) -> Iterator[Any]:
    servers: list[RawServer] = []

    def start(*args: str) -> RawServer:
        server = RawServer(list(args), tmp_path / f"stderr{len(servers)}.txt")
        servers.append(server)
        return server

    yield start
    for server in servers:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
        server.stderr.close()


INITIALIZE = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "raw-test", "version": "0"},
}


def test_raw_jsonrpc_stdout_is_protocol_only(raw_server: Any, tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    shutil.copytree(EXAMPLES, profiles)
    db = tmp_path / "raw.db"
    server: RawServer = raw_server("--db", str(db), "--profiles", str(profiles), "--as-of", AS_OF.isoformat())

    init = server.request(1, "initialize", INITIALIZE)
    assert init["result"]["serverInfo"]["name"] == "scholar-catalog"
    assert "search_papers" in init["result"]["instructions"]
    assert "tools" in init["result"]["capabilities"]
    server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    listed = server.request(2, "tools/list")["result"]["tools"]
    assert {tool["name"] for tool in listed} == set(TOOL_ARGUMENTS)
    for tool in listed:
        assert tool["outputSchema"]["type"] == "object"
        assert tool["annotations"]["readOnlyHint"] is True and tool["annotations"]["title"]

    call = server.request(3, "tools/call", {"name": "search_papers", "arguments": {"query": '"memory budget*'}})
    result = call["result"]
    assert result["isError"] is False
    assert result["structuredContent"]["results"][0]["title"] == "Late-Interaction Retrieval Under a Memory Budget"
    assert json.loads(result["content"][0]["text"])["total"] == result["structuredContent"]["total"]

    shared = server.request(
        4, "tools/call", {"name": "shared_coauthors", "arguments": {"author_a": "Łukasz Wróbel", "author_b": "Jose"}}
    )["result"]
    assert shared["isError"] is False
    assert shared["structuredContent"]["author_b"]["resolved_to"] == "José Álvarez"

    bad = server.request(5, "tools/call", {"name": "search_papers", "arguments": {"limit": "lots"}})
    assert bad["result"]["isError"] is True and "`limit`" in bad["result"]["content"][0]["text"]

    unknown = server.request(6, "tools/call", {"name": "no_such_tool", "arguments": {}})
    assert "no_such_tool" in json.dumps(unknown)

    paper = server.request(7, "resources/read", {"uri": "catalog://paper/1"})
    assert json.loads(paper["result"]["contents"][0]["text"])["paper_id"] == 1
    missing = server.request(8, "resources/read", {"uri": "catalog://author/nobody"})
    assert "error" in missing and "nobody" in missing["error"]["message"]

    code, rest = server.close()
    assert code == 0
    for line in [*server.lines, *rest.splitlines()]:
        if line.strip():
            assert json.loads(line)["jsonrpc"] == "2.0"
    log = (tmp_path / "stderr0.txt").read_text()
    assert "catalog now holds 10 profiles" in log  # the --profiles summary went to stderr, not stdout


def test_serve_with_bad_profiles_folder_fails_cleanly(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    done = subprocess.run(
        [str(server_executable()), "serve", "--db", str(tmp_path / "c.db"), "--profiles", str(missing)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RESPONSE_WAIT,
    )
    assert done.returncode == 2
    assert done.stdout == ""  # nothing but protocol ever goes to stdout
    assert "no-such-folder" in done.stderr
    assert "Traceback" not in done.stderr
