"""Two stateless replicas behind a real nginx: answers equal one server's, a replica killed mid-run costs no
call it had not begun to answer, and a catalog swapped in atomically is served by both replicas without a
restart.

A SIGKILL that lands between a response's headers and its body (two writes microseconds apart, wider when
the machine preempts the replica between them) leaves nginx holding headers it has already relayed: no
proxy can replay that call, so the client sees the response cut short. The SDK's client then ends the
session (an ``httpx2.RemoteProtocolError`` escapes it), so the test's client does what a real one should: it
opens a new session and makes that read-only call again. Only such cuts are forgiven, only after the kill,
and at most one per client.

nginx is the Debian package (``.ci/run`` installs it); it is started on a free loopback port with its own
config, pid, logs and temp files in the test's folder (bench/balancer.py). Without nginx the test is
skipped on a developer machine and fails in CI (``$CI`` set).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from test_http import http_server, post
from test_http_limits import generated_catalog

from conftest import ROOT
from scholar_catalog.server.app import build_server

sys.path.insert(0, str(ROOT / "bench"))
try:
    from balancer import find_nginx, free_port, running_nginx
finally:
    sys.path.remove(str(ROOT / "bench"))

CLIENTS = 16
CALLS_PER_CLIENT = 8
KILL_AFTER = 40  # completed calls before one replica is killed


@pytest.fixture(scope="module")
def nginx() -> str:
    binary = find_nginx()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is required in CI (.ci/run installs the Debian package) but was not found")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    return binary


def publishable(source: Path, folder: Path) -> Path:
    """A copy of *source* as a catalog is published: one self-contained file (rollback journal, no -wal)."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "catalog.db"
    conn = sqlite3.connect(source)
    try:
        target = sqlite3.connect(copy)
        conn.backup(target)
        target.execute("PRAGMA journal_mode = DELETE")
        target.close()
    finally:
        conn.close()
    return copy


def mixed_calls(db: Path) -> list[tuple[str, dict[str, Any]]]:
    """Calls of every tool on names, papers and words that exist in *db*."""
    conn = sqlite3.connect(db)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM profiles ORDER BY id LIMIT 40")]
        papers = [r[0] for r in conn.execute("SELECT id FROM papers ORDER BY id LIMIT 3")]
        titles = [r[0] for r in conn.execute("SELECT title FROM papers ORDER BY id LIMIT 4")]
    finally:
        conn.close()
    words = [title.split()[-1] for title in titles]
    return [
        ("search_papers", {"query": words[0], "limit": 5}),
        ("search_papers", {"query": f"{words[1]} {words[2]}", "year_from": 2022}),
        ("search_papers", {"query": titles[3][:-1], "sort": "date"}),  # a near-miss: fuzzy fallback
        ("get_paper", {"paper_id": papers[0]}),
        ("get_paper", {"paper_id": papers[2]}),
        ("get_author", {"name": names[0]}),
        ("get_author", {"name": names[7].lower()}),
        ("search_authors", {"query": names[3][:-1]}),
        ("coauthors", {"name": names[1], "limit": 5}),
        ("shared_coauthors", {"author_a": names[0], "author_b": names[1]}),
        ("collaboration_path", {"author_a": names[2], "author_b": names[30], "max_hops": 4}),
        ("catalog_stats", {}),
    ]


