"""Serve the catalog over MCP Streamable HTTP (``scholar-catalog serve --http``).

Off by default; stdio stays the normal transport. The HTTP server

- binds to loopback (``127.0.0.1``) unless told otherwise, and refuses to bind to any
  other address without a bearer token (:func:`check_bind`);
- answers every request that lacks ``Authorization: Bearer <token>`` with 401 when a
  token is set (:class:`BearerTokenMiddleware`);
- validates the ``Host`` and ``Origin`` headers against the names it is served under
  (DNS-rebinding protection, with the SDK's :class:`TransportSecuritySettings`): a
  foreign ``Host`` gets 421, a foreign ``Origin`` 403.

The MCP endpoint is ``/mcp``. The app is ``build_server(db_path).streamable_http_app(...)``
from :mod:`scholar_catalog.server.app`, wrapped in the token check and in
:class:`~scholar_catalog.server.gate.Gate` (body-size and concurrent-call limits, ``/healthz``,
access log), and served with uvicorn. ``stateless=True`` is the SDK's stateless mode (no session:
any replica behind a load balancer can answer any request; answers are plain JSON).
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MCP_PATH = "/mcp"
ENV_TOKEN = "SCHOLAR_CATALOG_TOKEN"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Limits:
    """Per-process limits of the HTTP server (each is a ``serve`` option and an environment variable)."""

    max_body_bytes: int = 1_048_576  # a tool call's arguments are a few hundred bytes
    call_timeout: float | None = 10.0  # seconds of SQLite work per call (see db/limits.py)
    max_concurrent_calls: int = 64  # calls running or waiting for the catalog in one process
    session_idle_timeout: float = 1800.0  # stateful mode: a session with no request this long is closed


class BindError(ValueError):
    """The requested address cannot be used as asked (e.g. non-loopback without a token)."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to expose the catalog beyond this machine without a token."""
    if not is_loopback(host) and not token:
        raise BindError(
            f"refusing to serve on {host}: it is not a loopback address, so clients must authenticate. "
            f"Pass --token TOKEN (or set ${ENV_TOKEN}), or bind to 127.0.0.1."
        )


def _host_literal(host: str) -> str:
    """``host`` as it appears in a Host header or URL (IPv6 in brackets)."""
    name = host.strip("[]")
    return f"[{name}]" if ":" in name else name


def server_url(host: str, port: int) -> str:
    """The URL clients use; a wildcard bind (0.0.0.0, ::) is reached on loopback from this machine."""
    shown = host
    if host in ("0.0.0.0", ""):
        shown = "127.0.0.1"
    elif host.strip("[]") == "::":
        shown = "::1"
    return f"http://{_host_literal(shown)}:{port}{MCP_PATH}"


def _local_names(host: str) -> list[str]:
    """Names this machine is reachable under when bound to *host* (for the Host header check)."""
    names = [host.strip("[]")]
    if is_loopback(host) or host.strip("[]") in ("0.0.0.0", "::", ""):
        names += list(LOOPBACK_NAMES)
    if host.strip("[]") in ("0.0.0.0", "::", ""):
        # A wildcard bind is reached under the machine's own names and addresses.
        hostname = socket.gethostname()
        names.append(hostname)
        with contextlib.suppress(OSError):
            names += [str(info[4][0]) for info in socket.getaddrinfo(hostname, None)]
    seen: dict[str, None] = {}
    for name in names:
        if name and name.lower() not in seen:
            seen[name.lower()] = None
    return list(seen)


def security_settings(host: str, port: int, extra_hosts: Iterable[str] = ()) -> TransportSecuritySettings:
    """Host/Origin allow-lists: the bound host:port, its loopback aliases, and any *extra_hosts*.

    Each extra host is ``name`` (any port is then *not* implied: the bound port is used) or ``name:port``.
    """
    allowed_hosts: list[str] = []
    allowed_origins: list[str] = []
    for name in _local_names(host):
        literal = _host_literal(name)
        allowed_hosts.append(f"{literal}:{port}")
        allowed_origins += [f"http://{literal}:{port}", f"https://{literal}:{port}"]
    for extra in extra_hosts:
        value = extra.strip()
        if not value:
            continue
        if value.startswith("[") or value.count(":") <= 1:
            with_port = value if value.rsplit("]", 1)[-1].count(":") == 1 else f"{_host_literal(value)}:{port}"
        else:  # bare IPv6 address
            with_port = f"{_host_literal(value)}:{port}"
        allowed_hosts.append(with_port)
        allowed_origins += [f"http://{with_port}", f"https://{with_port}"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(dict.fromkeys(allowed_hosts)),
        allowed_origins=list(dict.fromkeys(allowed_origins)),
    )


