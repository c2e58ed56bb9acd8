"""The ingest floor: a bare loader of profile files into the catalog's own tables.

    python bench/floor.py PROFILES_DIR --db floor.db [--as-of 2026-11-24]

What ``scholar-catalog ingest`` would cost with none of its guarantees: regex and
``str.split`` parsing, a cheap normalization key (casefold + non-word runs to a
space), in-memory id maps, ``executemany`` in batches into the same tables in ONE
transaction, the triggers on ``papers`` dropped during the load and a single FTS5 ``rebuild``
(and one count of every term's papers from it, and one copy of the papers' filter columns into
``facets``) at the end. No per-file savepoints,
no incremental bookkeeping, no merge rules beyond "first listing wins, a longer
abstract replaces a shorter one" (a listing's title and abstract stored only where
they differ from the paper's, as the catalog does), author names for search filled
by one set-based UPDATE. The benchmark compares ingest with it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from scholar_catalog.db import facets, term_docs, title_words
from scholar_catalog.db.connection import open_writable  # the same schema and PRAGMAs as ingest

MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}
META_RE = re.compile(
    r"^(\d{1,3}(?:\.\d+)?)?([A-Z]{2})(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{1,2})(?:, (\d{4}))?(Code)?\n"
)
NUM_RE = re.compile(r"\d[\d,.]*")
KEY_RE = re.compile(r"[\W_]+")
BATCH = 20_000


def key(text: str) -> str:
    return KEY_RE.sub(" ", text.casefold()).strip()


def number(line: str) -> int | None:
    m = NUM_RE.search(line)
    return int(re.sub(r"\D", "", m.group())) if m else None


def load(paths: list[Path], db_path: Path, as_of: date) -> tuple[int, int]:
    db = open_writable(db_path)
    c = db.conn
    triggers = c.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'papers'").fetchall()
    c.execute("BEGIN IMMEDIATE")
    for (sql,) in triggers:
        c.execute(f"DROP TRIGGER {sql.split()[2]}")
    papers: dict[str, int] = {}
    abstract_len: dict[int, int] = {}
    texts: dict[int, tuple[int, int]] = {}  # paper -> hashes of its title and abstract as stored
    authors: dict[str, int] = {}
    affiliations: dict[str, int] = {}
    rows: dict[str, list[tuple]] = {
        k: [] for k in ("profiles", "owners", "authors", "papers", "listings", "pa", "aff", "paff", "longer")
    }
    sql = {
        "profiles": "INSERT INTO profiles (id, name, name_norm, primary_category, h_index, papers_declared, citations,"
        " novelty, ai_score, papers_listed, source_path, source_size, source_mtime_ns, content_hash, as_of,"
        " ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "owners": "INSERT INTO authors (id, name, name_norm, profile_id) VALUES (?, ?, ?, ?)",
        "authors": "INSERT INTO authors (id, name, name_norm) VALUES (?, ?, ?)",
        "papers": "INSERT INTO papers (id, title, title_norm, abstract, date, year, category, has_code,"
        " authors_listed, authors_truncated, affiliations, title_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "listings": "INSERT OR IGNORE INTO listings (profile_id, paper_id, position, line, title, score, category,"
        " date, date_raw, has_code, authors_raw, abstract) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "pa": "INSERT INTO paper_authors (paper_id, author_id, position, is_owner) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO UPDATE SET is_owner = max(is_owner, excluded.is_owner),"
        " position = coalesce(position, excluded.position)",
        "aff": "INSERT INTO affiliations (id, name, name_norm) VALUES (?, ?, ?)",
        "paff": "INSERT OR IGNORE INTO paper_affiliations (paper_id, affiliation_id) VALUES (?, ?)",
        "longer": "UPDATE papers SET abstract = ? WHERE id = ?",
    }
    order = ("profiles", "owners", "authors", "papers", "aff", "listings", "pa", "paff", "longer")

    def flush() -> None:
        for name in order:
            if rows[name]:
                c.executemany(sql[name], rows[name])
                rows[name].clear()

    pending = 0
    next_author = 1
    stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
    for path in paths:
        data = path.read_bytes()
        st = path.stat()
        text = data.decode("utf-8-sig", "replace").replace("\r\n", "\n").strip("\n")
        blocks = text.split("\n\n")
        pid = path.stem
        owner = blocks[0].strip()
        owner_key = key(owner)
        owner_id = next_author
        next_author += 1
        rows["owners"].append((owner_id, owner, owner_key, pid))
        header: dict[str, int | str | None] = {}
        i = 1
        while i < len(blocks) and not META_RE.match(blocks[i]):
            for line in blocks[i].split("\n"):
                low = line.lower()
                for field in ("h-index", "citations", "novelty", "ai score"):
                    if field in low:
                        header[field] = number(line)
                if low.endswith("papers") and not low.endswith(" papers"):
                    header["declared"] = number(line)
                elif len(line) == 2 and line.isupper():
                    header["category"] = line
            i += 1
        position = 0
        while i < len(blocks):
            m = META_RE.match(blocks[i])
            if not m:
                i += 1
                continue
            score, category, month, day, year, code = m.groups()
            title = blocks[i][m.end() :].strip()
            author_line = blocks[i + 1] if i + 1 < len(blocks) else ""
            j = i + 2
            while j < len(blocks) and not META_RE.match(blocks[j]):
                j += 1
            abstract = "\n\n".join(b.replace("\n", " ") for b in blocks[i + 2 : j])
            i = j
            position += 1
            y = int(year) if year else as_of.year - ((MONTHS[month], int(day)) > (as_of.month, as_of.day))
            when = f"{y:04d}-{MONTHS[month]:02d}-{int(day):02d}"
            people, _, orgs = author_line.partition(" · ")
            truncated = people.endswith(" et al.")
            names = [n.strip() for n in people.removesuffix(" et al.").split(",") if n.strip()]
            orgs_list = [o.strip() for o in orgs.split(",") if o.strip()]
            tkey = key(title)
            paper = papers.get(tkey)
            if paper is None:
                paper = papers[tkey] = len(papers) + 1
                abstract_len[paper] = len(abstract)
                texts[paper] = (hash(title), hash(abstract))
                rows["papers"].append(
                    (paper, title, tkey, abstract, when, y, category, int(bool(code)),
                     json.dumps(names, ensure_ascii=False), int(truncated), json.dumps(orgs_list, ensure_ascii=False),
                     title_words.title_hash(tkey))
                )  # fmt: skip
                for pos, name in enumerate(names, 1):
                    nkey = key(name)
                    if nkey == owner_key:
                        continue
                    author = authors.get(nkey)
                    if author is None:
                        author = authors[nkey] = next_author
                        next_author += 1
                        rows["authors"].append((author, name, nkey))
                    rows["pa"].append((paper, author, pos, 0))
                for org in orgs_list:
                    okey = key(org)
                    aff = affiliations.get(okey)
                    if aff is None:
                        aff = affiliations[okey] = len(affiliations) + 1
                        rows["aff"].append((aff, org, okey))
                    rows["paff"].append((paper, aff))
            elif len(abstract) > abstract_len[paper]:
                abstract_len[paper] = len(abstract)
                texts[paper] = (texts[paper][0], hash(abstract))
                rows["longer"].append((abstract, paper))
            # As the catalog stores them: a listing's title and abstract only where they differ from the paper's.
            same_title, same_abstract = hash(title) == texts[paper][0], hash(abstract) == texts[paper][1]
            listed_at = next((p for p, n in enumerate(names, 1) if key(n) == owner_key), None)
            rows["pa"].append((paper, owner_id, listed_at, 1))
            rows["listings"].append(
                (pid, paper, position, 0, None if same_title else title, float(score) if score else None, category,
                 when, f"{month} {int(day)}" + (f", {year}" if year else ""), int(bool(code)), author_line,
                 None if same_abstract else abstract)
            )  # fmt: skip
        rows["profiles"].append(
            (pid, owner, owner_key, header.get("category"), header.get("h-index"), header.get("declared"),
             header.get("citations"), header.get("novelty"), header.get("ai score"), position,
             str(path.resolve()), st.st_size, st.st_mtime_ns, hashlib.sha256(data).hexdigest(), as_of.isoformat(),
             stamp)
        )  # fmt: skip
        pending += position + 1
        if pending >= BATCH:
            flush()
            pending = 0
    flush()
    c.execute(
        """UPDATE papers SET author_names = (
               SELECT group_concat(a.name, ', ') FROM paper_authors pa JOIN authors a ON a.id = pa.author_id
               WHERE pa.paper_id = papers.id)"""
    )
    c.execute("UPDATE papers SET author_search = author_names")
    c.execute("INSERT INTO papers_fts (papers_fts) VALUES ('rebuild')")
    term_docs.fill(c)  # the term counts, once from the finished index: the cheapest way to the same table
    title_words.apply(c, title_words.count(papers).items())
    facets.fill(c)
    for (trigger,) in triggers:
        c.execute(trigger)
    c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('built_at', ?)", [stamp])
    c.execute("COMMIT")
    n_papers = c.execute("SELECT count(*) FROM papers").fetchone()[0]
    c.close()
    return len(paths), n_papers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--as-of", default="2026-11-24")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    files: list[Path] = []
    for p in args.paths:
        files.extend(sorted(p.rglob("*.txt")) if p.is_dir() else [p])
    profiles, papers = load(files, args.db, date.fromisoformat(args.as_of))
    print(f"floor: {profiles} profiles, {papers} papers in {time.perf_counter() - started:.2f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
