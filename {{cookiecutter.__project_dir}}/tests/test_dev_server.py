"""`make dev` and `make stop` (platform/nope/dev_server.py) with a stand-in for `dagster dev`.

The template's own tests serve the real `dagster dev` through `make dev`; these check what the
wrapper does when it is itself lost, in seconds.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO_ROOT, process_alive, wait_for_file, wait_until_gone

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")

DEV_SERVER = REPO_ROOT / "platform" / "nope" / "dev_server.py"

STAND_IN = """
import os, signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # its webserver, say
def stop(signum, frame):
    child.terminate()
    sys.exit(0)
signal.signal(signal.SIGINT, stop)
open(PIDS, "w").write(f"{os.getpid()} {child.pid}\\n")
while True:
    time.sleep(1)
"""
"""Serves until Ctrl-C (SIGINT), as `dagster dev` does, with a child process of its own."""


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """DAGSTER_HOME; whatever a failing test leaves running in it is stopped at the end."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    yield home
    stop(home)


def serve(home: Path, tmp_path: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    """`make dev`'s command with the stand-in; the wrapper, and the pids of the stand-in and its child."""
    pids = tmp_path / "server.pids"
    stand_in = tmp_path / "stand_in.py"
    stand_in.write_text(STAND_IN.replace("PIDS", repr(str(pids))))
    wrapper = subprocess.Popen(
        [sys.executable, str(DEV_SERVER), "serve", "--home", str(home), "--", sys.executable, str(stand_in)]
    )
    # Reaped as it exits, as `make` reaps it: `make stop` waits until the wrapper is gone.
    threading.Thread(target=wrapper.wait, daemon=True).start()
    return wrapper, [int(pid) for pid in wait_for_file(pids).split()]


def stop(home: Path) -> subprocess.CompletedProcess[str]:
    """`make stop`'s command."""
    return subprocess.run(
        [sys.executable, str(DEV_SERVER), "stop", "--home", str(home)], capture_output=True, text=True, timeout=120
    )


def test_make_stop_stops_the_server_of_a_wrapper_that_was_killed(home, tmp_path):
    wrapper, server = serve(home, tmp_path)
    wrapper.send_signal(signal.SIGKILL)  # `kill -9` of `make dev`'s wrapper: nothing of it cleans up
    wrapper.wait()
    assert all(process_alive(pid) for pid in server)  # still serving, holding the port
    stopped = stop(home)
    assert stopped.returncode == 0, stopped.stderr
    assert "dagster dev stopped" in stopped.stdout
    assert wait_until_gone(server, deadline_seconds=5) == []
    assert stop(home).stdout.strip() == "dagster dev is not running here."


def test_make_dev_refuses_to_start_while_a_wrapperless_server_still_serves(home, tmp_path):
    wrapper, server = serve(home, tmp_path)
    wrapper.send_signal(signal.SIGKILL)
    wrapper.wait()
    again = subprocess.run(
        [sys.executable, str(DEV_SERVER), "serve", "--home", str(home), "--", sys.executable, "-c", "pass"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 1
    assert "dagster dev is already running here" in again.stderr and "`make stop` stops it" in again.stderr
    assert all(process_alive(pid) for pid in server)


def test_make_stop_still_stops_a_running_wrapper_and_its_server(home, tmp_path):
    wrapper, server = serve(home, tmp_path)
    stopped = stop(home)
    assert "dagster dev stopped" in stopped.stdout
    assert wrapper.wait(timeout=60) == 0
    assert wait_until_gone([wrapper.pid, *server], deadline_seconds=5) == []
    assert not any(home.iterdir()), "the wrapper's records are removed"
