"""A script's whole process tree ends with its step: timeout, cancel, the run's death, or the script's own exit.

Scripts here start children (and children that ignore SIGTERM, or leave the process group)
and write their pids to files; each test then checks those processes are gone once the step
is over. Whatever a failing test leaves behind is killed by the `leftovers` fixture.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from nope import NopeProject
from nope.process_tree import ScriptProcess
from nope.subprocess_client import NopeSubprocessClient

from conftest import (
    REPO_ROOT,
    materialize,
    parent_pid,
    step_failure_text,
    wait_for_file,
    wait_until_gone,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process trees are Linux-first")

SHELL_WITH_A_CHILD = """
sleep 600 &
echo "$$ $!" > PIDS
wait
"""

PYTHON_WITH_A_CHILD = """
import os, subprocess
child = subprocess.Popen(["sleep", "600"])
open(PIDS, "w").write(f"{os.getpid()} {child.pid}\\n")
child.wait()
"""

STUBBORN_SHELL = """
trap '' TERM
bash -c "trap '' TERM; sleep 600; sleep 600" &
echo "$$ $!" > PIDS
while true; do sleep 1; done
"""

BACKGROUND_AND_EXIT = """
sleep 600 &
echo "$$ $!" > PIDS
echo "done, leaving a child behind" >&2
"""

LEAVES_ITS_GROUP = """
setsid sleep 600 &
echo "$$ $!" > PIDS
exit 0
"""


def scratch_defs(make_defs, tmp_path: Path, script: str, *, suffix: str = ".sh", manifest: str = "") -> tuple[Path, Path]:
    pids = tmp_path / "pids"
    quoted = repr(str(pids)) if suffix == ".py" else str(pids)
    defs_path = make_defs({f"g/job{suffix}": script.replace("PIDS", quoted), "g/job.yaml": "target: subprocess\n" + manifest})
    return defs_path, pids


def read_pids(pids_file: Path, leftovers: list[int]) -> list[int]:
    pids = [int(pid) for pid in wait_for_file(pids_file).split()]
    leftovers.extend(pids)
    return pids


def quick_client() -> dict[str, NopeSubprocessClient]:
    """The platform's client with a 1-second grace period between SIGTERM and SIGKILL."""
    return {"subprocess_client": NopeSubprocessClient(termination_timeout_seconds=1)}


@pytest.mark.parametrize("script, suffix", [(SHELL_WITH_A_CHILD, ".sh"), (PYTHON_WITH_A_CHILD, ".py")], ids=["shell", "python"])
def test_a_timeout_stops_the_script_and_its_children(make_defs, instance, tmp_path, leftovers, script, suffix):
    defs_path, pids_file = scratch_defs(make_defs, tmp_path, script, suffix=suffix, manifest="timeout: 1\n")
    result = materialize(NopeProject.make_definitions(defs_path=defs_path), instance)
    assert not result.success
    assert "did not finish within 1 seconds and was stopped" in step_failure_text(result)
    assert wait_until_gone(read_pids(pids_file, leftovers)) == []


def test_a_tree_that_ignores_sigterm_is_killed_after_the_grace_period(make_defs, instance, tmp_path, leftovers):
    defs_path, pids_file = scratch_defs(make_defs, tmp_path, STUBBORN_SHELL, manifest="timeout: 1\n")
    defs = NopeProject.make_definitions(defs_path=defs_path, resources=quick_client())
    result = materialize(defs, instance)
    assert "did not finish within 1 seconds" in step_failure_text(result)
    assert wait_until_gone(read_pids(pids_file, leftovers)) == []


def test_a_background_child_is_stopped_when_the_script_exits_and_the_step_succeeds(
    make_defs, instance, tmp_path, leftovers
):
    defs_path, pids_file = scratch_defs(make_defs, tmp_path, BACKGROUND_AND_EXIT)
    result = materialize(NopeProject.make_definitions(defs_path=defs_path, resources=quick_client()), instance)
    assert result.success
    script_pid, child_pid = read_pids(pids_file, leftovers)
    assert wait_until_gone([script_pid, child_pid]) == []


def test_a_child_that_leaves_the_process_group_is_stopped_too(make_defs, instance, tmp_path, leftovers):
    defs_path, pids_file = scratch_defs(make_defs, tmp_path, LEAVES_ITS_GROUP)
    result = materialize(NopeProject.make_definitions(defs_path=defs_path, resources=quick_client()), instance)
    assert result.success
    _, escaped_pid = read_pids(pids_file, leftovers)
    assert wait_until_gone([escaped_pid]) == []


KILLS_ITS_SUPERVISOR = """
setsid sleep 600 &
echo "$$ $!" > PIDS
kill -9 $PPID
sleep 600
"""
"""A script that starts a daemon in a session of its own, then kills the supervisor that would stop it."""


