"""The catalog: profile parser, SQLite schema, ingest, read-only queries and name matching.

Modules: ``parser`` (the profile format), ``normalize`` (name and title keys), ``schema``,
``connection`` (opening a catalog for writing or read-only), ``ingest`` and ``rebuild``
(building it), ``catalog`` and ``names`` (reading it). Nothing is imported here, so that the
server starts without loading the ingest machinery.
"""
