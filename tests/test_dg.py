"""Dagster's own `dg dev` and `dg launch` in a baked repository, for real, from a user's shell.

The README runs dg as `.venv/bin/dg ...` (or with `.venv` activated) after `make install`, with
DAGSTER_HOME naming the instance. (`dg check defs` and `dg list defs` are in every baked
repository's own tests/test_dg.py, so every combination of answers runs them.) The tests share
one bake and its install. Run alone with `pytest -m webserver tests/test_dg.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import bake
from dagster_dev import DagsterDev, as_generated, group_alive
from user_shell import run_as_user

pytestmark = pytest.mark.webserver


@pytest.fixture(scope="module")
def shared_bake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("dg"))


@pytest.fixture
def repo(shared_bake: Path) -> Path:
    return as_generated(shared_bake)


def test_dg_dev_serves_the_repository_and_stops_with_nothing_left(repo: Path, user_home: Path, tmp_path: Path):
    server = DagsterDev.via_dg(repo, user_home, tmp_path / "dagster_home", tmp_path / "dg-dev.log")
    try:
        server.wait_until_ready()
        keys = {"/".join(node["assetKey"]["path"]) for node in server.asset_nodes()}
        assert {"group_a/asset_one", "sales/orders"} <= keys
    finally:
        server.stop()
    assert not group_alive(server.pgid), "a process of dg dev outlived it"


def test_dg_launch_materializes_an_asset_on_the_repository_instance(repo: Path, user_home: Path):
    run_as_user("make instance", repo, user_home)  # installs, and makes the instance `make dev` uses
    launched = run_as_user("DAGSTER_HOME=$PWD/.dagster_home .venv/bin/dg launch --assets sales/orders", repo, user_home)
    assert "RUN_SUCCESS" in launched.stdout
    assert (repo / ".dagster_home/history/runs.db").is_file()
    # The script ran from the repository's root, in the environment of its git branch (`main`, as baked).
    assert (repo / "data/main/sales/orders.csv").is_file()
