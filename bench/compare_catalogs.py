"""Compare the catalogs two ingest commands build, round after round: rows, row ids and full-text answers.

    python bench/compare_catalogs.py --old OLD_SCHOLAR_CATALOG [--new scholar-catalog] [--profiles 3000]
    python bench/compare_catalogs.py --dbs OLD.db NEW.db

Builds one folder of profiles (generated ones, ``examples/profiles``, ``../shared/seeds`` and the
parser fixtures under ``tests/fixtures``) and ingests it with both commands into two catalogs; then,
round by round, edits files (scores, h-index, abstracts cut or lengthened, a title's case, code flags), truncates
some (rejected), deletes some (``--prune``), restores and adds files, and ingests again with both.
After every round the two catalogs must hold the same rows with the same row ids in every table
(a listing's title and abstract read as the listing gives them, whatever the storage), pass FTS5's
``integrity-check``, hold in ``term_docs`` (where the new one has it) each term's paper count as
both indexes count it (and, from schema 6, its count in titles), hold (each, from schema 5) title
keys that are their titles' hashes and ``title_words`` counts equal to a count of their titles' words,
hold (the new one, from schema 7) ``facets`` rows equal to its papers' filter columns, and give the
same ``MATCH`` answers with the same ``bm25`` scores for a sample of words, prefixes and phrases. ``--env NAME=VALUE``
(repeatable) is set for the new command only, e.g. to compare its one-process and worker-process ingest.
Exit status 1 on any difference.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from scholar_catalog.db import facets, title_words
from scholar_catalog.db.parser import META_RE

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-11-24"
# Columns that record when a file was read, not what it says.
VOLATILE = {"profiles": {"ingested_at"}, "meta": {"value"}}
# Columns made from others (schema 5's title key, a hash of title_norm): checked against them, not compared.
DERIVED = {"papers": {"title_key"}}
TABLES = ("meta", "profiles", "authors", "papers", "listings", "paper_authors", "affiliations", "paper_affiliations")


def table_rows(conn: sqlite3.Connection, table: str) -> list[tuple[Any, ...]]:
    """Every row with its rowid, ordered by rowid; a listing's abstract as the listing gives it."""
    skip = VOLATILE.get(table, set()) | DERIVED.get(table, set())
    columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[1] not in skip]
    if table == "listings":
        shown = [f"coalesce(l.{c}, p.{c})" if c in ("title", "abstract") else f"l.{c}" for c in columns]
        sql = f"SELECT l.rowid, {', '.join(shown)} FROM listings l JOIN papers p ON p.id = l.paper_id ORDER BY l.rowid"
    elif table == "meta":
        sql = "SELECT key FROM meta WHERE key NOT IN ('schema_version', 'fts_churn') ORDER BY key"  # not content
    else:
        sql = f"SELECT rowid, {', '.join(columns)} FROM {table} ORDER BY rowid"
    return conn.execute(sql).fetchall()


def fts_queries(conn: sqlite3.Connection, rng: random.Random, n: int) -> list[str]:
    """Words of random titles and abstracts, two-word phrases, prefixes and an author name."""
    top = conn.execute("SELECT max(id) FROM papers").fetchone()[0] or 0
    queries: list[str] = []
    for _ in range(n):
        found = conn.execute(
            "SELECT title, abstract, author_names FROM papers WHERE id >= ? LIMIT 1", [rng.randint(1, top)]
        ).fetchone()
        if found is None:
            continue
        title = [w for w in "".join(ch if ch.isalnum() else " " for ch in found[0]).split() if len(w) > 2]
        abstract = [w for w in "".join(ch if ch.isalnum() else " " for ch in found[1]).split() if len(w) > 3]
        names = [w for w in "".join(ch if ch.isalnum() else " " for ch in found[2] or "").split() if len(w) > 2]
        if title:
            queries.append(f'"{rng.choice(title)}"')
            i = rng.randrange(len(title))
            queries.append('"' + " ".join(title[i : i + 2]) + '"')
        if abstract:
            queries.append(f'"{rng.choice(abstract)}"')
            queries.append(f'"{rng.choice(abstract)[:3]}"*')
        if names:
            queries.append(f'author_search : "{rng.choice(names)}"')
    return queries


def fts_answers(conn: sqlite3.Connection, queries: list[str]) -> list[Any]:
    out = []
    for query in queries:
        out.append(
            conn.execute(
                """SELECT rowid, round(bm25(papers_fts, 10.0, 1.0, 3.0), 9) FROM papers_fts WHERE papers_fts MATCH ?
                   ORDER BY bm25(papers_fts, 10.0, 1.0, 3.0), rowid LIMIT 200""",
                [query],
            ).fetchall()
        )
    return out


