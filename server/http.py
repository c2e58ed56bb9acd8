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
from :mod:`scholar_catalog.server.app`, wrapped in the token check and served with uvicorn.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import os
import socket
from collections.abc import Iterable
from pathlib import Path

from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MCP_PATH = "/mcp"
ENV_TOKEN = "SCHOLAR_CATALOG_TOKEN"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


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
) -> ASGIApp:
    """The ASGI app: the MCP Streamable HTTP endpoint at ``/mcp``, Host/Origin-checked, token-checked if set."""
    from scholar_catalog.server.app import build_server

    check_bind(host, token)
    app = build_server(Path(db_path)).streamable_http_app(
        streamable_http_path=MCP_PATH,
        transport_security=security_settings(host, port, extra_hosts),
        host=host,
    )
    return BearerTokenMiddleware(app, token) if token else app


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
) -> None:
    """Bind, then serve until interrupted. The URL is printed to stderr once the socket is bound."""
    import sys

    import uvicorn

    check_bind(host, token)
    sock = bind_socket(host, port)
    actual_port = sock.getsockname()[1]
    app = build_http_app(db_path, host=host, port=actual_port, token=token, extra_hosts=extra_hosts)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    if announce:
        auth = " (bearer token required)" if token else ""
        print(f"scholar-catalog: MCP Streamable HTTP on {server_url(host, actual_port)}{auth}", file=sys.stderr)
        sys.stderr.flush()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
