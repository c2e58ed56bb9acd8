"""scholar-catalog: a SQLite catalog of researcher profiles, served to AI assistants over MCP.

The package's subpackages live at the top of the source tree and are mapped onto it by
``pyproject.toml`` (``package-dir``): :mod:`scholar_catalog.db` is ``db/``,
:mod:`scholar_catalog.tools` is ``tools/`` and :mod:`scholar_catalog.server` is ``server/``.
"""

__version__ = "0.2.0"
