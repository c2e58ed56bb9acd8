"""The published artifacts: an sdist and a wheel built from a clean copy of the tree, as a release would be.

The wheel installs one import package, ``scholar_catalog``; the sdist carries what is needed to build and
test. Each test here builds or installs for real (with network access to the package index), so they take
some seconds each. uv makes the fresh environments (it is fast where pip takes minutes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import scholar_catalog
from conftest import EXAMPLES, ROOT, build_catalog

VERSION = scholar_catalog.__version__
WHEEL_NAME = f"scholar_catalog-{VERSION}-py3-none-any.whl"
SDIST_NAME = f"scholar_catalog-{VERSION}.tar.gz"


def uv() -> str:
    """uv, installed with the test extra beside this Python (or on PATH)."""
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else shutil.which("uv") or "uv"


def clean_copy(target: Path) -> Path:
    """The files git tracks (and new ones it does not ignore), as a fresh clone would have them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        source = ROOT / raw.decode()
        if source.is_file():
            destination = target / raw.decode()
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    return target


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """sdist, then a wheel built from that sdist (``python -m build``'s default), from a clean copy."""
    work = tmp_path_factory.mktemp("release")
    tree = clean_copy(work / "tree")
    out = work / "dist"
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(tree)], check=True, capture_output=True)
    yield out


def test_wheel_holds_only_the_scholar_catalog_package_and_no_tests(dist: Path) -> None:
    with zipfile.ZipFile(dist / WHEEL_NAME) as wheel:
        names = wheel.namelist()
    assert {name.split("/")[0] for name in names} == {"scholar_catalog", f"scholar_catalog-{VERSION}.dist-info"}
    assert not [name for name in names if "/tests/" in name or name.split("/")[-1].startswith("test_")]
    for module in ("db/catalog.py", "tools/papers.py", "server/app.py", "server/cli.py", "__main__.py", "py.typed"):
        assert f"scholar_catalog/{module}" in names


def test_sdist_holds_what_is_needed_to_build_and_test(dist: Path) -> None:
    with tarfile.open(dist / SDIST_NAME) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    expected = {
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "manifest.json",
        "tests/conftest.py",
        "tests/test_packaging.py",
        "examples/profiles/ex01_lukasz-wrobel.txt",
        "docs/format.md",
        "db/parser.py",
        "server/cli.py",
        "tools/papers.py",
        "src/scholar_catalog/__init__.py",
        "bench/run.py",
        ".ci/run",
    }
    assert expected <= names
    assert not [name for name in names if name.endswith((".db", ".pyc")) or "__pycache__" in name]


def test_wheel_metadata_is_ready_to_publish(dist: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dist / WHEEL_NAME), str(dist / SDIST_NAME)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with zipfile.ZipFile(dist / WHEEL_NAME) as wheel:
        metadata = wheel.read(f"scholar_catalog-{VERSION}.dist-info/METADATA").decode()
    for line in (
        f"Version: {VERSION}",
        "Requires-Python: >=3.11",
        "Classifier: Programming Language :: Python :: 3.11",
        "Classifier: Programming Language :: Python :: 3.12",
        "Classifier: Programming Language :: Python :: 3.13",
        "License-Expression: MIT",
    ):
        assert line in metadata.splitlines()
    assert "Project-URL: Changelog, " in metadata


def test_wheel_in_a_fresh_virtual_environment_installs_one_package_and_serves(dist: Path, tmp_path: Path) -> None:
    env = tmp_path / "venv"
    bin_dir = env / ("Scripts" if sys.platform == "win32" else "bin")
    python = bin_dir / "python"
    uv_env = {**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache")}
    subprocess.run([uv(), "venv", "--quiet", "--python", sys.executable, str(env)], check=True, env=uv_env)
    install = [uv(), "pip", "install", "--quiet", "--python", str(python), str(dist / WHEEL_NAME)]
    subprocess.run(install, check=True, env=uv_env)

    script = (
        "import importlib.metadata as m, json; "
        "print(json.dumps(sorted({str(f).split('/')[0] for f in m.distribution('scholar-catalog').files})))"
    )
    listed = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    top = json.loads(listed.stdout)
    site_level = [name for name in top if name != ".."]  # "../../bin/scholar-catalog" is the console script
    assert site_level == ["scholar_catalog", f"scholar_catalog-{VERSION}.dist-info"]

    db = build_catalog(tmp_path / "catalog.db", EXAMPLES)
    done = subprocess.run(
        [str(bin_dir / "scholar-catalog"), "call", "catalog_stats", "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the checkout: nothing of the source tree may be importable
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["profiles"] == len(list(EXAMPLES.glob("*.txt")))
    module = subprocess.run(
        [str(python), "-m", "scholar_catalog", "--version"], capture_output=True, text=True, cwd=tmp_path
    )
    assert module.stdout.strip() == f"scholar-catalog, version {VERSION}"


def test_uvx_runs_the_wheel(dist: Path, tmp_path: Path) -> None:
    uvx = str(Path(uv()).with_name("uvx"))
    db = build_catalog(tmp_path / "catalog.db", EXAMPLES)
    done = subprocess.run(
        [
            uvx,
            "--from",
            str(dist / WHEEL_NAME),
            "scholar-catalog",
            "call",
            "search_authors",
            "query=zoe",
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache")},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "Zoë Hartmann" in done.stdout
