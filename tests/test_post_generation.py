"""After generation: the next steps are printed, and the folder is a git repository with a first commit.

Run through the `cookiecutter` command, as platform owners do, so the hook's output is what they see.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE
from user_shell import user_env

COOKIECUTTER = Path(sys.executable).parent / "cookiecutter"
GIT_IDENTITY = {
    "GIT_CONFIG_GLOBAL": os.devnull,  # the machine's own settings do not count
    "GIT_CONFIG_NOSYSTEM": "1",
}


def bake_via_cli(output_dir: Path, env: dict[str, str], *answers: str) -> subprocess.CompletedProcess[str]:
    """`cookiecutter --no-input <template>` typed in a shell whose current folder is `output_dir`."""
    output_dir.mkdir(parents=True, exist_ok=True)
    return run_from(output_dir, [str(COOKIECUTTER), "--no-input", str(TEMPLATE), *answers], env)


def run_from(folder: Path, command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`command` started from `folder` as a shell starts it: with `PWD` naming that folder."""
    return subprocess.run(command, cwd=folder, env={**env, "PWD": str(folder)}, capture_output=True, text=True)


def new_shell(tmp_path: Path) -> dict[str, str]:
    """A new user's shell (tests/user_shell.py): the system PATH and an empty HOME."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return user_env(home)


def with_identity(tmp_path: Path) -> dict[str, str]:
    return {
        **new_shell(tmp_path),
        **GIT_IDENTITY,
        "GIT_AUTHOR_NAME": "Platform team",
        "GIT_AUTHOR_EMAIL": "platform@example.com",
        "GIT_COMMITTER_NAME": "Platform team",
        "GIT_COMMITTER_EMAIL": "platform@example.com",
        "EMAIL": "platform@example.com",
    }


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_the_hook_prints_the_next_steps_and_commits_everything_on_the_chosen_branch(tmp_path: Path):
    result = bake_via_cli(tmp_path, with_identity(tmp_path), "repository_branch=trunk")
    assert result.returncode == 0, result.stderr
    repo = tmp_path / "acme-data-platform"
    for step in ("cd acme-data-platform", "make dev", "make demo", "make test"):
        assert step in result.stdout, result.stdout
    assert "with a first commit" in result.stdout
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "trunk"
    assert len(git(repo, "log", "--format=%H").split()) == 1
    assert git(repo, "status", "--porcelain") == ""  # every generated file is in the commit
    assert "defs/group_a/asset_one.yaml" in git(repo, "ls-files")


def test_without_an_author_the_repository_is_created_and_the_commit_left_to_the_owner(tmp_path: Path):
    settings = tmp_path / "gitconfig"
    settings.write_text("[user]\n\tuseConfigOnly = true\n")  # no guessing an author from the host
    env = {key: value for key, value in new_shell(tmp_path).items() if not key.startswith(("GIT_", "EMAIL"))}
    env.update(GIT_IDENTITY, GIT_CONFIG_GLOBAL=str(settings))
    result = bake_via_cli(tmp_path, env)
    assert result.returncode == 0, result.stderr
    repo = tmp_path / "acme-data-platform"
    assert (repo / ".git").is_dir()
    assert "git config user.email" in result.stdout
    assert "make dev" in result.stdout


def test_without_git_the_bake_succeeds_and_says_what_to_do(tmp_path: Path):
    bin_without_git = tmp_path / "bin"
    bin_without_git.mkdir()
    for tool in ("python3", "sh"):
        found = shutil.which(tool)
        assert found, f"{tool} is not on PATH"
        (bin_without_git / tool).symlink_to(found)
    env = {**new_shell(tmp_path), "PATH": str(bin_without_git)}
    result = bake_via_cli(tmp_path / "out", env)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "out/acme-data-platform/.git").exists()
    assert "git is not installed" in result.stdout
    assert "cd acme-data-platform" in result.stdout


def test_inside_another_git_repository_no_nested_repository_is_made(tmp_path: Path):
    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)
    result = bake_via_cli(tmp_path / "platforms", with_identity(tmp_path))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "platforms/acme-data-platform/.git").exists()
    assert "inside another git repository" in result.stdout


@pytest.mark.parametrize(
    ("output_dir", "shown"),
    [
        pytest.param(".", "acme-data-platform", id="here"),
        pytest.param("build", "build/acme-data-platform", id="inside, as the template's make bake"),
        pytest.param("../beside", "../beside/acme-data-platform", id="beside, as cruft create --output-dir .."),
        pytest.param("../../far", "{tmp}/far/acme-data-platform", id="elsewhere: absolute"),
    ],
)
def test_the_next_steps_name_the_folder_as_the_shell_reaches_it(tmp_path: Path, output_dir: str, shown: str):
    shell_folder = tmp_path / "work/here"
    shell_folder.mkdir(parents=True)
    result = run_from(shell_folder, [str(COOKIECUTTER), "--no-input", "-o", output_dir, str(TEMPLATE)], with_identity(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"  cd {shown.format(tmp=tmp_path)}\n" in result.stdout, result.stdout


def test_without_a_shell_folder_the_next_steps_name_the_folder_absolutely(tmp_path: Path):
    env = {key: value for key, value in with_identity(tmp_path).items() if key != "PWD"}
    command = [str(COOKIECUTTER), "--no-input", "-o", str(tmp_path), str(TEMPLATE)]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"  cd {tmp_path}/acme-data-platform\n" in result.stdout, result.stdout
