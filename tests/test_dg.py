"""Dagster's own `dg dev` and `dg launch` in a baked repository, for real.

(`dg check defs` and `dg list defs` are in every baked repository's own tests/test_dg.py, so
every combination of answers runs them.) Run alone with `pytest -m webserver tests/test_dg.py`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import bake
from dagster_dev import ENV_BIN, DagsterDev, baked_env, group_alive

pytestmark = pytest.mark.webserver


def test_dg_dev_serves_the_repository_and_stops_with_nothing_left(tmp_path: Path):
    repo = bake(tmp_path / "bake")
    server = DagsterDev.via_dg(repo, tmp_path / "home", tmp_path / "dg-dev.log")
    try:
        server.wait_until_ready()
        keys = {"/".join(node["assetKey"]["path"]) for node in server.asset_nodes()}
        assert {"group_a/asset_one", "sales/orders"} <= keys
    finally:
        server.stop()
    assert not group_alive(server.pgid), "a process of dg dev outlived it"


def test_dg_launch_materializes_an_asset_on_the_repository_instance(tmp_path: Path):
    repo = bake(tmp_path / "bake")
    home = tmp_path / "home"
    home.mkdir()
    launched = subprocess.run(
        [str(ENV_BIN / "dg"), "launch", "--assets", "sales/orders"],
        cwd=repo,
        env=baked_env(repo, DAGSTER_HOME=str(home)),
        capture_output=True,
        text=True,
    )
    assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
    assert "RUN_SUCCESS" in launched.stdout + launched.stderr
    assert (repo / "data/sales/orders.csv").is_file()  # the script ran from the repository's root
