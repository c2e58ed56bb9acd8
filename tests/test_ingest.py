"""Tests for :mod:`scholar_catalog.db.ingest`: loading profiles into a catalog, incrementally, per file atomically."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import sqlite3
import sys
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fault_helpers import canonical_dump, dump_differences

from conftest import AS_OF, EXAMPLES, SEEDS, requires_seeds
from scholar_catalog.db.connection import open_writable
from scholar_catalog.db.ingest import Ingester, IngestReport, UsageError, discover, ingest, profile_id_for
from scholar_catalog.db.schema import FTS_COLUMNS

SEED_A = "000_67c3570f253eda13"
SEED_B = "004_cc442b40650344ee"
SUPER = "Nemotron 3 Super: Open, Efficient Mixture-of-Experts Hybrid Mamba-Transformer Model for Agentic Reasoning"
BUZZ = "Beyond the Buzz: A Pragmatic Take on Inference Disaggregation"
HELIX = "Helix Parallelism: Rethinking Sharding Strategies for Interactive Multi-Million-Token LLM Decoding"
LATENT = "LatentMoE: Toward Optimal Accuracy per FLOP and Parameter in Mixture of Experts"
NAMES_COLUMN = FTS_COLUMNS[-1]  # the full-text column that holds author names
TABLES = ("profiles", "authors", "papers", "listings", "paper_authors", "affiliations", "paper_affiliations")


# -- helpers ------------------------------------------------------------------------------


def run(db_path: Path, *paths: Path, **kwargs: Any) -> IngestReport:
    database = open_writable(db_path)
    try:
        return ingest(database, list(paths), **kwargs)
    finally:
        database.conn.close()


def query(db_path: Path, sql: str, params: tuple | list = ()) -> list[tuple]:
    with closing(sqlite3.connect(db_path)) as conn:
        return conn.execute(sql, params).fetchall()


def scalar(db_path: Path, sql: str, params: tuple | list = ()) -> Any:
    rows = query(db_path, sql, params)
    assert len(rows) == 1, rows
    return rows[0][0]


def dump(db_path: Path) -> dict[str, list[tuple]]:
    """Every row of every catalog table (and the full-text index), in a stable order."""
    out = {table: sorted(query(db_path, f"SELECT * FROM {table}"), key=repr) for table in TABLES}
    out["papers_fts"] = sorted(query(db_path, "SELECT rowid, * FROM papers_fts"), key=repr)
    return out


def fts_ok(db_path: Path) -> None:
    with closing(sqlite3.connect(db_path)) as conn:
        conn.execute("INSERT INTO papers_fts(papers_fts) VALUES ('integrity-check')")


def fts_titles(db_path: Path, match: str) -> set[str]:
    rows = query(
        db_path,
        "SELECT p.title FROM papers_fts JOIN papers p ON p.id = papers_fts.rowid WHERE papers_fts MATCH ?",
        [match],
    )
    return {r[0] for r in rows}


def paper_authors(db_path: Path, title: str) -> list[tuple]:
    """(name, position, is_owner, profile_id) of a paper's authors, listed ones first."""
    return query(
        db_path,
        """SELECT a.name, pa.position, pa.is_owner, a.profile_id
           FROM paper_authors pa JOIN authors a ON a.id = pa.author_id JOIN papers p ON p.id = pa.paper_id
           WHERE p.title = ? ORDER BY pa.position IS NULL, pa.position, a.profile_id""",
        [title],
    )


