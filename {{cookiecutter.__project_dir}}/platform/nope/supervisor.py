"""The small processes between a step and a practitioner's scripts: they make each script's tree end.

Two roles, in one standard-library program, run by path (`python -I -S supervisor.py <step pid>
<socket>`) once per step process, by `supervisor_server.py`:

- **the server** (`serve`) waits on a socket for the step's requests. For each script it forks
  one supervisor, sends back its pid, and once it exits, its exit status. A fork of this small
  process costs a fraction of a millisecond; starting a Python interpreter for each script cost
  about 11 ms of CPU, which every in-process run paid per asset. It stops a supervisor on
  request (it is the parent, so the pid cannot be another process's yet), and exits when the
  step process ends (the socket closes): each supervisor then gets SIGTERM, its death signal.
  The server arms no death signal itself: the kernel sends that when the *thread* that started a
  process ends, and the step's thread that started the server may end before the step's
  other threads' scripts do.
- **a supervisor** (`supervise`), in a session and process group of its own, starts its script
  in that group and waits. Whatever ends, the whole tree ends with it:
  - the script exits: what it left running in the background is stopped, so nothing outlives
    the step and nobody holds the step's stderr pipe open;
  - the step asks it to stop (SIGTERM: a timeout or a cancel), or the step process dies (the
    server exits, and Linux sends SIGTERM to this process then, `PR_SET_PDEATHSIG`): the tree
    is stopped.

"Stopped" means SIGTERM to every process of the tree, up to the step's grace period for them to
exit, then SIGKILL: a script is untrusted and may ignore SIGTERM. On Linux the tree is the
process group plus every descendant that left it (`setsid`), found because the supervisor is
their "child subreaper" (`PR_SET_CHILD_SUBREAPER`): orphans are re-parented to it, not to init.

Run by path with `-I -S`, it imports nothing from the platform's environment or the script's,
and starts with an empty environment: the script's comes with its request, with the program the
step found on the platform's PATH, and reaches the script only. It imports only what it uses:
not `subprocess` (a supervisor starts its script with `os.posix_spawn`, which is all
`subprocess.Popen` would do here: it has one thread, and no descriptor of its own that a script
could inherit, since Python opens every file non-inheritable), nor `socket` and `signal`, whose
enums take longer to import than the rest of the start.
"""

from __future__ import annotations

# The C modules that `signal` and `socket` wrap: the same functions, with plain numbers instead
# of enums (and no stubs for type checkers). Importing the enums (enum, functools, collections)
# would take a third of this process's start, which each step process's first script waits for.
import _signal as signal  # type: ignore[import-not-found]
import _socket
import ctypes
import errno
import os
import select
import sys
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
POLL_SECONDS = 0.05
KILL_ROUNDS = 200  # SIGKILL sweeps before giving up on a tree that keeps forking (a fork bomb)
ON_LINUX = sys.platform.startswith("linux")

START = b"S"
"""A request to run a script: its launch message, with 4 descriptors: stdin, stdout, stderr, and
the pipe the pid and then the exit status are written to (`supervisor_server.py`)."""
SIGNAL = b"K"
"""A request to signal a supervisor: `<pid> <signal number>`."""
HEADER_BYTES = 9
"""A request's kind (1 byte) and the length of what follows (8 bytes, big-endian)."""
DESCRIPTORS_PER_START = 4
RECEIVE_BYTES = 1 << 16


class _StopRequested(Exception):
    """The step asked for the tree to stop, or the step process died."""


