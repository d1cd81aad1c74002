"""A script's whole process tree, started and stopped as one, from the step's side.

The script runs under a supervisor (`supervisor.py`: read it for what happens inside the tree),
forked for it by this process's supervisor server (`supervisor_server.py`). This module is what
the step process does: ask for the supervisor, handing over the script (the command, its folder
and its environment, so that only the script runs with that environment), wait for it while
watching a deadline and the step's own parent, and stop the tree when asked; and, should the
supervisor be killed, stop what the tree left behind (`orphan_adoption.py`).

Why watch the parent: with the multiprocess executor each step is a child of the run's
process. When that process is killed outright (`kill -9`, the out-of-memory killer), run
monitoring marks the run failed, but nothing tells the step; it would wait for its script
for as long as the script runs. A step whose parent changed stops its tree and fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence

from nope import supervisor_server
from nope.orphan_adoption import OrphanAdoption
from nope.process_privacy import keep_this_process_private
from nope.supervisor_server import ForkedSupervisor, Stream

WATCH_SECONDS = 1.0
"""How often the step looks at its parent while the script runs."""
SUPERVISOR_MARGIN_SECONDS = 5.0
"""How long past the grace period the supervisor gets to report before the group is killed from here."""


class ParentProcessGone(Exception):
    """The step's parent (the run's process) died while the script ran."""

    def __init__(self, parent_pid: int):
        super().__init__(f"the run's process (pid {parent_pid}) ended")
        self.parent_pid = parent_pid


def platform_executable(program: str) -> str:
    """`program` found on the platform's own PATH, or as given when it names a path or is not there.

    The script's environment (a manifest's `env: {PATH: ...}`) must not decide which `bash` or
    `Rscript` the platform starts: the supervisor runs this file, not a lookup on the script's PATH.
    """
    if os.sep in program:
        return program
    return shutil.which(program) or program


def launch_message(cwd: str, grace_seconds: float, executable: str, argv: Sequence[str], env: Mapping[str, str]) -> bytes:
    """What the supervisor is sent to start its script (`supervisor._parsed` reads it),
    NUL-separated: the folder, the grace period, the program, the number of arguments, the
    arguments, then each `NAME=value`.

    A NUL byte inside a field is refused, as `subprocess.Popen` refuses it ("embedded null byte").
    """
    fields = [cwd, f"{grace_seconds:g}", executable, str(len(argv)), *argv, *(f"{name}={value}" for name, value in env.items())]
    encoded = [os.fsencode(text) for text in fields]
    if any(b"\0" in text for text in encoded):
        raise ValueError("embedded null byte")
    return b"\0".join(encoded)


def _working_directory(cwd: str | None) -> str:
    """`cwd`, or this process's own folder now, as `subprocess.Popen` reads `cwd=None`; empty
    (the supervisor stays in the server's, this process's folder when it started the server)
    when this process's folder is gone."""
    if cwd is not None:
        return cwd
    try:
        return os.getcwd()
    except OSError:
        return ""


class ScriptProcess:
    """A command running under its supervisor, as the leader of a new session and process group.

    It starts in two moves: creating it makes sure this process's supervisor server runs (the
    first script of a process starts it, while the step opens the script's Pipes session);
    `launch(env)` sends the script with its environment, which holds the session's, and the
    server forks the script's supervisor, which starts it. Used as a context manager, it leaves
    nothing behind when the script was never launched (the session failed to open).
    """

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        cwd: str | None,
        stdout: Stream,
        stderr: Stream,
        grace_seconds: float,
    ):
        # A string is one program name, as `subprocess.Popen` reads it without a shell.
        self._argv = [command] if isinstance(command, str) else list(command)
        self._cwd = cwd
        self._streams = (stdout, stderr)
        self.grace_seconds = grace_seconds
        self._parent_pid = os.getppid()
        keep_this_process_private()  # the step holds the platform's secrets; the script must not read them
        self._executable = platform_executable(self._argv[0])
        supervisor_server.this_process_server()
        self._orphans = OrphanAdoption()
        self._supervisor: ForkedSupervisor | None = None

    def launch(self, env: Mapping[str, str]) -> None:
        """Start the script, with `env` as its whole environment."""
        message = launch_message(_working_directory(self._cwd), self.grace_seconds, self._executable, self._argv, env)
        self._orphans.starting()
        self._supervisor = supervisor_server.start_supervisor(message, *self._streams)

    def __enter__(self) -> ScriptProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Unless the script was launched: this process stops adopting orphans for it."""
        if self._supervisor is None:
            self._orphans.end(sweep=False)

    @property
    def supervisor(self) -> ForkedSupervisor:
        """The script's supervisor, once launched: its pid, its stderr pipe, its exit."""
        if self._supervisor is None:
            raise RuntimeError("the script was not launched")
        return self._supervisor

    @property
    def pid(self) -> int:
        """The supervisor's pid, which is also the id of the tree's process group."""
        return self.supervisor.pid

    def wait(self, timeout: float | None) -> int | None:
        """The script's exit code (negative: the signal that killed it), or None past `timeout` seconds.

        Raises `ParentProcessGone` when the step's parent died meanwhile; the tree still runs.
        The supervisor's exit is told the moment it happens (the server writes it to a pipe this
        waits on), not found by polling.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = WATCH_SECONDS if deadline is None else min(WATCH_SECONDS, deadline - time.monotonic())
            try:
                returncode = self.supervisor.wait(timeout=max(left, 0))
            except subprocess.TimeoutExpired:
                pass
            else:
                if returncode >= 0:  # the supervisor ended the tree itself
                    self._orphans.end(sweep=False)
                return returncode
            if self._parent_pid != 1 and os.getppid() != self._parent_pid:
                raise ParentProcessGone(self._parent_pid)
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def stop(self) -> None:
        """End the tree: the supervisor sends SIGTERM, waits its grace period, then SIGKILLs.

        Should the supervisor itself not answer in time (it was killed), the group is killed
        from here.
        """
        if self.supervisor.poll() is None:
            self.supervisor.send_signal(signal.SIGTERM)
            try:
                self.supervisor.wait(timeout=self.grace_seconds + SUPERVISOR_MARGIN_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        self.kill_group()

    def kill_group(self) -> None:
        """SIGKILL whatever is left in the tree's process group, the supervisor included, and
        what the tree left re-parented to this process (`orphan_adoption.py`).

        For when the supervisor could not clean up (it was killed with the script, e.g. by a
        script that ran `kill -9 0` or `kill -9 $PPID`). The group's id stays reserved while any
        member lives, so this cannot reach another group.
        """
        try:
            os.killpg(self.supervisor.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.supervisor.wait()
        self._orphans.end(sweep=True)
