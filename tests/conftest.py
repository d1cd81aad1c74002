"""Baking helpers shared by the template's tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent


def bake(output_dir: Path, **answers: str) -> Path:
    """Generate a repository with `answers` over the defaults; returns its folder."""
    return Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(output_dir), extra_context=answers))


def run_baked_tests(repo: Path, *pytest_args: str) -> subprocess.CompletedProcess:
    """Run the baked repository's own test suite, from its folder, as its owner would."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *pytest_args],
        cwd=repo,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="session")
def default_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("default"))
