"""The baked repo as its users meet it: `make dev`, then the webserver's GraphQL API.

Run alone with `pytest -m webserver`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import bake
from dagster_dev import DagsterDev, group_alive

pytestmark = pytest.mark.webserver

# The example manifests under defs/, as the UI must show them: key -> (group, deps).
EXAMPLE_GRAPH = {
    "group_a/asset_one": ("group_a", set()),
    "group_a/asset_two": ("group_a", {"group_a/asset_one"}),
    "group_a/asset_three": ("group_a", {"group_a/asset_two"}),
    "group_a/asset_four": ("group_a", {"group_a/asset_two"}),
    "sales/orders": ("sales", set()),
    "sales/daily_revenue": ("sales", {"sales/orders"}),
    "sales/customer_revenue": ("sales", {"sales/orders"}),
}

# What the scripts report through Dagster Pipes.
PIPES_METADATA = {
    "group_a/asset_two": {"metadata": "value_one"},
    "group_a/asset_three": {"metadata": "value_one"},
    "group_a/asset_four": {"metadata": "value_two"},
}


def key_of(node: dict) -> str:
    return "/".join(node["assetKey"]["path"])


def test_make_dev_serves_the_graph_runs_the_examples_and_stops_cleanly(tmp_path: Path):
    repo = bake(tmp_path / "bake")
    server = DagsterDev.via_make(repo, tmp_path / "dagster-dev.log")
    try:
        location = server.wait_until_ready()

        graph = {key_of(node): node for node in server.asset_nodes()}
        assert set(EXAMPLE_GRAPH) <= set(graph), sorted(graph)
        for key, (group, deps) in EXAMPLE_GRAPH.items():
            assert graph[key]["groupName"] == group, key
            assert {"/".join(dep["path"]) for dep in graph[key]["dependencyKeys"]} == deps, key

        # `make dev` materialized everything once before serving: the UI has history already.
        assert all(server.materializations(key) for key in EXAMPLE_GRAPH)

        run_id = server.launch(location, EXAMPLE_GRAPH)
        assert server.wait_for_run(run_id) == "SUCCESS", server.log_tail()

        for key in EXAMPLE_GRAPH:
            assert run_id in [event["runId"] for event in server.materializations(key)], key
        for key, metadata in PIPES_METADATA.items():
            event = next(event for event in server.materializations(key) if event["runId"] == run_id)
            assert event["metadata"].items() >= metadata.items(), (key, event)
        # The sales scripts wrote real files from the repository's root folder.
        assert (repo / "data/sales/daily_revenue.csv").is_file()
    finally:
        server.stop()
    assert server.process.returncode is not None
    assert not group_alive(server.pgid), "a process of dagster dev outlived it"
