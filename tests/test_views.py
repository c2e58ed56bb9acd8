"""MCP Apps wiring: tools bound to ui:// views, the views as resources, and the build kept in step with its sources.

The views themselves are exercised in a real browser by ``test_views_browser.py``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from conftest import ROOT
from scholar_catalog import tools
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.server.app import TOOL_FUNCTIONS, build_server
from scholar_catalog.server.apps import BINDINGS, LEGACY_URI_KEY, view_uri

APP_MIME = "text/html;profile=mcp-app"
VIEWS_DIR = ROOT / "views"
BUILT = [ROOT / "server" / "views" / f"{v}.html" for v in ("network", "author", "trend")]
HOST = ROOT / "tests" / "apps_host" / "host.html"


def source_hash() -> str:
    """The hash views/build.mjs embeds: every file under views/src and views/host, the build script, lockfile."""
    inputs = [p for folder in ("src", "host") for p in (VIEWS_DIR / folder).rglob("*") if p.is_file()]
    inputs += [VIEWS_DIR / name for name in ("build.mjs", "package.json", "package-lock.json")]
    digest = hashlib.sha256()
    for path in sorted(p.relative_to(VIEWS_DIR).as_posix() for p in inputs):
        digest.update(path.encode() + b"\0" + (VIEWS_DIR / path).read_bytes() + b"\0")
    return digest.hexdigest()


def embedded_hash(html: str) -> str | None:
    found = re.search(r'<meta name="scholar-catalog-views-source" content="([0-9a-f]{64})">', html)
    return found.group(1) if found else None


@pytest.mark.parametrize("built", [*BUILT, HOST], ids=lambda p: p.name)
def test_committed_build_matches_its_sources(built: Path) -> None:
    assert embedded_hash(built.read_text(encoding="utf-8")) == source_hash(), (
        f"{built.relative_to(ROOT)} is out of date with views/: run scripts/build-views and commit the result"
    )


def test_changing_a_view_source_changes_the_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = source_hash()
    copy = tmp_path / "views"
    for folder in ("src", "host"):
        shutil.copytree(VIEWS_DIR / folder, copy / folder)
    for name in ("build.mjs", "package.json", "package-lock.json"):
        shutil.copy(VIEWS_DIR / name, copy / name)
    monkeypatch.setattr(sys.modules[__name__], "VIEWS_DIR", copy)
    assert source_hash() == before
    (copy / "src" / "trend.js").write_text((copy / "src" / "trend.js").read_text() + "\n// edited\n")
    assert source_hash() != before


@pytest.mark.parametrize("built", BUILT, ids=lambda p: p.name)
def test_each_view_is_one_self_contained_document(built: Path) -> None:
    html = built.read_text(encoding="utf-8")
    assert html.count("<script>") == 1 and "<script src" not in html
    assert "<link" not in html and "@import" not in html
    assert not re.search(r"""(src|href)=["']https?:""", html)


async def _session(db: Path, body: Any) -> Any:
    async with Client(build_server(db)) as client:
        return await body(client)


def test_ui_bound_tools_name_their_view_and_the_others_stay_plain(example_db: Path) -> None:
    async def listed(client: Client) -> dict[str, Any]:
        return {t.name: t.meta for t in (await client.list_tools()).tools}

    metas = anyio.run(_session, example_db, listed)
    for name, meta in metas.items():
        if name in BINDINGS:
            uri = view_uri(BINDINGS[name])
            assert meta["ui"] == {"resourceUri": uri}
            assert meta[LEGACY_URI_KEY] == uri
        else:
            assert not (meta or {}).get("ui"), name
    assert {n for n in metas if n in BINDINGS} >= {"coauthors", "shared_coauthors", "collaboration_path", "get_author"}


def test_views_are_mcp_app_resources_and_the_server_advertises_the_extension(example_db: Path) -> None:
    async def read(client: Client) -> tuple[Any, dict[str, Any], set[str]]:
        contents = {}
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        for view in ("network", "author"):
            contents[view] = (await client.read_resource(view_uri(view))).contents[0]
        return client.server_capabilities, contents, listed

    capabilities, contents, listed = anyio.run(_session, example_db, read)
    assert "io.modelcontextprotocol/ui" in (capabilities.extensions or {})
    for view, content in contents.items():
        assert content.mime_type == APP_MIME
        assert content.text == (ROOT / "server" / "views" / f"{view}.html").read_text(encoding="utf-8")
    assert (view_uri("trend") in listed) == ("topic_trends" in TOOL_FUNCTIONS)


def test_bound_tools_return_the_same_results_as_before(example_db: Path) -> None:
    async def call(client: Client) -> Any:
        return await client.call_tool("coauthors", {"name": "Zoë Hartmann"})

    result = anyio.run(_session, example_db, call)
    expected = tools.coauthors(Catalog(example_db), name="Zoë Hartmann").model_dump(mode="json", by_alias=True)
    assert result.structured_content == expected
    assert result.content[0].type == "text"


def test_the_wheel_ships_the_built_views(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("scholar_catalog-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for built in BUILT:
        assert f"scholar_catalog/server/views/{built.name}" in names
    assert not any(name.endswith("host.html") for name in names)
