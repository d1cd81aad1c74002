"""Every install of this repository comes from uv.lock, and uv.lock is current.

`make install` and CI run `uv sync --locked`, which refuses a lock that no longer matches
pyproject.toml; these tests say so earlier, and keep pre-commit's own environment (which
pre-commit installs with pip, not uv) at the versions the lock pins.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from conftest import REPO_ROOT


def locked_packages() -> dict[str, dict]:
    return {package["name"]: package for package in tomllib.loads((REPO_ROOT / "uv.lock").read_text())["package"]}


def uv_executable() -> str:
    """The uv `make install` uses (.tools/), else one beside this Python or on PATH."""
    for candidate in (REPO_ROOT / ".tools/bin/uv", Path(sys.executable).parent / "uv"):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("uv")
    assert found, "uv is not installed: run `make install`, which installs it from tools.lock"
    return found


def test_the_lock_matches_pyproject_toml(tmp_path: Path):
    """Checked offline from an empty cache: only what uv.lock itself holds can make it pass."""
    result = subprocess.run(
        [uv_executable(), "lock", "--locked", "--offline"],
        cwd=REPO_ROOT,
        env={**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache")},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"uv.lock is stale: run `make lock` and commit it.\n{result.stderr}"


def test_every_locked_package_has_an_exact_version_and_hashes():
    for name, package in locked_packages().items():
        if "registry" not in package["source"]:
            continue  # this repository itself
        assert package["version"], name
        artifacts = [package.get("sdist"), *package.get("wheels", [])]
        assert artifacts and all(a["hash"].startswith("sha256:") for a in artifacts if a), name


def test_pre_commit_installs_the_locked_versions_of_the_check_group():
    packages = locked_packages()
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    wanted = [re.split(r"[<>=!~;\[ ]", requirement)[0] for requirement in pyproject["dependency-groups"]["check"]]
    closure: set[str] = set()
    while wanted:
        name = wanted.pop().lower()
        if name not in closure:
            closure.add(name)
            wanted += [dependency["name"] for dependency in packages[name].get("dependencies", [])]
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text())
    [hook] = [hook for repo in config["repos"] for hook in repo["hooks"] if hook["id"] == "nope-check"]
    assert sorted(hook["additional_dependencies"]) == sorted(f"{name}=={packages[name]['version']}" for name in closure)


def test_pre_commit_runs_the_locked_ruff():
    """`make lint`, CI and pre-commit report the same findings only at the same ruff."""
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text())
    [hook] = [hook for repo in config["repos"] for hook in repo["hooks"] if hook["id"] == "ruff"]
    assert hook["additional_dependencies"] == [f"ruff=={locked_packages()['ruff']['version']}"]


def test_pre_commit_runs_mypy_from_the_locked_environment():
    """mypy reads Dagster's types: pre-commit runs the one `make install` put in .venv from uv.lock."""
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text())
    [hook] = [hook for repo in config["repos"] for hook in repo["hooks"] if hook["id"] == "mypy"]
    assert (hook["entry"], hook["language"], hook["pass_filenames"]) == (".venv/bin/mypy", "system", False)
    assert "mypy" in locked_packages()
