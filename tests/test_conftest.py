"""The suite's own rules: seed-based tests skip outside this layout, but never silently in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, missing_seeds_error


def test_missing_seeds_fail_the_run_only_in_ci(tmp_path: Path) -> None:
    missing, present = tmp_path / "no-seeds", tmp_path
    error = missing_seeds_error(missing, {"CI": "true"})
    assert error is not None and error.startswith(f"CI is set but the seed profiles are missing ({missing})")
    assert missing_seeds_error(missing, {"CI": "1"}) == error
    assert missing_seeds_error(missing, {}) is None
    assert missing_seeds_error(missing, {"CI": ""}) is None
    assert missing_seeds_error(present, {"CI": "true"}) is None


def _pytest(ci: str | None, seeds: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"SCHOLAR_CATALOG_TEST_SEEDS": str(seeds)}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-rs",
         "tests/test_ingest.py::test_seeds_make_two_profiles_nineteen_listings_fourteen_papers"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("ci", [None, "true"], ids=["outside-ci", "ci"])
def test_a_run_without_the_seeds(tmp_path: Path, ci: str | None) -> None:
    done = _pytest(ci, tmp_path / "no-seeds")
    if ci is None:
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"not tested here: the real seed profiles ({tmp_path / 'no-seeds'} is absent)" in done.stdout
        assert "1 skipped" in done.stdout
    else:
        assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
        assert "CI is set but the seed profiles are missing" in done.stderr
