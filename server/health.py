"""``GET /healthz``: can this replica answer from its catalog? For load balancers and monitoring.

200 ``{"status": "ok", "profiles": N, "papers": N, "authors": N}`` when the catalog file opens
read-only, passes the same checks as serving (schema version, our objects) and can be counted;
503 ``{"status": "unavailable", "reason": ...}`` when it is missing, unreadable or refused.

It is answered without the bearer token, so a balancer needs no secret, and then says nothing
beyond the counts: no build time, no file name, and a generic reason on 503. A request that carries
the server's token (or any request when no token is set) also gets ``built_at``, ``schema_version``
and the full reason, which is what an operator checks after publishing a new catalog.

Each probe opens its own connection instead of queueing behind tool calls for the shared one.
"""

from __future__ import annotations

import hmac
import json
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from starlette.types import Receive, Scope, Send

from scholar_catalog.db.connection import CatalogError, open_readonly

GENERIC_REASON = "the catalog is missing, unreadable or not a scholar-catalog catalog"


class Health:
    """The ASGI app behind ``/healthz``."""

    def __init__(self, db_path: Path, token: str | None) -> None:
        self.db_path = db_path
        self.expected = f"Bearer {token}".encode() if token else None
        self.threads = anyio.CapacityLimiter(2)  # its own: a probe never waits behind queued tool calls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _send(send, 405, {"status": "error", "reason": "use GET"}, head=False, allow=True)
            return
        full = self.expected is None or any(
            key == b"authorization" and hmac.compare_digest(value, self.expected)
            for key, value in scope.get("headers", [])
        )
        try:
            info = await anyio.to_thread.run_sync(probe, self.db_path, limiter=self.threads)
        except CatalogError as err:
            body = {"status": "unavailable", "reason": str(err) if full else GENERIC_REASON}
            await _send(send, 503, body, head=scope["method"] == "HEAD")
            return
        if not full:
            info = {key: info[key] for key in ("status", "profiles", "papers", "authors")}
        await _send(send, 200, info, head=scope["method"] == "HEAD")


def probe(db_path: Path) -> dict[str, Any]:
    """Counts and build time of the catalog at *db_path*; raises :class:`CatalogError` if it cannot be served."""
    conn = open_readonly(db_path)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("profiles", "papers", "authors")
        }
    except Exception as err:  # a file damaged past its header
        raise CatalogError(f"{db_path}: cannot read the catalog ({err})") from err
    finally:
        conn.close()
    return {
        "status": "ok",
        **counts,
        "built_at": meta.get("built_at"),
        "schema_version": int(meta.get("schema_version", 0)),
    }


async def _send(send: Send, status: int, body: dict[str, Any], *, head: bool, allow: bool = False) -> None:
    data = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if allow:
        headers.append((b"allow", b"GET, HEAD"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else data})
