"""Serve a baked repository as its users do, and talk to its webserver's GraphQL API.

Every server starts from a user's shell (tests/user_shell.py): `make dev PORT=<port>` exactly
as the README says, which installs the repository's own `.venv` from its locks; or, after
`make install`, the repository's own `.venv/bin/dg` or `.venv/bin/dagster`, as the README
says they may be run without activating `.venv`. Nothing of the template's test environment
reaches it: a harness that once put its own virtualenv on PATH hid a UI launch that failed
for every user without an activated virtualenv.

The server runs in its own process group, so stopping it stops what it started, and the
tests can check that none is left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from user_shell import run_as_user, start_as_user, stop_group

# Readiness deadlines, never timed assertions: `make dev` may install first, from a cold cache.
READY_DEADLINE_SECONDS = 600
RUN_DEADLINE_SECONDS = 300
ENV_BIN = Path(sys.executable).parent
"""The template's own test tools (hadolint, uv for re-locking): never a baked repository's environment."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def install(repo: Path, home: Path) -> None:
    """`make install` from the user's shell: the repository's own `.venv`, from its locks."""
    run_as_user("make install", repo, home)


def as_generated(repo: Path) -> Path:
    """`repo` as it was baked, its installs (`.venv/`, `.tools/`) kept: each test of a module that
    shares one bake (and one install) starts from it. Uses the git repository the bake made."""
    for command in (["git", "checkout", "--quiet", "--", "."], ["git", "clean", "-fdxq", "-e", "/.venv/", "-e", "/.tools/"]):
        subprocess.run(command, cwd=repo, check=True, capture_output=True)
    return repo


def processes_using(home: Path) -> list[str]:
    """Every process whose environment names `home` as DAGSTER_HOME: what `make dev` started.

    Scripts are left out by design (they get a minimal environment), and they end with their steps.
    """
    marker = f"DAGSTER_HOME={home}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "environ").read_bytes().split(b"\0"):
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{proc.name}: {command[:200]}")
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


class DagsterDev:
    """A running server (`process`, in a process group of its own, serving `repo`) and its GraphQL API."""

    def __init__(self, repo: Path, port: int, process: subprocess.Popen[bytes], log: Path):
        self.repo = repo
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log
        self.process = process
        self.pgid = process.pid

    @classmethod
    def in_user_shell(
        cls, repo: Path, port: int, command: str, home: Path, log: Path, extra: Mapping[str, str] | None = None
    ) -> DagsterDev:
        """`command` typed in a user's shell (HOME `home`) in the repository's folder."""
        return cls(repo, port, start_as_user(command, repo, home, log, extra=extra), log)

    @classmethod
    def via_make(cls, repo: Path, home: Path, log: Path, target: str = "dev", **env: str) -> DagsterDev:
        """`make dev PORT=<port>` (or `make demo`), as the README says, on a free loopback port.

        `env`: only what the README tells the user to set (the PostgreSQL bake's DAGSTER_PG_*).
        """
        port = free_port()
        return cls.in_user_shell(repo, port, f"make {target} PORT={port}", home, log, env)

    @classmethod
    def via_dg(cls, repo: Path, home: Path, dagster_home: Path, log: Path) -> DagsterDev:
        """Dagster's own `dg dev`, as `.venv/bin/dg` from the repository's root (the README's way
        without activating `.venv`), on the instance in `dagster_home`."""
        install(repo, home)
        port = free_port()
        dagster_home.mkdir(parents=True, exist_ok=True)
        command = f".venv/bin/dg dev --host 127.0.0.1 --port {port}"
        return cls.in_user_shell(repo, port, command, home, log, {"DAGSTER_HOME": str(dagster_home)})

    @classmethod
    def direct(cls, repo: Path, home: Path, dagster_home: Path, log: Path) -> DagsterDev:
        """The README's `dagster dev -f definitions.py` (as `.venv/bin/dagster`) on an instance of
        the test's choosing, with the repository's settings: for restarts."""
        install(repo, home)
        port = free_port()
        dagster_home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(repo / "dagster.yaml", dagster_home / "dagster.yaml")  # as the Makefile does
        command = f".venv/bin/dagster dev -f definitions.py --host 127.0.0.1 --port {port}"
        return cls.in_user_shell(repo, port, command, home, log, {"DAGSTER_HOME": str(dagster_home)})

    # -- lifecycle -------------------------------------------------------------------------

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def wait_until_ready(self) -> str:
        """Wait until the code location is loaded; returns its name."""
        deadline = time.monotonic() + READY_DEADLINE_SECONDS
        last_error = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"dagster dev exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                data = self.graphql(WORKSPACE_QUERY)
                for entry in data["workspaceOrError"]["locationEntries"]:
                    location = entry["locationOrLoadError"] or {}
                    if location.get("__typename") == "PythonError":
                        raise AssertionError(f"code location failed to load: {location['message']}")
                    if entry["loadStatus"] == "LOADED" and location.get("__typename") == "RepositoryLocation":
                        return entry["name"]
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                last_error = str(error)
            time.sleep(1)
        raise AssertionError(f"dagster dev not ready after {READY_DEADLINE_SECONDS}s ({last_error}):\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGINT) -> None:
        """Stop every process of the group: `sig` first (SIGINT is Ctrl-C), SIGKILL if it hangs."""
        stop_group(self.process, sig)
        wait_for_group_to_end(self.pgid)

    def kill(self) -> None:
        """Kill the whole group at once, as a crash or an OOM kill would."""
        self.stop(signal.SIGKILL)

    # -- GraphQL ---------------------------------------------------------------------------

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def asset_nodes(self) -> list[dict]:
        return self.graphql(ASSET_NODES_QUERY)["assetNodes"]

    def launch(self, location: str, asset_keys: Iterable[str]) -> str:
        """Launch a run materializing `asset_keys` (`group/name`); returns the run id."""
        data = self.graphql(LAUNCH_MUTATION, launch_variables(location, asset_keys))
        result = data["launchPipelineExecution"]
        if result["__typename"] != "LaunchRunSuccess":
            raise AssertionError(f"launch failed: {result}")
        return result["run"]["runId"]

    def terminate(self, run_id: str) -> None:
        """Cancel a run, as the run page's Terminate button does."""
        result = self.graphql(TERMINATE_MUTATION, {"runId": run_id})["terminateRun"]
        if result["__typename"] != "TerminateRunSuccess":
            raise AssertionError(f"terminate failed: {result}")

    def sensor_ticks(self, location: str, sensor: str) -> int:
        """How many ticks the daemon has evaluated of `sensor` (up to 10)."""
        selector = {"repositoryLocationName": location, "repositoryName": "__repository__", "sensorName": sensor}
        found = self.graphql(SENSOR_TICKS_QUERY, {"selector": selector})["sensorOrError"]
        return len(found["sensorState"]["ticks"]) if found["__typename"] == "Sensor" else 0

    def run_status(self, run_id: str) -> str:
        return self.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]["status"]

    def wait_for_run(self, run_id: str, until: Iterable[str] = ("SUCCESS", "FAILURE", "CANCELED")) -> str:
        deadline = time.monotonic() + RUN_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            status = self.run_status(run_id)
            if status in until:
                return status
            time.sleep(1)
        raise AssertionError(f"run {run_id} still {status} after {RUN_DEADLINE_SECONDS}s:\n{self.log_tail()}")

    def run_failure_message(self, run_id: str) -> str:
        """The message of the run's failure event, as the run's page shows it."""
        data = self.graphql(RUN_EVENTS_QUERY, {"runId": run_id})["logsForRun"]
        messages = [event["message"] for event in data["events"] if event["__typename"] == "RunFailureEvent"]
        if len(messages) != 1:
            raise AssertionError(f"run {run_id} has {len(messages)} failure events")
        return messages[0]

    def run_text(self, run_id: str) -> str:
        """Every message of the run's event log, with the errors events carry, as the run's page shows them."""
        events = self.graphql(RUN_EVENTS_WITH_ERRORS_QUERY, {"runId": run_id})["logsForRun"]["events"]
        lines = []
        for event in events:
            lines.append(event.get("message") or "")
            error = event.get("error") or {}
            lines += [error.get("message") or "", *(cause.get("message") or "" for cause in error.get("causes") or [])]
        return "\n".join(lines)

    def materializations(self, asset_key: str) -> list[dict]:
        """Every materialization event of `asset_key`: run id and text metadata."""
        data = self.graphql(MATERIALIZATIONS_QUERY, {"assetKey": {"path": asset_key.split("/")}})
        asset = data["assetOrError"]
        if asset["__typename"] != "Asset":
            return []
        return [
            {
                "runId": event["runId"],
                "metadata": {entry["label"]: entry.get("text") for entry in event["metadataEntries"]},
            }
            for event in asset["assetMaterializations"]
        ]