async def expected_answers(db: Path, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """What a single in-process server answers on *db*, call by call."""
    async with Client(build_server(db)) as client:
        return [(await client.call_tool(name, args)).structured_content for name, args in calls]


def catalog_stats_direct(port: int) -> dict[str, Any]:
    """catalog_stats asked of one replica directly (stateless: no initialize needed)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "catalog_stats", "arguments": {}}}
    headers = {"Host": f"127.0.0.1:{port}", "MCP-Protocol-Version": "2025-11-25"}
    status, _, text = post(port, headers, body)
    assert status == 200, text
    return json.loads(text)["result"]["structuredContent"]


def test_replicas_behind_nginx_answer_alike_survive_a_kill_and_follow_a_swapped_catalog(
    nginx: str, example_db: Path, tmp_path: Path
) -> None:
    served = publishable(example_db, tmp_path / "served")
    fresh = publishable(generated_catalog(tmp_path / "generated", 150, seed=5), tmp_path / "incoming")
    balancer_port = free_port()
    allow = ("--stateless", "--allow-host", f"127.0.0.1:{balancer_port}")
    with ExitStack() as stack:
        replicas = [stack.enter_context(http_server(served, *allow)) for _ in range(2)]
        stack.enter_context(running_nginx(tmp_path / "nginx", [r.port for r in replicas], balancer_port))
        url = f"http://127.0.0.1:{balancer_port}/mcp"

        # A new catalog is published by an atomic rename; both running replicas serve it from then on.
        before = [catalog_stats_direct(r.port)["profiles"] for r in replicas]
        assert before == [10, 10]
        staged = served.with_name(".catalog.db.incoming")
        shutil.copyfile(fresh, staged)
        os.replace(staged, served)
        assert [catalog_stats_direct(r.port)["profiles"] for r in replicas] == [150, 150]

        calls = mixed_calls(served)
        expected = anyio.run(expected_answers, served, calls)
        assert all(answer is not None for answer in expected)
        outcome = anyio.run(_load, url, calls, replicas[1].process)

    assert outcome["failures"] == [], outcome["failures"][:3]
    assert outcome["done"] == CLIENTS * CALLS_PER_CLIENT
    assert outcome["cut"] <= CLIENTS  # only calls in flight on the victim when it died
    assert outcome["after_kill"] >= CLIENTS * CALLS_PER_CLIENT - KILL_AFTER - CLIENTS  # the run went on
    mismatched = [(i, name) for i, name, answer in outcome["answers"] if answer != expected[i]]
    assert mismatched == []


def _cut_response(error: BaseException) -> bool:
    """True when *error* is only responses cut short after their headers (their replica died writing them)."""
    if isinstance(error, BaseExceptionGroup):
        return all(_cut_response(inner) for inner in error.exceptions)
    return isinstance(error, httpx2.RemoteProtocolError) and "without sending complete message body" in str(error)


async def _load(url: str, calls: list[tuple[str, dict[str, Any]]], victim: Any) -> dict[str, Any]:
    """CLIENTS official-SDK clients (half legacy initialize, half the newer discover) making mixed calls."""
    state: dict[str, Any] = {"done": 0, "after_kill": 0, "killed": False, "cut": 0, "failures": [], "answers": []}

    async def client(number: int) -> None:
        mode = "legacy" if number % 2 else "auto"
        step = 0
        cuts = 0
        while step < CALLS_PER_CLIENT:
            try:
                async with (
                    httpx2.AsyncClient(timeout=60) as http,
                    Client(streamable_http_client(url, http_client=http), mode=mode) as session,
                ):
                    while step < CALLS_PER_CLIENT:
                        await call(session, (number + step) % len(calls))
                        step += 1
            except Exception as err:
                if not (state["killed"] and cuts == 0 and _cut_response(err)):
                    raise
                cuts += 1
                state["cut"] += 1  # the session is gone; a new one makes the same call again

    async def call(session: Client, index: int) -> None:
        name, args = calls[index]
        try:
            result = await session.call_tool(name, args)
        except Exception as err:  # a failed call is what this test is about: record, don't stop
            state["failures"].append((name, repr(err)))
            return
        if result.is_error:
            state["failures"].append((name, result.content[0].text if result.content else "error"))
        state["answers"].append((index, name, result.structured_content))
        state["done"] += 1
        if state["killed"]:
            state["after_kill"] += 1
        elif state["done"] >= KILL_AFTER:
            state["killed"] = True
            victim.kill()  # SIGKILL: no goodbye, in-flight calls die with it

    with anyio.fail_after(120):
        async with anyio.create_task_group() as group:
            for number in range(CLIENTS):
                group.start_soon(client, number)
    return state
