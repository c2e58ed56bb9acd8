"""Reliability: a running server and concurrent ingests (issue 6, "Concurrent use").

The catalog is in WAL mode: readers never wait for a writer and a writer waits up to the
busy timeout for another writer. These tests run the real processes side by side.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from fault_helpers import (
    AS_OF,
    AS_OF_ARG,
    EXAMPLES,
    assert_no_traceback,
    canonical_dump,
    cli_command,
    cli_env,
    consistency_problems,
    content_checksum,
    dump_differences,
    integrity,
    make_corpus,
    run_cli,
    spawn_cli,
    stop,
)
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from scholar_catalog.db.connection import ENV_BUSY_TIMEOUT
from scholar_catalog.server.app import build_server

MAX_POLLS = 20_000  # bounds the polling loops; each poll is a few tool calls


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text if result.content else ""
    assert not result.is_error, f"{tool}({arguments}) failed: {text}"
    assert_no_traceback(text, f"{tool} result")
    return result.structured_content


def build(db: Path, *paths: Path) -> None:
    result = run_cli("ingest", *paths, "--db", db, "--as-of", AS_OF_ARG)
    assert result.returncode == 0, result.output


def wait_until_open(proc: subprocess.Popen[str], db: Path) -> bool:
    """True once *proc* has *db* open (bounded by MAX_POLLS looks at /proc); False if it exits first."""
    target = str(db.resolve())
    for _ in range(MAX_POLLS):
        if proc.poll() is not None:
            return False
        try:
            links = [os.readlink(f"/proc/{proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{proc.pid}/fd")]
        except OSError:
            links = []
        if target in links:
            return True
        time.sleep(0.001)
    return False


def without_topics(author: dict) -> dict:
    """get_author's result without `topics`: what sets a person apart changes with the rest of the catalog."""
    return {k: v for k, v in author.items() if k != "topics"}


def test_server_subprocess_answers_while_ingest_writes_and_sees_new_data(tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    build(db, EXAMPLES)
    corpus = make_corpus(600, seed=7)
    folder = tmp_path / "more"
    corpus.write(folder, dict.fromkeys(corpus.profiles, 0))
    total = 10 + len(corpus.profiles)
    errlog_path = tmp_path / "server-stderr.txt"

    async def scenario() -> None:
        command = cli_command("serve", "--db", db)
        params = StdioServerParameters(command=command[0], args=command[1:], env=cli_env())
        with errlog_path.open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                before = await call(client, "catalog_stats")
                assert before["profiles"] == 10
                zoe = without_topics(await call(client, "get_author", name="Zoë Hartmann"))
                retrieval = await call(client, "search_papers", query="retrieval", limit=5)

                ingest = spawn_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG)
                try:
                    seen: list[int] = []
                    during = 0
                    for _ in range(MAX_POLLS):
                        running = ingest.poll() is None
                        stats = await call(client, "catalog_stats")
                        assert without_topics(await call(client, "get_author", name="Zoë Hartmann")) == zoe
                        found = await call(client, "search_papers", query="retrieval", limit=5)
                        assert found["results"] == retrieval["results"]
                        seen.append(stats["profiles"])
                        if running and ingest.poll() is None:
                            during += 1
                        else:
                            break
                    out, err = ingest.communicate(timeout=300)
                finally:
                    stop(ingest)
                assert ingest.returncode == 0, out + err
                assert during >= 1, "no tool call completed while ingest was running"
                assert all(10 <= n <= total for n in seen), seen
                assert seen == sorted(seen), f"the server went back to an older catalog state: {seen}"

                # The same server, not restarted, sees what ingest wrote.
                after = await call(client, "catalog_stats")
                assert after["profiles"] == total
                pid = sorted(corpus.profiles)[3]
                head, rows = corpus.expected(pid, 0)
                author = await call(client, "get_author", profile_id=pid)
                assert (author["name"], author["h_index"], author["papers_in_catalog"]) == (head[0], head[2], len(rows))

    anyio.run(scenario)
    assert_no_traceback(errlog_path.read_text(errors="replace"), "server stderr")
    assert integrity(db) == []