def launch_variables(location: str, asset_keys: Iterable[str]) -> dict:
    """LAUNCH_MUTATION's variables: a run of the asset job materializing `asset_keys` (`group/name`)."""
    selector = {
        "repositoryLocationName": location,
        "repositoryName": "__repository__",
        "pipelineName": "__ASSET_JOB",
        "assetSelection": [{"path": key.split("/")} for key in asset_keys],
    }
    return {"executionParams": {"selector": selector, "mode": "default"}}


def wait_until(condition: Callable[[], bool], what: str, deadline_seconds: float = READY_DEADLINE_SECONDS) -> None:
    """Poll `condition` (readiness, never a timed assertion) with a generous deadline."""
    deadline = time.monotonic() + deadline_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {deadline_seconds}s")
        time.sleep(0.5)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_group_to_end(pgid: int, deadline_seconds: float = 60) -> None:
    """Wait for every process of the group (children exit shortly after their parent)."""
    deadline = time.monotonic() + deadline_seconds
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.5)
    if group_alive(pgid):
        os.killpg(pgid, signal.SIGKILL)
        raise AssertionError(f"processes of group {pgid} outlived dagster dev")


WORKSPACE_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""

ASSET_NODES_QUERY = """
query {
  assetNodes {
    assetKey { path }
    groupName
    description
    dependencyKeys { path }
  }
}
"""

LAUNCH_MUTATION = """
mutation Launch($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PipelineNotFoundError { message }
  }
}
"""

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { status } }
}
"""

MATERIALIZATIONS_QUERY = """
query Materializations($assetKey: AssetKeyInput!) {
  assetOrError(assetKey: $assetKey) {
    __typename
    ... on Asset {
      assetMaterializations(limit: 1000) {
        runId
        metadataEntries { label ... on TextMetadataEntry { text } }
      }
    }
  }
}
"""

RUN_EVENTS_QUERY = """
query RunEvents($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection { events { __typename ... on MessageEvent { message } } }
  }
}
"""

RUN_EVENTS_WITH_ERRORS_QUERY = """
query RunEventsWithErrors($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message }
        ... on EngineEvent { error { message causes { message } } }
        ... on RunFailureEvent { error { message causes { message } } }
      }
    }
  }
}
"""

SENSOR_TICKS_QUERY = """
query SensorTicks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { ticks(limit: 10) { status } } }
  }
}
"""

TERMINATE_MUTATION = """
mutation Terminate($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunFailure { message }
    ... on PythonError { message }
  }
}
"""
