"""Every example asset materializes through a real Dagster instance, with its Pipes metadata."""

from __future__ import annotations

import csv

import dagster as dg

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }}

from conftest import materialize


def test_every_example_asset_materializes_with_its_pipes_metadata(repo_copy, instance):
    defs = {{ cookiecutter.__project_class }}.make_definitions(defs_path=repo_copy / "defs")
    result = materialize(defs, instance)
    assert result.success

    keys = {spec.key for spec in defs.resolve_all_asset_specs()}
    for key in keys:
        assert instance.get_latest_materialization_event(key) is not None, key

    def metadata(key: str) -> dict:
        event = instance.get_latest_materialization_event(dg.AssetKey.from_user_string(key))
        return {name: value.value for name, value in event.asset_materialization.metadata.items()}

    # The tutorial's assets, exactly as the tutorial promises.
    assert metadata("group_a/asset_two")["metadata"] == "value_one"
    assert metadata("group_a/asset_three")["metadata"] == "value_one"
    assert metadata("group_a/asset_four")["metadata"] == "value_two"

    # The sales example reads a CSV, checks it, and writes real aggregated files.
    checks = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    assert checks["no_refunds_left"].passed
    assert metadata("sales/orders")["row_count"] == 6
    assert metadata("sales/daily_revenue")["total_revenue"] == 661.49
    # In this environment's own folder: `local`, as the copy is not a git repository (docs/platform/environments.md).
    with open(repo_copy / "data/local/sales/daily_revenue.csv", newline="") as daily:
        rows = list(csv.DictReader(daily))
    assert rows[0] == {"order_date": "2026-01-05", "revenue": "200.50"}
    assert len(rows) == 3


def test_pipes_logs_reach_dagster(repo_copy, instance):
    defs = {{ cookiecutter.__project_class }}.make_definitions(defs_path=repo_copy / "defs")
    result = materialize(defs, instance, selection="group_a/asset_two")
    assert result.success
    messages = [event.message for event in instance.all_logs(result.run_id)]
    assert any("Hello from asset two." in (message or "") for message in messages)