def copy_seeds(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for src in sorted(SEEDS.glob("*.txt")):
        (target / src.name).write_bytes(src.read_bytes())  # writable copies (the seeds are read-only)
    return target


def write(path: Path, text: str, *, mtime: datetime | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def profile(name: str, *entries: tuple[str, str, str], heading: bool = True) -> str:
    """A small profile: entries are (meta line, title, author line); each gets a one-line abstract."""
    lines = [name, "", "LG", "h-index3", f"{len(entries)}papers", "10citations", ""]
    if heading:
        lines += [f"{len(entries)} Papers", ""]
    for meta, title, authors in entries:
        lines += [meta, title, "", authors, "", f"Abstract of {title.lower()}.", ""]
    return "\n".join(lines)


# -- the seeds ------------------------------------------------------------------------------


@requires_seeds
def test_seeds_make_two_profiles_nineteen_listings_fourteen_papers(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    report = run(db, SEEDS, as_of=AS_OF)
    assert report.ok and report.rejected == []
    assert (report.applied, report.unchanged, report.profiles, report.papers) == (2, 0, 2, 14)
    assert report.papers_new == 14
    assert scalar(db, "SELECT count(*) FROM profiles") == 2
    assert scalar(db, "SELECT count(*) FROM listings") == 19
    assert scalar(db, "SELECT count(*) FROM papers") == 14
    assert scalar(db, "SELECT count(DISTINCT title_norm) FROM papers") == 14
    assert query(db, "SELECT profile_id, count(*) FROM listings GROUP BY profile_id ORDER BY 1") == [
        (SEED_A, 9),
        (SEED_B, 10),
    ]
    rows = query(
        db,
        """SELECT id, name, name_norm, primary_category, h_index, papers_declared, citations, novelty, ai_score,
                  papers_listed, source_path, source_size, content_hash, as_of FROM profiles ORDER BY id""",
    )
    a = SEEDS / f"{SEED_A}.txt"
    b = SEEDS / f"{SEED_B}.txt"
    assert rows == [
        (SEED_A, "Ritika Borkar", "ritika borkar", "CL", 57, 9, 193, 51, 57, 9, str(a.resolve()), a.stat().st_size,
         hashlib.sha256(a.read_bytes()).hexdigest(), "2026-11-24"),
        (SEED_B, "Abhinav Khattar", "abhinav khattar", "CL", 57, 10, 306, 49, 58, 10, str(b.resolve()),
         b.stat().st_size, hashlib.sha256(b.read_bytes()).hexdigest(), "2026-11-24"),
    ]  # fmt: skip
    assert scalar(db, "SELECT count(*) FROM meta WHERE key IN ('schema_version', 'created_at', 'built_at')") == 3
    fts_ok(db)


@requires_seeds
def test_nemotron_3_super_is_one_paper_with_two_listings(seed_db: Path) -> None:
    assert scalar(seed_db, "SELECT count(*) FROM papers WHERE title_norm LIKE 'nemotron 3 super%'") == 1
    rows = query(
        seed_db,
        """SELECT l.profile_id, l.score, l.line, l.position, l.date, l.date_raw, l.category, l.has_code
           FROM listings l JOIN papers p ON p.id = l.paper_id WHERE p.title = ? ORDER BY l.profile_id""",
        [SUPER],
    )
    assert rows == [
        (SEED_A, 95.3, 12, 1, "2026-04-14", "Apr 14", "LG", 1),
        (SEED_B, 95.1, 19, 2, "2026-04-14", "Apr 14", "LG", 1),
    ]
    paper = query(
        seed_db,
        "SELECT date, year, category, has_code, authors_listed, authors_truncated, affiliations FROM papers "
        "WHERE title = ?",
        [SUPER],
    )
    assert paper == [
        (
            "2026-04-14",
            2026,
            "LG",
            1,
            json.dumps(["Aakshita Chandiramani", "Aaron Blakeman", "Abdullahi Olaoye"]),
            1,
            json.dumps(["amazon-science", "cmu"]),
        )
    ]


@requires_seeds
def test_both_owners_are_hidden_authors_of_nemotron_3_super(seed_db: Path) -> None:
    assert paper_authors(seed_db, SUPER) == [
        ("Aakshita Chandiramani", 1, 0, None),
        ("Aaron Blakeman", 2, 0, None),
        ("Abdullahi Olaoye", 3, 0, None),
        ("Ritika Borkar", None, 1, SEED_A),
        ("Abhinav Khattar", None, 1, SEED_B),
    ]
    names = scalar(seed_db, "SELECT author_names FROM papers WHERE title = ?", [SUPER])
    assert "Ritika Borkar" in names and "Abhinav Khattar" in names


@requires_seeds
def test_listed_owner_is_the_owner_author_not_a_name_only_author(seed_db: Path) -> None:
    assert paper_authors(seed_db, BUZZ) == [
        ("Tiyasa Mitra", 1, 0, None),
        ("Ritika Borkar", 2, 1, SEED_A),
        ("Nidhi Bhatia", 3, 0, None),
    ]
    assert paper_authors(seed_db, HELIX)[2] == ("Ritika Borkar", 3, 1, SEED_A)
    # Exactly one 'Ritika Borkar' in the catalog: the owner of 000_..., on all nine of her papers.
    assert query(seed_db, "SELECT profile_id FROM authors WHERE name_norm = 'ritika borkar'") == [(SEED_A,)]
    owner_papers = query(
        seed_db,
        "SELECT count(*), sum(is_owner) FROM paper_authors pa JOIN authors a ON a.id = pa.author_id "
        "WHERE a.profile_id = ?",
        [SEED_A],
    )
    assert owner_papers == [(9, 9)]
    # Same for the other owner, listed at positions 3, 1 and 2 on three of his papers.
    khattar = query(
        seed_db,
        """SELECT p.title, pa.position FROM paper_authors pa JOIN authors a ON a.id = pa.author_id
           JOIN papers p ON p.id = pa.paper_id WHERE a.profile_id = ? AND pa.position IS NOT NULL ORDER BY p.title""",
        [SEED_B],
    )
    assert [(t[:20], pos) for t, pos in khattar] == [
        ("Analysis on Image Se", 1),
        ("Nemotron-H: A Family", 3),
        ("What sets Verified U", 2),
    ]
    assert scalar(seed_db, "SELECT count(*) FROM authors WHERE name_norm = 'abhinav khattar'") == 1


@requires_seeds
def test_name_only_authors_are_one_row_per_normalized_name(seed_db: Path) -> None:
    rows = query(
        seed_db,
        """SELECT a.id, count(pa.paper_id) FROM authors a JOIN paper_authors pa ON pa.author_id = a.id
           WHERE a.name_norm = 'nidhi bhatia' GROUP BY a.id""",
    )
    assert len(rows) == 1 and rows[0][1] == 3  # LatentMoE, Beyond the Buzz, Helix
    assert scalar(seed_db, "SELECT count(*) FROM authors WHERE profile_id IS NOT NULL") == 2
    assert scalar(seed_db, "SELECT count(*) FROM authors WHERE profile_id IS NULL") == scalar(
        seed_db, "SELECT count(DISTINCT name_norm) FROM authors WHERE profile_id IS NULL"
    )
    assert query(seed_db, "SELECT name FROM affiliations ORDER BY name") == [("amazon-science",), ("cmu",), ("nvidia",)]


@requires_seeds
def test_rerun_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    first = run(db, SEEDS, as_of=AS_OF)
    before = dump(db)
    second = run(db, SEEDS, as_of=AS_OF)
    assert (first.applied, first.unchanged) == (2, 0)
    assert (second.applied, second.unchanged, second.rejected, second.pruned) == (0, 2, [], [])
    assert (second.papers_new, second.papers_updated, second.profiles, second.papers) == (0, 0, 2, 14)
    assert dump(db) == before


@requires_seeds
def test_touched_or_moved_file_with_same_content_is_unchanged(tmp_path: Path) -> None:
    src = copy_seeds(tmp_path / "in")
    db = tmp_path / "c.db"
    run(db, src, as_of=AS_OF)
    before = dump(db)
    moved = tmp_path / "elsewhere" / f"{SEED_A}.txt"
    moved.parent.mkdir()
    (src / f"{SEED_A}.txt").rename(moved)
    os.utime(src / f"{SEED_B}.txt", (1_700_000_000, 1_700_000_000))
    report = run(db, src, moved, as_of=AS_OF)
    assert (report.applied, report.unchanged, report.rejected) == (0, 2, [])
    assert scalar(db, "SELECT source_path FROM profiles WHERE id = ?", [SEED_A]) == str(moved.resolve())
    assert scalar(db, "SELECT source_mtime_ns FROM profiles WHERE id = ?", [SEED_B]) == 1_700_000_000 * 10**9
    after = dump(db)
    for table in set(TABLES) - {"profiles"}:
        assert after[table] == before[table], table


@requires_seeds
def test_changed_file_replaces_its_listings(tmp_path: Path) -> None:
    src = copy_seeds(tmp_path / "in")
    db = tmp_path / "c.db"
    run(db, src, as_of=AS_OF)
    assert scalar(db, "SELECT count(*) FROM authors WHERE name_norm = 'ankit more'") == 1  # only on Helix

    path = src / f"{SEED_A}.txt"
    text = path.read_text(encoding="utf-8")
    text = text.partition("\n\nDCJul 7, 2025\n")[0]  # drop Helix (listed by 000 only)
    text = text[: text.index("LGJan 26Code\n")] + text[text.index("CLDec 23, 2025\n") :]  # drop LatentMoE (shared)
    text = text.replace("95.3LGApr 14Code", "90.0LGApr 14Code").replace("9 Papers", "7 Papers")
    path.write_text(text, encoding="utf-8")

    report = run(db, src, as_of=AS_OF)
    assert (report.applied, report.unchanged, report.rejected) == (1, 1, [])
    assert report.papers_new == 0
    assert (report.profiles, report.papers) == (2, 13)
    assert scalar(db, "SELECT count(*) FROM listings WHERE profile_id = ?", [SEED_A]) == 7
    assert scalar(db, "SELECT papers_listed FROM profiles WHERE id = ?", [SEED_A]) == 7
    assert query(db, "SELECT id FROM papers WHERE title = ?", [HELIX]) == []  # nobody lists it any more
    assert scalar(db, "SELECT count(*) FROM authors WHERE name_norm = 'ankit more'") == 0  # orphan dropped
    # LatentMoE stays, listed by 004 only, and 000's owner is no longer one of its authors.
    assert query(
        db, "SELECT l.profile_id FROM listings l JOIN papers p ON p.id = l.paper_id WHERE p.title = ?", [LATENT]
    ) == [(SEED_B,)]
    assert [row for row in paper_authors(db, LATENT) if row[2]] == [("Abhinav Khattar", None, 1, SEED_B)]
    assert "Ritika Borkar" not in scalar(db, "SELECT author_names FROM papers WHERE title = ?", [LATENT])
    assert query(
        db,
        "SELECT l.profile_id, l.score FROM listings l JOIN papers p ON p.id = l.paper_id WHERE p.title = ? ORDER BY 1",
        [SUPER],
    ) == [(SEED_A, 90.0), (SEED_B, 95.1)]
    assert fts_titles(db, "Helix") == set()
    fts_ok(db)


@requires_seeds
def test_rejected_file_leaves_that_profile_exactly_as_it_was(tmp_path: Path) -> None:
    src = copy_seeds(tmp_path / "in")
    db = tmp_path / "c.db"
    run(db, src, as_of=AS_OF)
    before = dump(db)

    bad = src / f"{SEED_A}.txt"
    original = bad.read_bytes()
    text = original.decode("utf-8")
    bad.write_text(text[: text.index("disaggregated serving remains limited")], encoding="utf-8")  # truncated
    other = src / f"{SEED_B}.txt"
    other.write_text(
        other.read_text(encoding="utf-8").replace("\nCLMay 2, 2025Code\n", "\n77.7CLMay 2, 2025Code\n"),
        encoding="utf-8",
    )

    report = run(db, src, as_of=AS_OF)
    assert (report.applied, report.unchanged, len(report.rejected)) == (1, 0, 1)
    assert not report.ok
    (rejected,) = report.rejected
    assert (rejected.path, rejected.status, rejected.profile_id) == (str(bad), "rejected", SEED_A)
    assert rejected.reason == (
        f"{bad}:47: heading declares 9 papers but 6 entries were found (truncated or damaged file?)"
    )
    # The other file was applied ...
    assert query(
        db,
        "SELECT l.score FROM listings l JOIN papers p ON p.id = l.paper_id "
        "WHERE p.title = 'Llama-Nemotron: Efficient Reasoning Models'",
    ) == [(77.7,)]
    # ... and everything else, 000's profile included, is exactly as before.
    after = dump(db)
    for table in TABLES:
        if table == "profiles":
            assert [r for r in after[table] if r[0] == SEED_A] == [r for r in before[table] if r[0] == SEED_A]
        elif table == "listings":
            assert [r for r in after[table] if r[0] == SEED_A] == [r for r in before[table] if r[0] == SEED_A]
            assert len(after[table]) == len(before[table])
        else:
            assert after[table] == before[table], table
    assert after["papers_fts"] == before["papers_fts"]

    # Still rejected on the next run; once restored (new mtime, same bytes) it is unchanged again.
    assert [r.path for r in run(db, src, as_of=AS_OF).rejected] == [str(bad)]
    bad.write_bytes(original)
    os.utime(bad, (1_800_000_000, 1_800_000_000))
    report = run(db, src, as_of=AS_OF)
    assert (report.applied, report.unchanged, report.rejected) == (0, 2, [])
    assert [r for r in dump(db)["listings"] if r[0] == SEED_A] == [r for r in before["listings"] if r[0] == SEED_A]


def test_new_rejected_file_creates_nothing_and_others_still_apply(tmp_path: Path) -> None:
    good = write(tmp_path / "in" / "good.txt", profile("Ada Brightwater", ("LGJan 2, 2024", "Kernels", "Ada B")))
    bad = write(tmp_path / "in" / "bad.txt", "Ada Brightwater\n\nh-index3\nFollowers 12\n")
    empty = write(tmp_path / "in" / "empty.txt", "")
    binary = tmp_path / "in" / "img.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    db = tmp_path / "c.db"
    report = run(db, tmp_path / "in", as_of=AS_OF)
    assert (report.applied, report.profiles, report.papers) == (1, 1, 1)
    reasons = {Path(r.path).name: r.reason for r in report.rejected}
    assert reasons == {
        "bad.txt": f"{bad}:4: unrecognized header line 'Followers 12'",
        "empty.txt": f"{empty}:1: empty file: no researcher name",
        "img.txt": f"{binary}: binary data (NUL bytes), not a text profile",
    }
    assert query(db, "SELECT id FROM profiles") == [("good",)]
    assert good.exists()


@requires_seeds
def test_prune_removes_profiles_whose_file_is_gone(tmp_path: Path) -> None:
    src = copy_seeds(tmp_path / "in")
    db = tmp_path / "c.db"
    run(db, src, as_of=AS_OF)
    (src / f"{SEED_B}.txt").unlink()

    kept = run(db, src, as_of=AS_OF)  # without prune: nothing is removed
    assert (kept.unchanged, kept.pruned, kept.profiles, kept.papers) == (1, [], 2, 14)

    report = run(db, src, as_of=AS_OF, prune=True)
    assert report.pruned == [SEED_B]
    assert (report.applied, report.unchanged, report.profiles, report.papers) == (0, 1, 1, 9)
    assert query(db, "SELECT id FROM profiles") == [(SEED_A,)]
    assert scalar(db, "SELECT count(*) FROM listings") == 9
    assert scalar(db, "SELECT count(*) FROM listings WHERE profile_id = ?", [SEED_B]) == 0
    for title in ["Llama-Nemotron: Efficient Reasoning Models", "Analysis on Image Set Visual Question Answering"]:
        assert query(db, "SELECT id FROM papers WHERE title = ?", [title]) == []
    # Shared papers remain, with the other owner only.
    assert [row for row in paper_authors(db, SUPER) if row[2]] == [("Ritika Borkar", None, 1, SEED_A)]
    assert "Abhinav Khattar" not in scalar(db, "SELECT author_names FROM papers WHERE title = ?", [SUPER])
    assert scalar(db, "SELECT count(*) FROM authors WHERE name_norm = 'abhinav khattar'") == 0
    assert scalar(db, "SELECT count(*) FROM authors WHERE profile_id IS NOT NULL") == 1
    assert fts_titles(db, "Khattar") == set()
    assert fts_titles(db, "Borkar") >= {SUPER}
    fts_ok(db)


def test_prune_keeps_a_listed_owner_name_as_a_name_only_author(tmp_path: Path) -> None:
    shared = ("CVMar 3, 2024", "Tidepool Segmentation", "Ines Halvorsen, Maren Okafor")
    write(tmp_path / "in" / "maren.txt", profile("Maren Okafor", shared))
    gone = write(tmp_path / "in" / "ines.txt", profile("Ines Halvorsen", shared))
    db = tmp_path / "c.db"
    run(db, tmp_path / "in", as_of=AS_OF)
    assert paper_authors(db, "Tidepool Segmentation") == [
        ("Ines Halvorsen", 1, 1, "ines"),
        ("Maren Okafor", 2, 1, "maren"),
    ]
    gone.unlink()
    assert run(db, tmp_path / "in", as_of=AS_OF, prune=True).pruned == ["ines"]
    assert paper_authors(db, "Tidepool Segmentation") == [
        ("Ines Halvorsen", 1, 0, None),
        ("Maren Okafor", 2, 1, "maren"),
    ]


def test_same_owner_name_in_two_files_is_two_profiles(tmp_path: Path) -> None:
    shared = ("LGJan 2, 2024", "Kernels All the Way Down", "Zoë Hartmann, Kofi Mensah")
    write(tmp_path / "in" / "zoe_a.txt", profile("Zoë Hartmann", shared, ("CVFeb 3, 2024", "Tidepools", "X Y")))
    write(tmp_path / "in" / "zoe_b.txt", profile("Zoe Hartmann", shared, ("DBMar 4, 2024", "Ledgers", "Q R")))
    db = tmp_path / "c.db"
    report = run(db, tmp_path / "in", as_of=AS_OF)
    assert (report.applied, report.profiles, report.papers) == (2, 2, 3)
    assert query(db, "SELECT id, name FROM profiles ORDER BY id") == [
        ("zoe_a", "Zoë Hartmann"),
        ("zoe_b", "Zoe Hartmann"),
    ]
    assert query(db, "SELECT profile_id FROM authors WHERE name_norm = 'zoe hartmann' ORDER BY 1") == [
        ("zoe_a",),
        ("zoe_b",),
    ]
    rows = paper_authors(db, "Kernels All the Way Down")
    owners = [r for r in rows if r[2]]
    assert sorted(r[3] for r in owners) == ["zoe_a", "zoe_b"]
    assert sorted(r[1] for r in owners if r[1] is not None) == [1]  # one of them holds the listed position
    assert ("Kofi Mensah", 2, 0, None) in rows
    assert len(rows) == 3
    assert [r[3] for r in paper_authors(db, "Tidepools") if r[2]] == ["zoe_a"]
    assert [r[3] for r in paper_authors(db, "Ledgers") if r[2]] == ["zoe_b"]


NAMESAKE_PROFILES = {
    "zoe": profile("Zoë Hartmann", ("LGJan 2, 2024", "Kernels", "ZOE HARTMANN, Q R")),
    "kofi": profile("Kofi Mensah", ("CVFeb 3, 2024", "Tidepools", "Kofi Mensah, Zoe Hartmann")),
    "lena": profile("Lena Ortiz", ("DBMar 4, 2024", "Ledgers", "Zoe Hartmann, Lena Ortiz")),
}


@pytest.mark.parametrize("separately", [False, True], ids=["one-run", "one-run-per-file"])
@pytest.mark.parametrize("order", list(itertools.permutations(NAMESAKE_PROFILES)), ids="-".join)
def test_listed_name_of_another_owner_on_a_paper_that_owner_does_not_list(
    tmp_path: Path, order: tuple[str, ...], separately: bool
) -> None:
    # The files are named so that they are read in *order* (the owner's file first or last), and the
    # profile ids are the file stems: the rule must not depend on which profile the catalog saw first.
    stem = {who: f"{i}_{who}" for i, who in enumerate(order)}
    files = [write(tmp_path / "in" / f"{stem[who]}.txt", NAMESAKE_PROFILES[who]) for who in order]
    db = tmp_path / "c.db"
    if separately:
        for file in files:
            run(db, file, as_of=AS_OF)
    else:
        run(db, tmp_path / "in", as_of=AS_OF)
    zoe, kofi, lena = stem["zoe"], stem["kofi"], stem["lena"]
    # On her own paper, a differently spelled listing of her name is the owner.
    assert paper_authors(db, "Kernels") == [("Zoë Hartmann", 1, 1, zoe), ("Q R", 2, 0, None)]
    # On Kofi's and Lena's papers, which she does not list, the same name is one separate, name-only author.
    assert paper_authors(db, "Tidepools") == [("Kofi Mensah", 1, 1, kofi), ("Zoe Hartmann", 2, 0, None)]
    assert paper_authors(db, "Ledgers") == [("Zoe Hartmann", 1, 0, None), ("Lena Ortiz", 2, 1, lena)]
    assert query(db, "SELECT name, profile_id FROM authors WHERE name_norm = 'zoe hartmann' ORDER BY 2") == [
        ("Zoe Hartmann", None),
        ("Zoë Hartmann", zoe),
    ]


def test_same_stem_in_two_directories(tmp_path: Path) -> None:
    first = write(tmp_path / "a" / "x.txt", profile("Ann First", ("LGJan 2, 2024", "First Paper", "Ann First")))
    second = write(tmp_path / "b" / "x.txt", profile("Bo Second", ("LGJan 3, 2024", "Second Paper", "Bo Second")))
    db = tmp_path / "c.db"
    report = run(db, tmp_path / "a", tmp_path / "b", as_of=AS_OF)
    assert (report.applied, len(report.rejected)) == (1, 1)
    (rejected,) = report.rejected
    assert rejected.path == str(second)
    assert rejected.reason == (
        f"{second}: profile id 'x' is already used by {first.resolve()}; file stems must be unique"
    )
    assert query(db, "SELECT id, name, source_path FROM profiles") == [("x", "Ann First", str(first.resolve()))]
    assert query(db, "SELECT title FROM papers") == [("First Paper",)]
    # Same verdict on the next run.
    again = run(db, tmp_path / "a", tmp_path / "b", as_of=AS_OF)
    assert (again.unchanged, [r.path for r in again.rejected]) == (1, [str(second)])


@requires_seeds
def test_full_text_search(seed_db: Path) -> None:
    assert fts_titles(seed_db, "title:LatentMoE") == {LATENT}  # a title word
    assert LATENT in fts_titles(seed_db, "LatentMoE")  # (also in two other papers' abstracts)
    assert fts_titles(seed_db, "Buzz") == {BUZZ}
    assert fts_titles(seed_db, "Eagle3") == {
        "Accelerating RL Post-Training Rollouts via System-Integrated Speculative Decoding"
    }  # an abstract word
    assert fts_titles(seed_db, "abstract:microwatts") == {
        "MLPerf Power: Benchmarking the Energy Efficiency of Machine Learning Systems from Microwatts to "
        "Megawatts for Sustainable AI"
    }
    # Hidden owners: neither is in Nemotron 3 Super's listed authors, both find it.
    assert SUPER in fts_titles(seed_db, f"{NAMES_COLUMN}:Khattar")
    assert SUPER in fts_titles(seed_db, f"{NAMES_COLUMN}:Borkar")
    assert fts_titles(seed_db, f"{NAMES_COLUMN}:Khattar") == {
        title for (title,) in query(seed_db, "SELECT p.title FROM listings l JOIN papers p ON p.id = l.paper_id "
                                             "WHERE l.profile_id = ?", [SEED_B])
    }  # fmt: skip
    fts_ok(seed_db)


def test_full_text_search_ignores_diacritics(tmp_path: Path) -> None:
    write(tmp_path / "in" / "z.txt", profile("Zoë Hartmann", ("LGJan 2, 2024", "Café Kernels", "A B et al.")))
    write(tmp_path / "in" / "l.txt", profile("Ann A", ("LGJan 3, 2024", "Sparse Lanterns", "Łukasz Wrona, Søren Holm")))
    db = tmp_path / "c.db"
    run(db, tmp_path / "in", as_of=AS_OF)
    assert fts_titles(db, "zoe") == {"Café Kernels"}  # a hidden owner, written without the diaeresis
    assert fts_titles(db, "cafe") == {"Café Kernels"}
    # Letters that do not decompose (Ł, ø) are found by their folded form too.
    assert fts_titles(db, "lukasz") == {"Sparse Lanterns"}
    assert fts_titles(db, "Łukasz") == {"Sparse Lanterns"}
    assert fts_titles(db, "soren") == {"Sparse Lanterns"}
    assert scalar(db, "SELECT author_names FROM papers WHERE title = 'Sparse Lanterns'") == (
        "Łukasz Wrona, Søren Holm, Ann A"
    )  # the displayed names stay as written
    fts_ok(db)


# -- dates ------------------------------------------------------------------------------------


YEARLESS = profile("Ann Example", ("LGApr 14", "Spring Paper", "Ann Example"), ("CVDec 30Code", "Winter", "B C"))


def listing_dates(db: Path) -> dict[str, tuple[str, str]]:
    sql = "SELECT coalesce(l.title, p.title), l.date, l.date_raw FROM listings l JOIN papers p ON p.id = l.paper_id"
    return {t: (d, raw) for t, d, raw in query(db, sql)}


def test_yearless_date_resolved_against_as_of(tmp_path: Path) -> None:
    write(tmp_path / "in" / "p.txt", YEARLESS, mtime=datetime(2026, 3, 1, 12, tzinfo=UTC))
    db = tmp_path / "c.db"
    run(db, tmp_path / "in", as_of=AS_OF)
    assert listing_dates(db) == {"Spring Paper": ("2026-04-14", "Apr 14"), "Winter": ("2025-12-30", "Dec 30")}
    assert query(db, "SELECT date, year FROM papers WHERE title = 'Spring Paper'") == [("2026-04-14", 2026)]
    assert scalar(db, "SELECT as_of FROM profiles") == "2026-11-24"


@pytest.mark.parametrize(
    ("mtime", "spring", "winter"),
    [
        (datetime(2026, 3, 1, 12, tzinfo=UTC), "2025-04-14", "2025-12-30"),
        (datetime(2026, 1, 5, 12, tzinfo=UTC), "2025-04-14", "2025-12-30"),
        (datetime(2026, 12, 31, 12, tzinfo=UTC), "2026-04-14", "2026-12-30"),
        # the last half second of a day, and the first instant of the next (the day is UTC's)
        (datetime(2025, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC), "2025-04-14", "2025-12-30"),
        (datetime(2026, 1, 1, tzinfo=UTC), "2025-04-14", "2025-12-30"),
    ],
)
def test_yearless_date_resolved_against_mtime(tmp_path: Path, mtime: datetime, spring: str, winter: str) -> None:
    write(tmp_path / "in" / "p.txt", YEARLESS, mtime=mtime)
    db = tmp_path / "c.db"
    run(db, tmp_path / "in")
    assert listing_dates(db) == {"Spring Paper": (spring, "Apr 14"), "Winter": (winter, "Dec 30")}
    assert scalar(db, "SELECT as_of FROM profiles") == mtime.date().isoformat()


def test_changing_as_of_re_resolves_dates(tmp_path: Path) -> None:
    write(tmp_path / "in" / "p.txt", YEARLESS, mtime=datetime(2026, 3, 1, 12, tzinfo=UTC))
    db = tmp_path / "c.db"
    run(db, tmp_path / "in", as_of=date(2026, 3, 1))
    assert listing_dates(db)["Spring Paper"][0] == "2025-04-14"
    report = run(db, tmp_path / "in", as_of=AS_OF)
    assert report.applied == 1
    assert listing_dates(db)["Spring Paper"][0] == "2026-04-14"
    assert scalar(db, "SELECT date FROM papers WHERE title = 'Spring Paper'") == "2026-04-14"
    assert run(db, tmp_path / "in", as_of=AS_OF).unchanged == 1


def test_a_dated_listing_beats_a_yearless_one(tmp_path: Path) -> None:
    write(tmp_path / "in" / "a.txt", profile("Ann A", ("LGApr 14", "Shared", "Ann A, Bo B")))
    write(tmp_path / "in" / "b.txt", profile("Bo B", ("CVApr 14, 2025", "Shared", "Ann A, Bo B")))
    db = tmp_path / "c.db"
    run(db, tmp_path / "in", as_of=AS_OF)
    assert query(db, "SELECT date, year, category FROM papers") == [("2025-04-14", 2025, "CV")]
    assert sorted(listing_dates_rows(db)) == [("a", "2026-04-14"), ("b", "2025-04-14")]


def test_a_run_stopped_before_its_clean_up_leaves_it_to_the_next_run_even_with_nothing_changed(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    write(
        folder / "a.txt",
        profile("Ann A", ("LGApr 14, 2025", "Kept", "Ann A"), ("LGMay 2, 2025", "Gone", "Ann A, Zed Z")),
    )
    db = tmp_path / "c.db"
    run(db, folder, as_of=AS_OF)
    write(folder / "a.txt", profile("Ann A", ("LGApr 14, 2025", "Kept", "Ann A")))
    writer = open_writable(db)
    try:
        ingester = Ingester(writer, as_of=AS_OF)
        assert ingester.apply_file(folder / "a.txt").status == "applied"
        ingester.commit()  # the file's rows are committed, then the run stops before finish
    finally:
        writer.conn.close()
    assert query(db, "SELECT name FROM authors WHERE profile_id IS NULL") == [("Zed Z",)]  # no paper left

    report = run(db, folder, as_of=AS_OF)
    assert (report.applied, report.unchanged) == (0, 1)
    assert query(db, "SELECT name FROM authors") == [("Ann A",)]
    assert query(db, "SELECT key FROM meta WHERE key = 'cleanup_due'") == []


def two_profiles_each_dropping_a_coauthor(tmp_path: Path) -> tuple[Path, Path]:
    """A catalog of a.txt and b.txt, each of whose one paper has since lost a coauthor (the files edited)."""
    folder = tmp_path / "in"
    write(folder / "a.txt", profile("Ann A", ("LGApr 14, 2025", "First", "Ann A, Zed Z")))
    write(folder / "b.txt", profile("Bo B", ("LGMay 2, 2025", "Second", "Bo B, Yan Y")))
    db = tmp_path / "c.db"
    run(db, folder, as_of=AS_OF)
    write(folder / "a.txt", profile("Ann A", ("LGApr 14, 2025", "First", "Ann A")))
    write(folder / "b.txt", profile("Bo B", ("LGMay 2, 2025", "Second", "Bo B")))
    return folder, db


def assert_the_next_run_does_the_clean_up(folder: Path, db: Path) -> None:
    assert query(db, "SELECT key FROM meta WHERE key = 'cleanup_due'") == [("cleanup_due",)]
    run(db, folder, as_of=AS_OF)
    assert query(db, "SELECT name FROM authors ORDER BY name") == [("Ann A",), ("Bo B",)]


def test_a_batch_rolled_back_with_the_clean_up_mark_has_the_next_change_mark_it_again(tmp_path: Path) -> None:
    folder, db = two_profiles_each_dropping_a_coauthor(tmp_path)
    writer = open_writable(db)
    try:
        ingester = Ingester(writer, as_of=AS_OF)
        assert ingester.apply_file(folder / "a.txt").status == "applied"  # the mark and a's rows ...
        ingester.rollback()  # ... gone with the batch
        assert ingester.apply_file(folder / "b.txt").status == "applied"
        ingester.commit()  # b's rows committed, then the run stops before finish
    finally:
        writer.conn.close()
    assert_the_next_run_does_the_clean_up(folder, db)


def traced_ingest(db: Path, folder: Path) -> tuple[IngestReport, list[str]]:
    """Ingest *folder* into *db*, with every SQL statement the writer ran."""
    statements: list[str] = []
    writer = open_writable(db)
    try:
        writer.conn.set_trace_callback(statements.append)
        return ingest(writer, [folder], as_of=AS_OF), statements
    finally:
        writer.conn.close()


def test_a_run_that_changes_nothing_skips_the_scans_for_authors_without_papers(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write(folder / "a.txt", profile("Ann A", ("LGApr 14, 2025", "Kept", "Ann A, Zed Z")))
    db = tmp_path / "c.db"
    run(db, folder, as_of=AS_OF)
    report, statements = traced_ingest(db, folder)
    assert report.unchanged == 1
    assert not [s for s in statements if s.lstrip().startswith(("DELETE FROM authors", "DELETE FROM affiliations"))]
    assert any(s.startswith("INSERT OR REPLACE INTO meta") for s in statements)  # the build time is still stamped


def test_an_edit_that_takes_no_author_or_affiliation_off_a_paper_skips_the_clean_up_scans(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write(folder / "a.txt", profile("Ann A", ("10.0LGApr 14, 2025", "Kept", "Ann A, Zed Z · MIT")))
    db = tmp_path / "c.db"
    run(db, folder, as_of=AS_OF)
    write(
        folder / "a.txt",
        profile("Ann A", ("20.0LGApr 14, 2025", "Kept", "Ann A, Zed Z · MIT"), ("LGMay 2, 2025", "New", "Ann A")),
    )
    report, statements = traced_ingest(db, folder)
    assert report.applied == 1
    assert not [s for s in statements if s.lstrip().startswith(("DELETE FROM authors", "DELETE FROM affiliations"))]
    assert query(db, "SELECT key FROM meta WHERE key = 'cleanup_due'") == []

    write(
        folder / "a.txt",
        profile("Ann A", ("20.0LGApr 14, 2025", "Kept", "Ann A · MIT"), ("LGMay 2, 2025", "New", "Ann A")),
    )
    report, statements = traced_ingest(db, folder)
    assert any(s.lstrip().startswith("DELETE FROM authors") for s in statements)  # Zed Z lost his only paper
    assert query(db, "SELECT name FROM authors") == [("Ann A",)]
    write(
        folder / "a.txt", profile("Ann A", ("20.0LGApr 14, 2025", "Kept", "Ann A"), ("LGMay 2, 2025", "New", "Ann A"))
    )
    run(db, folder, as_of=AS_OF)
    assert query(db, "SELECT name FROM affiliations") == []


def test_a_file_rejected_after_it_marked_the_clean_up_lets_a_later_removal_mark_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, db = two_profiles_each_dropping_a_coauthor(tmp_path)
    writer = open_writable(db)
    real_refresh = Ingester._refresh

    def refresh_then_fail(self: Ingester, paper_id: int, *args: Any, **kwargs: Any) -> Any:
        result = real_refresh(self, paper_id, *args, **kwargs)
        if self._rows_changed and paper_id == 1:
            raise ValueError("disk says no")  # a's file fails after its removal wrote the mark
        return result

    try:
        ingester = Ingester(writer, as_of=AS_OF)
        monkeypatch.setattr(Ingester, "_refresh", refresh_then_fail)
        assert ingester.apply_file(folder / "a.txt").status == "rejected"
        monkeypatch.setattr(Ingester, "_refresh", real_refresh)
        assert ingester.apply_file(folder / "b.txt").status == "applied"
        ingester.commit()  # b's rows committed, then the run stops before finish
    finally:
        writer.conn.close()
    assert_the_next_run_does_the_clean_up(folder, db)


def test_an_edited_profile_rewrites_only_the_listings_it_changed_and_ends_as_a_clean_build(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    entries = [(f"{50 + i}.0LGApr {i + 1}, 2025", f"Paper {i}", "Ann A, Bo B") for i in range(6)]
    write(folder / "a.txt", profile("Ann A", *entries))
    write(folder / "b.txt", profile("Bo B", entries[0], ("40.0CVMay 2, 2025", "Bo Only", "Bo B")))
    db = tmp_path / "c.db"
    run(db, folder, as_of=AS_OF)

    def written(edited: list[tuple[str, str, str]]) -> list[str]:
        write(folder / "a.txt", profile("Ann A", *edited))
        report, statements = traced_ingest(db, folder)
        assert report.applied == 1
        return [
            s.split("VALUES")[-1][:60]
            for s in statements
            if s.lstrip().startswith(("INSERT INTO listings", "DELETE FROM listings"))
        ]

    rescored = [entries[0], ("99.0LGApr 2, 2025", "Paper 1", "Ann A, Bo B"), *entries[2:]]
    assert len(written(rescored)) == 1  # one listing's score: one row written, five left alone
    reordered = [rescored[3], *rescored[:3], *rescored[4:5], ("10.0ROJun 1, 2025", "Paper 9", "Ann A")]
    assert len(written(reordered)) == 6  # four moved, one dropped, one new; Paper 4 kept its place
    run(tmp_path / "clean.db", folder, as_of=AS_OF)
    assert dump_differences(canonical_dump(db), canonical_dump(tmp_path / "clean.db")) == []


def listing_dates_rows(db: Path) -> list[tuple]:
    return query(db, "SELECT profile_id, date FROM listings")


# -- odds and ends ----------------------------------------------------------------------------


def test_discover(tmp_path: Path) -> None:
    write(tmp_path / "d" / "b.txt", "x")
    write(tmp_path / "d" / "sub" / "a.txt", "x")
    write(tmp_path / "d" / "notes.md", "x")
    single = write(tmp_path / "single.dat", "x")
    assert [Path(p).relative_to(tmp_path).as_posix() for p in discover([tmp_path / "d", single])] == [
        "d/b.txt",
        "d/sub/a.txt",
        "single.dat",
    ]
    with pytest.raises(UsageError, match=re.escape(f"{tmp_path / 'nope'}: no such file or directory")):
        list(discover([tmp_path / "nope"]))


def test_source_path_is_what_pathlib_resolve_gives_however_the_file_is_spelt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real"
    write(real / "sub" / "a.txt", "x")
    (tmp_path / "via").symlink_to(real, target_is_directory=True)
    (real / "sub" / "link.txt").symlink_to(real / "sub" / "a.txt")
    monkeypatch.chdir(tmp_path)
    ingester = Ingester(open_writable(tmp_path / "c.db"))
    spellings = [
        str(real / "sub" / "a.txt"),
        f"{real}//sub/a.txt",
        f"{real}/sub/./a.txt",
        f"{real}/sub/../sub/a.txt",
        "real/sub/a.txt",
        "./real/sub/a.txt",
        "via/sub/a.txt",
        f"{tmp_path}/via/sub/a.txt",
        "real/sub/link.txt",
    ]
    for text in spellings:
        assert ingester._locate(text)[0] == str(Path(text).resolve()), text
    given = str((real / "sub" / "a.txt").resolve())
    assert ingester._locate(given)[0] is given  # no copy of a path that is already its own realpath


def test_the_by_stat_pass_decides_as_apply_file_would_however_the_file_is_spelt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "real"
    write(real / "sub" / "a.txt", profile("Ann A", ("LGApr 14, 2025", "Kept", "Ann A")))
    write(real / "sub" / "b.txt", profile("Bo B", ("LGApr 14, 2025", "Other", "Bo B")))
    (tmp_path / "via").symlink_to(real, target_is_directory=True)
    (real / "sub" / "link.txt").symlink_to(real / "sub" / "a.txt")
    db = tmp_path / "c.db"
    run(db, real, as_of=AS_OF)
    monkeypatch.chdir(tmp_path)
    spellings = [
        str(real / "sub" / "a.txt"),
        f"{real}//sub/a.txt",
        f"{real}/sub/./a.txt",
        "real/sub/a.txt",
        "via/sub/a.txt",
        f"{tmp_path}/via/sub/a.txt",
        "real/sub/link.txt",
    ]
    for as_of in (AS_OF, None, date(2025, 1, 1)):
        for text in spellings:
            writer = open_writable(db)
            try:
                ((_, decided),) = Ingester(writer, as_of=as_of).by_stat([text])
                outcome = Ingester(writer, as_of=as_of).apply_file(text)
                assert (outcome.status == "unchanged") >= (decided is not None), (text, as_of)
                assert decided in (None, outcome.profile_id), (text, as_of)
                writer.conn.rollback()
            finally:
                writer.conn.close()
    writer = open_writable(db)
    try:
        plain = [str(real / "sub" / "a.txt"), "real/sub/b.txt", "via/sub/b.txt"]
        decided = Ingester(writer, as_of=AS_OF).by_stat(plain)
        assert [pid for _, pid in decided] == ["a", "b", None]  # b.txt twice: the second is apply_file's to reject
        assert [pid for _, pid in Ingester(writer, as_of=date(2025, 1, 1)).by_stat(plain)] == [None, None, None]
    finally:
        writer.conn.close()


def test_a_new_file_with_the_stem_of_an_unchanged_one_is_applied_first_when_it_comes_first(tmp_path: Path) -> None:
    later = write(tmp_path / "b" / "x.txt", profile("Bo Later", ("LGJan 3, 2024", "Later Paper", "Bo Later")))
    db = tmp_path / "c.db"
    run(db, tmp_path / "b", as_of=AS_OF)
    first = write(tmp_path / "a" / "x.txt", profile("Ann First", ("LGJan 2, 2024", "First Paper", "Ann First")))
    report = run(db, tmp_path / "a", tmp_path / "b", as_of=AS_OF)  # a/x.txt comes first, as in one pass
    assert (report.applied, report.unchanged, [r.path for r in report.rejected]) == (1, 0, [str(later)])
    assert query(db, "SELECT id, name, source_path FROM profiles") == [("x", "Ann First", str(first.resolve()))]


def test_discover_spells_paths_as_pathlib_does_for_relative_and_untidy_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "d" / "sub" / "a.txt", "x")
    write(tmp_path / "top.txt", "x")
    monkeypatch.chdir(tmp_path)
    for given in (".", "./d/", "d//sub", "d/./sub/..", str(tmp_path) + "/"):
        expected = [str(p) for p in sorted(Path(given).rglob("*.txt")) if p.is_file()]
        assert list(discover([given])) == expected, given
    assert list(discover(["./top.txt"])) == ["top.txt"]


def test_profile_id_is_the_file_stem_as_pathlib_gave_it_in_python_3_11() -> None:
    names = ["a.txt", "a.b.txt", ".txt", ".hidden.txt", "noext", "x.", "dir/y.txt", "..txt"]
    assert [profile_id_for(name) for name in names] == ["a", "a.b", ".txt", ".hidden", "noext", "x.", "y", "."]
    assert profile_id_for(Path("dir") / "z.txt") == "z"


def test_discover_finds_what_rglob_and_is_file_find_in_the_same_order(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for rel in ("b.txt", ".hidden.txt", ".txt", "B.TXT", "x.txt.bak", "sub/a.txt", ".dot/c.txt", "z/y/x/deep.txt"):
        write(root / rel, "x")
    (root / "folder.txt").mkdir()
    write(root / "folder.txt" / "inner.txt", "x")
    write(tmp_path / "outside" / "o.txt", "x")
    (root / "linked-folder").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "link.txt").symlink_to(tmp_path / "outside" / "o.txt")
    (root / "broken.txt").symlink_to(tmp_path / "missing.txt")
    (root / "loop.txt").symlink_to(root / "loop.txt")
    expected = sorted(p for p in root.rglob("*.txt") if p.is_file())
    found = list(discover([root]))
    assert found == [str(p) for p in expected]  # spelled as str() of the Path would be
    assert [Path(p).relative_to(root).as_posix() for p in found] == [
        ".dot/c.txt",
        ".hidden.txt",
        ".txt",
        "b.txt",
        "folder.txt/inner.txt",
        "link.txt",
        "sub/a.txt",
        "z/y/x/deep.txt",
    ]


def test_a_paper_listed_again_and_again_ends_as_a_full_merge_of_its_listings_makes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One paper listed by eight profiles in turn: owners in the line, hidden (one with an accent), a
    # namesake, later dates with and without a year, code, a fuller author line and one with "et al.".
    title, line = "Shared Kernels", "Bob Roe, Ann Lee"
    listings = [
        ("p1", "Ann Lee", "50.0LGJan 2, 2024", line),
        ("p2", "Zoë Brandt", "60.0CVMar 3, 2024", line),
        ("p3", "Bob Roe", "40.0LGJan 2, 2024Code", line),
        ("p4", "Bob Roe", "45.0ROFeb 1, 2024", line),
        ("p5", "Cy Dee", "30.0LGApr 5", line),
        ("p6", "Dee Fox", "35.0NEMar 9, 2024", "Bob Roe et al."),
        ("p7", "Eve Ng", "20.0LGJan 1, 2023", f"{line}, Eve Ng, Al Kim"),
        ("p8", "Émile Zola", "25.0LGMay 1, 2024", line),
    ]
    for stem, owner, meta, authors in listings:
        write(
            tmp_path / "in" / f"{stem}.txt", profile(owner, (meta, title, authors), ("77.0LGJan 2, 2024", stem, owner))
        )
    fast = run(tmp_path / "fast.db", tmp_path / "in", as_of=AS_OF)

    from scholar_catalog.db.ingest_rows import RowWriter

    planned = RowWriter._plan_added
    taken: list[int] = []
    monkeypatch.setattr(
        RowWriter, "_plan_added", lambda self, pid, added: taken.append(len(planned(self, pid, added))) or {}
    )
    full = run(tmp_path / "full.db", tmp_path / "in", as_of=AS_OF)
    assert fast.ok and full.ok and (fast.papers_new, fast.papers_updated) == (full.papers_new, full.papers_updated)
    assert sum(taken) >= 4  # most of the listings above took the short way in the first build
    assert query(tmp_path / "fast.db", "SELECT rowid, * FROM paper_authors ORDER BY rowid") == query(
        tmp_path / "full.db", "SELECT rowid, * FROM paper_authors ORDER BY rowid"
    )
    fast_rows, full_rows = dump(tmp_path / "fast.db"), dump(tmp_path / "full.db")
    del fast_rows["profiles"], full_rows["profiles"]  # when each was ingested differs
    assert fast_rows == full_rows
    assert scalar(tmp_path / "fast.db", "SELECT author_names FROM papers WHERE title = ?", [title]) == (
        "Bob Roe, Ann Lee, Eve Ng, Al Kim, Zoë Brandt, Cy Dee, Dee Fox, Émile Zola"
    )


def test_same_paper_twice_in_one_profile_keeps_the_first_listing(tmp_path: Path) -> None:
    write(
        tmp_path / "in" / "p.txt",
        profile("Ann A", ("88.0LGJan 2, 2024", "Twice", "Ann A"), ("77.0LGJan 2, 2024", "TWICE!", "Ann A")),
    )
    db = tmp_path / "c.db"
    report = run(db, tmp_path / "in", as_of=AS_OF)
    assert report.ok
    assert query(
        db, "SELECT coalesce(l.title, p.title), l.score, l.position FROM listings l JOIN papers p ON p.id = l.paper_id"
    ) == [("Twice", 88.0, 1)]


def test_number_too_large_for_sqlite_is_a_rejection_not_a_crash(tmp_path: Path) -> None:
    write(tmp_path / "in" / "a_good.txt", profile("Ann A", ("LGJan 2, 2024", "Fine", "Ann A")))
    write(
        tmp_path / "in" / "b_huge.txt",
        profile("Bo B", ("LGJan 2, 2024", "Huge", "Bo B")).replace("h-index3", "h-index99999999999999999999"),
    )
    write(tmp_path / "in" / "c_good.txt", profile("Cy C", ("LGJan 3, 2024", "Also Fine", "Cy C")))
    db = tmp_path / "c.db"
    report = run(db, tmp_path / "in", as_of=AS_OF)
    assert report.applied == 2
    assert [Path(r.path).name for r in report.rejected] == ["b_huge.txt"]
    assert query(db, "SELECT id FROM profiles ORDER BY id") == [("a_good",), ("c_good",)]


def test_changed_file_updates_title_and_abstract_of_a_paper_only_it_lists(tmp_path: Path) -> None:
    path = tmp_path / "in" / "a.txt"
    write(
        path,
        "Ann A\n\n1 Papers\n\nLGJan 2, 2024\nsparse lanterns for routing\n\nAnn A\n\nA long typo-ridden abstract.\n",
    )
    db = tmp_path / "c.db"
    run(db, tmp_path / "in", as_of=AS_OF)
    write(path, "Ann A\n\n1 Papers\n\nLGJan 2, 2024\nSparse Lanterns for Routing\n\nAnn A\n\nFixed.\n")
    assert run(db, tmp_path / "in", as_of=AS_OF).applied == 1
    assert query(db, "SELECT coalesce(l.title, p.title) FROM listings l JOIN papers p ON p.id = l.paper_id") == [
        ("Sparse Lanterns for Routing",)
    ]
    assert query(db, "SELECT title, abstract FROM papers") == [("Sparse Lanterns for Routing", "Fixed.")]
    assert fts_titles(db, "typo") == set()


# Catalogs are recognized by meta.schema_version alone: a change to any table or column without a new
# SCHEMA_VERSION lets an older catalog pass check_schema and then fail in the middle of an ingest.
# If this test fails, bump db.schema.SCHEMA_VERSION and record the new layout here.
SCHEMA_LAYOUT = {
    1: {
        "meta": ["key", "value"],
        "profiles": [
            "id", "name", "name_norm", "primary_category", "h_index", "papers_declared", "citations", "novelty",
            "ai_score", "papers_listed", "source_path", "source_size", "source_mtime_ns", "content_hash", "as_of",
            "ingested_at",
        ],
        "authors": ["id", "name", "name_norm", "profile_id"],
        "papers": [
            "id", "title", "title_norm", "abstract", "date", "year", "category", "has_code", "authors_listed",
            "authors_truncated", "affiliations", "author_names", "author_search",
        ],
        "listings": [
            "profile_id", "paper_id", "position", "line", "title", "score", "category", "date", "date_raw",
            "has_code", "authors_raw", "abstract",
        ],
        "paper_authors": ["paper_id", "author_id", "position", "is_owner"],
        "affiliations": ["id", "name", "name_norm"],
        "paper_affiliations": ["paper_id", "affiliation_id"],
        "papers_fts": ["title", "abstract", "author_search"],
    },
}  # fmt: skip
SCHEMA_LAYOUT[2] = SCHEMA_LAYOUT[1]  # version 2 added indexes only (papers_facets, papers_filters)
# version 3: the semantic extra's embeddings; 8 KB pages; listings' title/abstract NULL where they are the paper's
SCHEMA_LAYOUT[3] = {**SCHEMA_LAYOUT[2], "paper_vectors": ["paper_id", "vec"]}
# version 4: each term's paper count, kept at ingest (db/term_docs.py)
SCHEMA_LAYOUT[4] = {**SCHEMA_LAYOUT[3], "term_docs": ["term", "docs"]}
# version 5: papers found by a hash of their title; every title word's paper count (db/title_words.py)
SCHEMA_LAYOUT[5] = {
    **SCHEMA_LAYOUT[4],
    "papers": [*SCHEMA_LAYOUT[4]["papers"], "title_key"],
    "title_words": ["word", "papers"],
}
# version 6: each term's paper count in titles too (db/term_docs.py)
SCHEMA_LAYOUT[6] = {**SCHEMA_LAYOUT[5], "term_docs": ["term", "docs", "title_docs"]}
# version 7: the columns searches filter on, as a table keyed by paper id (db/facets.py)
SCHEMA_LAYOUT[7] = {**SCHEMA_LAYOUT[6], "facets": ["id", "category", "year", "has_code", "date"]}


def test_schema_layout_matches_schema_version(tmp_path: Path) -> None:
    from scholar_catalog.db.schema import SCHEMA_VERSION

    database = open_writable(tmp_path / "c.db")
    try:
        tables = {name: [row[1] for row in database.conn.execute(f"PRAGMA table_info({name})")] for name in TABLES}
        tables["meta"] = [row[1] for row in database.conn.execute("PRAGMA table_info(meta)")]
        tables["papers_fts"] = [row[1] for row in database.conn.execute("PRAGMA table_info(papers_fts)")]
        tables["paper_vectors"] = [row[1] for row in database.conn.execute("PRAGMA table_info(paper_vectors)")]
        if SCHEMA_VERSION >= 4:
            tables["term_docs"] = [row[1] for row in database.conn.execute("PRAGMA table_info(term_docs)")]
        if SCHEMA_VERSION >= 5:
            tables["title_words"] = [row[1] for row in database.conn.execute("PRAGMA table_info(title_words)")]
        if SCHEMA_VERSION >= 7:
            tables["facets"] = [row[1] for row in database.conn.execute("PRAGMA table_info(facets)")]
        version = database.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    finally:
        database.conn.close()
    assert version == str(SCHEMA_VERSION)
    assert SCHEMA_VERSION in SCHEMA_LAYOUT, "new SCHEMA_VERSION: record its layout in SCHEMA_LAYOUT"
    assert tables == SCHEMA_LAYOUT[SCHEMA_VERSION]


def test_catalog_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    from scholar_catalog.db.connection import CatalogError

    db = tmp_path / "c.db"
    open_writable(db).conn.close()
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
        conn.commit()
    with pytest.raises(CatalogError, match=r"schema version 999.*--rebuild"):
        open_writable(db)


# -- reading ahead in worker processes -------------------------------------------------------


def _catalog_rows(db_path: Path) -> dict[str, list[tuple]]:
    """Every row, row ids included, and every full-text index entry; the read time left out."""
    with closing(sqlite3.connect(db_path)) as conn:
        conn.execute("UPDATE profiles SET ingested_at = ''")
        conn.commit()
    out = {table: query(db_path, f"SELECT rowid, * FROM {table} ORDER BY rowid") for table in TABLES}
    out["papers_fts"] = query(db_path, "SELECT rowid, * FROM papers_fts ORDER BY rowid")
    return out


def test_a_file_read_by_a_worker_reaches_the_writer_exactly_as_read(tmp_path: Path) -> None:
    import pickle
    from dataclasses import replace

    from scholar_catalog.db.ingest_files import Loaded, load
    from scholar_catalog.db.parser import Entry, Profile

    sources = [*EXAMPLES.glob("*.txt"), *(Path(__file__).parent / "fixtures" / "parser").glob("*.txt")]
    sources += list(SEEDS.glob("*.txt")) if SEEDS.is_dir() else []
    missing = tmp_path / "gone.txt"
    outcomes = {"profile": 0, "parse_error": 0, "read_error": 0}
    for path in [*sources, missing]:
        st = path.stat() if path.exists() else os.stat_result((0,) * 10)
        loaded = load(str(path), st.st_size, st.st_mtime_ns, AS_OF, parse=True)
        received = pickle.loads(pickle.dumps(loaded, pickle.HIGHEST_PROTOCOL))
        assert type(received) is Loaded, path
        # An exception equals only itself: compared by what it says, the rest field by field.
        assert replace(received, parse_error=None) == replace(loaded, parse_error=None), path
        if loaded.profile is not None:
            assert type(received.profile) is Profile and received.profile.entries
            assert all(type(e) is Entry for e in received.profile.entries)
            assert received.fields == loaded.fields
            outcomes["profile"] += 1
        elif loaded.parse_error is not None:
            sent, got = loaded.parse_error, received.parse_error
            assert type(got) is type(sent) and (str(got), got.line) == (str(sent), sent.line)
            outcomes["parse_error"] += 1
        else:
            assert received.read_error == loaded.read_error and "cannot read" in (received.read_error or "")
            outcomes["read_error"] += 1
    assert outcomes["profile"] >= 20 and outcomes["parse_error"] >= 3 and outcomes["read_error"] == 1


def test_author_and_affiliation_lists_are_stored_as_json_dumps_writes_them() -> None:
    from scholar_catalog.db.ingest_merge import _json

    lists = [
        [],
        ["Ada Lovelace"],
        ["Łukasz Kaiser", "José Hernández-Orallo", "山田 太郎", "Ёлка Ёжикова"],
        ['O"Brien', "back\\slash", "tab\there", "new\nline", "\x00nul", "emoji \U0001f600", "lone \ud800"],
        ["  spaced  ", ", comma", "[bracket]"],
    ]
    for items in lists:
        assert _json(items) == json.dumps(items, ensure_ascii=False)
        assert json.loads(_json(items)) == items


def test_files_read_ahead_by_worker_processes_make_the_same_catalog_row_for_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scholar_catalog.db.ingest_files import ENV_WORKERS

    folder = tmp_path / "in"
    for source in (EXAMPLES, Path(__file__).parent / "fixtures" / "parser"):
        (folder / source.name).mkdir(parents=True)
        for path in source.glob("*.txt"):
            (folder / source.name / path.name).write_bytes(path.read_bytes())
    edited, cut = sorted((folder / EXAMPLES.name).glob("*.txt"))[:2]
    reports: dict[str, list[IngestReport]] = {}
    for workers in ("0", "1"):
        monkeypatch.setenv(ENV_WORKERS, workers)
        reports[workers] = [run(tmp_path / f"w{workers}.db", folder, as_of=AS_OF)]
    assert reports["1"][0].rejected and reports["1"][0].applied >= 20  # the fixtures include files to reject
    write(edited, edited.read_text().replace("h-index", "h-index1", 1))
    cut.write_bytes(cut.read_bytes()[:-200])
    for workers in ("0", "1"):
        monkeypatch.setenv(ENV_WORKERS, workers)
        reports[workers].append(run(tmp_path / f"w{workers}.db", folder, as_of=AS_OF))
    assert [(r.applied, r.unchanged, [o.reason for o in r.rejected]) for r in reports["1"]] == [
        (r.applied, r.unchanged, [o.reason for o in r.rejected]) for r in reports["0"]
    ]
    assert reports["1"][1].applied >= 1
    assert _catalog_rows(tmp_path / "w1.db") == _catalog_rows(tmp_path / "w0.db")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a pipe's size is a Linux setting")
def test_a_workers_results_pipe_holds_a_whole_chunk_of_results() -> None:
    import fcntl

    from scholar_catalog.db import ingest_files

    paths = [str(path) for path in sorted(EXAMPLES.glob("*.txt"))]

    def plan(path: str) -> ingest_files.Job:
        st = os.stat(path)
        return path, st.st_size, st.st_mtime_ns, AS_OF

    limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    reader = ingest_files.ReadAhead(paths, plan, 1, eager=True)
    try:
        (worker,) = reader._workers
        assert worker.stdout is not None
        size = fcntl.fcntl(worker.stdout.fileno(), fcntl.F_GETPIPE_SZ)
        assert size >= min(ingest_files.PIPE_BYTES, limit) > 64 * 1024
        loaded = reader.take(paths[0])
        assert loaded is not None and loaded.profile is not None and loaded.profile.entries
    finally:
        reader.close()


def worker_starts(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The command line of every worker process ingest starts from now on (the list grows as they start)."""
    import subprocess

    from scholar_catalog.db import ingest_files

    started: list[list[str]] = []
    real_popen = subprocess.Popen

    def popen(command: list[str], **kwargs: Any) -> Any:
        started.append(command)
        return real_popen(command, **kwargs)

    monkeypatch.setattr(ingest_files.subprocess, "Popen", popen)
    return started


def test_a_few_changed_files_among_many_are_read_by_the_writer_without_starting_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    from scholar_catalog.db import ingest_files

    sys_path = str(Path(__file__).resolve().parent.parent / "bench")
    monkeypatch.syspath_prepend(sys_path)
    import generate

    folder = tmp_path / "profiles"
    generate.generate(folder, 260, seed=4)
    monkeypatch.delenv(ingest_files.ENV_WORKERS, raising=False)
    started = worker_starts(monkeypatch)
    fresh = run(tmp_path / "c.db", folder, as_of=AS_OF)
    assert fresh.applied == 260 and len(started) == ingest_files.worker_count(260) > 0  # every file to read
    started.clear()
    changed = sorted(folder.glob("*.txt"))[100:103]
    for path in changed:
        write(path, path.read_text().replace("h-index", "h-index1", 1))
    again = run(tmp_path / "c.db", folder, as_of=AS_OF)
    assert (again.applied, again.unchanged, started) == (3, 257, [])  # 3 in 260: the writer reads them
    monkeypatch.setenv(ingest_files.ENV_WORKERS, "0")  # the same two runs in one process: the same catalog
    for path in changed:
        write(path, path.read_text().replace("h-index1", "h-index", 1))
    run(tmp_path / "one.db", folder, as_of=AS_OF)
    for path in changed:
        write(path, path.read_text().replace("h-index", "h-index1", 1))
    run(tmp_path / "one.db", folder, as_of=AS_OF)
    read_ahead, one = _catalog_rows(tmp_path / "c.db"), _catalog_rows(tmp_path / "one.db")
    # profiles record each file's mtime, which differs between the two folders' writes
    assert len(read_ahead.pop("profiles")) == len(one.pop("profiles")) == 260
    assert read_ahead == one


def test_changed_files_of_a_re_ingest_are_read_ahead_once_a_chunk_of_them_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    from scholar_catalog.db import ingest_files

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "bench"))
    import generate

    folders = {name: tmp_path / name for name in ("ahead", "one")}
    for folder in folders.values():
        generate.generate(folder, 260, seed=4)
    started = worker_starts(monkeypatch)
    for name, folder in folders.items():
        monkeypatch.setenv(ingest_files.ENV_WORKERS, "0")
        run(tmp_path / f"{name}.db", folder, as_of=AS_OF)
        for path in sorted(folder.glob("*.txt"))[::6]:  # 44 files, one in six: more than a chunk
            write(path, path.read_text().replace("h-index", "h-index1", 1))
        if name == "ahead":
            monkeypatch.delenv(ingest_files.ENV_WORKERS)
        started.clear()
        again = run(tmp_path / f"{name}.db", folder, as_of=AS_OF)
        assert (again.applied, again.unchanged) == (44, 216)
        if name == "ahead":  # one in six is sparse for a first ingest's read-ahead, not for a re-ingest's
            assert len(started) == ingest_files.worker_count(260) > 0
        else:
            assert started == []
    ahead, one = _catalog_rows(tmp_path / "ahead.db"), _catalog_rows(tmp_path / "one.db")
    assert len(ahead.pop("profiles")) == len(one.pop("profiles")) == 260  # the mtimes differ
    assert ahead == one
