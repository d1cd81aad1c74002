"""Deploy hooks: each target ships its scripts for the current environment, and tears them down when a branch goes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from nope import NopeProject, NopeSubprocessInvocationTarget
from nope.deploying import DeployError, deploy, teardown

from conftest import REPO_ROOT


class UploadingTarget(NopeSubprocessInvocationTarget):
    """Stands in for a hosted runtime: "uploads" by copying the script under uploads/<branch>/."""

    def deploy(self, context):
        if self.manifest.name == "broken":
            raise RuntimeError("the upload service refused the file")
        destination = context.repo_root / "uploads" / context.environment / self.script_path.name
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(self.script_path.read_bytes())
        return f"uploaded {self.script_path.name} to uploads/{context.environment}/"

    def teardown(self, context):
        shutil.rmtree(context.repo_root / "uploads" / context.environment)
        return f"removed uploads/{context.environment}/"


class UploadingProject(NopeProject):
    @classmethod
    def invocation_target_map(cls):
        return {"subprocess": NopeSubprocessInvocationTarget, "hosted": UploadingTarget}


def git(*args: str, cwd) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repo(make_defs):
    defs_path = make_defs(
        {
            "g/local.py": "print(1)\n",
            "g/local.yaml": "target: subprocess\n",
            "g/remote.py": "print(2)\n",
            "g/remote.yaml": "target: hosted\n",
        }
    )
    root = defs_path.parent
    git("init", "-q", "-b", "feature-x", cwd=root)
    git("-c", "user.email=ci@example.com", "-c", "user.name=ci", "commit", "-q", "--allow-empty", "-m", "start", cwd=root)
    return defs_path


def test_deploy_runs_each_targets_hook_with_the_current_branch(repo):
    outcomes = deploy(repo, UploadingProject.invocation_target_map())
    by_manifest = {outcome.manifest: outcome for outcome in outcomes}
    assert by_manifest["defs/g/local.yaml"].done is None
    assert by_manifest["defs/g/remote.yaml"].done == "uploaded remote.py to uploads/feature-x/"
    assert (repo.parent / "uploads/feature-x/remote.py").read_text() == "print(2)\n"


def test_an_explicit_branch_wins_over_git(repo):
    deploy(repo, UploadingProject.invocation_target_map(), branch="release")
    assert (repo.parent / "uploads/release/remote.py").is_file()


def test_one_failing_hook_is_reported_and_the_others_still_run(repo):
    (repo / "g/broken.py").write_text("print(3)\n")
    (repo / "g/broken.yaml").write_text("target: hosted\n")
    outcomes = {outcome.manifest: outcome for outcome in deploy(repo, UploadingProject.invocation_target_map())}
    assert outcomes["defs/g/broken.yaml"].error == "RuntimeError: the upload service refused the file"
    assert outcomes["defs/g/remote.yaml"].done


def test_a_detached_head_needs_an_explicit_branch(repo):
    git("checkout", "-q", "--detach", cwd=repo.parent)
    with pytest.raises(DeployError, match="detached HEAD; pass --branch"):
        deploy(repo, UploadingProject.invocation_target_map())


def test_nope_environment_where_deploy_runs_wins_over_git(repo, monkeypatch):
    """Targets and deploy hooks read the same value: a deployment's `production`, not the checkout's branch."""
    monkeypatch.setenv("NOPE_ENVIRONMENT", "production")
    deploy(repo, UploadingProject.invocation_target_map())
    assert (repo.parent / "uploads/production/remote.py").is_file()


def test_teardown_runs_each_targets_teardown_for_the_branch_that_went(repo):
    deploy(repo, UploadingProject.invocation_target_map(), branch="feature/Churn")
    outcomes = {outcome.manifest: outcome for outcome in teardown(repo, UploadingProject.invocation_target_map(), "feature/Churn")}
    assert outcomes["defs/g/remote.yaml"].done == "removed uploads/feature-churn/"
    assert outcomes["defs/g/local.yaml"].done is None
    assert not (repo.parent / "uploads/feature-churn").exists()


def test_production_is_never_torn_down(repo):
    deploy(repo, UploadingProject.invocation_target_map(), branch="production")
    with pytest.raises(DeployError, match="`production` is production, which `nope deploy --teardown` never removes"):
        teardown(repo, UploadingProject.invocation_target_map(), "production")
    assert (repo.parent / "uploads/production/remote.py").is_file()


def nope_deploy(root, *args: str) -> subprocess.CompletedProcess:
    """`python -m nope deploy` from a scratch repository with this repo's pyproject.toml (whose
    project has no `hosted` target, so that manifest is left out)."""
    (root / "defs/g/remote.yaml").unlink(missing_ok=True)
    shutil.copy(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "platform")}
    return subprocess.run(
        [sys.executable, "-m", "nope", "deploy", *args], cwd=root, env=environment, capture_output=True, text=True
    )


def test_the_nope_deploy_command_reports_each_manifest(repo):
    result = nope_deploy(repo.parent)
    assert result.returncode == 0, result.stderr
    assert "defs/g/local.yaml (subprocess): nothing to ship" in result.stdout
    assert "1 manifest(s), 0 failed" in result.stdout


def test_nope_deploy_refuses_a_tree_with_problems(repo):
    (repo / "g/bad.yaml").write_text("target: subprocess\n")
    result = nope_deploy(repo.parent)
    assert result.returncode == 1
    assert "defs/g/bad.yaml:1:1: has no script" in result.stdout
    assert "nothing was deployed" in result.stderr


def test_nope_deploy_on_a_detached_head_asks_for_a_branch(repo):
    git("checkout", "-q", "--detach", cwd=repo.parent)
    result = nope_deploy(repo.parent)
    assert result.returncode == 2
    assert "detached HEAD; pass --branch" in result.stderr
    assert nope_deploy(repo.parent, "--branch", "release").returncode == 0


def test_the_nope_deploy_teardown_command_names_the_branch_and_reports_each_manifest(repo):
    result = nope_deploy(repo.parent, "--teardown", "--branch", "feature/churn")
    assert result.returncode == 0, result.stderr
    assert "defs/g/local.yaml (subprocess): nothing to remove" in result.stdout
    missing = nope_deploy(repo.parent, "--teardown")
    assert missing.returncode == 2
    assert "--teardown needs --branch" in missing.stderr
