"""`deployment=docker`, for real: the image built, compose up, a run launched through GraphQL.

Builds the baked repository's image on a Debian base made without a registry (tests/docker_host.py),
runs its compose.yaml (PostgreSQL from a test-only image on the same base), launches a run through
the webserver's GraphQL API, and checks that the run ran in a container of its own and that its
materializations are in PostgreSQL; then runs a `target: docker` script in a container. Run alone
with `pytest -m docker`. `make docker` (part of `make test`) installs Docker and starts it as root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import docker_host
import pytest
from conftest import bake
from dagster_dev import (
    LAUNCH_MUTATION,
    MATERIALIZATIONS_QUERY,
    RUN_QUERY,
    WORKSPACE_QUERY,
    free_port,
    install,
    launch_variables,
    wait_until,
)
from user_shell import run_as_user

pytestmark = pytest.mark.docker

SLUG = "nope-docker-test"
IMAGE = f"{SLUG}:test"
PROJECT = "nopedockertest"
PASSWORD = "throwaway"
SALES = ["sales/orders", "sales/daily_revenue", "sales/customer_revenue"]
WHERE_SCRIPT = textwrap.dedent(
    """
    import os
    from dagster_pipes import open_dagster_pipes

    with open_dagster_pipes() as pipes:
        pipes.report_asset_materialization(metadata={
            "in_container": str(os.path.exists("/.dockerenv")),
            "uid": str(os.getuid()),
            "hostname": os.uname().nodename,
        })
    """
)

# PostgreSQL for the test only, on the same Debian base (no registry for the official image); it
# reads the official image's POSTGRES_* variables, so compose.yaml runs it unchanged.
POSTGRES_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \\
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY entrypoint.sh /entrypoint.sh
ENTRYPOINT ["bash", "/entrypoint.sh"]
"""
POSTGRES_ENTRYPOINT = """\
set -e
mkdir -p "$PGDATA" /var/run/postgresql && chown postgres:postgres "$PGDATA" /var/run/postgresql && chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "$POSTGRES_PASSWORD" > /tmp/password && chown postgres /tmp/password
  runuser -u postgres -- initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile=/tmp/password -A scram-sha-256 --auth-local=trust -E UTF8
  rm /tmp/password
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  runuser -u postgres -- pg_ctl -D "$PGDATA" -w start -o "-c listen_addresses=''"
  runuser -u postgres -- psql -U "$POSTGRES_USER" -d postgres -c "CREATE DATABASE \\"$POSTGRES_DB\\""
  runuser -u postgres -- pg_ctl -D "$PGDATA" -w stop
fi
exec runuser -u postgres -- postgres -D "$PGDATA" -c listen_addresses='*'
"""


def docker(*args: str, check: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr[-3000:]}")
    return result.stdout.strip()


@pytest.fixture(scope="module")
def docker_ready() -> None:
    reason = docker_host.unavailable()
    if reason:
        pytest.fail(f"The Docker tests need Docker: {reason}.")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, docker_ready: None) -> Path:
    """A docker deployment with the `docker` target and one asset that reports where it ran."""
    repo = bake(
        tmp_path_factory.mktemp("docker-deployment"),
        project_slug=SLUG,
        deployment="docker",
        dagster_storage="postgres",
        extra_targets="docker",
    )
    (repo / "defs/containers").mkdir()
    (repo / "defs/containers/where.py").write_text(WHERE_SCRIPT)
    (repo / "defs/containers/where.yaml").write_text("target: docker\n")
    built = docker_host.build_image(repo, IMAGE)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-5000:]
    return repo


