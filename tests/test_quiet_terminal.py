"""What a new user's terminal shows after the first command: only what matters to them.

Each command runs from a user's shell (tests/user_shell.py) in a fresh bake. A second `make demo`
once printed a progress bar from `dagster instance migrate`, every `dg` call a virtualenv warning
and a BetaWarning, the first `make dev` after the template's `make demo` installed uv again, and a
PostgreSQL bake's `make dev` without its `DAGSTER_PG_*` variables printed pages of tracebacks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import TEMPLATE, bake
from user_shell import run_as_user

PG_VARIABLES = ["DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"]
# The uv the template's `make demo` hands to the baked repository's `make demo` (`UV=...`).
TEMPLATE_UV = TEMPLATE / ".tools" / "bin" / "uv"
VENV_MISMATCH = "virtual environment does not match"


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
