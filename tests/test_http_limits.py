"""The HTTP server's limits, health endpoint and access log, each with its setting.

Real servers (``serve --http --port 0`` subprocesses, stopped by the fixture) for what needs one; the
concurrent-call limit is driven on the :class:`Gate` directly with calls that block until released, so
that "N calls at once" is certain rather than a race.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from test_http import INITIALIZE, RunningServer, exercise, http_server, post

from conftest import ROOT, build_catalog
from scholar_catalog.server.app import build_server
from scholar_catalog.server.gate import Gate

CALL = {
    "jsonrpc": "2.0",
    "id": 7,
    "method": "tools/call",
    "params": {"name": "search_papers", "arguments": {"query": "retrieval", "limit": 2}},
}
LEGACY = {"MCP-Protocol-Version": "2025-11-25"}  # stateless: a call needs no initialize first


def generated_catalog(folder: Path, profiles: int, seed: int = 3) -> Path:
    """A catalog of *profiles* synthetic profiles (bench/generate.py), big enough for statements of some length."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import generate
    finally:
        sys.path.remove(str(ROOT / "bench"))
    generate.generate(folder / "profiles", profiles, seed=seed)
    return build_catalog(folder / "catalog.db", folder / "profiles")


@pytest.fixture(scope="module")
def generated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_catalog(tmp_path_factory.mktemp("generated"), 300)


def wait_for(predicate: Any, what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def limited(example_db: Path) -> Iterator[RunningServer]:
    """A stateless server with a small body limit and otherwise default settings."""
    with http_server(example_db, "--stateless", "--max-body-bytes", "2000") as server:
        yield server


@pytest.fixture(scope="module")
def hurried(generated_db: Path) -> Iterator[RunningServer]:
    """A stateless server whose time limit no real call meets, logging arguments."""
    with http_server(generated_db, "--stateless", "--call-timeout", "0.000001", "--log-arguments") as server:
        yield server


def test_oversized_body_gets_413_naming_the_limit(limited: RunningServer) -> None:
    here = {"Host": f"127.0.0.1:{limited.port}"}
    big = {**CALL, "params": {"name": "search_papers", "arguments": {"query": "x" * 5000}}}
    status, _, text = post(limited.port, here, big)
    assert status == 413, text
    assert "limit of 2000 bytes" in json.loads(text)["error"]["message"]
    status, _, text = post(limited.port, here, INITIALIZE)  # a normal request still passes
    assert status == 200, text
    wait_for(lambda: any("outcome=too-large" in line for line in limited.stderr), "the access-log line")


def test_normal_calls_are_within_the_default_limits(limited: RunningServer) -> None:
    result = anyio.run(exercise, limited.url)
    assert not result["search"].is_error
    assert result["search"].structured_content["results"]


def test_call_past_the_time_limit_says_it_took_too_long_and_how_to_narrow_it(generated_db: Path) -> None:
    async def call() -> Any:
        async with Client(build_server(generated_db, call_timeout=1e-6)) as client:
            return await client.call_tool("search_papers", {"query": "robust"})

    result = anyio.run(call)
    assert result.is_error
    text = result.content[0].text
    assert "search_papers took longer than the server's limit of 1e-06 s per call" in text
    assert "Narrow the request" in text and "year_from" in text


def test_time_limit_setting_reaches_the_http_server_and_the_access_log(hurried: RunningServer) -> None:
    call = {**CALL, "params": {"name": "search_papers", "arguments": {"query": "robust"}}}
    here = {"Host": f"127.0.0.1:{hurried.port}", **LEGACY}
    status, _, text = post(hurried.port, here, call)
    assert status == 200, text
    assert "took longer than" in text
    wait_for(lambda: any("outcome=timeout" in line for line in hurried.stderr), "a timeout access-log line")


async def _blocking_app(scope: Any, receive: Any, send: Any) -> None:
    """Stands in for MCP: a call holds until the test releases it."""
    await receive()
    await scope["release"].wait()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"jsonrpc":"2.0","id":1,"result":{}}'})


async def _request(gate: Gate, body: dict[str, Any], release: anyio.Event) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode()
    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": [], "release": release}
    received = False
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": data, "more_body": False}
        await anyio.sleep_forever()
        return {}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            answer["body"] += message.get("body", b"")

    await gate(scope, receive, send)
    return answer["status"], answer["headers"], answer["body"]


