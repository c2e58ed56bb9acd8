"""What every HTTP request passes before it reaches MCP: the body-size limit, the concurrent-call limit,
the health endpoint and the access log.

:class:`Gate` reads the request body itself (refusing it with 413 past ``max_body_bytes``), so it knows
the JSON-RPC method and tool of the request; it then

- answers ``GET /healthz`` with :class:`~scholar_catalog.server.health.Health` (before any token check);
- refuses a call (``tools/call``, ``resources/read``, ``prompts/get``, ``completion/complete``) with 503
  and ``Retry-After`` while ``max_calls`` calls are already running in this process, so that a load
  balancer tries another replica;
- writes one access-log line per request when it is answered (logger ``scholar_catalog.access``, INFO):
  time, session (first 8 characters), JSON-RPC method, tool, milliseconds, HTTP status and outcome
  (``ok``, ``tool-error``, ``timeout`` for a call stopped by the time limit, ``rpc-error``, ``busy``,
  ``too-large``, ``http-NNN``). Arguments are logged only with ``log_arguments``.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEALTH_PATH = "/healthz"
WORKER_THREADS = 4  # threads running tool calls in one process (the SDK runs each call in a worker thread)
CALL_METHODS = frozenset({"tools/call", "resources/read", "prompts/get", "completion/complete"})
access_log = logging.getLogger("scholar_catalog.access")

_TOOL_ERROR = b'"isError":true'
_RPC_ERROR = b'"error":{'
_TIMEOUT = b"longer than the server's limit"
_TAIL = 40  # bytes of the previous body chunk kept when looking for the markers above


class _BodyTooLarge(Exception):
    pass


class Gate:
    """ASGI middleware in front of the MCP app (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        health: ASGIApp,
        max_body_bytes: int,
        max_calls: int,
        log_arguments: bool = False,
    ) -> None:
        self.app = app
        self.health = health
        self.max_body_bytes = max_body_bytes
        self.max_calls = max_calls
        self.log_arguments = log_arguments
        self.active_calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            # Calls take turns on the catalog's one connection: a few worker threads keep it busy, and the
            # rest wait here as cheap coroutines rather than as threads contending for the GIL and memory.
            anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == HEALTH_PATH:
            await self.health(scope, receive, send)
            return
        started = time.perf_counter()
        entry = _Entry(scope)
        try:
            body = await self._read_body(scope, receive) if scope["method"] == "POST" else None
        except _BodyTooLarge:
            entry.outcome = "too-large"
            message = f"Request body larger than this server's limit of {self.max_body_bytes} bytes."
            await _json_error(send, 413, None, -32600, message, entry)
            self._log(entry, started)
            return
        if body is not None:
            entry.parse(body)
        counted = entry.method in CALL_METHODS
        if counted and self.active_calls >= self.max_calls:
            entry.outcome = "busy"
            message = (
                f"Server busy: {self.active_calls} calls are already running in this process (its limit). "
                "Retry in a moment."
            )
            await _json_error(send, 503, entry.request_id, -32000, message, entry, retry_after=True)
            self._log(entry, started)
            return
        if counted:
            self.active_calls += 1
        try:
            await self.app(scope, _replay(body, receive) if body is not None else receive, entry.watch(send))
        finally:
            if counted:
                self.active_calls -= 1
            self._log(entry, started)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        for key, value in scope.get("headers", []):
            if key == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                raise _BodyTooLarge
        chunks = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks += message.get("body", b"")
            if len(chunks) > self.max_body_bytes:
                raise _BodyTooLarge
            if not message.get("more_body", False):
                break
        return bytes(chunks)

    def _log(self, entry: _Entry, started: float) -> None:
        if not access_log.isEnabledFor(logging.INFO):
            return
        ms = (time.perf_counter() - started) * 1000
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = (
            f"{stamp} session={entry.session[:8] or '-'} {entry.http_method} method={entry.method or '-'} "
            f"tool={entry.tool or '-'} ms={ms:.1f} status={entry.status or '-'} outcome={entry.result()}"
        )
        if self.log_arguments and entry.arguments is not None:
            line += " args=" + json.dumps(entry.arguments, ensure_ascii=False, separators=(",", ":"))
        access_log.info(line)


class _Entry:
    """What the access log says about one request, filled in as it is read and answered."""

    def __init__(self, scope: Scope) -> None:
        self.http_method: str = scope["method"]
        self.session = ""
        for key, value in scope.get("headers", []):
            if key == b"mcp-session-id":
                self.session = value.decode("latin-1")
        self.method: str | None = None
        self.tool: str | None = None
        self.arguments: Any = None
        self.request_id: Any = None
        self.status: int | None = None
        self.outcome: str | None = None
        self.flags: set[str] = set()

    def parse(self, body: bytes) -> None:
        try:
            message = json.loads(body)
        except ValueError:
            return
        if isinstance(message, list):  # a batch: describe its first message
            message = message[0] if message else {}
        if not isinstance(message, dict):
            return
        method = message.get("method")
        self.method = method if isinstance(method, str) else None
        self.request_id = message.get("id")
        params = message.get("params")
        if isinstance(params, dict):
            name = params.get("name") or params.get("uri")
            self.tool = str(name)[:200] if name is not None else None
            self.arguments = params.get("arguments")

    def watch(self, send: Send) -> Send:
        tail = b""

        async def watching(message: Message) -> None:
            nonlocal tail
            if message["type"] == "http.response.start":
                self.status = message["status"]
                for key, value in message.get("headers", []):
                    if key == b"mcp-session-id" and not self.session:
                        self.session = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                window = tail + message.get("body", b"")
                for flag, marker in (("tool", _TOOL_ERROR), ("rpc", _RPC_ERROR), ("timeout", _TIMEOUT)):
                    if marker in window:
                        self.flags.add(flag)
                tail = window[-_TAIL:]
            await send(message)

        return watching

    def result(self) -> str:
        if self.outcome:
            return self.outcome
        if "timeout" in self.flags:
            return "timeout"
        if "tool" in self.flags:
            return "tool-error"
        if "rpc" in self.flags:
            return "rpc-error"
        if self.status is not None and self.status >= 400:
            return f"http-{self.status}"
        return "ok" if self.status is not None else "no-response"


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that hands over the already-read body once, then the client's later messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _json_error(
    send: Send, status: int, request_id: Any, code: int, message: str, entry: _Entry, *, retry_after: bool = False
) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after:
        headers.append((b"retry-after", b"1"))
    entry.status = status
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
