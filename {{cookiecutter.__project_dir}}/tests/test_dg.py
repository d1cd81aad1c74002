"""Dagster's own `dg` command works in this repository, as its documentation uses it.

`[tool.dg]` in pyproject.toml makes `defs/` dg's defs folder and `definitions.py` the code
location; these run the real `dg` from this environment, from the repository's root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from conftest import REPO_ROOT

DG = Path(sys.executable).parent / "dg"


def dg(*args: str) -> subprocess.CompletedProcess[str]:
    # An instance of its own, empty: checking and listing need no run history, and the repository's
    # dagster.yaml may name a PostgreSQL server (`dagster_storage=postgres`) that tests do not have.
    with tempfile.TemporaryDirectory() as home:
        (Path(home) / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "platform"), "DAGSTER_HOME": home}
        return subprocess.run([str(DG), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True)


def nope_list() -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "platform")}
    listed = subprocess.run(
        [sys.executable, "-m", "nope", "list", "--format", "json"], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def test_dg_check_defs_loads_the_code_location():
    result = dg("check", "defs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully." in result.stdout


def test_dg_list_defs_shows_every_asset_nope_list_shows():
    result = dg("list", "defs", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    listed = json.loads(result.stdout)
    assert sorted(asset["asset_key"] for asset in listed["assets"]) == sorted(row["key"] for row in nope_list())