# Ingest in a process of its own, holding its one write transaction open until told to commit (a line on
# stdin): the server must not write a catalog it reads in the same process (see db/connection.py).
HOLD_A_WRITE = """
import sys
from datetime import date
from pathlib import Path

import scholar_catalog.db.ingest as ingest_mod
from scholar_catalog.db.connection import open_writable

ingest_mod.BATCH_SECONDS = 1e9  # one transaction until told to commit
ingest_mod.BATCH_FILES = 10**9
writer = open_writable(sys.argv[1])
ingester = ingest_mod.Ingester(writer, as_of=date.fromisoformat(sys.argv[3]))
for path in sorted(Path(sys.argv[2]).glob("*.txt")):
    assert ingester.apply_file(path).status == "applied"
assert writer.conn.in_transaction
print("holding", flush=True)
sys.stdin.readline()
ingester.finish()
assert not writer.conn.in_transaction
writer.conn.close()
print("committed", flush=True)
"""


def test_reader_is_not_blocked_by_an_open_write_transaction(tmp_path: Path) -> None:
    """Deterministic: the test holds ingest's write transaction open (in another process) while the server answers."""
    db = tmp_path / "catalog.db"
    build(db, EXAMPLES)
    corpus = make_corpus(40, seed=11)
    folder = tmp_path / "more"
    corpus.write(folder, dict.fromkeys(corpus.profiles, 0))
    first = sorted(corpus.profiles)[0]

    async def scenario() -> None:
        async with Client(build_server(db)) as client:
            assert (await call(client, "catalog_stats"))["profiles"] == 10
            writer = subprocess.Popen(
                [sys.executable, "-c", HOLD_A_WRITE, str(db), str(folder), AS_OF.isoformat()],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                assert writer.stdout is not None and writer.stdin is not None
                assert writer.stdout.readline() == "holding\n"
                # Uncommitted: the server answers at once, from the last committed state.
                assert (await call(client, "catalog_stats"))["profiles"] == 10
                with pytest.raises(AssertionError, match="No profile with profile_id"):
                    await call(client, "get_author", profile_id=first)
                writer.stdin.write("\n")
                writer.stdin.flush()
                assert writer.stdout.readline() == "committed\n"
                assert writer.wait(60) == 0
            finally:
                writer.kill()
                writer.wait()
            # Committed: the same server sees it, without a restart.
            assert (await call(client, "catalog_stats"))["profiles"] == 10 + len(corpus.profiles)
            author = await call(client, "get_author", profile_id=first)
            assert author["papers_in_catalog"] == len(corpus.expected(first, 0)[1])

    anyio.run(scenario)


def test_server_sees_a_rebuild_and_a_prune_without_restart(tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    folder = tmp_path / "profiles"
    shutil.copytree(EXAMPLES, folder)
    build(db, folder)

    async def scenario() -> None:
        async with Client(build_server(db)) as client:
            assert (await call(client, "catalog_stats"))["profiles"] == 10
            (folder / "ex01_lukasz-wrobel.txt").unlink()
            result = await anyio.to_thread.run_sync(
                lambda: run_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG, "--rebuild")
            )
            assert result.returncode == 0, result.output
            assert (await call(client, "catalog_stats"))["profiles"] == 9
            (folder / "ex02_zoe-hartmann.txt").unlink()
            result = await anyio.to_thread.run_sync(
                lambda: run_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG, "--prune")
            )
            assert result.returncode == 0, result.output
            stats = await call(client, "catalog_stats")
            assert stats["profiles"] == 8
            found = await call(client, "search_authors", query="Zoë Hartmann")
            assert all(hit["profile_id"] != "ex02_zoe-hartmann" for hit in found["results"])

    anyio.run(scenario)


LOCKED_MESSAGE = "another process"


