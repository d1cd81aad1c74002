"""The step's side of `supervisor.py`'s server: one per step process, a supervisor forked per script.

Each script runs under a supervisor that ends its whole tree (`supervisor.py` says how). A
supervisor used to be a Python interpreter of its own, whose start (about 11 ms of CPU) every
script paid, in every process: 30 assets run in process paid it 30 times. Now the first script
of a process starts one small server (`python -I -S supervisor.py`, the same start, while the
step opens the script's Pipes session), and every script asks it for a supervisor, which it
forks. A step process of the multiprocess executor runs one script and starts one server, as it
started one supervisor before.

Talking to it: a Unix socket pair (the step holds one end, the server the other) carries
requests (`supervisor.py`: a kind, a length, the payload) and, with a start request, the
script's stdin, stdout and stderr and the write end of a status pipe, as descriptors
(SCM_RIGHTS). On the status pipe the server writes the supervisor's pid, then, once it exits,
its wait status: the step waits on that pipe, as it would wait on a child of its own.

The server lives as long as this process: when the process ends, its end of the socket closes
and the server exits, which sends each running supervisor its death signal (SIGTERM) and ends
the trees. A server that died (a script may `kill -9` any process of its user) is started again
for the next script; the scripts it supervised were stopped with it, and report SIGKILL. A copy
of this process made by `fork` starts a server of its own.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from nope import orphan_adoption

SUPERVISOR = Path(__file__).with_name("supervisor.py")
START = b"S"  # the request kinds and header of `supervisor.py`
SIGNAL = b"K"
ANSWER_SECONDS = 60.0
"""How long the server may take to answer a start request with the supervisor's pid: it answers
at once, unless it is itself still starting on a machine under heavy load."""

Stream = int | IO[bytes] | None
"""What `subprocess.Popen` takes for stdin, stdout and stderr."""


class ServerGone(OSError):
    """The server ended before it answered (it was killed); a new one is started for the next script."""


class ForkedSupervisor:
    """One script's supervisor, forked by the server: what the step uses of `subprocess.Popen` for a
    child (pid, stdout and stderr pipes, poll, wait, send_signal), since it waits on it as on one."""

    def __init__(self, server: SupervisorServer, status: int, stdout: IO[bytes] | None, stderr: IO[bytes] | None):
        self._server = server
        self._status = status
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None
        pid = self._read_number() if self._exited_within(ANSWER_SECONDS) else None
        if pid is None:
            os.close(status)
            raise ServerGone("the supervisor server did not start the script")
        self.pid = pid

    def poll(self) -> int | None:
        """The exit code if the supervisor has exited, else None, without waiting."""
        return self.wait(timeout=0) if self._exited_within(0) else None

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code (negative: the signal that killed it), as `Popen.wait`, raising
        `subprocess.TimeoutExpired` past `timeout`. The server writes it the moment it reaps it."""
        if self.returncode is None:
            if not self._exited_within(timeout):
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            status = self._read_number()
            os.close(self._status)
            # No status: the server died first. Its supervisors get their death signal (SIGTERM)
            # and end their trees; the step reports the script as killed, and cleans up after it.
            self.returncode = -signal.SIGKILL if status is None else os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Signal the supervisor, through the server: its parent, so the pid cannot be reused yet."""
        if self.returncode is None:
            self._server.request(SIGNAL, b"%d %d" % (self.pid, signum))

    def _exited_within(self, seconds: float | None) -> bool:
        return self.returncode is not None or bool(select.select([self._status], [], [], seconds)[0])

    def _read_number(self) -> int | None:
        """The next line the server wrote on the status pipe, as a number; None at its end."""
        line = b""
        while not line.endswith(b"\n"):
            chunk = os.read(self._status, 1)
            if not chunk:
                return None
            line += chunk
        return int(line)


class SupervisorServer:
    """This process's server (`supervisor.py`), started in a session of its own with an empty environment."""

    def __init__(self) -> None:
        self._socket, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", str(SUPERVISOR), str(os.getpid()), str(theirs.fileno())],
                env={},  # it needs none: each script's environment comes with its request, for the script only
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            self._socket.close()
            raise
        finally:
            theirs.close()
        self._owner = os.getpid()
        self._lock = threading.Lock()
        orphan_adoption.count_as_supervisor(self.process.pid)  # a child of this process, never an orphan

    def serves_this_process(self) -> bool:
        return self._owner == os.getpid() and self.process.poll() is None

    def start(self, launch: bytes, stdin: Stream, stdout: Stream, stderr: Stream) -> ForkedSupervisor:
        """Fork a supervisor for the script `launch` describes (`process_tree.launch_message`),
        with these streams as `subprocess.Popen` reads them (PIPE, DEVNULL, STDOUT, a descriptor,
        a file, or None for this process's own)."""
        sent, ours, pipes = _descriptors((stdin, stdout, stderr))
        try:
            status_reads, status_writes = os.pipe()
            ours.append(status_writes)
            try:
                self.request(START, launch, [*sent, status_writes])
            except BaseException:
                os.close(status_reads)
                raise
            finally:
                for fd in ours:
                    os.close(fd)
            return ForkedSupervisor(self, status_reads, pipes.get(1), pipes.get(2))
        except BaseException:
            for pipe in pipes.values():
                pipe.close()
            raise

    def request(self, kind: bytes, payload: bytes, descriptors: list[int] | None = None) -> None:
        """One request, whole, with its descriptors attached to its first bytes."""
        message = kind + len(payload).to_bytes(8, "big") + payload
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, _packed(descriptors))] if descriptors else []
        with self._lock:  # requests from several threads must not interleave on the stream
            try:
                sent = self._socket.sendmsg([message], ancillary)
                self._socket.sendall(message[sent:])
            except (BrokenPipeError, ConnectionResetError):
                raise ServerGone("the supervisor server ended") from None

    def close(self) -> None:
        """Let go of a server that died or belongs to the process this one was forked from."""
        self._socket.close()
        if self._owner == os.getpid():
            orphan_adoption.forget_supervisor(self.process.pid)
            self.process.wait()


