"""A real nginx in front of scholar-catalog replicas, on loopback, for the replica test and the soak.

Everything nginx writes (pid, logs, temp files) stays in the folder it is given; it runs in the
foreground as a child process and is stopped by the context manager that started it. The proxy
settings are the ones docs/deploy.md recommends.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


def find_nginx() -> str | None:
    """The nginx binary (on PATH, or where Debian and source builds put it), or None."""
    found = shutil.which("nginx")
    if found:
        return found
    return next((path for path in NGINX_CANDIDATES if Path(path).is_file()), None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nginx_config(folder: Path, listen_port: int, upstream_ports: Sequence[int]) -> str:
    """An nginx.conf balancing 127.0.0.1:*listen_port* over the replicas, retrying a failed call elsewhere."""
    servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=3 fail_timeout=5s;" for port in upstream_ports)
    temp = "\n".join(
        f"    {kind}_temp_path {folder / (kind + '_temp')};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""daemon off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log {folder / "access.log"};
{temp}
    upstream scholar_catalog {{
        least_conn;
{servers}
        keepalive 32;
        keepalive_timeout 4s;  # below the replicas' own 5 s, so nginx never reuses a connection they closed
    }}
    server {{
        listen 127.0.0.1:{listen_port};
        location / {{
            proxy_pass http://scholar_catalog;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host:$server_port;  # the name:port clients used; replicas get --allow-host NAME:PORT
            proxy_buffering off;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
            # Every call is read-only, so a POST that failed on one replica may be sent to another.
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
            proxy_next_upstream_tries 3;
            proxy_next_upstream_timeout 30s;
        }}
    }}
}}
"""


@contextmanager
def running_nginx(folder: Path, upstream_ports: Sequence[int], listen_port: int | None = None) -> Iterator[int]:
    """Start nginx balancing over *upstream_ports*; yield its port once it accepts connections; always stop it."""
    binary = find_nginx()
    if binary is None:
        raise FileNotFoundError("nginx is not installed (Debian: apt-get install nginx)")
    folder.mkdir(parents=True, exist_ok=True)
    port = listen_port or free_port()
    config = folder / "nginx.conf"
    config.write_text(nginx_config(folder, port, upstream_ports))
    process = subprocess.Popen(
        [binary, "-p", str(folder), "-c", str(config), "-e", str(folder / "error.log")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                error = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"nginx exited with {process.returncode}: {error}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start listening within 30 s") from None
                time.sleep(0.05)
        yield port
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Terminate *process*, and kill it if it has not exited 15 s later."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
