"""A shell like a new user's: the one environment every test of a documented command runs in.

A test harness that quietly put its own virtualenv on PATH once hid a broken UI launch from
every test: the run worker was started as a bare `dagster`, which only the harness could find.
So a command that a README (or a page under docs/) tells a person to type is run here, exactly
as written, in the environment a person has when they open a terminal on this machine:

- the system PATH, with no virtualenv's `bin/` on it (the template's `.venv` and `.tools`
  included), so a command finds only what the machine and the command itself install;
- an empty HOME, made once per test session, so no user configuration, package cache or
  credential of the developer's leaks in (the session's later commands reuse what its first
  ones put there, as a user's second command does);
- no PYTHONPATH, PYTHONHOME, VIRTUAL_ENV or DAGSTER_* variable, and none of the variables
  `make` and pytest set for their children (a user's shell is not inside `make test`);
- everything else the machine sets kept as it is: its proxies, certificate bundles, package
  indexes and the Python version manager's settings are how a user here reaches the network.

A test may add to this only what the documentation tells the user to set (`extra`).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

# Set by a virtualenv's activation, by pytest, or by `make` for the commands it runs: no user's
# fresh shell has them. NOPE_* are this project's own switches, which tests set only on purpose.
DROPPED_PREFIXES = ("DAGSTER_", "PYTEST_", "NOPE_", "MAKE")
DROPPED_NAMES = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "VIRTUAL_ENV_PROMPT", "MFLAGS", "OLDPWD", "_"}

# Generous bounds for commands that install from a cold package cache or serve the UI.
COMMAND_TIMEOUT_SECONDS = 1800


def is_virtualenv_bin(entry: str) -> bool:
    """Whether a PATH entry is the `bin/` of a virtualenv (which holds `pyvenv.cfg` beside it)."""
    return bool(entry) and (Path(entry).parent / "pyvenv.cfg").is_file()


def system_path() -> str:
    """This machine's PATH without any virtualenv on it: what a new terminal's PATH holds."""
    entries = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return os.pathsep.join(entry for entry in entries if not is_virtualenv_bin(entry))


def user_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a user's shell on this machine, with `home` as its (empty) HOME."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in DROPPED_NAMES and not name.startswith(DROPPED_PREFIXES)
    }
    env["PATH"] = system_path()
    env["HOME"] = str(home)
    env.update(extra or {})
    return env


def run_as_user(
    command: str,
    cwd: Path,
    home: Path,
    *,
    extra: Mapping[str, str] | None = None,
    timeout: float = COMMAND_TIMEOUT_SECONDS,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run `command`, as written in the docs, with bash in `cwd`; stdout and stderr are kept together.

    With `check`, a non-zero exit fails the test with the command's last output.
    """
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=user_env(home, extra),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"`{command}` in {cwd} exited with {result.returncode}:\n{result.stdout[-6000:]}")
    return result


def start_as_user(
    command: str, cwd: Path, home: Path, log: Path, *, extra: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a long-running `command` (`make dev`) in its own process group, output to `log`.

    Its own group lets `stop_group` end it with everything it started, as Ctrl-C does in a terminal.
    """
    with open(log, "ab") as output:
        return subprocess.Popen(
            ["bash", "-c", command],
            cwd=cwd,
            env=user_env(home, extra),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_group(process: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 60) -> None:
    """Send `sig` (Ctrl-C by default) to the process's whole group; SIGKILL it if it hangs."""
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=timeout)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
