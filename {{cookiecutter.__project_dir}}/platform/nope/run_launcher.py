"""Start each run in a process of its own, and tell run monitoring whether it still lives.

Dagster's default run launcher starts a run inside the code server's process tree, handing
it the run over a pipe. `NopeRunLauncher` starts it the way Dagster's Docker and Kubernetes
launchers do, as `dagster api execute_run <args>` (here a local process), which does two things:

- The run's process can tell from its command line which assets the run selected, so it
  builds only those manifests instead of all of them (run_scope.py): a run's start-up no
  longer grows with the number of manifests.
- It answers the run monitoring daemon's health check. Every run process records its pid in
  an engine event as it starts ("Started process for run (pid: N)"); the launcher looks that
  process up, so with `run_monitoring` enabled in `dagster.yaml` a run whose process was
  killed outright (`kill -9` of `dagster dev`, the out-of-memory killer, a machine restart)
  is marked failed instead of staying "started" forever.

The run's process is the code location's own interpreter, `<python> -m dagster`, the one
that serves the definitions (recorded in the run's origin). Dagster's own command line for it
starts with a bare `dagster`, found only where the virtualenv's `bin/` is on PATH: after
`make dev` from a shell without an activated virtualenv, every run launched from the UI
failed with `FileNotFoundError: 'dagster'`.

Cancelling a run from the UI sends its process SIGTERM, which Dagster's run worker handles
as an interruption: its steps stop and the run ends canceled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import dagster as dg

# The run monitoring daemon's contract with run launchers: no public name exports these two.
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus  # no public API: see above

# The arguments of `dagster api execute_run`; Dagster's own Docker and Kubernetes launchers
# build the run worker's command line from them, and no public API does.
from dagster._grpc.types import ExecuteRunArgs  # no public API: see above

from nope.process_privacy import keep_this_process_private

# How much later than its own "started" record a run process may appear to have started:
# the record is written after the process starts, and /proc's start time has tick granularity.
START_TIME_SLACK_SECONDS = 1.0


class NopeRunLauncher(dg.DefaultRunLauncher):
    """Runs each run as `dagster api execute_run` on this machine, with a health check of its process."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        keep_this_process_private()  # the webserver and the daemon, which load it, hold the platform's secrets too

    def launch_run(self, context) -> None:  # a `LaunchRunContext`, which Dagster does not export
        run = context.dagster_run
        arguments = ExecuteRunArgs(
            job_origin=run.job_code_origin,
            run_id=run.run_id,
            instance_ref=self._instance.get_ref(),
            set_exit_code_on_failure=True,
        )
        pointer = run.job_code_origin.repository_origin.code_pointer
        process = subprocess.Popen(
            run_worker_command(arguments),
            cwd=getattr(pointer, "working_directory", None) or os.getcwd(),
            stdin=subprocess.DEVNULL,
        )
        # Reap it when it ends, so a finished run leaves no zombie behind in this process.
        threading.Thread(target=process.wait, name=f"run-{run.run_id[:8]}", daemon=True).start()

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if not run or run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        recorded = recorded_run_process(self._instance, run_id)
        if recorded is None or not process_running(*recorded):
            return False  # not started yet: it sees the cancel as it starts; or already gone
        os.kill(recorded[0], signal.SIGTERM)
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        recorded = recorded_run_process(self._instance, run.run_id)
        if recorded is None:
            # Still starting up: the daemon's start timeout (run_monitoring) covers that phase.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "the run's process is not recorded yet")
        pid, recorded_at = recorded
        if process_running(pid, recorded_at):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"the run's process (pid {pid}) is gone: it was killed, or its machine restarted",
        )


def run_worker_command(arguments: ExecuteRunArgs) -> list[str]:
    """`<the code location's python> -m dagster api execute_run <arguments>`.

    `arguments.get_command_args()` would start with the code server's entry point, a bare
    `dagster` unless that server was started with `--use-python-environment-entry-point`
    (which `dagster dev` does not do): it needs the virtualenv on PATH. The interpreter that
    loaded the definitions has this repository's Dagster, wherever it is installed.
    """
    interpreter = arguments.job_origin.executable_path
    return [interpreter, "-m", "dagster", "api", "execute_run", dg.serialize_value(arguments)]


def recorded_run_process(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The pid the run's process recorded as it started, and when; None before it has.

    The first engine event carrying a pid is the run process's own: step processes (the
    multiprocess executor) are started by it, later.
    """
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        pid = event.engine_event_data.metadata.get("pid") if event and event.engine_event_data else None
        if isinstance(pid, dg.TextMetadataValue) and pid.value.isdigit():  # Dagster writes the pid as text
            return int(pid.value), entry.timestamp
    return None


def process_running(pid: int, recorded_at: float) -> bool:
    """Whether process `pid`, recorded as running at `recorded_at`, still runs.

    On Linux a zombie (exited, not yet reaped) counts as gone, and so does a process that
    started after the record: the pid was reused, after a restart for instance. Elsewhere
    only the pid's existence is checked.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        pass
    if not sys.platform.startswith("linux"):
        return True
    try:
        state, started_at = linux_process_state(pid)
    except (FileNotFoundError, ProcessLookupError):  # exited meanwhile
        return False
    return state != "Z" and started_at <= recorded_at + START_TIME_SLACK_SECONDS


def linux_process_state(pid: int) -> tuple[str, float]:
    """The process's state letter and its start time (seconds since the epoch), from /proc.

    /proc/<pid>/stat gives the start in clock ticks since boot (field 22); the process name
    before it may hold spaces and parentheses, so fields are counted after its last ')'.
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    state, start_ticks = fields[0], int(fields[19])
    boot_time = next(
        int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime ")
    )
    return state, boot_time + start_ticks / os.sysconf("SC_CLK_TCK")
