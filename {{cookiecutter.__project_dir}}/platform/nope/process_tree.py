"""A script's whole process tree, started and stopped as one, from the step's side.

The script runs under `supervisor.py` (read it for what happens inside the tree). This
module is what the step process does: start the supervisor in a session of its own (handing
it the script's environment over a pipe, so that only the script runs with it, and so that the
supervisor can start before that environment is known), wait for it
while watching a deadline and the step's own parent, and stop the tree when asked; and, should
the supervisor be killed, stop what the tree left behind (`orphan_adoption.py`).

Why watch the parent: with the multiprocess executor each step is a child of the run's
process. When that process is killed outright (`kill -9`, the out-of-memory killer), run
monitoring marks the run failed, but nothing tells the step; it would wait for its script
for as long as the script runs. A step whose parent changed stops its tree and fails.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from nope.orphan_adoption import OrphanAdoption
from nope.process_privacy import keep_this_process_private

SUPERVISOR = Path(__file__).with_name("supervisor.py")
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


def launch_message(executable: str, env: Mapping[str, str]) -> bytes:
    """What the supervisor reads from its pipe: the program, then each `NAME=value`, NUL-separated.

    Never empty (the program is named): an empty message tells the supervisor to run nothing.
    """
    return b"\0".join([os.fsencode(executable), *(os.fsencode(f"{name}={value}") for name, value in env.items())])


def _send(pipe: int, message: bytes) -> None:
    """Write `message` to the supervisor and close the pipe. A supervisor that died before
    reading it is reported by its exit, as any other death."""
    try:
        while message:
            message = message[os.write(pipe, message) :]
    except BrokenPipeError:
        pass
    finally:
        os.close(pipe)


class ScriptProcess:
    """A command running under its supervisor, as the leader of a new session and process group.

    It starts in two moves, so that the supervisor's interpreter starts while the step opens the
    script's Pipes session (each takes some milliseconds, on every step): creating it starts the
    supervisor, which waits on its pipe; `launch(env)` sends the script's environment, which
    holds the session's, and the script starts. Used as a context manager, a supervisor that
    was never sent its script (the session failed to open) ends on leaving.
    """

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        cwd: str | None,
        stdout: int | IO[bytes] | None,
        stderr: int | IO[bytes] | None,
        grace_seconds: float,
    ):
        # A string is one program name, as `subprocess.Popen` reads it without a shell.
        argv = [command] if isinstance(command, str) else list(command)
        self.grace_seconds = grace_seconds
        self._parent_pid = os.getppid()
        keep_this_process_private()  # the step holds the platform's secrets; the script must not read them
        self._orphans = OrphanAdoption()
        self._executable = platform_executable(argv[0])
        self._launched = False
        supervisor_reads, self._launch_pipe = os.pipe()
        supervisor_argv = [str(SUPERVISOR), str(os.getpid()), f"{grace_seconds:g}", str(supervisor_reads), "--", *argv]
        try:
            self.supervisor = subprocess.Popen(
                [sys.executable, "-I", "-S", *supervisor_argv],
                cwd=cwd,
                env={},  # the supervisor needs none: the script's environment goes over the pipe, to the script only
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
                pass_fds=(supervisor_reads,),
            )
        except BaseException:
            os.close(self._launch_pipe)
            self._orphans.end(sweep=False)
            raise
        finally:
            os.close(supervisor_reads)
        self._orphans.watch(self.supervisor.pid)

    def launch(self, env: Mapping[str, str]) -> None:
        """Start the script, with `env` as its whole environment."""
        self._launched = True
        _send(self._launch_pipe, launch_message(self._executable, env))

    def __enter__(self) -> ScriptProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Unless the script was launched: the supervisor, sent nothing, exits at once, and is reaped."""
        if self._launched:
            return
        os.close(self._launch_pipe)
        self.supervisor.wait()
        if self.supervisor.stderr is not None:
            self.supervisor.stderr.close()
        self._orphans.end(sweep=False)

    @property
    def pid(self) -> int:
        """The supervisor's pid, which is also the id of the tree's process group."""
        return self.supervisor.pid

    def wait(self, timeout: float | None) -> int | None:
        """The script's exit code (negative: the signal that killed it), or None past `timeout` seconds.

        Raises `ParentProcessGone` when the step's parent died meanwhile; the tree still runs.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        pidfd = self._open_pidfd()  # once per wait, not once per look at the parent
        try:
            while True:
                left = WATCH_SECONDS if deadline is None else min(WATCH_SECONDS, deadline - time.monotonic())
                if self._exited_within(pidfd, max(left, 0)):
                    returncode = self.supervisor.wait()
                    if returncode >= 0:  # the supervisor ended the tree itself
                        self._orphans.end(sweep=False)
                    return returncode
                if self._parent_pid != 1 and os.getppid() != self._parent_pid:
                    raise ParentProcessGone(self._parent_pid)
                if deadline is not None and time.monotonic() >= deadline:
                    return None
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def _open_pidfd(self) -> int | None:
        """A pidfd of the supervisor (Linux), or None: already reaped, or no pidfds here."""
        if not hasattr(os, "pidfd_open"):
            return None
        try:
            return os.pidfd_open(self.supervisor.pid)
        except OSError:
            return None

    def _exited_within(self, pidfd: int | None, seconds: float) -> bool:
        """Whether the supervisor exits within `seconds`, told the moment it does.

        `Popen.wait(timeout=...)` polls with sleeps of up to 50 ms, which every step paid after
        its script had ended; a pidfd (Linux) becomes readable exactly when the process exits.
        """
        if pidfd is not None:
            return bool(select.select([pidfd], [], [], seconds)[0])
        try:
            self.supervisor.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

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