def test_two_ingests_at_once_never_corrupt_the_catalog(tmp_path: Path) -> None:
    """Two ingests started together: each finishes (the second waited) or fails saying the catalog is busy."""
    corpus = make_corpus(600, seed=21)
    pids = sorted(corpus.profiles)
    a, b = tmp_path / "a", tmp_path / "b"
    corpus.write(a, dict.fromkeys(pids[:300], 0))
    corpus.write(b, dict.fromkeys(pids[300:], 1))
    db = tmp_path / "catalog.db"
    build(db, EXAMPLES)

    # Disjoint folders at once, then the same folder twice at once.
    for first, second in ((a, b), (a, a)):
        procs = [spawn_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG) for folder in (first, second)]
        try:
            outputs = [p.communicate(timeout=300) for p in procs]
        finally:
            for p in procs:
                stop(p)
        for proc, (out, err) in zip(procs, outputs, strict=True):
            assert_no_traceback(out + err, "ingest output")
            if proc.returncode != 0:
                assert proc.returncode == 1 and LOCKED_MESSAGE in err, err
        assert integrity(db) == []
        assert consistency_problems(db) == []
        # Whatever raced, running the ingests once more leaves exactly a clean build's content.
        for folder in (first, second):
            build(db, folder)

    clean = tmp_path / "clean.db"
    build(clean, EXAMPLES, a, b)
    assert dump_differences(canonical_dump(db), canonical_dump(clean)) == []


def test_ingest_waits_for_a_writer_then_succeeds(tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    build(db, EXAMPLES)
    corpus = make_corpus(20, seed=5)
    folder = tmp_path / "more"
    corpus.write(folder, dict.fromkeys(corpus.profiles, 0))
    holder = sqlite3.connect(db, isolation_level=None)
    ingest = None
    try:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, as another ingest would hold it
        ingest = spawn_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG)
        if not wait_until_open(ingest, db):
            pytest.fail(f"ingest never opened the catalog: {ingest.communicate(timeout=60)}")
        holder.execute("COMMIT")
        out, err = ingest.communicate(timeout=300)
    finally:
        holder.close()
        if ingest is not None:
            stop(ingest)
    assert ingest.returncode == 0, out + err
    assert "30 profiles" in out


def test_ingest_gives_up_with_a_clear_message_when_the_lock_is_held_too_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "catalog.db"
    build(db, EXAMPLES)
    corpus = make_corpus(20, seed=5)
    folder = tmp_path / "more"
    corpus.write(folder, dict.fromkeys(corpus.profiles, 0))
    before = content_checksum(db)
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        monkeypatch.setenv(ENV_BUSY_TIMEOUT, "200")  # wait 0.2 s for the lock instead of 10 s
        result = run_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG)
        served = run_cli("serve", "--db", db, "--profiles", folder, "--as-of", AS_OF_ARG)  # stdin is empty: exits
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    assert result.returncode == 1, result.output
    assert_no_traceback(result.output)
    assert result.stderr.startswith("error: "), result.stderr
    assert LOCKED_MESSAGE in result.stderr and "retry" in result.stderr, result.stderr
    # serve --profiles warns and serves the catalog as it is.
    assert_no_traceback(served.output)
    assert "warning:" in served.stderr and LOCKED_MESSAGE in served.stderr, served.stderr
    assert served.returncode == 0, served.output
    assert content_checksum(db) == before
    assert integrity(db) == []
    # Once the lock is free, the same command completes.
    build(db, folder)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM profiles").fetchone()[0] == 30


def test_server_started_before_the_catalog_exists_serves_it_once_built(tmp_path: Path) -> None:
    db = tmp_path / "later" / "catalog.db"

    async def scenario() -> None:
        async with Client(build_server(db)) as client:
            early = await client.call_tool("catalog_stats", {})
            assert early.is_error and "no catalog here yet" in early.content[0].text
            assert not db.exists(), "the server created the catalog file"
            await anyio.to_thread.run_sync(build, db, EXAMPLES)
            assert (await call(client, "catalog_stats"))["profiles"] == 10

    anyio.run(scenario)


def test_server_sees_a_catalog_deleted_and_built_anew_without_restart(tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    folder = tmp_path / "profiles"
    shutil.copytree(EXAMPLES, folder)
    build(db, folder)

    async def scenario() -> None:
        async with Client(build_server(db)) as client:
            assert (await call(client, "catalog_stats"))["profiles"] == 10
            (folder / "ex01_lukasz-wrobel.txt").unlink()
            for suffix in ("", "-wal", "-shm"):
                db.with_name(db.name + suffix).unlink(missing_ok=True)
            await anyio.to_thread.run_sync(build, db, folder)
            assert (await call(client, "catalog_stats"))["profiles"] == 9

    anyio.run(scenario)