def index_counts(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """Each term's number of papers as FTS5 counts it, for the terms ``term_docs`` keeps."""
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.compare_vocab USING fts5vocab(main, papers_fts, row)")
    rows = conn.execute("SELECT term, doc FROM temp.compare_vocab ORDER BY term").fetchall()
    return [(t, d) for t, d in rows if 2 <= len(t) <= 40 and not t.isdigit()]


def index_title_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Each term's number of papers holding it in their title, as FTS5 counts it."""
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.compare_cols USING fts5vocab(main, papers_fts, col)")
    return dict(conn.execute("SELECT term, doc FROM temp.compare_cols WHERE col = 'title'").fetchall())


def title_problems(conn: sqlite3.Connection) -> list[str]:
    """Where a catalog's title keys or title words (schema 5) disagree with its titles."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'title_words'").fetchone():
        return []
    rows = conn.execute("SELECT title_norm, title_key FROM papers").fetchall()
    wrong_keys = sum(hashed != title_words.title_hash(key) for key, hashed in rows)
    problems = [f"{wrong_keys} papers' title_key is not their title's hash"] if wrong_keys else []
    counts = sorted(title_words.count(key for key, _ in rows).items())
    if conn.execute("SELECT word, papers FROM title_words ORDER BY word").fetchall() != counts:
        problems.append("title_words differs from a count of the titles' words")
    return problems


def compare(old_db: Path, new_db: Path, rng: random.Random, label: str) -> list[str]:
    problems: list[str] = []
    with sqlite3.connect(old_db) as old, sqlite3.connect(new_db) as new:
        for table in TABLES:
            a, b = table_rows(old, table), table_rows(new, table)
            if a != b:
                diff = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
                problems.append(f"{label}: {table} differs ({len(a)} vs {len(b)} rows; first at {diff})")
        for conn, which in ((old, "old"), (new, "new")):
            try:
                conn.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES ('integrity-check', 1)")
            except sqlite3.DatabaseError as err:
                problems.append(f"{label}: {which} catalog fails the FTS integrity check: {err}")
        stored_twice = new.execute(
            """SELECT count(*) FROM listings l JOIN papers p ON p.id = l.paper_id
               WHERE l.abstract = p.abstract OR l.title = p.title"""
        ).fetchone()[0]
        if stored_twice:  # the new catalog keeps a listing's title and abstract only where they differ
            problems.append(f"{label}: {stored_twice} listings of the new catalog store the paper's text again")
        if new.execute("SELECT 1 FROM sqlite_master WHERE name = 'term_docs'").fetchone():
            counts = new.execute("SELECT term, docs FROM term_docs ORDER BY term").fetchall()
            if counts != index_counts(old) or counts != index_counts(new):
                problems.append(f"{label}: the new catalog's term_docs differs from the index's own counts")
            if "title_docs" in {row[1] for row in new.execute("PRAGMA table_info(term_docs)")}:
                stored = new.execute("SELECT term, title_docs FROM term_docs ORDER BY term").fetchall()
                titles = [index_title_counts(old), index_title_counts(new)]
                if any(stored != [(t, c.get(t, 0)) for t, _ in counts] for c in titles):
                    problems.append(f"{label}: the new catalog's title counts differ from the index's own")
        for conn, which in ((old, "old"), (new, "new")):
            problems += [f"{label}: {which} catalog: {p}" for p in title_problems(conn)]
        if new.execute("SELECT 1 FROM sqlite_master WHERE name = 'facets'").fetchone():
            columns = ", ".join(("id", *facets.COLUMNS))
            if (
                new.execute(f"SELECT {columns} FROM facets ORDER BY id").fetchall()
                != new.execute(f"SELECT {columns} FROM papers ORDER BY id").fetchall()
            ):
                problems.append(f"{label}: the new catalog's facets differ from its papers' columns")
        queries = fts_queries(old, rng, 60)
        if fts_answers(old, queries) != fts_answers(new, queries):
            problems.append(f"{label}: full-text answers differ")
    print(f"{label}: {'DIFFERENT' if problems else 'identical'} ({len(queries)} full-text queries)", flush=True)
    return problems


def ingest(command: list[str], folder: Path, db: Path, env: dict[str, str], *, prune: bool = False) -> None:
    args = [*command, "ingest", str(folder), "--db", str(db), "--as-of", AS_OF, "-q", *(["--prune"] if prune else [])]
    result = subprocess.run(args, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):  # 1: some files rejected, which the rounds do on purpose
        sys.exit(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}")


def gather(folder: Path, profiles: int) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "generate.py"), str(folder / "gen"), "--profiles", str(profiles)],
        check=True,
        capture_output=True,
    )
    (folder / "gen" / "bench-manifest.json").unlink()
    shutil.copytree(ROOT / "examples" / "profiles", folder / "examples")
    seeds = ROOT.parent / "shared" / "seeds"
    if seeds.is_dir():
        shutil.copytree(seeds, folder / "seeds")
    shutil.copytree(ROOT / "tests" / "fixtures", folder / "fixtures")


def edit(files: list[Path], rng: random.Random, share: float) -> None:
    """Change scores, header numbers, abstracts (cut, lengthened, swapped), title case and author lines
    (a name dropped or replaced, affiliations dropped) in a share of files."""
    for path in rng.sample(files, max(1, int(len(files) * share))):
        if not path.exists():
            continue
        lines = path.read_bytes().decode("utf-8", "replace").split("\n")
        for i, line in enumerate(lines):
            roll = rng.random()
            if i >= 3 and not lines[i - 1] and META_RE.match(lines[i - 3].strip()) and roll < 0.3:
                lines[i] = edit_author_line(line, rng)
            elif META_RE.match(line.strip()) and roll < 0.1:  # the code flag: a paper's facets change
                text, cr = (line[:-1], "\r") if line.endswith("\r") else (line, "")
                lines[i] = (text.removesuffix("Code") if text.endswith("Code") else text + "Code") + cr
            elif line.startswith("h-index") and roll < 0.5:
                lines[i] = f"h-index{rng.randint(1, 99)}"
            elif len(line) > 400 and roll < 0.3:
                lines[i] = line[: len(line) // 2] + "…"
            elif len(line) > 400 and roll < 0.45:
                lines[i] = line + " Further results follow."
            elif 20 < len(line) < 150 and line[:1].isupper() and roll < 0.05:
                lines[i] = line.upper()
        path.write_bytes("\n".join(lines).encode())


def edit_author_line(line: str, rng: random.Random) -> str:
    """An author line with one name dropped or replaced by a new one, or its affiliations dropped."""
    people, sep, orgs = line.partition(" · ")
    names = people.split(", ")
    roll = rng.random()
    if roll < 0.2 and sep:
        return people
    tail = " et al." if names[-1].endswith(" et al.") else ""
    names[-1] = names[-1].removesuffix(tail)
    i = rng.randrange(len(names))
    if roll < 0.6 and len(names) > 1:
        del names[i]
    else:
        names[i] = f"Quinn Newname{rng.randrange(50)}"
    return ", ".join(names) + tail + sep + orgs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", help="the scholar-catalog command of the reference build")
    parser.add_argument("--dbs", nargs=2, type=Path, help="just compare these two catalogs (old, new)")
    parser.add_argument("--new", default="scholar-catalog", help="the command under test (default: %(default)s)")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the new command only")
    parser.add_argument("--profiles", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    rng = random.Random(args.seed)
    if args.dbs:
        differences = compare(*args.dbs, rng, "catalogs")
        for problem in differences:
            print(problem, file=sys.stderr)
        return 1 if differences else 0
    if not args.old:
        parser.error("--old or --dbs is required")
    work = Path(tempfile.mkdtemp(prefix="compare-", dir=args.workdir))
    try:
        folder = work / "profiles"
        gather(folder, args.profiles)
        old_db, new_db = work / "old.db", work / "new.db"
        old, new = args.old.split(), args.new.split()
        problems: list[str] = []

        def both(label: str, prune: bool = False) -> None:
            ingest(old, folder, old_db, {}, prune=prune)
            ingest(new, folder, new_db, env, prune=prune)
            problems.extend(compare(old_db, new_db, rng, label))

        both("round 1: from empty")
        files = sorted(folder.rglob("*.txt"))
        saved = {p: p.read_bytes() for p in rng.sample(files, len(files) // 10)}
        edit(files, rng, 0.1)
        both("round 2: 10% of files edited")
        cut = rng.sample(files, len(files) // 50)
        for path in cut:
            data = path.read_bytes()
            path.write_bytes(data[: len(data) * 2 // 3])
        both("round 3: 2% truncated (rejected)")
        gone = rng.sample(files, len(files) // 20)
        for path in gone:
            path.unlink(missing_ok=True)
        both("round 4: 5% deleted, --prune", prune=True)
        for path, data in saved.items():
            path.write_bytes(data)
        edit(sorted(folder.rglob("*.txt")), rng, 0.05)
        both("round 5: 10% restored or re-added, 5% edited")
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
