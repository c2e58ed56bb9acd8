"""The catalog: profile parser, SQLite schema, ingest, read-only queries and name matching."""

from .connection import CatalogError, default_db_path, open_readonly, open_writable, resolve_db_path
from .ingest import IngestAbort, IngestReport, UsageError
from .normalize import fold, normalize_name, normalize_title
from .parser import Entry, Profile, ProfileParseError, parse_profile

__all__ = [
    "CatalogError",
    "Entry",
    "IngestAbort",
    "IngestReport",
    "Profile",
    "ProfileParseError",
    "UsageError",
    "default_db_path",
    "fold",
    "normalize_name",
    "normalize_title",
    "open_readonly",
    "open_writable",
    "parse_profile",
    "resolve_db_path",
]
