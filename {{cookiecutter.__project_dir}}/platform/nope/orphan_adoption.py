"""The step adopts what a script's tree leaves behind when the tree loses its supervisor (Linux).

The supervisor is the tree's "child subreaper": a process whose parent dies is re-parented to
it, and stopped with the tree. But a script can kill its supervisor (`kill -9 $PPID`) after
starting a daemon in a session of its own. The step kills the tree's process group when it learns
of that death (`process_tree.ScriptProcess.kill_group`), but the daemon left the group: orphaned,
it would be adopted by init and run on.

So while one of its scripts runs, the step process is a child subreaper too: such orphans are
re-parented to the step, which finds them (its children started after that script's supervisor)
and kills them, with what they started, once the tree has ended. The attribute is set only
while scripts run, so a long-lived process that runs steps in-process adopts nothing else
between them. Elsewhere (macOS) there is no subreaper: such a daemon runs on.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from nope.prctl import ON_LINUX, PR_SET_CHILD_SUBREAPER, prctl

KILL_ROUNDS = 200
"""Sweeps before giving up on orphans that keep forking (a fork bomb), as the supervisor does."""

_lock = threading.Lock()
_supervisors: set[int] = set()
"""This process's supervisor server (`supervisor_server.py`): a child of its own, never taken for
an orphan. (Each script's supervisor is the server's child, not this process's.)"""
_scripts_running = 0


def count_as_supervisor(pid: int) -> None:
    """`pid`, a child of this process, is a supervisor: no sweep takes it for an orphan."""
    with _lock:
        _supervisors.add(pid)


def forget_supervisor(pid: int) -> None:
    """`pid` is reaped, or about to be: its number may be another process's next."""
    with _lock:
        _supervisors.discard(pid)


class OrphanAdoption:
    """This process adopting the orphans of one script's tree, from before its start to its end."""

    def __init__(self) -> None:
        global _scripts_running
        self._supervisor_started: int | None = None
        self._ended = False
        with _lock:
            if ON_LINUX and _scripts_running == 0:
                prctl(PR_SET_CHILD_SUBREAPER, 1)
            _scripts_running += 1

    def starting(self) -> None:
        """The tree's supervisor is about to start: orphans are the children started from now on."""
        self._supervisor_started = _clock_ticks() if ON_LINUX else 0

    def end(self, *, sweep: bool) -> None:
        """The tree ended (its supervisor is reaped): with `sweep`, kill and reap what it left
        with this process. Then stop adopting, unless another script of this process still runs."""
        global _scripts_running
        if self._ended:
            return
        self._ended = True
        if sweep and ON_LINUX and self._supervisor_started is not None:
            self._kill_orphans()
        with _lock:
            _scripts_running -= 1
            if ON_LINUX and _scripts_running == 0:
                prctl(PR_SET_CHILD_SUBREAPER, 0)

    def _kill_orphans(self) -> None:
        """SIGKILL each orphan and reap it; what it started is re-parented here, and found next round."""
        for _ in range(KILL_ROUNDS):
            orphans = self._orphans()
            if not orphans:
                return
            for pid in orphans:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for pid in orphans:
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:  # reaped elsewhere meanwhile
                    pass

    def _orphans(self) -> list[int]:
        """Children of this process (zombies included) started since the supervisor, other than supervisors."""
        me, found = os.getpid(), []
        with _lock:
            supervisors = set(_supervisors)
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) in supervisors:
                continue
            try:
                parent, started = _stat(int(entry.name))
            except OSError:  # exited meanwhile
                continue
            if parent == me and started >= (self._supervisor_started or 0):
                found.append(int(entry.name))
        return found


def _clock_ticks() -> int:
    """Now, in the unit and from the origin of a process's start time in /proc (clock ticks of the
    boot-time clock): a process started after this call has a start time at least this."""
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * os.sysconf("SC_CLK_TCK"))


def _stat(pid: int) -> tuple[int, int]:
    """A process's parent and start time (clock ticks since boot), from /proc.

    The name before them may hold spaces and parentheses: fields are counted after its last ')'.
    """
    fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    return int(fields[1]), int(fields[19])
