"""`make dev` and `make stop`: serve `dagster dev` so that it can be stopped, leaving nothing behind.

    python platform/nope/dev_server.py serve --home .dagster_home -- dagster dev ...
    python platform/nope/dev_server.py stop --home .dagster_home

Why a wrapper: `dagster dev` stops its webserver, daemon and code server on Ctrl-C (SIGINT)
only. Sent SIGTERM (a script's `kill`, a CI job's timeout, a service manager), it exits alone
and its children keep running, holding the port. Started in the background by a
non-interactive shell it even ignores SIGINT. So `serve` starts it in a process group of its
own, writes `<home>/dev.pid`, and turns SIGTERM, SIGINT and SIGHUP into a SIGINT for that
whole group; whatever is still alive after the grace period is killed. `stop` signals the
`serve` recorded in `dev.pid` and waits until it is gone.

`serve` itself may be killed outright (`kill -9`, the out-of-memory killer), leaving `dagster
dev` serving. So it also records the server's process group in `<home>/dev.group`, and `stop`,
finding no `serve`, stops that group the same way (Ctrl-C, then SIGKILL past the grace period).

`dagster dev` runs from the instance's folder (DAGSTER_HOME): started from the repository's
root, where the committed `dagster.yaml` lives, it warns that this file "will not be used",
which is false (the Makefile copies it into DAGSTER_HOME).

Standard library only and run by path, like `supervisor.py`: `make stop` works with any
Python, whether or not the repository's environment is installed.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

PID_FILE = "dev.pid"
GROUP_FILE = "dev.group"
GRACE_SECONDS = 30.0
"""How long `dagster dev` may take to stop its services (and mark runs failed) before SIGKILL."""
POLL_SECONDS = 0.2


class _StopRequested(Exception):
    """SIGTERM, SIGINT or SIGHUP reached `serve`."""


def main(argv: list[str]) -> int:
    own, command = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(prog="dev_server.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["serve", "stop"])
    parser.add_argument("--home", type=Path, required=True, help="DAGSTER_HOME: where dev.pid is kept")
    args = parser.parse_args(own)
    pid_file, group_file = args.home / PID_FILE, args.home / GROUP_FILE
    if args.action == "stop":
        return stop(pid_file, group_file)
    if not command:
        parser.error("serve needs the `dagster dev` command line after `--`")
    # The server runs from `home`: a relative program path must not change meaning there.
    program = os.path.abspath(command[0]) if os.sep in command[0] else command[0]
    return serve([program, *command[1:]], home=args.home, pid_file=pid_file, group_file=group_file)


def serve(command: list[str], *, home: Path, pid_file: Path, group_file: Path) -> int:
    """Run `command` from `home` in a new process group until it exits or a stop signal arrives."""
    running = _recorded_pid(pid_file)
    if running is not None:
        print(f"dagster dev is already running here (pid {running}); `make stop` stops it.", file=sys.stderr)
        return 1
    orphaned = _recorded_group(group_file)
    if orphaned is not None:
        print(
            f"dagster dev is already running here (process group {orphaned}, its `make dev` was killed); "
            "`make stop` stops it.",
            file=sys.stderr,
        )
        return 1
    for stop_signal in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(stop_signal, _request_stop)
    server = subprocess.Popen(command, cwd=home, process_group=0)
    group_file.write_text(f"{server.pid} {_start_time(server.pid)}\n", encoding="utf-8")
    pid_file.write_text(f"{os.getpid()}\n", encoding="utf-8")
    try:
        try:
            return server.wait()
        except _StopRequested:
            for stop_signal in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(stop_signal, signal.SIG_IGN)  # one stop is enough
            return _end_group(server.pid, wait=server.wait)
    finally:
        pid_file.unlink(missing_ok=True)
        _kill_group(server.pid)  # children of a server that exited by itself
        group_file.unlink(missing_ok=True)


def stop(pid_file: Path, group_file: Path) -> int:
    """Ask the recorded `serve` to stop, and wait until it and its server are gone; without
    `serve` (it was killed), stop the server's process group from here."""
    pid = _recorded_pid(pid_file)
    if pid is None:
        group = _recorded_group(group_file)
        if group is None:
            print("dagster dev is not running here.")
            return 0
        print(f"The `make dev` that started dagster dev is gone; stopping its process group {group}.")
        _end_group(group, wait=lambda timeout: _wait_for_group(group, timeout))
        group_file.unlink(missing_ok=True)
        print("dagster dev stopped.")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    if _alive(pid):
        print(f"dagster dev (pid {pid}) did not stop", file=sys.stderr)
        return 1
    print("dagster dev stopped.")
    return 0


def _request_stop(signum: int, frame: object) -> None:
    raise _StopRequested


def _end_group(pgid: int, *, wait: Callable[[float], object]) -> int:
    """Ctrl-C for the whole group (how `dagster dev` stops cleanly), then SIGKILL past the grace.

    `wait(seconds)` waits for the server itself, raising `subprocess.TimeoutExpired` past them.
    """
    _signal_group(pgid, signal.SIGINT)
    try:
        wait(GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _kill_group(pgid)
        wait(GRACE_SECONDS)
    deadline = time.monotonic() + GRACE_SECONDS
    while _group_alive(pgid) and time.monotonic() < deadline:  # its children exit just after it
        time.sleep(POLL_SECONDS)
    _kill_group(pgid)
    return 0


def _wait_for_group(pgid: int, timeout: float) -> None:
    """For a server that is not our child: wait until its group has no process left."""
    deadline = time.monotonic() + timeout
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            raise subprocess.TimeoutExpired(f"process group {pgid}", timeout)
        time.sleep(POLL_SECONDS)


def _recorded_group(group_file: Path) -> int | None:
    """The server's process group in `dev.group` if it still has processes; a stale file is removed.

    A group id is not reused while any process of the group lives, but once the group is gone a
    new process may get the leader's pid: a leader that started at another time is not ours.
    """
    try:
        pgid, started = group_file.read_text(encoding="utf-8").split()
    except (OSError, ValueError):
        return None
    if _group_alive(int(pgid)) and _start_time(int(pgid)) in (started, "gone"):
        return int(pgid)
    group_file.unlink(missing_ok=True)
    return None


def _start_time(pid: int) -> str:
    """When process `pid` started (clock ticks since boot, Linux), "gone" when it has exited, "-" elsewhere."""
    if not sys.platform.startswith("linux"):
        return "-"
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "gone"


def _recorded_pid(pid_file: Path) -> int | None:
    """The pid in `dev.pid` if that process still lives; a stale file (a crash) is removed."""
    try:
        pid = int(pid_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    if _alive(pid):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's group, which took the id of ours after it ended
        return False
    return True


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def _kill_group(pgid: int) -> None:
    _signal_group(pgid, signal.SIGKILL)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
