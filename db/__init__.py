"""The catalog: profile parser, SQLite schema, ingest, read-only queries and name matching.

Modules: :mod:`db.parser` (the profile format), :mod:`db.normalize` (name and title keys),
:mod:`db.schema`, :mod:`db.connection` (opening a catalog for writing or read-only),
:mod:`db.ingest` and :mod:`db.rebuild` (building it), :mod:`db.catalog` and :mod:`db.names`
(reading it). Nothing is imported here, so that the server starts without loading the
ingest machinery.
"""
