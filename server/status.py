"""``scholar-catalog status``: what a catalog file holds, where it came from, and who serves it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from pydantic import BaseModel

from scholar_catalog.db import vectors
from scholar_catalog.db.connection import open_readonly

from .clients import configs_pointing_at


class SourceFolder(BaseModel):
    folder: str
    profiles: int
    new_files: int  # *.txt files there that the catalog has not seen
    changed_files: int  # files whose size or modification time differ from what was ingested
    missing_files: int  # ingested files that are gone

    @property
    def in_sync(self) -> bool:
        return not (self.new_files or self.changed_files or self.missing_files)


class ClientConfig(BaseModel):
    client: str
    path: str


class Status(BaseModel):
    path: str
    size_bytes: int
    schema_version: int | None
    profiles: int
    papers: int
    authors: int
    listings: int
    built_at: str | None
    sources: list[SourceFolder]
    ranking_method: str
    ranking_note: str | None = None  # how to get hybrid ranking, when it is lexical
    clients: list[ClientConfig]


def _size(path: Path) -> int:
    """The catalog's bytes on disk, its write-ahead log included."""
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            total += os.stat(f"{path}{suffix}").st_size
    return total


def _source_folders(rows: list[tuple[str, int | None, int | None]]) -> list[SourceFolder]:
    """Group ingested files by the folder they were found in (their common parent) and compare with disk."""
    if not rows:
        return []
    recorded = {path: (size, mtime) for path, size, mtime in rows}
    try:
        root = Path(os.path.commonpath([os.path.dirname(p) for p in recorded]))
    except ValueError:  # different drives: report each file's own folder
        root = None
    folders = [root] if root is not None else sorted({Path(os.path.dirname(p)) for p in recorded})
    result = []
    for folder in folders:
        mine = {p: v for p, v in recorded.items() if Path(p).is_relative_to(folder)}
        on_disk = {str(p.resolve()): p.stat() for p in folder.rglob("*.txt") if p.is_file()} if folder.is_dir() else {}
        new = sum(1 for p in on_disk if p not in recorded)
        missing = sum(1 for p in mine if p not in on_disk)
        changed = sum(
            1
            for p, (size, mtime) in mine.items()
            if p in on_disk and (on_disk[p].st_size, on_disk[p].st_mtime_ns) != (size, mtime)
        )
        result.append(
            SourceFolder(
                folder=str(folder), profiles=len(mine), new_files=new, changed_files=changed, missing_files=missing
            )
        )
    return result


def catalog_status(path: Path, *, home: Path | None = None, workspace: Path | None = None) -> Status:
    """Read *path* (read-only) and describe it. Raises :class:`CatalogError` for a missing or foreign file."""
    conn = open_readonly(path)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        method, why = vectors.method(conn)

        def count(sql: str) -> int:
            return conn.execute(sql).fetchone()[0]

        rows = conn.execute("SELECT source_path, source_size, source_mtime_ns FROM profiles").fetchall()
        status = Status(
            path=str(path.absolute()),
            size_bytes=_size(path),
            schema_version=int(meta["schema_version"]) if "schema_version" in meta else None,
            profiles=len(rows),
            papers=count("SELECT count(*) FROM papers"),
            authors=count("SELECT count(*) FROM authors"),
            listings=count("SELECT count(*) FROM listings"),
            built_at=meta.get("built_at"),
            sources=_source_folders([tuple(r) for r in rows]),
            ranking_method=method,
            ranking_note=why,
            clients=[
                ClientConfig(client=c, path=str(p))
                for c, p in configs_pointing_at(path, home=home, workspace=workspace)
            ],
        )
    finally:
        conn.close()
    return status


def render(status: Status) -> str:
    """The status as lines for a terminal."""
    mb = status.size_bytes / 1_000_000
    lines = [
        f"catalog: {status.path} ({mb:.1f} MB, schema version {status.schema_version})",
        f"holds: {status.profiles} profiles, {status.papers} papers, {status.authors} authors, "
        f"{status.listings} listings",
        f"built: {status.built_at or 'never'}",
        f"ranking: {status.ranking_method}" + (f" ({status.ranking_note})" if status.ranking_note else ""),
    ]
    if not status.sources:
        lines.append("profiles folder: none yet (fill it with `scholar-catalog ingest PROFILES_DIR`)")
    for source in status.sources:
        if source.in_sync:
            state = "in sync"
        else:
            state = (
                f"changed since: {source.new_files} new, {source.changed_files} changed, "
                f"{source.missing_files} missing file(s); run `scholar-catalog ingest {source.folder} "
                f"--db {status.path}`"
            )
        lines.append(f"profiles folder: {source.folder} ({source.profiles} profiles; {state})")
    if status.clients:
        lines += [f"served to: {c.client} ({c.path})" for c in status.clients]
    else:
        lines.append("served to: no client config found (see `scholar-catalog connect --help`)")
    return "\n".join(lines)
