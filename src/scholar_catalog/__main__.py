"""``python -m scholar_catalog``: the ``scholar-catalog`` command."""

from scholar_catalog.server.cli import main

if __name__ == "__main__":
    main()
