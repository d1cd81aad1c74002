"""`dagster_storage=postgres`: the instance's runs, event log and materializations in PostgreSQL.

Runs a real, throwaway PostgreSQL 15 cluster. Run alone with `pytest -m postgres`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import dagster as dg
import pytest
import yaml
from conftest import TEMPLATE, bake, bake_refused
from postgres_cluster import PostgresCluster
from user_shell import run_as_user

pytestmark = pytest.mark.postgres

EXAMPLE_KEYS = {
    "group_a/asset_one",
    "group_a/asset_two",
    "group_a/asset_three",
    "group_a/asset_four",
    "sales/orders",
    "sales/daily_revenue",
    "sales/customer_revenue",
}


@pytest.fixture()
def cluster():
    server = PostgresCluster()
    try:
        yield server.start()
    finally:
        server.stop()


def test_sqlite_is_the_default_and_needs_no_settings(default_repo: Path):
    settings = yaml.safe_load((default_repo / "dagster.yaml").read_text())
    assert "storage" not in settings  # Dagster's default: SQLite files under DAGSTER_HOME
    assert settings["run_monitoring"]["enabled"] is True
    assert "dagster-postgres" not in (default_repo / "pyproject.toml").read_text()


def test_postgres_answer_ships_settings_read_from_the_environment(tmp_path: Path):
    repo = bake(tmp_path, dagster_storage="postgres")
    settings = yaml.safe_load((repo / "dagster.yaml").read_text())
    database = settings["storage"]["postgres"]["postgres_db"]
    assert {field: value["env"] for field, value in database.items() if isinstance(value, dict)} == {
        "hostname": "DAGSTER_PG_HOST",
        "port": "DAGSTER_PG_PORT",
        "username": "DAGSTER_PG_USER",
        "password": "DAGSTER_PG_PASSWORD",
        "db_name": "DAGSTER_PG_DB",
    }
    pins = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["dependencies"]
    template_pin = next(
        line for line in (TEMPLATE / "requirements/test.in").read_text().splitlines() if line.startswith("dagster-postgres==")
    )
    assert template_pin in pins
    assert "PostgreSQL" in (repo / "README.md").read_text()
    assert "DAGSTER_PG_HOST" in (repo / "docs/platform/local-development.md").read_text()


def test_materializing_the_examples_writes_runs_events_and_materializations_to_postgres(
    tmp_path: Path, user_home: Path, cluster: PostgresCluster
):
    """`make materialize` from a user's shell, with the DAGSTER_PG_* variables the README tells them to set."""
    repo = bake(tmp_path, dagster_storage="postgres")
    run_as_user("make materialize", repo, user_home, extra=cluster.env())

    # Nothing went to an embedded SQLite file: the home holds only the copied settings.
    home = repo / ".dagster_home"
    assert (home / "dagster.yaml").read_text() == (repo / "dagster.yaml").read_text()
    assert not list(home.rglob("*.db"))

    runs = cluster.query("SELECT run_id, status FROM runs")
    assert [status for _, status in runs] == ["SUCCESS"]
    run_id = runs[0][0]

    event_types = {row[0] for row in cluster.query("SELECT DISTINCT dagster_event_type FROM event_logs WHERE run_id = %s", run_id)}
    expected = {dg.DagsterEventType.RUN_START, dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.RUN_SUCCESS}
    assert {event_type.value for event_type in expected} <= event_types

    materialized = cluster.query(
        "SELECT asset_key FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'", run_id
    )
    # Asset keys are stored as JSON lists of path parts, e.g. ["group_a", "asset_two"].
    keys = {"/".join(yaml.safe_load(key)) for (key,) in materialized}
    assert keys == EXAMPLE_KEYS
    indexed = {"/".join(yaml.safe_load(key)) for (key,) in cluster.query("SELECT asset_key FROM asset_keys")}
    assert EXAMPLE_KEYS <= indexed

    # The Pipes metadata is in the stored event, as the UI will read it.
    (asset_four_event,) = cluster.query(
        "SELECT event FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' AND asset_key = %s",
        '["group_a", "asset_four"]',
    )
    assert "value_two" in asset_four_event[0]


def test_an_unknown_storage_stops_in_the_hook(tmp_path: Path):
    result = bake_refused(tmp_path, dagster_storage="mysql")
    assert "dagster_storage: `mysql` must be `sqlite` or `postgres`" in result.stderr
    assert list(tmp_path.iterdir()) == []
