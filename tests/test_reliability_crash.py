"""Reliability: ingest killed with SIGKILL at random moments (issue 6, "Crashes").

A few hundred generated profiles, each with two versions; before every run a random
share of the files is switched to its other version, the ingest subprocess is killed
with SIGKILL at a random moment (a random delay, or once its WAL has grown past a
random size), and the catalog is checked: SQLite's integrity check, FTS5's own check,
cross-table invariants, and every profile wholly its old or wholly its new version.
At the end a plain re-run must finish the job and leave what a clean ingest leaves.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from fault_helpers import (
    AS_OF_ARG,
    Corpus,
    canonical_dump,
    connect_ro,
    consistency_problems,
    dump_differences,
    fts_integrity,
    integrity,
    kill9,
    make_corpus,
    profile_state,
    run_cli,
    spawn_cli,
    stop,
)

N_PROFILES = 400
KILLS = 20  # runs actually killed before they finished
MAX_ROUNDS = 40
SEED = int(os.environ.get("RELIABILITY_SEED", "0")) or random.SystemRandom().randrange(1, 10**9)
MAX_POLLS = 200_000


def check_catalog(db: Path, corpus: Corpus, on_disk: dict[str, int], where: str) -> dict[str, int]:
    """Assert the catalog is sound and each profile wholly one version; return pid -> version held."""
    assert integrity(db) == [], where
    assert consistency_problems(db) == [], where
    fts_integrity(db)
    held: dict[str, int] = {}
    texts = {pid: {v: corpus.text(pid, v) for v in (0, 1)} for pid in corpus.profiles}
    with connect_ro(db) as conn:
        hashes = dict(conn.execute("SELECT id, content_hash FROM profiles").fetchall())
        assert set(hashes) == set(corpus.profiles), f"{where}: profiles missing or extra"
        for pid in corpus.profiles:
            state = profile_state(conn, pid)
            versions = [v for v in (0, 1) if state == corpus.expected(pid, v)]
            assert versions, f"{where}: {pid} is neither version: {state}"
            held[pid] = versions[0]
            digest = hashlib.sha256(texts[pid][held[pid]].encode()).hexdigest()
            assert hashes[pid] == digest, f"{where}: {pid} holds version {held[pid]} but records another file's hash"
    return held


def wal_size(db: Path) -> int:
    try:
        return db.with_name(db.name + "-wal").stat().st_size
    except FileNotFoundError:
        return 0


def test_sigkill_at_random_moments_never_leaves_a_half_applied_profile(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    where_seed = f"(RELIABILITY_SEED={SEED})"
    corpus = make_corpus(N_PROFILES, seed=SEED % 1000, papers_per_profile=(6, 12))
    folder = tmp_path / "profiles"
    db = tmp_path / "catalog.db"
    on_disk = dict.fromkeys(corpus.profiles, 0)
    corpus.write(folder, on_disk)

    # Calibration: a full clean run, timed and with its WAL growth watched, sets the kill ranges.
    started = time.monotonic()
    proc = spawn_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG)
    peak_wal = 0
    try:
        for _ in range(MAX_POLLS):
            if proc.poll() is not None:
                break
            peak_wal = max(peak_wal, wal_size(db))
            time.sleep(0.001)
        out, err = proc.communicate(timeout=300)
    finally:
        stop(proc)
    full_run = time.monotonic() - started
    assert proc.returncode == 0, out + err
    check_catalog(db, corpus, on_disk, f"after the clean run {where_seed}")

    killed = mixed = rounds = 0
    while killed < KILLS and rounds < MAX_ROUNDS:
        rounds += 1
        # Switch a random share of the files to their other version.
        share = rng.uniform(0.4, 1.0)
        for pid in rng.sample(sorted(corpus.profiles), k=int(share * len(corpus.profiles))):
            on_disk[pid] = 1 - on_disk[pid]
        corpus.write(folder, on_disk)

        proc = spawn_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG)
        try:
            if rounds % 2 == 0 or peak_wal == 0:
                time.sleep(rng.uniform(0.0, full_run))
            else:
                threshold = rng.randint(1, max(1, peak_wal))
                for _ in range(MAX_POLLS):
                    if proc.poll() is not None or wal_size(db) >= threshold:
                        break
                    time.sleep(0.0005)
            kill9(proc)
            proc.communicate(timeout=60)
        finally:
            stop(proc)
        if proc.returncode == -signal.SIGKILL:
            killed += 1
        where = f"after run {rounds} (returncode {proc.returncode}) {where_seed}"
        held = check_catalog(db, corpus, on_disk, where)
        up_to_date = sum(held[pid] == on_disk[pid] for pid in corpus.profiles)
        if 0 < up_to_date < len(corpus.profiles) and any(held[pid] != on_disk[pid] for pid in corpus.profiles):
            mixed += 1

    assert killed >= KILLS, f"only {killed} of {rounds} runs were killed before finishing {where_seed}"

    # A plain re-run finishes the job ...
    result = run_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG)
    assert result.returncode == 0, result.output
    held = check_catalog(db, corpus, on_disk, f"after the final re-run {where_seed}")
    assert held == on_disk
    # ... and leaves exactly what a clean ingest of the final files leaves.
    clean = tmp_path / "clean.db"
    assert run_cli("ingest", folder, "--db", clean, "--as-of", AS_OF_ARG).returncode == 0
    assert dump_differences(canonical_dump(db), canonical_dump(clean)) == [], where_seed
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    print(f"crash test {where_seed}: {killed} of {rounds} runs killed, {mixed} left old and new profiles mixed")


def test_the_checker_notices_a_half_applied_profile(tmp_path: Path) -> None:
    """The oracle above is sensitive: one listing removed behind ingest's back is caught."""
    corpus = make_corpus(12, seed=3)
    folder, db = tmp_path / "profiles", tmp_path / "catalog.db"
    on_disk = dict.fromkeys(corpus.profiles, 0)
    corpus.write(folder, on_disk)
    assert run_cli("ingest", folder, "--db", db, "--as-of", AS_OF_ARG).returncode == 0
    check_catalog(db, corpus, on_disk, "clean")
    pid = sorted(corpus.profiles)[0]
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM listings WHERE rowid = (SELECT min(rowid) FROM listings WHERE profile_id = ?)", [pid])
        conn.execute("UPDATE profiles SET papers_listed = papers_listed - 1 WHERE id = ?", [pid])
    with pytest.raises(AssertionError, match=f"{pid} is neither version"):
        check_catalog(db, corpus, on_disk, "tampered")
