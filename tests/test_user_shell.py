"""The user's shell that documented commands run in holds nothing a new user's lacks."""

from __future__ import annotations

import os
from pathlib import Path

from user_shell import run_as_user, system_path, user_env


def test_the_user_shell_has_no_virtualenv_no_harness_variables_and_an_empty_home(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()

    def ask(command: str) -> str:
        return run_as_user(command, tmp_path, home, check=False).stdout.strip()

    assert ask("python3 -c 'import sys; print(sys.prefix == sys.base_prefix)'") == "True"  # the machine's python3
    assert ask("command -v dagster dg cookiecutter ruff") == ""  # nothing the template's test environment has
    assert ask('ls -A "$HOME"') == ""
    variables = dict(line.split("=", 1) for line in ask("env").splitlines() if "=" in line)
    assert variables["HOME"] == str(home)
    assert not any(name.startswith(("DAGSTER_", "PYTEST_", "MAKE")) for name in variables), sorted(variables)
    assert {"PYTHONPATH", "VIRTUAL_ENV", "MFLAGS"}.isdisjoint(variables), sorted(variables)


def test_the_machine_settings_a_user_reaches_the_network_with_are_kept(tmp_path: Path):
    env = user_env(tmp_path)
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "https_proxy", "HTTPS_PROXY", "PIP_INDEX_URL"):
        assert env.get(name) == os.environ.get(name), name
    assert all(entry in os.environ["PATH"].split(os.pathsep) for entry in system_path().split(os.pathsep))
