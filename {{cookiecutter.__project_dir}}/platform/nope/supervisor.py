"""The small process between a step and a practitioner's script: it makes the script's tree end.

`process_tree.start` runs this file with the platform's Python (`python -I -S supervisor.py
<step pid> <grace seconds> <pipe> -- <command>...`), in a session and process group of its own. It
starts the script in that group and waits. Whatever ends, the whole tree ends with it:

- the script exits: what it left running in the background is stopped, so nothing outlives
  the step and nobody holds the step's stderr pipe open;
- the step asks it to stop (SIGTERM: a timeout or a cancel), or the step process dies (Linux
  sends SIGTERM to this process then, `PR_SET_PDEATHSIG`): the tree is stopped.

"Stopped" means SIGTERM to every process of the tree, up to `grace` seconds for them to exit,
then SIGKILL: a script is untrusted and may ignore SIGTERM. On Linux the tree is the process
group plus every descendant that left it (`setsid`), found because this process is their
"child subreaper" (`PR_SET_CHILD_SUBREAPER`): orphans are re-parented here, not to init.

Standard library only and run by path with `-I -S`: it starts in milliseconds and imports
nothing from the platform's environment or the script's. It starts with an empty environment;
the script's comes over a pipe, with the program the step found on the platform's PATH.

Every step pays for this process's start, so it imports only what it uses: not `subprocess`,
whose import costs more than the interpreter's own start (it starts the script with `os.fork`
and `os.execve`, which is all `subprocess.Popen` would do here: this process has one thread,
and no descriptor of its own that a script could inherit, since Python opens every file
non-inheritable).
"""

from __future__ import annotations

# The C module that `signal` wraps: the same functions, and the signals as plain numbers (no
# stubs for type checkers). `signal` adds enums, and importing them (enum, functools,
# collections) takes a third of this process's start, which every step waits for.
import _signal as signal  # type: ignore[import-not-found]
import ctypes
import errno
import os
import sys
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
POLL_SECONDS = 0.05
KILL_ROUNDS = 200  # SIGKILL sweeps before giving up on a tree that keeps forking (a fork bomb)
ON_LINUX = sys.platform.startswith("linux")


class _StopRequested(Exception):
    """The step asked for the tree to stop, or the step process died."""


def main(argv: list[str]) -> int:
    step_pid, grace, launch_pipe, command = int(argv[0]), float(argv[1]), int(argv[2]), argv[4:]
    if ON_LINUX:
        _prctl(PR_SET_DUMPABLE, 0)  # unreadable to the script (process_privacy.py says why)
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, _request_stop)
    if os.getppid() != step_pid:  # the step died before the death signal was armed
        return 128 + signal.SIGTERM
    try:
        launch = _read_launch(launch_pipe)
        if launch is None:  # the step gave up before the script's start (`ScriptProcess.abandon`)
            return 0
        executable, env = launch
        script = _start(_found(executable), command, env)
        returncode = os.waitstatus_to_exitcode(os.waitpid(script, 0)[1])
    except _StopRequested:
        end_tree(grace)
        return 128 + signal.SIGTERM
    except OSError as error:
        print(f"nope: cannot run `{command[0]}`: {error.strerror}", file=sys.stderr)
        return 127
    end_tree(grace)
    if returncode < 0:  # killed by a signal: die the same way, so the step reports what the script got
        signal.signal(-returncode, signal.SIG_DFL)
        os.kill(os.getpid(), -returncode)
    return returncode if returncode >= 0 else 128 - returncode


def _read_launch(pipe: int) -> tuple[bytes, dict[bytes, bytes]] | None:
    """What the step sends over the pipe (`process_tree.launch_message`): the program to run and
    the script's environment, NUL-separated; None when it closes the pipe without a word.

    This process starts while the step prepares the script's Pipes session, and waits here.

    Not this process's own environment: that is empty, so that nothing meant for the script
    (a manifest's `env:`) changes how this Python starts, and no secret sits in it.
    """
    with open(pipe, "rb") as stream:
        message = stream.read()
    if not message:
        return None
    executable, *variables = message.split(b"\0")
    return executable, dict(variable.split(b"=", 1) for variable in variables)