def test_a_daemon_is_stopped_even_when_the_script_kills_its_supervisor(make_defs, instance, tmp_path, leftovers):
    defs_path, pids_file = scratch_defs(make_defs, tmp_path, KILLS_ITS_SUPERVISOR)
    result = materialize(NopeProject.make_definitions(defs_path=defs_path, resources=quick_client()), instance)
    assert not result.success
    script_pid, daemon_pid = read_pids(pids_file, leftovers)
    assert wait_until_gone([script_pid, daemon_pid], deadline_seconds=5) == []


CLEANS_UP_WITH_A_CHILD = """
trap 'sleep 600; exit 0' TERM
echo "$$" > PIDS
while true; do sleep 0.2; done
"""
"""A script whose clean-up on SIGTERM starts a process that would run on (an upload that hangs)."""


def test_a_process_started_after_the_stop_began_is_asked_to_stop_too(make_defs, instance, tmp_path, leftovers):
    defs_path, pids_file = scratch_defs(make_defs, tmp_path, CLEANS_UP_WITH_A_CHILD, manifest="timeout: 1\n")
    started = time.monotonic()
    result = materialize(NopeProject.make_definitions(defs_path=defs_path), instance)  # a grace period of 20 s
    took = time.monotonic() - started
    read_pids(pids_file, leftovers)
    assert "did not finish within 1 seconds" in step_failure_text(result)
    assert took < 10, f"the stop took {took:.1f} s: the clean-up's `sleep` waited for the whole grace period"


# --- the run's process: cancelled, or killed outright --------------------------------------

RUNNER = """
import sys
import dagster as dg
from nope import NopeProject
from nope.subprocess_client import NopeSubprocessClient

defs = NopeProject.make_definitions(
    defs_path=sys.argv[1], resources={"subprocess_client": NopeSubprocessClient(termination_timeout_seconds=1)}
)
with dg.instance_for_test() as instance:
    result = dg.materialize(list(defs.assets), resources=defs.resources, instance=instance, raise_on_error=False)
    failures = [event.step_failure_data.error.message for event in result.get_step_failure_events()]
    print("success" if result.success else f"failed: {failures}", flush=True)
"""
"""Materializes a defs/ folder in a process of its own (the in-process executor: the run's process is the step's)."""

DEFINITIONS = """
from nope import NopeProject
defs = NopeProject.make_definitions(defs_path="DEFS")
"""
"""A code location for `dagster asset materialize` (the multiprocess executor: each step a child of the run's process)."""


def platform_environment(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT / "platform"), "DAGSTER_HOME": str(home)}


def start_run(kind: str, defs_path: Path, tmp_path: Path) -> subprocess.Popen:
    if kind == "in-process":
        command = [sys.executable, "-c", RUNNER, str(defs_path)]
    else:
        definitions = tmp_path / "definitions.py"
        definitions.write_text(DEFINITIONS.replace("DEFS", str(defs_path)))
        command = [sys.executable, "-m", "dagster", "asset", "materialize", "--select", "*", "-f", str(definitions)]
    return subprocess.Popen(command, env=platform_environment(tmp_path), stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize("kind", ["in-process", "multiprocess"])
def test_when_the_runs_process_is_killed_outright_the_step_script_and_child_stop(
    make_defs, tmp_path, leftovers, kind
):
    defs_path, pids_file = scratch_defs(make_defs, tmp_path, STUBBORN_SHELL)
    run = start_run(kind, defs_path, tmp_path)
    leftovers.append(run.pid)
    try:
        script_pid, child_pid = read_pids(pids_file, leftovers)
        supervisor_pid = parent_pid(script_pid)
        server_pid = parent_pid(supervisor_pid)  # the step process's supervisor server forked it
        step_pid = parent_pid(server_pid)
        leftovers.extend([supervisor_pid, server_pid, step_pid])
        assert (step_pid == run.pid) == (kind == "in-process")  # multiprocess: the step is the run's child
        run.kill()  # kill -9: nothing in the run's process gets a chance to clean up
        run.wait()
        assert wait_until_gone([step_pid, server_pid, supervisor_pid, script_pid, child_pid]) == []
    finally:
        run.kill()
        run.communicate()


def test_a_cancelled_step_stops_the_script_and_its_children(make_defs, tmp_path, leftovers):
    # Cancelling a run from the UI interrupts its step process (SIGINT); Dagster raises
    # DagsterExecutionInterruptedError inside the step.
    defs_path, pids_file = scratch_defs(make_defs, tmp_path, STUBBORN_SHELL)
    run = start_run("in-process", defs_path, tmp_path)
    leftovers.append(run.pid)
    try:
        pids = read_pids(pids_file, leftovers)
        supervisor_pid = parent_pid(pids[0])
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=60)
        assert wait_until_gone([supervisor_pid, *pids]) == []
        assert output.startswith("failed:")
    finally:
        run.kill()
        run.communicate()


