"""``scholar-catalog serve --http``: a real server on 127.0.0.1 and a free port, driven over HTTP.

Each server is a subprocess started with ``--port 0`` (the OS picks a free port, the server
announces its URL on stderr) and stopped by the fixture that started it.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from conftest import TOOL_NAMES
from scholar_catalog.server.http import check_bind, is_loopback, security_settings, server_url

START_TIMEOUT = 60  # seconds to wait for the server to announce its URL (a bound, not a measurement)
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}},
}


@dataclass
class RunningServer:
    url: str
    port: int
    process: subprocess.Popen[str]
    stderr: list[str]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "scholar_catalog", *args]


@contextmanager
def http_server(db: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[RunningServer]:
    """Start ``serve --http --port 0`` on *db*; yield once it announced its URL; always stop it."""
    environment = {k: v for k, v in os.environ.items() if k != "SCHOLAR_CATALOG_TOKEN"}
    environment.update(env or {})
    process = subprocess.Popen(
        cli("serve", "--http", "--port", "0", "--db", str(db), *args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def pump() -> None:  # every stderr line lands in `seen` (the access log too), for as long as it runs
        assert process.stderr is not None
        for line in process.stderr:
            seen.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        url = None
        while url is None:
            try:
                line = lines.get(timeout=START_TIMEOUT)
            except queue.Empty:
                pytest.fail(f"server did not start within {START_TIMEOUT}s: {''.join(seen)}")
            if line is None:
                pytest.fail(f"server exited with {process.wait()}: {''.join(seen)}")
            if "MCP Streamable HTTP on " in line:
                url = line.split(" on ", 1)[1].split()[0]
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        yield RunningServer(url=url, port=port, process=process, stderr=seen)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def post(
    port: int, headers: dict[str, str], body: Any = INITIALIZE, path: str = "/mcp"
) -> tuple[int, dict[str, str], str]:
    """A raw POST to 127.0.0.1:*port* with exactly these headers (Host included, when given)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("POST", path, skip_host="Host" in headers, skip_accept_encoding=True)
        data = json.dumps(body).encode()
        base = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "Content-Length": str(len(data)),
        }
        for key, value in {**base, **headers}.items():
            connection.putheader(key, value)
        connection.endheaders(data)
        response = connection.getresponse()
        status = response.status
        response_headers = {k.lower(): v for k, v in response.getheaders()}
        text = ""
        if response_headers.get("content-type", "").startswith("text/event-stream"):
            # Read up to the first complete event: the initialize result.
            while "\n\n" not in text:
                chunk = response.readline().decode()
                if not chunk:
                    break
                text += chunk
        else:
            text = response.read().decode()
        return status, response_headers, text
    finally:
        connection.close()


def initialize_result(text: str) -> dict[str, Any]:
    payload = text
    if "data:" in text:
        payload = "".join(line[5:].strip() for line in text.splitlines() if line.startswith("data:"))
    return json.loads(payload)["result"]


