"""Reliability: hostile bytes on a stdio server's stdin (issue 6, "Hostile protocol input").

What JSON-RPC 2.0 says and what the mcp SDK (2.3) does, as these tests pin down:

* Unparseable input (bad JSON, invalid UTF-8, a JSON value that is not a JSON-RPC
  message, a batch array): JSON-RPC asks for a -32700 / -32600 error with ``id: null``.
  The SDK's stdio transport hands the parse failure to its dispatcher, which drops it
  (``on_stream_exception`` is unset on the server side). No reply, and the server keeps
  serving. A request with an ``id`` whose envelope is malformed (``params`` not an object,
  ``id`` an object) is dropped the same way: no reply for that id.
* A well-formed request for an unknown method gets -32601 ``Method not found``.
* An oversized line is read whole (the transport has no line limit); an oversized valid
  request is answered (here with the tool's own "too long" error).

Each hostile line is followed by a ``ping``; its answer proves the server is still serving.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fault_helpers import EXAMPLES, RawServer, assert_no_traceback

from conftest import TOOL_NAMES, build_catalog

METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_catalog(tmp_path_factory.mktemp("protocol") / "catalog.db", EXAMPLES)


def _call(ident: int, tool: str, arguments: dict) -> bytes:
    message = {"jsonrpc": "2.0", "id": ident, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    return json.dumps(message).encode() + b"\n"


# (label, raw line(s), id of the reply it must get or None when the SDK drops it,
#  the JSON-RPC error code it must get, or the start of the isError text it must get instead)
HOSTILE: list[tuple[str, bytes, int | None, int | str | None]] = [
    ("empty line", b"\n", None, None),
    ("not JSON", b"{this is not json\n", None, None),
    ("truncated JSON", b'{"jsonrpc": "2.0", "id": 50, "method": "pi\n', None, None),
    ("invalid UTF-8", b"\xff\xfe\xfd{\x80}\n", None, None),
    ("NUL bytes", b'{"jsonrpc":"2.0","id":51,\x00"method":"ping"}\n', None, None),
    ("JSON string", b'"just a string"\n', None, None),
    ("JSON number", b"12345\n", None, None),
    ("empty object", b"{}\n", None, None),
    ("batch array", b'[{"jsonrpc":"2.0","id":52,"method":"ping"}]\n', None, None),
    ("wrong jsonrpc version", b'{"jsonrpc":"1.0","id":53,"method":"ping"}\n', None, None),
    ("object id", b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}\n', None, None),
    ("params not an object", b'{"jsonrpc":"2.0","id":54,"method":"tools/call","params":"x"}\n', None, None),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000 + b"\n", None, None),
    ("16 MB of garbage", b"A" * (16 * 2**20) + b"\n", None, None),
    ("response to nothing", b'{"jsonrpc":"2.0","id":9999,"result":{}}\n', None, None),
    ("unknown notification", b'{"jsonrpc":"2.0","method":"notifications/unheard_of"}\n', None, None),
    ("unknown method", b'{"jsonrpc":"2.0","id":60,"method":"no/such/method"}\n', 60, METHOD_NOT_FOUND),
    ("method with spaces", b'{"jsonrpc":"2.0","id":61,"method":"tools/list; rm -rf /"}\n', 61, METHOD_NOT_FOUND),
    ("unknown tool", _call(62, "drop_tables", {}), 62, "Unknown tool 'drop_tables'. Tools: search_papers, "),
    ("tool with hostile args", _call(63, "search_papers", {"query": '"\x00 OR *', "limit": -1}), 63,
     "Invalid arguments for search_papers: `limit`: Input should be greater than or equal to 1 (got -1)."),
    ("16 MB valid request", _call(64, "search_authors", {"query": "z" * (16 * 2**20)}), 64,
     "Error executing tool search_authors: `query` is 16,777,216 characters long; give at most 2000."),
    ("resource outside the catalog", b'{"jsonrpc":"2.0","id":65,"method":"resources/read",'
     b'"params":{"uri":"file:///etc/passwd"}}\n', 65, INVALID_PARAMS),
    ("two messages on one line", b'{"jsonrpc":"2.0","id":66,"method":"ping"}{"jsonrpc":"2.0","id":67,'
     b'"method":"ping"}\n', None, None),
]  # fmt: skip


def test_hostile_stdin_gets_errors_or_is_dropped_and_the_server_keeps_serving(catalog: Path) -> None:
    server = RawServer("--db", catalog)
    try:
        server.send_raw(b"{garbage before initialize\n")
        reply = server.initialize()
        assert reply["result"]["serverInfo"]["name"] == "scholar-catalog"
        expected_ids: set[int] = set()
        ping_id = 1000
        for label, raw, reply_id, code in HOSTILE:
            server.send_raw(raw)
            ping_id += 1
            wanted = {ping_id} | ({reply_id} if reply_id is not None else set())
            server.send({"jsonrpc": "2.0", "id": ping_id, "method": "ping"})
            replies = server.wait_for(wanted)
            assert replies[ping_id].get("result") == {}, f"after {label}: {replies[ping_id]}"
            if reply_id is not None:
                expected_ids.add(reply_id)
                answer = replies[reply_id]
                assert answer["jsonrpc"] == "2.0"
                if isinstance(code, int):
                    assert answer["error"]["code"] == code, (label, answer)
                else:  # a tool-level failure, reported in-band
                    assert answer["result"]["isError"] is True, (label, str(answer)[:300])
                    assert answer["result"]["content"][0]["text"].startswith(str(code)), (label, str(answer)[:300])
                assert_no_traceback(json.dumps(answer), label)

        # Still serving real requests, with the right answer.
        stats = server.request(2000, "tools/call", {"name": "catalog_stats", "arguments": {}})
        assert stats["result"]["structuredContent"]["profiles"] == 10
        tools = server.request(2001, "tools/list")
        assert len(tools["result"]["tools"]) == len(TOOL_NAMES)
    finally:
        rest = server.close()
    assert server.proc.returncode == 0, server.stderr[-3000:]
    # Nothing was answered that should not have been: every id seen is a ping, a real request or expected.
    seen = {m.get("id") for m in server.received if "id" in m}
    assert seen <= {0, 2000, 2001} | set(range(1001, ping_id + 1)) | expected_ids, seen - expected_ids
    assert all(m.get("jsonrpc") == "2.0" for m in server.received + rest)
    assert_no_traceback(server.stderr, "server stderr")


def test_requests_before_initialize_do_not_break_the_session(catalog: Path) -> None:
    server = RawServer("--db", catalog)
    try:
        early = server.request(1, "tools/call", {"name": "catalog_stats", "arguments": {}})
        # The SDK refuses a request before initialize as invalid; a client that then initializes is served.
        assert early["jsonrpc"] == "2.0" and early["error"]["code"] == INVALID_PARAMS, early
        reply = server.initialize()
        assert reply["result"]["serverInfo"]["name"] == "scholar-catalog", reply
        stats = server.request(2, "tools/call", {"name": "catalog_stats", "arguments": {}})
        assert stats["result"]["structuredContent"]["profiles"] == 10
    finally:
        server.close()
    assert_no_traceback(server.stderr, "server stderr")
