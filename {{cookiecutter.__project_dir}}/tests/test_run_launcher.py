"""The run launcher's health check: how a run whose process was killed stops showing as started.

The whole path (kill -9 of `dagster dev`, restart, the daemon marking the run failed) is
tested by the template's fault tests; these tests cover each answer of the check.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

# What a run process records as it starts; tests write that record themselves.
from dagster._core.events import EngineEventData  # no public API names this event payload

from nope.run_launcher import NopeRunLauncher, process_running

REPO_ROOT = Path(__file__).resolve().parent.parent


@dg.op
def noop() -> None:
    pass


@dg.job
def a_job() -> None:
    noop()


@pytest.fixture
def monitored_instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A real instance with this repository's run launcher and run monitoring settings."""
    settings = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    overrides = {key: settings[key] for key in ("run_launcher", "run_monitoring")}
    with dg.instance_for_test(overrides=overrides, temp_dir=str(tmp_path)) as instance:
        yield instance


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def started_run(instance: dg.DagsterInstance, pid: int | None) -> dg.DagsterRun:
    """A run whose process recorded `pid` as it started (no record when None)."""
    run = instance.create_run_for_job(a_job)
    if pid is not None:
        instance.report_engine_event(
            f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid)
        )
    return run


def test_the_instance_settings_turn_on_run_monitoring_with_the_health_checking_launcher(
    monitored_instance: dg.DagsterInstance,
):
    assert isinstance(monitored_instance.run_launcher, NopeRunLauncher)
    assert monitored_instance.run_launcher.supports_check_run_worker_health
    assert monitored_instance.run_monitoring_enabled


def test_a_run_is_healthy_while_its_process_lives_and_failed_once_it_is_killed(
    monitored_instance: dg.DagsterInstance, sleeper: subprocess.Popen
):
    run = started_run(monitored_instance, sleeper.pid)
    launcher = monitored_instance.run_launcher
    assert launcher.check_run_worker_health(run).status.value == "RUNNING"

    sleeper.send_signal(signal.SIGKILL)
    sleeper.wait()
    result = launcher.check_run_worker_health(run)
    assert result.status.value == "FAILED"
    assert result.msg is not None
    assert f"pid {sleeper.pid}" in result.msg and "is gone" in result.msg


def test_a_run_whose_process_is_not_recorded_yet_counts_as_running(monitored_instance: dg.DagsterInstance):
    run = started_run(monitored_instance, None)
    assert monitored_instance.run_launcher.check_run_worker_health(run).status.value == "RUNNING"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="zombies are read from /proc")
def test_a_killed_process_not_yet_reaped_counts_as_gone(sleeper: subprocess.Popen):
    recorded_at = time.time()
    assert process_running(sleeper.pid, recorded_at)
    os.kill(sleeper.pid, signal.SIGKILL)  # no wait(): the process stays a zombie
    deadline = time.monotonic() + 30
    while process_running(sleeper.pid, recorded_at):
        assert time.monotonic() < deadline, "the killed process still counts as running"
        time.sleep(0.05)
    assert Path(f"/proc/{sleeper.pid}/stat").exists(), "it was reaped: this test saw no zombie"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="start times are read from /proc")
def test_a_pid_reused_by_a_later_process_counts_as_gone():
    # This test's own process started after a record from a day ago: another process's pid.
    assert process_running(os.getpid(), time.time())
    assert not process_running(os.getpid(), time.time() - 86_400)