def serve(step_pid: int, requests_fd: int) -> int:
    """The server's loop: supervisors forked on request, their exits reported, until the step ends."""
    if ON_LINUX:
        _prctl(PR_SET_DUMPABLE, 0)  # unreadable to scripts (process_privacy.py says why)
    if os.getppid() != step_pid:  # the step died before this process began
        return 0
    requests = _socket.socket(fileno=requests_fd)
    woken, wake = os.pipe()  # a byte is written to `wake` on each SIGCHLD (the signal's wakeup fd)
    os.set_blocking(wake, False)
    signal.set_wakeup_fd(wake)
    signal.signal(signal.SIGCHLD, _noted)
    reports: dict[int, int] = {}  # a running supervisor's pid, and the pipe its exit is reported on
    inbox = _Inbox(requests)
    while True:
        ready = select.select([requests_fd, woken], [], [])[0]
        if woken in ready:
            os.read(woken, RECEIVE_BYTES)
            _report_exits(reports)
        if requests_fd not in ready:
            continue
        if not inbox.receive():  # the step process ended: each supervisor gets its death signal
            return 0
        batch = inbox.requests()
        for index, (kind, payload, descriptors) in enumerate(batch):
            if kind == START:
                # Every descriptor the new supervisor must not keep: the server's own, other
                # supervisors' status pipes, and the streams of requests not yet served (a
                # stderr pipe held open here would keep another step waiting for its end).
                waiting = [fd for _, _, theirs in batch[index + 1 :] for fd in theirs] + inbox.descriptors
                _fork_supervisor(payload, descriptors, reports, (requests_fd, woken, wake, *reports.values(), *waiting))
            else:
                pid, signum = (int(number) for number in payload.split())
                if pid in reports:  # not reaped yet: the pid is still this supervisor's
                    _kill(pid, signum)


class _Inbox:
    """Requests as they arrive on the stream, with the descriptors sent alongside them, in order."""

    def __init__(self, requests: _socket.socket):
        self.socket = requests
        self.buffer = bytearray()
        self.descriptors: list[int] = []

    def receive(self) -> bool:
        """Read what arrived; False when the step closed its end."""
        space = _socket.CMSG_SPACE(16 * DESCRIPTORS_PER_START * 4)
        data, ancillary, _, _ = self.socket.recvmsg(RECEIVE_BYTES, space, getattr(_socket, "MSG_CMSG_CLOEXEC", 0))
        for level, kind, fds in ancillary:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                usable = len(fds) - len(fds) % 4
                self.descriptors.extend(int.from_bytes(fds[i : i + 4], sys.byteorder) for i in range(0, usable, 4))
        self.buffer += data
        return bool(data)

    def requests(self) -> list[tuple[bytes, bytes, list[int]]]:
        """The whole requests received so far (kind, payload, descriptors), taken out of the buffer."""
        taken = []
        while len(self.buffer) >= HEADER_BYTES:
            length = int.from_bytes(self.buffer[1:HEADER_BYTES], "big")
            if len(self.buffer) < HEADER_BYTES + length:
                break
            kind = bytes(self.buffer[:1])
            payload = bytes(self.buffer[HEADER_BYTES : HEADER_BYTES + length])
            del self.buffer[: HEADER_BYTES + length]
            count = DESCRIPTORS_PER_START if kind == START else 0
            descriptors, self.descriptors = self.descriptors[:count], self.descriptors[count:]
            taken.append((kind, payload, descriptors))
        return taken


def _fork_supervisor(message: bytes, descriptors: list[int], reports: dict[int, int], not_its: tuple[int, ...]) -> None:
    """Fork a supervisor for one script; tell the step its pid on the request's status pipe."""
    *stdio, status = descriptors
    server = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 127
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in not_its:
                os.close(fd)
            os.close(status)
            os.setsid()  # a session and process group of its own: the tree's
            for target, fd in enumerate(stdio):
                os.dup2(fd, target)
                os.close(fd)
            code = supervise(server, message)
        except BaseException as error:  # a fault of its own: said on the script's stderr, never silent
            print(f"nope: the supervisor failed: {type(error).__name__}: {error}", file=sys.stderr)
        finally:
            sys.stderr.flush()
            os._exit(code)
    for fd in stdio:
        os.close(fd)
    _report(status, pid, close=False)
    reports[pid] = status