async def exercise(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """initialize + tools/list + tools/call + a templated resource read, as a real MCP client."""
    http_client = httpx2.AsyncClient(headers=headers or {}, timeout=30)
    async with http_client, Client(streamable_http_client(url, http_client=http_client)) as client:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        found = await client.call_tool("search_papers", {"query": "retrieval", "limit": 5})
        author = await client.read_resource("catalog://author/ex01_lukasz-wrobel")
        return {
            "server": client.server_info.name if client.server_info else None,
            "tools": tools,
            "search": found,
            "author": author.contents[0].text,
        }


# --------------------------------------------------------------------------------------
# Pure functions: what counts as loopback, what Host/Origin values are allowed


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.0.2.7", "10.0.0.1", "example.org", ""))


def test_non_loopback_needs_a_token() -> None:
    check_bind("127.0.0.1", None)
    check_bind("192.0.2.7", "secret")
    with pytest.raises(ValueError, match="--token"):
        check_bind("0.0.0.0", None)
    with pytest.raises(ValueError, match="SCHOLAR_CATALOG_TOKEN"):
        check_bind("192.0.2.7", "")


def test_allowed_hosts_include_the_bound_host_and_port() -> None:
    loopback = security_settings("127.0.0.1", 8765)
    assert loopback.enable_dns_rebinding_protection
    assert {"127.0.0.1:8765", "localhost:8765", "[::1]:8765"} <= set(loopback.allowed_hosts)
    assert "http://127.0.0.1:8765" in loopback.allowed_origins
    assert not any(h.endswith(":*") for h in loopback.allowed_hosts + loopback.allowed_origins)

    remote = security_settings("192.0.2.7", 9000, extra_hosts=["catalog.example.org", "proxy.example.org:443"])
    assert "192.0.2.7:9000" in remote.allowed_hosts
    assert "catalog.example.org:9000" in remote.allowed_hosts
    assert "proxy.example.org:443" in remote.allowed_hosts
    assert "localhost:9000" not in remote.allowed_hosts  # a specific non-loopback bind is not reachable as localhost

    v6 = security_settings("::1", 8765)
    assert "[::1]:8765" in v6.allowed_hosts
    assert server_url("::1", 8765) == "http://[::1]:8765/mcp"
    assert server_url("0.0.0.0", 8765) == "http://127.0.0.1:8765/mcp"


# --------------------------------------------------------------------------------------
# A real server


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on *port* (Linux /proc), as hex strings."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            address, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.add(address)
    return found


def test_default_is_loopback_and_answers_a_real_client(example_db: Path) -> None:
    with http_server(example_db) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.url.endswith("/mcp")
        if Path("/proc/net/tcp").exists():
            assert listening_addresses(server.port) == {"0100007F"}  # 127.0.0.1 only, not 0.0.0.0
        result = anyio.run(exercise, server.url)
    assert result["server"] == "scholar-catalog"
    assert result["tools"] == TOOL_NAMES
    search = result["search"]
    assert not search.is_error
    assert search.structured_content["results"], search
    assert any("Retrieval" in paper["title"] for paper in search.structured_content["results"])
    assert "Wróbel" in result["author"]


def test_host_and_origin_are_validated(example_db: Path) -> None:
    with http_server(example_db) as server:
        here = f"127.0.0.1:{server.port}"
        status, headers, text = post(server.port, {"Host": here, "Origin": f"http://{here}"})
        assert status == 200, text
        assert initialize_result(text)["serverInfo"]["name"] == "scholar-catalog"
        assert "mcp-session-id" in headers
        assert post(server.port, {"Host": f"localhost:{server.port}"})[0] == 200

        # DNS rebinding: a foreign name resolving to 127.0.0.1 arrives with its own Host header.
        status, _, text = post(server.port, {"Host": f"evil.example.com:{server.port}"})
        assert status == 421, text
        assert post(server.port, {"Host": "127.0.0.1:1"})[0] == 421  # right address, wrong port
        # A web page from another origin calling the server from a browser.
        status, _, text = post(server.port, {"Host": here, "Origin": "http://evil.example.com"})
        assert status == 403, text
        assert post(server.port, {"Host": here, "Origin": f"http://evil.example.com:{server.port}"})[0] == 403


def test_token_is_required_on_every_request(example_db: Path) -> None:
    token = "s3cret-token-for-tests"
    with http_server(example_db, "--token", token) as server:
        assert any("bearer token required" in line for line in server.stderr)
        here = {"Host": f"127.0.0.1:{server.port}"}
        status, headers, text = post(server.port, here)
        assert status == 401
        assert headers["www-authenticate"].startswith("Bearer")
        assert "missing bearer token" in text
        for wrong in (f"Bearer {token}x", "Bearer ", token, f"Basic {token}", f"bearer{token}"):
            status, _, text = post(server.port, {**here, "Authorization": wrong})
            assert status == 401, wrong
        # Even a path that does not exist is refused before anything else is said about it.
        assert post(server.port, here, path="/other")[0] == 401

        status, _, text = post(server.port, {**here, "Authorization": f"Bearer {token}"})
        assert status == 200, text
        # The token does not replace the Host check.
        bad_host = {"Host": f"evil.example.com:{server.port}", "Authorization": f"Bearer {token}"}
        assert post(server.port, bad_host)[0] == 421

        result = anyio.run(exercise, server.url, {"Authorization": f"Bearer {token}"})
        assert result["tools"][0] == "search_papers"
        assert result["search"].structured_content["results"]


def test_token_from_environment(example_db: Path) -> None:
    with http_server(example_db, env={"SCHOLAR_CATALOG_TOKEN": "from-env"}) as server:
        here = {"Host": f"127.0.0.1:{server.port}"}
        assert post(server.port, here)[0] == 401
        assert post(server.port, {**here, "Authorization": "Bearer from-env"})[0] == 200


def test_non_loopback_without_token_refuses_to_start(example_db: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "SCHOLAR_CATALOG_TOKEN"}
    for host in ("0.0.0.0", "::", "192.0.2.7"):
        done = subprocess.run(
            cli("serve", "--http", "--host", host, "--port", "0", "--db", str(example_db)),
            capture_output=True,
            text=True,
            timeout=60,
            env=environment,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 2, done
        assert "not a loopback address" in done.stderr
        assert "--token" in done.stderr and "SCHOLAR_CATALOG_TOKEN" in done.stderr
        assert "Traceback" not in done.stderr
        assert done.stdout == ""


def test_http_options_need_http(example_db: Path) -> None:
    done = subprocess.run(
        cli("serve", "--port", "9999", "--db", str(example_db)),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "--port can only be used with --http" in done.stderr
