"""What a new user's terminal shows after the first command: only what matters to them.

Each command runs from a user's shell (tests/user_shell.py) in a fresh bake. A second `make demo`
once printed a progress bar from `dagster instance migrate`, every `dg` call a virtualenv warning
and a BetaWarning, the first `make dev` after the template's `make demo` installed uv again, and a
PostgreSQL bake's `make dev` without its `DAGSTER_PG_*` variables printed pages of tracebacks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE, bake
from user_shell import run_as_user

PG_VARIABLES = ["DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"]
# The uv the template's `make demo` hands to the baked repository's `make demo` (`UV=...`).
TEMPLATE_UV = TEMPLATE / ".tools" / "bin" / "uv"
VENV_MISMATCH = "virtual environment does not match"


@pytest.fixture(scope="module")
def materialized(tmp_path_factory: pytest.TempPathFactory, user_home: Path) -> tuple[Path, str]:
    """A default bake after `make materialize` (what `make demo` runs first), and what it printed."""
    repo = bake(tmp_path_factory.mktemp("quiet"))
    return repo, run_as_user("make materialize", repo, user_home).stdout


def test_make_materialize_prints_no_warning_of_dg_or_dagster(materialized: tuple[Path, str]):
    _, output = materialized
    assert "RUN_SUCCESS" in output
    assert "BetaWarning" not in output, output[:3000]
    assert VENV_MISMATCH not in output, output[:3000]


def test_dg_run_as_the_readme_says_prints_no_virtualenv_warning(materialized: tuple[Path, str], user_home: Path):
    repo, _ = materialized
    listed = run_as_user(".venv/bin/dg list defs", repo, user_home)
    assert "group_a/asset_one" in listed.stdout
    assert VENV_MISMATCH not in listed.stdout, listed.stdout[:3000]


def test_a_new_dagster_yaml_is_migrated_without_a_progress_bar(materialized: tuple[Path, str], user_home: Path):
    """Re-baking (the template's `make demo` again) writes dagster.yaml anew: the next `make dev`
    migrates the instance again, which holds a run by now."""
    repo, _ = materialized
    os.utime(repo / "dagster.yaml")
    again = run_as_user("make instance", repo, user_home)
    assert "instance migrate" in again.stdout
    assert "it/s" not in again.stdout and "%|" not in again.stdout, again.stdout


def test_the_first_make_dev_after_the_template_s_make_demo_installs_nothing(tmp_path: Path, user_home: Path):
    if not TEMPLATE_UV.is_file():
        pytest.fail(f"{TEMPLATE_UV} is missing: run `make test` at the template's root, which installs it")
    repo = bake(tmp_path)
    run_as_user(f"make install UV={TEMPLATE_UV}", repo, user_home)  # as the template's `make demo` does
    again = run_as_user("make install", repo, user_home)  # the first step of the user's own `make dev`
    assert "pip install" not in again.stdout and "uv sync" not in again.stdout, again.stdout
    assert not (repo / ".tools").exists()


def test_make_dev_on_postgres_without_its_variables_stops_with_one_line(tmp_path: Path, user_home: Path):
    repo = bake(tmp_path, dagster_storage="postgres")
    result = run_as_user("make dev", repo, user_home, check=False)
    assert result.returncode != 0
    [line] = result.stdout.strip().splitlines()
    assert all(name in line.split(" not set:")[0] for name in PG_VARIABLES), line
    assert "export DAGSTER_PG_HOST=" in line
    assert not (repo / ".venv").exists()  # it stopped before installing anything

    documented = {"DAGSTER_PG_HOST": "db.internal", "DAGSTER_PG_PASSWORD": "secret$word"}
    partial = run_as_user("make dev", repo, user_home, extra=documented, check=False)
    assert partial.returncode != 0
    [line] = partial.stdout.strip().splitlines()
    assert line.split(" *** ")[1].startswith("DAGSTER_PG_PORT DAGSTER_PG_USER DAGSTER_PG_DB not set:"), line


def test_the_next_steps_of_a_postgres_bake_say_which_variables_to_set(tmp_path: Path):
    def next_steps(*answers: str) -> str:
        command = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(tmp_path / answers[0]), str(TEMPLATE)]
        result = subprocess.run([*command, *answers], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    postgres = next_steps("dagster_storage=postgres")
    [export] = [line for line in postgres.splitlines() if "export DAGSTER_PG_" in line]
    assert all(f"{name}=" in export for name in PG_VARIABLES), export
    assert postgres.index("export DAGSTER_PG_") < postgres.index("make dev")
    assert "DAGSTER_PG_" not in next_steps("dagster_storage=sqlite")