class _NoRoomForTheContext(dg.PipesContextInjector):
    """A context injector that fails, as one writing to a full disk would."""

    @contextlib.contextmanager
    def inject_context(self, context_data: dg.PipesContextData) -> Iterator[dg.PipesParams]:
        raise OSError(28, "No space left on device")
        yield {}  # never reached: a generator, as Dagster expects of this method

    def no_messages_debug_text(self) -> str:
        return "A context injector that always fails."


def _children(parents: set[int]) -> list[int]:
    """Live (not zombie) children of `parents`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) in parents and stat[0] not in (b"Z", b"X"):
            found.append(int(entry.name))
    return found


def _supervisors_of_this_process() -> list[int]:
    """Live supervisors of this (test) process's scripts: the in-process step's, forked by its
    supervisor server, a child of this process running `supervisor.py`."""
    servers = {pid for pid in _children({os.getpid()}) if b"supervisor.py" in Path(f"/proc/{pid}/cmdline").read_bytes()}
    return _children(servers)


def test_a_session_that_fails_to_open_leaves_no_supervisor_waiting(make_defs, instance, tmp_path):
    # The step starts its supervisor server before the Pipes session opens, and asks it for the
    # script's supervisor once the session is open; when the session cannot open, no supervisor
    # may be left waiting for a script that will never come.
    defs_path, _ = scratch_defs(make_defs, tmp_path, "echo never run\n")
    client = NopeSubprocessClient(context_injector=_NoRoomForTheContext())
    result = materialize(NopeProject.make_definitions(defs_path=defs_path, resources={"subprocess_client": client}), instance)
    assert not result.success
    assert "No space left on device" in step_failure_text(result)
    assert _supervisors_of_this_process() == []


# --- the supervisor server: one per step process, a supervisor forked per script ------------

WRITES_ITS_ANCESTORS = """
supervisor=$PPID
server=$(awk '{print $4}' /proc/$supervisor/stat)
echo "$supervisor $server" > PIDS
"""


def test_the_scripts_of_a_process_share_one_server_each_under_a_supervisor_of_its_own(make_defs, instance, tmp_path):
    # One interpreter started per process, not per script: the server forks each supervisor.
    files = {}
    for name in ("a", "b", "c"):
        files[f"g/{name}.sh"] = WRITES_ITS_ANCESTORS.replace("PIDS", str(tmp_path / f"{name}.pids"))
        files[f"g/{name}.yaml"] = "target: subprocess\n"
    result = materialize(NopeProject.make_definitions(defs_path=make_defs(files)), instance)
    assert result.success
    ancestors = [(tmp_path / f"{name}.pids").read_text().split() for name in ("a", "b", "c")]
    supervisors, servers = {int(pids[0]) for pids in ancestors}, {int(pids[1]) for pids in ancestors}
    assert len(supervisors) == 3
    assert len(servers) == 1
    assert parent_pid(servers.pop()) == os.getpid()  # in process: this test's process is the step's


KILLS_ITS_SERVER = """
server=$(awk '{print $4}' /proc/$PPID/stat)
echo "$$ $server" > PIDS
kill -9 $server
sleep 600
"""


def test_a_killed_server_stops_its_scripts_and_the_next_script_gets_a_new_one(make_defs, instance, tmp_path, leftovers):
    killer, pids_file = scratch_defs(make_defs, tmp_path, KILLS_ITS_SERVER)
    result = materialize(NopeProject.make_definitions(defs_path=killer, resources=quick_client()), instance)
    script_pid, server_pid = read_pids(pids_file, leftovers)
    assert "was killed by SIGKILL" in step_failure_text(result)
    assert wait_until_gone([server_pid, script_pid]) == []

    ancestors = tmp_path / "next.pids"
    shutil.rmtree(killer / "g")  # the next run is another script's, alone
    next_defs = make_defs({"h/next.sh": WRITES_ITS_ANCESTORS.replace("PIDS", str(ancestors)), "h/next.yaml": "target: subprocess\n"})
    assert materialize(NopeProject.make_definitions(defs_path=next_defs), instance).success
    _, new_server = ancestors.read_text().split()
    assert int(new_server) != server_pid and parent_pid(int(new_server)) == os.getpid()


def test_scripts_started_from_several_threads_each_get_their_own_exit(tmp_path):
    # The step's threads share the server: requests must not mix, and each exit reaches its own step.
    def run(code: int, results: dict[int, int | None]) -> None:
        command = ["sh", "-c", f"sleep 0.{code}; exit {code}"]
        with ScriptProcess(command, cwd=str(tmp_path), stdout=None, stderr=subprocess.PIPE, grace_seconds=1) as script:
            script.launch({"PATH": os.defpath})
            results[code] = script.wait(timeout=30)
            assert script.supervisor.stderr is not None  # a pipe, as asked
            script.supervisor.stderr.close()

    results: dict[int, int | None] = {}
    threads = [threading.Thread(target=run, args=(code, results)) for code in (3, 5, 7, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == {3: 3, 5: 5, 7: 7, 9: 9}
