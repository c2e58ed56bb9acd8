"""The catalog's SQLite schema, created with sqlite-utils (imported only to create one).

Tables (all keys are integers except ``profiles.id``, the source file's stem)::

    meta                key -> value: schema_version, created_at, built_at, vector_model, cleanup_due (while due),
                        fts_churn (index entries written since the index was merged into one segment)
    profiles            one row per profile file; never merged by name
    authors             one row per person: the owner of each profile (profile_id set),
                        plus one row per normalized name seen only in author lists
    papers              one row per distinct normalized title (found by title_key, a hash of it)
    listings            profile x paper: what that profile said (score, category, date); its
                        title and abstract are NULL where they are the paper's (stored once, not twice)
    paper_authors       paper x author: listed position (NULL if hidden by "et al.")
                        and whether the author is known as the owner of a listing profile
    affiliations        distinct affiliation names
    paper_affiliations  paper x affiliation
    papers_fts          FTS5 over papers(title, abstract, author_search), kept by triggers
    facets              paper -> its category, year, has_code and date, kept equal to papers' by triggers (db/facets.py)
    term_docs           term -> how many papers hold it in any indexed column, and in their title (db/term_docs.py)
    title_words         word -> how many papers' normalized titles hold it (db/title_words.py)
    paper_vectors       paper -> its embedding (int8 BLOB), only with the semantic extra (db/vectors.py)
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import apsw

from scholar_catalog.db import facets, term_docs, title_words

SCHEMA_VERSION = 7
# 8 KB pages: a papers row (~1.4 KB with its abstract) left a third of each 4 KB page empty.
PAGE_SIZE = 8192

# Column weights for bm25(papers_fts, ...): title, abstract, author names.
FTS_COLUMNS = ("title", "abstract", "author_search")
BM25_WEIGHTS = (10.0, 1.0, 3.0)


# Indexes ingest never reads (the tools, or SQL on the catalog, may): a first ingest builds them once at
# its end (one sorted pass each) instead of adding each batch's entries at random places in them
# (db/ingest.py). The text is sqlite-utils' own, so a catalog made before them holds the same SQL.
READ_INDEXES = {
    "idx_papers_date": 'CREATE INDEX IF NOT EXISTS "idx_papers_date"\n    ON "papers" ("date")',
    "idx_paper_authors_author_id_paper_id": (
        'CREATE INDEX IF NOT EXISTS "idx_paper_authors_author_id_paper_id"\n'
        '    ON "paper_authors" ("author_id", "paper_id")'
    ),
    "idx_paper_affiliations_affiliation_id": (
        'CREATE INDEX IF NOT EXISTS "idx_paper_affiliations_affiliation_id"\n'
        '    ON "paper_affiliations" ("affiliation_id")'
    ),
    "papers_filters": "CREATE INDEX IF NOT EXISTS papers_filters ON papers(category, year, has_code, date)",
    # ingest finds a listed name through authors_listed_name; every name, through this
    "idx_authors_name_norm": 'CREATE INDEX IF NOT EXISTS "idx_authors_name_norm"\n    ON "authors" ("name_norm")',
    # No tool reads it (names are found through authors); kept for SQL on the catalog itself. Keyed in no
    # order, it was rewritten nearly whole by every batch of a build (bench/HISTORY.md "Round twenty-three").
    "idx_profiles_name_norm": 'CREATE INDEX IF NOT EXISTS "idx_profiles_name_norm"\n    ON "profiles" ("name_norm")',
}


class SchemaVersionError(RuntimeError):
    """The database was built by a different version of scholar-catalog."""


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table, index and trigger of an empty catalog (idempotent)."""
    import sqlite_utils  # needed to build a catalog, not to read or update one

    db = sqlite_utils.Database(conn, execute_plugins=False)
    t = db.table
    t("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)
    t("profiles").create(
        {
            "id": str,
            "name": str,
            "name_norm": str,
            "primary_category": str,
            "h_index": int,
            "papers_declared": int,
            "citations": int,
            "novelty": int,
            "ai_score": int,
            "papers_listed": int,
            "source_path": str,
            "source_size": int,
            "source_mtime_ns": int,
            "content_hash": str,
            "as_of": str,
            "ingested_at": str,
        },
        pk="id",
        not_null={
            "name",
            "name_norm",
            "papers_listed",
            "source_path",
            "content_hash",
            "as_of",
            "ingested_at",
        },
        if_not_exists=True,
    )
    t("authors").create(
        {"id": int, "name": str, "name_norm": str, "profile_id": str},
        pk="id",
        not_null={"name", "name_norm"},
        foreign_keys=[("profile_id", "profiles", "id")],
        if_not_exists=True,
    )
    t("papers").create(
        {
            "id": int,
            "title": str,
            "title_norm": str,
            "abstract": str,
            "date": str,
            "year": int,
            "category": str,
            "has_code": int,
            "authors_listed": str,  # JSON array of the listed names, in order
            "authors_truncated": int,
            "affiliations": str,  # JSON array
            "author_names": str,  # every known author name, ", "-joined, for display
            "author_search": str,  # the names plus accent-folded forms, for full-text search
            "title_key": int,  # title_words.title_hash(title_norm): how ingest finds a title's paper
        },
        pk="id",
        not_null={"title", "title_norm", "abstract", "date", "year", "category", "has_code"},
        defaults={"abstract": "", "has_code": 0, "authors_truncated": 0, "authors_listed": "[]"},
        if_not_exists=True,
    )
    t("listings").create(
        {
            "profile_id": str,
            "paper_id": int,
            "position": int,
            "line": int,
            "title": str,  # NULL: the paper's title (this profile spells it the same way)
            "score": float,
            "category": str,
            "date": str,
            "date_raw": str,
            "has_code": int,
            "authors_raw": str,  # the author line as this profile gave it
            "abstract": str,  # the abstract as this profile gave it (maybe truncated); NULL: the paper's
        },
        pk=("profile_id", "paper_id"),
        not_null={"position", "line", "category", "date", "date_raw", "has_code", "authors_raw"},
        foreign_keys=[("profile_id", "profiles", "id"), ("paper_id", "papers", "id")],
        if_not_exists=True,
    )
    t("paper_authors").create(
        {"paper_id": int, "author_id": int, "position": int, "is_owner": int},
        pk=("paper_id", "author_id"),
        not_null={"is_owner"},
        defaults={"is_owner": 0},
        foreign_keys=[("paper_id", "papers", "id"), ("author_id", "authors", "id")],
        if_not_exists=True,
    )
    t("affiliations").create(
        {"id": int, "name": str, "name_norm": str},
        pk="id",
        not_null={"name", "name_norm"},
        if_not_exists=True,
    )
    # Filled only when the semantic extra is installed; meta.vector_model names the model of a full set.
    t("paper_vectors").create({"paper_id": int, "vec": bytes}, pk="paper_id", not_null={"vec"}, if_not_exists=True)
    t("paper_affiliations").create(
        {"paper_id": int, "affiliation_id": int},
        pk=("paper_id", "affiliation_id"),
        foreign_keys=[("paper_id", "papers", "id"), ("affiliation_id", "affiliations", "id")],
        if_not_exists=True,
    )

    index = [
        ("authors", ["profile_id"], True),
        ("papers", ["title_key"], False),
        ("listings", ["paper_id"], False),
        ("affiliations", ["name_norm"], True),
    ]
    for table, columns, unique in index:
        t(table).create_index(columns, unique=unique, if_not_exists=True)
    # A narrow copy of the columns searches filter and sort on, keyed by paper id: searches join full-text
    # matches to it instead of reading the wide rows.
    facets.create(db.conn)
    create_read_indexes(db.conn)
    # One row per listed name among authors without a profile; sqlite-utils has no partial indexes.
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS authors_listed_name ON authors(name_norm) WHERE profile_id IS NULL")
    if not db["papers_fts"].exists():
        t("papers").enable_fts(list(FTS_COLUMNS), create_triggers=True, tokenize=term_docs.TOKENIZER)
    term_docs.create(db.conn)
    title_words.create(db.conn)
    stamp = now_iso()
    db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('created_at', ?)", [stamp])


def create_read_indexes(conn: sqlite3.Connection) -> None:
    """Make whichever of :data:`READ_INDEXES` are missing."""
    for sql in READ_INDEXES.values():
        conn.execute(sql)


def drop_read_indexes(conn: sqlite3.Connection) -> None:
    for name in READ_INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {name}")


def schema_version(conn: sqlite3.Connection | apsw.Connection) -> int | None:
    """The catalog's schema version, or None for a database that is not a catalog."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row and str(row[0]).isdigit() else None


def check_schema(conn: sqlite3.Connection | apsw.Connection) -> None:
    """Raise :class:`SchemaVersionError` unless *conn* holds a catalog of this version."""
    found = schema_version(conn)
    if found is None:
        raise SchemaVersionError("the database is not a scholar-catalog catalog (no meta.schema_version)")
    if found != SCHEMA_VERSION:
        raise SchemaVersionError(
            f"the catalog has schema version {found}, this scholar-catalog expects {SCHEMA_VERSION}; "
            "rebuild it with `scholar-catalog ingest --rebuild PATH...`"
        )
