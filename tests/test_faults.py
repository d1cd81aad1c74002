"""Nothing lost under faults: overlapping concurrent runs, a webserver killed mid-run, and many
first runs at once on a new instance.

A `faults` group is added to a baked repo: its script holds its run open until the test lets
it go, so "at the same time" and "mid-run" are facts the test waits for, not timings.
Every server is the repository's own, started from a user's shell (tests/dagster_dev.py); the
module's tests share one bake and its install, each starting from it as generated.
Run alone with `pytest -m faults`.
"""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import pytest
from conftest import bake
from dagster_dev import DagsterDev, as_generated, group_alive, install, wait_until
from user_shell import run_as_user, start_as_user

pytestmark = pytest.mark.faults

GATE_SCRIPT = '''\
"""Say it started, then wait until the test opens the gate (or enough runs are in)."""
import os
import sys
import time
from pathlib import Path

from dagster_pipes import open_dagster_pipes

gate = Path(".faults")
gate.mkdir(exist_ok=True)
(gate / f"started-{os.getpid()}").touch()
with open_dagster_pipes() as pipes:
    deadline = time.monotonic() + 600
    while not (gate / "open").exists():
        expected = gate / "runs"  # scripts see a minimal environment, so the test says it in a file
        if expected.exists() and len(list(gate.glob("started-*"))) >= int(expected.read_text()):
            break
        if time.monotonic() > deadline:
            sys.exit("the gate never opened")
        time.sleep(0.2)
    pipes.report_asset_materialization(metadata={"writer": str(os.getpid())})
'''

GATE_MANIFEST = """\
target: subprocess
script: gate.py
deps: [group_a/asset_one]
"""


@pytest.fixture(scope="module")
def shared_bake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("faults"))


@pytest.fixture
def repo(shared_bake: Path) -> Path:
    """The bake as generated, with a `faults/gate` asset added."""
    repo = as_generated(shared_bake)
    (repo / "defs/faults").mkdir()
    (repo / "defs/faults/gate.py").write_text(GATE_SCRIPT)
    (repo / "defs/faults/gate.yaml").write_text(GATE_MANIFEST)
    return repo


def started(repo: Path) -> int:
    return len(list((repo / ".faults").glob("started-*")))


def test_two_overlapping_runs_at_once_both_finish_and_every_materialization_is_recorded(
    repo: Path, user_home: Path, tmp_path: Path
):
    home = tmp_path / "home"
    # The gate opens once both runs' scripts are running: the two runs overlap for certain.
    (repo / ".faults").mkdir()
    (repo / ".faults/runs").write_text("2")
    server = DagsterDev.direct(repo, user_home, home, tmp_path / "dagster-dev.log")
    try:
        location = server.wait_until_ready()
        first = server.launch(location, ["group_a/asset_one", "group_a/asset_two", "faults/gate"])
        second = server.launch(location, ["faults/gate", "group_a/asset_two", "group_a/asset_three", "group_a/asset_four"])
        assert server.wait_for_run(first) == "SUCCESS", server.log_tail()
        assert server.wait_for_run(second) == "SUCCESS", server.log_tail()
        assert started(repo) == 2

        expected = {
            "group_a/asset_one": [first],
            "group_a/asset_two": [first, second],
            "faults/gate": [first, second],
            "group_a/asset_three": [second],
            "group_a/asset_four": [second],
        }
        for key, runs in expected.items():
            assert sorted(event["runId"] for event in server.materializations(key)) == sorted(runs), key
        writers = {event["metadata"]["writer"] for event in server.materializations("faults/gate")}
        assert len(writers) == 2, "each run's script reported its own materialization"
    finally:
        server.stop()
    assert not group_alive(server.pgid)


def interrupt_a_run(repo: Path, user_home: Path, home: Path, log: Path, stop_signal: int) -> str:
    """Start the server, launch a run, stop the server with `stop_signal` while the run is in
    its second step (its first has materialized); returns the run's id."""
    server = DagsterDev.direct(repo, user_home, home, log)
    try:
        location = server.wait_until_ready()
        run_id = server.launch(location, ["group_a/asset_one", "faults/gate"])
        wait_until(lambda: started(repo) == 1, "the gate script to start")
        assert server.run_status(run_id) == "STARTED"
    finally:
        server.stop(stop_signal)
    assert not group_alive(server.pgid)
    (repo / ".faults/open").touch()  # a re-run must not wait
    return run_id