@pytest.fixture(scope="module")
def postgres_image(tmp_path_factory: pytest.TempPathFactory, docker_ready: None) -> str:
    context = tmp_path_factory.mktemp("postgres-image")
    (context / "Dockerfile").write_text(POSTGRES_DOCKERFILE)
    (context / "entrypoint.sh").write_text(POSTGRES_ENTRYPOINT)
    tag = f"nope-test-postgres:{docker_host.base_image_tag().split(':')[1]}"
    result = subprocess.run(
        ["docker", "build", "--quiet", "--build-arg", f"BASE_IMAGE={docker_host.base_image()}", "--tag", tag, str(context)],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return tag


class Compose:
    """`docker compose` on the baked compose.yaml, with the secrets and settings the README names."""

    def __init__(self, repo: Path, postgres_image: str):
        command = docker_host.compose_command()
        assert command, "neither `docker compose` nor `docker-compose` is installed (`make docker` installs it)"
        self.command = [*command, "--project-name", PROJECT, "--file", str(repo / "compose.yaml")]
        self.port = free_port()
        self.env = {
            **os.environ,
            "NOPE_IMAGE": IMAGE,
            "NOPE_POSTGRES_IMAGE": postgres_image,
            "DAGSTER_PG_PASSWORD": PASSWORD,
            "DOCKER_GID": str(os.stat("/var/run/docker.sock").st_gid),
            "DAGSTER_WEBSERVER_PORT": str(self.port),
        }
        self.url = f"http://127.0.0.1:{self.port}/graphql"

    def __call__(self, *args: str, check: bool = True) -> str:
        result = subprocess.run([*self.command, *args], capture_output=True, text=True, env=self.env)
        if check and result.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        return result.stdout

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
        assert not payload.get("errors"), payload["errors"]
        return payload["data"]

    def location_loaded(self) -> bool:
        try:
            entries = self.graphql(WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
        for entry in entries:
            location = entry["locationOrLoadError"] or {}
            if location.get("__typename") == "PythonError" and "UserCodeUnreachable" not in location["message"]:
                raise AssertionError(f"the code location failed to load: {location['message']}")
        return any(
            entry["loadStatus"] == "LOADED" and (entry["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation"
            for entry in entries
        )

    def psql(self, sql: str) -> list[str]:
        output = self("exec", "-T", "postgres", "psql", "-U", "dagster", "-d", "dagster", "-At", "-c", sql)
        return [line for line in output.splitlines() if line]


@pytest.fixture(scope="module")
def deployment(repo: Path, postgres_image: str) -> Iterator[Compose]:
    compose = Compose(repo, postgres_image)
    try:
        compose("up", "-d")
        wait_until(compose.location_loaded, "the webserver to load the code location from its container", 300)
        yield compose
    finally:
        logs = compose("logs", "--no-color", "--tail", "60", check=False)
        for container in docker("ps", "-aq", "--filter", f"ancestor={IMAGE}", check=False).split():
            docker("rm", "-f", container, check=False)
        compose("down", "--volumes", "--remove-orphans", check=False)
        if os.environ.get("NOPE_DOCKER_TEST_LOGS"):
            print(logs)


def test_a_run_launched_through_graphql_runs_in_its_own_container_and_lands_in_postgres(deployment: Compose):
    launched = deployment.graphql(LAUNCH_MUTATION, launch_variables(SLUG, SALES))
    result = launched["launchPipelineExecution"]
    assert result["__typename"] == "LaunchRunSuccess", result
    run_id = result["run"]["runId"]

    def finished() -> bool:
        return deployment.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]["status"] in ("SUCCESS", "FAILURE", "CANCELED")

    wait_until(finished, f"run {run_id} to finish", 300)
    assert deployment.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]["status"] == "SUCCESS", deployment(
        "logs", "--no-color", "--tail", "80", "daemon"
    )

    # Its own container: DockerRunLauncher tagged the run with one started from the code location's image.
    [container_id] = deployment.psql(f"SELECT value FROM run_tags WHERE run_id = '{run_id}' AND key = 'docker/container_id'")
    container = json.loads(docker("inspect", container_id))[0]
    assert container["Config"]["Image"] == IMAGE
    assert container["Config"]["Labels"]["dagster/run_id"] == run_id
    services = deployment("ps", "-q").split()
    assert not any(container["Id"].startswith(service) or service.startswith(container["Id"]) for service in services)
    assert container["State"]["ExitCode"] == 0
    # DockerRunLauncher starts the run with a bare `dagster` (the entry point the code server reports),
    # which the image's PATH finds in the virtualenv `uv sync` filled: no one activates it.
    assert container["Config"]["Cmd"][:3] == ["dagster", "api", "execute_run"]
    [path] = [variable.removeprefix("PATH=") for variable in container["Config"]["Env"] if variable.startswith("PATH=")]
    assert path.split(":")[0] == "/opt/dagster/venv/bin"

    # Its materializations, in PostgreSQL, with the data passed between steps through the shared volume.
    rows = deployment.psql(
        f"SELECT asset_key FROM event_logs WHERE run_id = '{run_id}' AND dagster_event_type = 'ASSET_MATERIALIZATION'"
    )
    assert {"/".join(json.loads(row)) for row in rows} == set(SALES)
    daily = deployment.graphql(MATERIALIZATIONS_QUERY, {"assetKey": {"path": ["sales", "daily_revenue"]}})
    [event] = daily["assetOrError"]["assetMaterializations"]
    assert event["runId"] == run_id
    assert {entry["label"]: entry.get("text") for entry in event["metadataEntries"]}["path"] == "/opt/dagster/data/sales/daily_revenue.csv"


def test_a_docker_target_script_runs_in_a_container_of_the_image(repo: Path, user_home: Path, tmp_path: Path):
    """Launched from this machine's Dagster, as `make dev` would: the repository's own
    `.venv/bin/dg launch` from a user's shell, PipesDockerClient, for real. NOPE_DOCKER_IMAGE is
    the platform's setting naming the image (platform/<package>/settings.py)."""
    install(repo, user_home)
    home = tmp_path / "dagster_home"
    home.mkdir()
    extra = {"DAGSTER_HOME": str(home), "NOPE_DOCKER_IMAGE": IMAGE}
    run_as_user(".venv/bin/dg launch --assets containers/where", repo, user_home, extra=extra)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["containers", "where"]))
    assert event is not None and event.asset_materialization is not None
    reported = {name: value.value for name, value in event.asset_materialization.metadata.items()}
    assert reported["in_container"] == "True"
    assert reported["uid"] == "10001"  # the image's unprivileged user
    assert reported["hostname"] != os.uname().nodename
    ran = docker("ps", "-a", "--no-trunc", "--filter", f"ancestor={IMAGE}", "--format", "{{.Command}}")
    assert "/opt/dagster/app/defs/containers/where.py" in ran
    shutil.rmtree(home)