def _report_exits(reports: dict[int, int]) -> None:
    """Reap the supervisors that exited, and report each one's wait status (closing its pipe)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid in reports:
            _report(reports.pop(pid), status, close=True)


def _report(pipe: int, number: int, *, close: bool) -> None:
    """One number on its own line; a step that stopped listening is not an error here."""
    try:
        os.write(pipe, b"%d\n" % number)
    except BrokenPipeError:
        pass
    if close:
        os.close(pipe)


def _noted(signum: int, frame: object) -> None:
    """SIGCHLD's handler: nothing, the wakeup fd wakes the loop. (A handler must be set for the
    wakeup fd to hear the signal: its default action ignores it.)"""


def supervise(server_pid: int, message: bytes) -> int:
    """A supervisor's life: start the script `message` describes, wait, end its whole tree."""
    if ON_LINUX:
        _prctl(PR_SET_DUMPABLE, 0)  # as the server (a fork keeps it; said again, not assumed)
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, _request_stop)
    if os.getppid() != server_pid:  # the server died before the death signal was armed
        return 128 + signal.SIGTERM
    grace, shown = 0.0, "the script"  # until the launch is read: before the script starts there is no tree
    try:
        cwd, grace, executable, command, env = _parsed(message)
        shown = f"`{os.fsdecode(command[0])}`"
        if cwd:
            _enter(cwd)
        script = _start(_found(executable), command, env)
        returncode = os.waitstatus_to_exitcode(os.waitpid(script, 0)[1])
    except _StopRequested:
        end_tree(grace)
        return 128 + signal.SIGTERM
    except OSError as error:
        print(f"nope: cannot run {shown}: {error.strerror}", file=sys.stderr)
        return 127
    end_tree(grace)
    if returncode < 0:  # killed by a signal: die the same way, so the step reports what the script got
        signal.signal(-returncode, signal.SIG_DFL)
        os.kill(os.getpid(), -returncode)
    return returncode if returncode >= 0 else 128 - returncode


def _parsed(message: bytes) -> tuple[bytes, float, bytes, list[bytes], dict[bytes, bytes]]:
    """A launch message (`process_tree.launch_message`), NUL-separated: the folder to run in (empty:
    this one), the grace period, the program, the number of arguments, the arguments, then each
    `NAME=value` of the script's environment.

    Not this process's own environment: that is empty, so that nothing meant for the script
    (a manifest's `env:`) changes how this Python starts, and no secret sits in it.
    """
    cwd, grace, executable, count, *rest = message.split(b"\0")
    argv, variables = rest[: int(count)], rest[int(count) :]
    return cwd, float(grace), executable, argv, dict(variable.split(b"=", 1) for variable in variables)


def _enter(cwd: bytes) -> None:
    """Run in `cwd` (the script's working directory), saying which folder is missing if it is."""
    try:
        os.chdir(cwd)
    except OSError as error:
        raise OSError(error.errno, f"cannot enter {os.fsdecode(cwd)}: {error.strerror}") from None


def _found(executable: bytes) -> bytes:
    """The step resolved the program on the platform's PATH; a bare name here was not found there.

    Looked up again, it would be found on the script's own PATH, which must not choose it.
    """
    if os.fsencode(os.sep) not in executable:
        raise FileNotFoundError(errno.ENOENT, "not found on the platform's PATH")
    return executable


def _start(executable: bytes, argv: list[bytes], env: dict[bytes, bytes]) -> int:
    """Start the script (its pid), as `subprocess.Popen` would: the signals Python ignores
    restored to their defaults, and an `exec` failure raised here as `OSError`.

    `posix_spawn` starts it without copying this process (the C library's vfork): a `fork` of a
    Python process then writes to every page whose objects the child touches before `exec`, which
    cost each script's start about 0.7 ms. The script arms no death signal of its own: should its
    supervisor be killed (`kill -9 $PPID`), the step kills the tree's process group as it learns
    of that death, and adopts what left the group (`orphan_adoption.py`).
    """
    return os.posix_spawn(executable, argv, env, setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))


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


_LIBC = ctypes.CDLL(None, use_errno=True)
"""The C library, loaded once by the server: each fork has it already."""


def _prctl(option: int, value: int) -> None:
    if _LIBC.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


if __name__ == "__main__":
    code = serve(int(sys.argv[1]), int(sys.argv[2]))
    sys.stderr.flush()
    os._exit(code)  # without the interpreter's teardown: there is nothing to tidy