def test_too_many_concurrent_calls_get_503_with_retry_after() -> None:
    async def scenario() -> None:
        gate = Gate(_blocking_app, health=_blocking_app, max_body_bytes=10_000, max_calls=2)
        release = anyio.Event()
        results: list[tuple[int, dict[str, str], bytes]] = []

        async def one(body: dict[str, Any]) -> None:
            results.append(await _request(gate, body, release))

        async with anyio.create_task_group() as group:
            group.start_soon(one, CALL)
            group.start_soon(one, CALL)
            with anyio.fail_after(5):
                while gate.active_calls < 2:
                    await anyio.sleep(0.01)
            status, headers, body = await _request(gate, {**CALL, "id": 99}, release)
            assert status == 503
            assert headers["retry-after"] == "1"
            error = json.loads(body)
            assert error["id"] == 99
            assert "2 calls are already running" in error["error"]["message"]
            release.set()
        assert [r[0] for r in results] == [200, 200]
        assert gate.active_calls == 0
        status, _, _ = await _request(gate, CALL, release)  # room again once they finished
        assert status == 200

    anyio.run(scenario)


def test_idle_session_expires_in_stateful_mode_and_log_level_warning_is_quiet(example_db: Path) -> None:
    with http_server(example_db, "--session-idle-timeout", "1", "--log-level", "warning") as server:
        here = {"Host": f"127.0.0.1:{server.port}"}
        status, headers, text = post(server.port, here, INITIALIZE)
        assert status == 200, text
        session = {**here, "Mcp-Session-Id": headers["mcp-session-id"], "MCP-Protocol-Version": "2025-11-25"}
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        assert post(server.port, session, listing)[0] == 200  # within the idle time: served
        time.sleep(2.5)
        status, _, text = post(server.port, session, listing)
        assert status == 404, text
        assert "Session not found" in text
        assert not any("method=" in line for line in server.stderr)  # no access log below INFO


def test_healthz_reports_counts_and_build_time(limited: RunningServer) -> None:
    status, body = _get(limited.port, "/healthz")
    assert status == 200
    assert body["status"] == "ok"
    assert body["profiles"] == 10 and body["papers"] > 0 and body["authors"] > 0
    assert body["built_at"] and body["schema_version"] >= 2


def test_healthz_without_the_token_reveals_only_counts(example_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    shutil.copyfile(example_db, db)
    with http_server(db, "--stateless", "--token", "tok") as server:
        status, body = _get(server.port, "/healthz")
        assert status == 200
        assert set(body) == {"status", "profiles", "papers", "authors"}
        status, body = _get(server.port, "/healthz", {"Authorization": "Bearer tok"})
        assert status == 200 and body["built_at"]
        assert post(server.port, {"Host": f"127.0.0.1:{server.port}"})[0] == 401  # /mcp still needs it

        db.unlink()
        status, body = _get(server.port, "/healthz")
        assert status == 503
        assert body["status"] == "unavailable" and str(db) not in body["reason"]
        status, body = _get(server.port, "/healthz", {"Authorization": "Bearer tok"})
        assert status == 503 and "no catalog here yet" in body["reason"]


SECRET = "a private research topic"


def _logged_call(server: RunningServer) -> str:
    """The access-log line of one search_papers call with SECRET as its query."""
    call = {**CALL, "params": {"name": "search_papers", "arguments": {"query": SECRET}}}
    before = len(server.stderr)
    assert post(server.port, {"Host": f"127.0.0.1:{server.port}", **LEGACY}, call)[0] == 200
    wait_for(lambda: any("tool=search_papers" in line for line in server.stderr[before:]), "an access line")
    return next(line for line in server.stderr[before:] if "tool=search_papers" in line)


def test_access_log_has_one_line_per_request_without_the_arguments(limited: RunningServer) -> None:
    line = _logged_call(limited)
    assert line[:4].isdigit() and "session=- POST method=tools/call tool=search_papers ms=" in line
    assert "status=200 outcome=ok" in line
    assert SECRET not in line


def test_access_log_shows_arguments_when_asked(hurried: RunningServer) -> None:
    assert SECRET in _logged_call(hurried)


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()