_server: SupervisorServer | None = None
_server_lock = threading.Lock()


def this_process_server() -> SupervisorServer:
    """The server of this process, started if there is none (or it died, or belongs to the process
    this one was forked from)."""
    global _server
    with _server_lock:
        if _server is None or not _server.serves_this_process():
            if _server is not None:
                _server.close()
            _server = SupervisorServer()
        return _server


def start_supervisor(launch: bytes, stdout: Stream, stderr: Stream) -> ForkedSupervisor:
    """A supervisor for one script, forked by this process's server; once more with a new server
    if the one asked had ended (a script of an earlier step killed it)."""
    try:
        return this_process_server().start(launch, None, stdout, stderr)
    except ServerGone:
        return this_process_server().start(launch, None, stdout, stderr)


def _descriptors(streams: tuple[Stream, Stream, Stream]) -> tuple[list[int], list[int], dict[int, IO[bytes]]]:
    """For stdin, stdout and stderr: the descriptor to send, those opened here (closed once sent),
    and the step's ends of the pipes asked for, by stream number."""
    sent: list[int] = []
    ours: list[int] = []
    pipes: dict[int, IO[bytes]] = {}
    for number, stream in enumerate(streams):
        if stream is None:
            fd = number if _is_open(number) else _opened(os.devnull, ours)
        elif stream == subprocess.DEVNULL:
            fd = _opened(os.devnull, ours)
        elif stream == subprocess.PIPE:
            reads, fd = os.pipe()
            ours.append(fd)
            pipes[number] = open(reads, "rb")
        elif stream == subprocess.STDOUT:
            fd = sent[1]
        elif isinstance(stream, int):
            fd = stream
        else:
            fd = stream.fileno()
        sent.append(fd)
    return sent, ours, pipes


def _opened(path: str, ours: list[int]) -> int:
    fd = os.open(path, os.O_RDWR)
    ours.append(fd)
    return fd


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _packed(descriptors: list[int]) -> bytes:
    return b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in descriptors)