def assert_instance_intact_and_rerun_succeeds(server: DagsterDev, location: str, interrupted: str) -> None:
    # What finished before the interruption is still there; nothing half-done was recorded.
    assert [event["runId"] for event in server.materializations("group_a/asset_one")] == [interrupted]
    assert server.materializations("faults/gate") == []
    rerun = server.launch(location, ["group_a/asset_one", "faults/gate"])
    assert server.wait_for_run(rerun) == "SUCCESS", server.log_tail()
    assert [event["runId"] for event in server.materializations("faults/gate")] == [rerun]


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_run_interrupted_by_stopping_the_server_is_marked_failed_and_reruns(
    repo: Path, user_home: Path, tmp_path: Path, stop_signal: int
):
    home = tmp_path / "home"
    run_id = interrupt_a_run(repo, user_home, home, tmp_path / "first.log", stop_signal)

    restarted = DagsterDev.direct(repo, user_home, home, tmp_path / "second.log")
    try:
        location = restarted.wait_until_ready()
        # Already final on restart: the run worker recorded its own interruption.
        assert restarted.run_status(run_id) == "FAILURE"
        assert_instance_intact_and_rerun_succeeds(restarted, location, run_id)
    finally:
        restarted.stop()
    assert not group_alive(restarted.pgid)


def test_a_run_whose_server_was_killed_hard_is_marked_failed_by_run_monitoring_and_reruns(
    repo: Path, user_home: Path, tmp_path: Path
):
    """kill -9 leaves no process to record anything: after the restart, the daemon's run
    monitoring asks the repo's run launcher (platform/nope/run_launcher.py), finds the run's
    process gone, and marks the run failed, with no one terminating it by hand."""
    home = tmp_path / "home"
    run_id = interrupt_a_run(repo, user_home, home, tmp_path / "first.log", signal.SIGKILL)

    restarted = DagsterDev.direct(repo, user_home, home, tmp_path / "second.log")
    try:
        location = restarted.wait_until_ready()
        assert restarted.wait_for_run(run_id) == "FAILURE", restarted.log_tail()
        assert "is gone" in restarted.run_failure_message(run_id)
        assert_instance_intact_and_rerun_succeeds(restarted, location, run_id)
    finally:
        restarted.stop()
    assert not group_alive(restarted.pgid)


CONCURRENT_FIRST_RUNS = 12


def test_many_runs_at_once_on_a_new_sqlite_instance_all_succeed_and_leave_it_intact(
    repo: Path, user_home: Path, tmp_path: Path
):
    """`make instance` (which `make materialize` and `make dev` run first) creates the storage
    once, so runs started together on a fresh home do not race to create it. The runs are the
    README's `dg launch`, as `.venv/bin/dg`, on the instance of `make dev`."""
    install(repo, user_home)
    run_as_user("make instance", repo, user_home)
    home = repo / ".dagster_home"
    logs = [tmp_path / f"run-{number}.log" for number in range(CONCURRENT_FIRST_RUNS)]
    command = ".venv/bin/dg launch --assets group_a/asset_one"
    runs = [start_as_user(command, repo, user_home, log, extra={"DAGSTER_HOME": str(home)}) for log in logs]
    failures = [log.read_text()[-2000:] for run, log in zip(runs, logs, strict=True) if run.wait(timeout=900) != 0]
    assert failures == []
    for database in ("history/runs.db", "history/runs/index.db", "schedules/schedules.db"):
        with sqlite3.connect(home / database) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",), database
    with sqlite3.connect(home / "history/runs.db") as connection:
        assert connection.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall() == [
            ("SUCCESS", CONCURRENT_FIRST_RUNS)
        ]


def process_alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie waiting to be reaped counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def test_cancelling_a_run_from_the_ui_stops_its_script_and_ends_the_run_canceled(
    repo: Path, user_home: Path, tmp_path: Path
):
    """The run's own process (`dagster api execute_run`, from the repo's run launcher) gets the cancel."""
    server = DagsterDev.direct(repo, user_home, tmp_path / "home", tmp_path / "dagster-dev.log")
    try:
        location = server.wait_until_ready()
        run_id = server.launch(location, ["faults/gate"])
        wait_until(lambda: started(repo) == 1, "the gate script to start")
        script_pid = int(next((repo / ".faults").glob("started-*")).name.removeprefix("started-"))
        server.terminate(run_id)
        assert server.wait_for_run(run_id) == "CANCELED", server.log_tail()
        wait_until(lambda: not process_alive(script_pid), "the cancelled run's script to stop", 60)
        assert server.materializations("faults/gate") == []
    finally:
        server.stop()
    assert not group_alive(server.pgid)
