"""Baking helpers shared by the template's tests."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter
from user_shell import run_as_user

TEMPLATE = Path(__file__).resolve().parent.parent


def bake(output_dir: Path, **answers: str) -> Path:
    """Generate a repository with `answers` over the defaults; returns its folder."""
    return Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(output_dir), extra_context=answers))


def bake_refused(output_dir: Path, **answers: str) -> subprocess.CompletedProcess:
    """Run Cookiecutter's command line with `answers` that the pre-generation hook must refuse."""
    command = [sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir", str(output_dir), str(TEMPLATE)]
    result = subprocess.run([*command, *(f"{key}={value}" for key, value in answers.items())], capture_output=True, text=True)
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Traceback" not in result.stdout + result.stderr  # Cookiecutter's own log of the refusal included
    return result


def template_clone(into: Path) -> Path:
    """A new user's clone of this template, at `into`/nope-template, for commands run at its root.

    Its files are what `git ls-files` lists, as they stand in the working tree (so a test runs the
    template being changed), without the developer's `.venv/`, `.tools/` or `build/`; committed,
    because a clone is a git checkout (the post-generation hook and cruft see one).
    """
    clone = into / "nope-template"
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=TEMPLATE, capture_output=True, text=True, check=True)
    for relative in filter(None, listed.stdout.split("\0")):
        source = TEMPLATE / relative
        if source.is_file():  # a file deleted but not yet committed is still listed
            (clone / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / relative)
    identity = ["-c", "user.name=Template maintainers", "-c", "user.email=maintainers@example.com"]
    for command in (["init", "--quiet"], ["add", "--all"], [*identity, "commit", "--quiet", "-m", "The template"]):
        subprocess.run(["git", *command], cwd=clone, capture_output=True, check=True)
    return clone


# Template syntax that must never survive baking (Dagster's and GitHub's own `{{ }}` may).
UNRENDERED = re.compile(r"\{\{\s*cookiecutter\.|\{%-?\s*(if|for|raw)\b")


def unrendered_files(repo: Path) -> list[str]:
    """Every text file of a baked repository that still holds template syntax."""
    return [str(path) for path, text in _text_files(repo) if UNRENDERED.search(text)]


def _text_files(root: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and ".git" not in path.parts:
            try:
                yield path, path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue


def run_baked_tests(repo: Path, home: Path, command: str = "make test") -> subprocess.CompletedProcess[str]:
    """`make test` (or `command`, such as `make test ARGS=tests/test_schema.py`) in a baked repository,
    typed in a new user's shell (tests/user_shell.py); stdout holds stderr too.

    The repository installs its own `.venv` from its tools.lock and uv.lock, as on a user's
    machine, and its tests run there: a package its lock lacks, or a tool found only on a
    virtualenv's PATH, fails here as it would for the user.
    """
    return run_as_user(command, repo, home, check=False)


@pytest.fixture(scope="session")
def default_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="session")
def user_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The empty HOME of the user whose shell runs documented commands (tests/user_shell.py).

    One per test session: it starts empty, and a later command finds the package caches an
    earlier one filled, as a user's second command does.
    """
    return tmp_path_factory.mktemp("home")