def _found(executable: bytes) -> bytes:
    """The step resolved the program on the platform's PATH; a bare name here was not found there.

    Looked up again, it would be found on the script's own PATH, which must not choose it.
    """
    if os.fsencode(os.sep) not in executable:
        raise FileNotFoundError(errno.ENOENT, "not found on the platform's PATH")
    return executable


def _start(executable: bytes, argv: list[str], env: dict[bytes, bytes]) -> int:
    """Start the script (its pid), as `subprocess.Popen` would: the signals Python ignores
    restored to their defaults, and an `exec` failure raised here as `OSError`.

    Between `fork` and `exec` the child arms its death signal (`_die_with_supervisor`). Should a
    stop request reach it there, it exits without running the script.
    """
    exec_errors, exec_failed = os.pipe()  # closed by a successful exec: nothing to read then
    pid = os.fork()
    if pid == 0:
        try:
            os.close(exec_errors)
            _die_with_supervisor()
            for ignored in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores these; a script expects their defaults
                signal.signal(ignored, signal.SIG_DFL)
            os.execve(executable, argv, env)
        except OSError as error:
            os.write(exec_failed, str(error.errno).encode())
        finally:
            os._exit(127)
    os.close(exec_failed)
    with open(exec_errors, "rb") as failure:
        error_number = failure.read()
    if error_number:
        os.waitpid(pid, 0)
        raise OSError(int(error_number), os.strerror(int(error_number)))
    return pid


def end_tree(grace: float) -> None:
    """SIGTERM to the whole tree, `grace` seconds to exit, then SIGKILL to what is left.

    A process that appears during the grace period (a clean-up the script starts on SIGTERM)
    gets its SIGTERM as it is found: otherwise it would hold the stop for the whole period.
    """
    for stop_signal in STOP_SIGNALS:  # from here on, signals aimed at the tree are not for us
        signal.signal(stop_signal, signal.SIG_IGN)
    if not ON_LINUX:  # elsewhere only the group is known, and there is no /proc to follow it
        os.killpg(os.getpgrp(), signal.SIGTERM)
        return
    if not _reap_exited_children():  # the usual end: the script left nothing behind
        return
    tree = _tree()
    # The group in one call: no shell of it sees its command killed before its own SIGTERM
    # arrives, and goes on to its next command meanwhile (`sleep 30; touch done`).
    os.killpg(os.getpgrp(), signal.SIGTERM)
    asked = {member for member, in_group in tree.items() if in_group}
    members = set(tree)
    deadline = time.monotonic() + grace
    while members and time.monotonic() < deadline:
        for pid, _ in members - asked:
            _kill(pid, signal.SIGTERM)
        asked |= members
        time.sleep(POLL_SECONDS)
        members = set(_tree())
    for _ in range(KILL_ROUNDS):
        if not members:
            return
        for pid, _ in members:
            _kill(pid, signal.SIGKILL)
        time.sleep(POLL_SECONDS / 10)
        members = set(_tree())


def _tree() -> dict[tuple[int, int], bool]:
    """Live processes of the tree, as (pid, start time in clock ticks), each with whether it is
    in the tree's process group; reaping ours (Linux).

    The tree is the process group plus the orphans re-parented here. The start time tells a
    process from a later one that reuses its pid.
    """
    _reap_exited_children()
    me, group = os.getpid(), os.getpgrp()
    members = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        state, parent, process_group, started = fields[0], int(fields[1]), int(fields[2]), int(fields[19])
        if state not in (b"Z", b"X") and (process_group == group or parent == me):
            members[(int(entry.name), started)] = process_group == group
    return members


def _reap_exited_children() -> bool:
    """Reap the children that exited; whether any process of the tree is left (Linux).

    Every process of the tree descends from this one: a process whose parent dies is
    re-parented here (the subreaper), and no process outside this session can join its group.
    So a tree with no child left is empty, and /proc need not be read to know it.
    """
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _request_stop(signum: int, frame: object) -> None:
    raise _StopRequested


def _die_with_supervisor() -> None:
    """In the script's process, before exec: SIGKILL it if this supervisor dies (Linux)."""
    if ON_LINUX:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stderr.flush()
    os._exit(code)  # without the interpreter's teardown: the step waits for this exit, and there is nothing to tidy
