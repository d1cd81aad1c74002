"""A script cannot read the platform's secrets from the processes above it (Linux).

The script's environment holds only what the platform allows (test_script_environment.py),
but the processes above it (its supervisor, the step process, the run's process) hold the
platform's whole environment, and any process of the same user may read another's
`/proc/<pid>/environ`, unless that process is not "dumpable" (process_privacy.py).

Root reads every process whatever it says, so when the tests run as root the run here runs as
an unprivileged user (`nobody`, through `setpriv`), as the platform's processes should.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and PR_SET_DUMPABLE are Linux's")

SECRET = "s3cr3t-only-the-platform-holds"

READS_ITS_ANCESTORS = """
pid=$PPID
while [ "$pid" -gt 1 ]; do
  cat /proc/$pid/environ > OUT/$pid 2>/dev/null || echo refused > OUT/$pid
  echo "$pid $(cat /proc/$pid/comm)" >> OUT/ancestors
  stat=$(cat /proc/$pid/stat)
  set -- ${stat##*)}
  pid=$2
done
"""
"""Copies what it can read of each ancestor's environment to OUT/<pid>, listing them, nearest first."""

DEFINITIONS = """
from nope import NopeProject
defs = NopeProject.make_definitions(defs_path="DEFS")
"""

UNPRIVILEGED = 65534
"""`nobody`: who runs the platform here when the tests run as root."""
FILE_ACCESS = "+dac_override,+dac_read_search"
"""The capabilities `nobody` keeps here: to reach root's files (the Python the tests run on), as a
platform's own user reaches its own. Reading another process's memory needs
another one (CAP_SYS_PTRACE), which it does not keep."""


@pytest.fixture
def run_folder() -> Iterator[Path]:
    """The run's folder, owned by the user the platform runs as (pytest's own is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="nope-privacy-"))
    with _repository_reachable_by_others():
        yield folder
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _repository_reachable_by_others() -> Iterator[None]:
    """Let others pass through the folders above this repository while the test runs, as a
    platform's user passes through the folders to its own install.

    The file-access capabilities `nobody` keeps do not count where a program asks the kernel
    whether a path exists (`access(2)` checks the real user, without them: Dagster's storage
    does so for its migration scripts), so a repository baked under a folder only root may enter
    (pytest's temporary folders, mode 700) would be out of its reach.
    """
    closed = [folder for folder in REPO_ROOT.resolve().parents if os.geteuid() == 0 and not folder.stat().st_mode & stat.S_IXOTH]
    for folder in closed:
        folder.chmod(folder.stat().st_mode | stat.S_IXOTH)
    try:
        yield
    finally:
        for folder in closed:
            folder.chmod(folder.stat().st_mode & ~stat.S_IXOTH)


def as_the_platforms_user(command: list[str], folder: Path) -> list[str]:
    """`command` as an unprivileged user when the tests run as root (root may read any process),
    owning `folder`."""
    if os.geteuid() != 0:
        return command
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, UNPRIVILEGED, UNPRIVILEGED)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("running as root, this test needs `setpriv` (util-linux) to run the platform as an unprivileged user")
    drop = [f"--reuid={UNPRIVILEGED}", f"--regid={UNPRIVILEGED}", "--clear-groups"]
    return [setpriv, *drop, f"--inh-caps={FILE_ACCESS}", f"--ambient-caps={FILE_ACCESS}", "--", *command]


def test_a_script_cannot_read_the_platforms_secrets_from_its_ancestors(run_folder):
    tmp_path = run_folder
    out = tmp_path / "seen"
    out.mkdir()
    defs = tmp_path / "defs"
    (defs / "g").mkdir(parents=True)
    (defs / "g" / "peek.sh").write_text(READS_ITS_ANCESTORS.replace("OUT", str(out)))
    (defs / "g" / "peek.yaml").write_text("target: subprocess\n")
    definitions = tmp_path / "definitions.py"
    definitions.write_text(DEFINITIONS.replace("DEFS", str(defs)))
    (tmp_path / "dagster_home").mkdir()
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "--select", "*", "-f", str(definitions)]
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO_ROOT / "platform"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "AWS_SECRET_ACCESS_KEY": SECRET,  # exported where Dagster runs, as in production
    }
    run = subprocess.run(as_the_platforms_user(command, tmp_path), env=environment, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    ancestors = [line.split(" ", 1) for line in (out / "ancestors").read_text().splitlines()]
    seen = {f"{pid} {name}": (out / pid).read_bytes() for pid, name in ancestors}
    # The supervisor, the step process and the run's process (`dagster asset materialize`), at least.
    assert len(seen) >= 3, list(seen)
    assert [ancestor for ancestor, environ in seen.items() if SECRET.encode() in environ] == []
    assert [environ for environ in seen.values()][:3] == [b"refused\n"] * 3, list(seen)