class BearerTokenMiddleware:
    """Answer 401 to every HTTP request without ``Authorization: Bearer <token>`` (constant-time compare)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = b""
        for key, value in scope.get("headers", []):
            if key == b"authorization":
                given = value
                break
        if given and hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        reason = "missing bearer token" if not given else "invalid bearer token"
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": None,
                "error": {"code": -32001, "message": f"Unauthorized: {reason}. Send 'Authorization: Bearer <token>'."},
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="scholar-catalog"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def build_http_app(
    db_path: str | os.PathLike[str],
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    extra_hosts: Iterable[str] = (),
    stateless: bool = False,
    limits: Limits = Limits(),
    log_arguments: bool = False,
) -> ASGIApp:
    """The ASGI app: the MCP Streamable HTTP endpoint at ``/mcp``, Host/Origin-checked, token-checked if set,
    behind the :class:`~scholar_catalog.server.gate.Gate` (limits, ``/healthz``, access log)."""
    from scholar_catalog.server.app import build_server
    from scholar_catalog.server.gate import Gate
    from scholar_catalog.server.health import Health

    check_bind(host, token)
    app: ASGIApp = build_server(Path(db_path), call_timeout=limits.call_timeout).streamable_http_app(
        streamable_http_path=MCP_PATH,
        transport_security=security_settings(host, port, extra_hosts),
        host=host,
        stateless_http=stateless,
        json_response=stateless,
        max_request_body_size=limits.max_body_bytes,
        session_idle_timeout=limits.session_idle_timeout,
    )
    if token:
        app = BearerTokenMiddleware(app, token)
    return Gate(
        app,
        health=Health(Path(db_path), token),
        max_body_bytes=limits.max_body_bytes,
        max_calls=limits.max_concurrent_calls,
        log_arguments=log_arguments,
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket (port 0 picks a free port); raises OSError with the reason."""
    name = host.strip("[]")
    family = socket.AF_INET6 if ":" in name else socket.AF_INET
    if name == "localhost":
        name, family = "127.0.0.1", socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and name == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((name, port))
        sock.listen(128)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def serve_http(
    db_path: str | os.PathLike[str],
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    extra_hosts: Iterable[str] = (),
    announce: bool = True,
    stateless: bool = False,
    limits: Limits = Limits(),
    log_level: str = "info",
    log_arguments: bool = False,
) -> None:
    """Bind, then serve until interrupted. The URL is printed to stderr once the socket is bound."""
    import sys

    import uvicorn

    check_bind(host, token)
    configure_logging(log_level)
    sock = bind_socket(host, port)
    actual_port = sock.getsockname()[1]
    app = build_http_app(
        db_path,
        host=host,
        port=actual_port,
        token=token,
        extra_hosts=extra_hosts,
        stateless=stateless,
        limits=limits,
        log_arguments=log_arguments,
    )
    uvicorn_level = log_level if log_level in ("warning", "error") else "warning"
    config = uvicorn.Config(
        app, log_level=uvicorn_level, lifespan="on", access_log=False, timeout_graceful_shutdown=5, log_config=None
    )
    server = uvicorn.Server(config)
    if announce:
        auth = " (bearer token required)" if token else ""
        mode = " (stateless)" if stateless else ""
        print(f"scholar-catalog: MCP Streamable HTTP on {server_url(host, actual_port)}{auth}{mode}", file=sys.stderr)
        sys.stderr.flush()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def configure_logging(level: str) -> None:
    """Log to stderr at *level* (debug, info, warning, error); access-log lines are INFO, printed as they are."""
    import logging
    import sys

    numeric = getattr(logging, level.upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # Other libraries' INFO lines (one per session opened) would drown the access log; DEBUG shows everything.
    root.setLevel(logging.DEBUG if numeric <= logging.DEBUG else max(numeric, logging.WARNING))
    access = logging.getLogger("scholar_catalog.access")
    access_handler = logging.StreamHandler(sys.stderr)
    access_handler.setFormatter(logging.Formatter("%(message)s"))
    access.handlers[:] = [access_handler]
    access.propagate = False
    access.setLevel(numeric)
