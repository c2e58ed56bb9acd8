"""Entry point of the scholar-catalog MCP Bundle (copied to ``server/main.py`` by scripts/build-bundle).

The host starts it as ``python3 ${__dirname}/server/main.py serve --profiles DIR --db FILE``
(see manifest.json). It puts the bundled packages in ``server/lib`` first on the path, checks
that they fit this Python, fills in the optional database path, and runs ``scholar-catalog``.
``serve --profiles`` syncs the folder into the catalog (incrementally) before serving, so
files added or changed in the folder show up after the host restarts the server.

This file is kept parseable by old Pythons so that they get a clear message, not a syntax error.
"""

import hashlib
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(HERE, "lib")
MIN_PYTHON = (3, 11)


def fail(message):
    sys.stderr.write("scholar-catalog bundle: " + message + "\n")
    sys.stderr.flush()
    sys.exit(1)


def target():
    try:
        with open(os.path.join(LIB, "BUNDLE_TARGET.json"), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def check_runtime():
    built = target()
    running = "{}.{}".format(*sys.version_info[:2])
    if sys.version_info[:2] < MIN_PYTHON:
        fail(
            "needs Python {}.{} or newer, but {} is Python {}. Install a newer Python and make it "
            "the `python3` (Windows: `python`) on your PATH.".format(*MIN_PYTHON, sys.executable, running)
        )
    wanted = built.get("python")
    if wanted and wanted != running:
        fail(
            "this bundle carries packages built for Python {} ({}), but {} is Python {}. Use the bundle "
            "built for your Python, or run scholar-catalog without a bundle (see docs/clients.md).".format(
                wanted, built.get("platform_tag", "?"), sys.executable, running
            )
        )
    sys.path.insert(0, LIB)
    try:
        import apsw  # noqa: F401
        import pydantic_core  # noqa: F401  (compiled: fails first when the platform does not match)
        import rapidfuzz  # noqa: F401
    except ImportError as err:
        fail(
            "the bundled packages do not load on this machine ({}): this bundle was built for {}. "
            "Use the bundle built for your platform, or run scholar-catalog without a bundle "
            "(see docs/clients.md).".format(err, built.get("platform_tag", "another platform"))
        )


def unset(value):
    """An optional user_config value the host left empty or did not substitute (``${user_config.x}``)."""
    return not value.strip() or re.fullmatch(r"\$\{[^}]*\}", value.strip()) is not None


def default_db(profiles):
    """One catalog per profiles folder, in scholar-catalog's data folder."""
    from platformdirs import user_data_path

    folder = os.path.realpath(os.path.expanduser(profiles))
    digest = hashlib.sha256(folder.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", os.path.basename(folder.rstrip("/\\")) or "profiles").strip("-")
    return str(user_data_path("scholar-catalog", appauthor=False) / "catalogs" / f"{slug}-{digest}.db")


def fill_options(args):
    """Drop options whose value the host left unset; give --db a per-folder default."""
    result = []
    profiles = None
    index = 0
    while index < len(args):
        item = args[index]
        if item in ("--db", "--profiles") and index + 1 < len(args):
            value = args[index + 1]
            index += 2
            if unset(value):
                if item == "--profiles":
                    fail("no profiles folder is configured: choose one in the extension's settings.")
                continue
            if item == "--profiles":
                profiles = value
            result += [item, value]
            continue
        result.append(item)
        index += 1
    if result[:1] == ["serve"] and "--db" not in result and profiles and not os.environ.get("SCHOLAR_CATALOG_DB"):
        result += ["--db", default_db(profiles)]
    return result


def main():
    check_runtime()
    arguments = fill_options(sys.argv[1:])
    from scholar_catalog.server.cli import cli

    cli.main(args=arguments, prog_name="scholar-catalog")


if __name__ == "__main__":
    main()
