"""`target: modal`: scripts run on Modal, in the Modal environment named after the git branch.

Modal's cloud cannot be reached from tests: a stand-in `modal` command on PATH records what
it is asked and runs the script locally (tests/modal_stand_in.py). The git repository is real.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from nope import modal_target

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }}
from {{ cookiecutter.platform_package }}.settings import DEFAULT_OWNERS

from conftest import REPO_ROOT, environment_script, materialize, pipes_script, step_failure_text
from modal_stand_in import ModalStandIn, git_repository

SCRIPT = environment_script("MODAL_ENVIRONMENT")


@pytest.fixture
def modal_defs(make_defs):
    """A `target: modal` manifest in a scratch repository root (not yet a git repository)."""
    return make_defs({"models/churn.py": SCRIPT, "models/churn.yaml": "target: modal\n"})

def test_the_branch_names_the_environment_which_is_created_once(modal_defs, modal_stand_in, instance):
    repo = git_repository(modal_defs.parent, branch="feature/churn-model")
    defs = {{ cookiecutter.__project_class }}.make_definitions(defs_path=modal_defs)
    spec = next(iter(defs.resolve_all_asset_specs()))
    assert spec.kinds == {"modal"} and spec.owners == DEFAULT_OWNERS

    assert materialize(defs, instance).success
    assert materialize(defs, instance).success

    event = instance.get_latest_materialization_event(dg.AssetKey(["models", "churn"]))
    assert event.asset_materialization.metadata["environment"].value == "feature-churn-model"
    script = str(repo / "defs/models/churn.py")
    assert modal_stand_in.calls() == [
        ["environment", "list", "--json"],
        ["environment", "create", "feature-churn-model"],
        ["run", "-e", "feature-churn-model", script],
        ["environment", "list", "--json"],
        ["run", "-e", "feature-churn-model", script],
    ]
    assert modal_stand_in.environments() == ["main", "feature-churn-model"]


def test_a_detached_head_fails_the_step_asking_for_a_branch(modal_defs, modal_stand_in, instance):
    repo = git_repository(modal_defs.parent, branch="main")
    subprocess.run(["git", "checkout", "--quiet", "--detach"], cwd=repo, check=True)
    result = materialize({{ cookiecutter.__project_class }}.make_definitions(defs_path=modal_defs), instance)
    assert not result.success
    assert "has a detached HEAD: check out a branch" in step_failure_text(result)
    assert modal_stand_in.calls() == []


def test_outside_a_git_repository_the_step_fails_saying_so(modal_defs, modal_stand_in, instance, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(modal_defs.parent.parent))  # don't find an outer repo
    result = materialize({{ cookiecutter.__project_class }}.make_definitions(defs_path=modal_defs), instance)
    assert not result.success
    assert "Could not read the git branch" in step_failure_text(result)


def test_a_modal_error_such_as_a_missing_token_fails_the_step_with_its_message(
    modal_defs, modal_stand_in, instance, monkeypatch
):
    git_repository(modal_defs.parent, branch="main")
    monkeypatch.setenv("MODAL_STAND_IN_FAILS", "Token missing. Run `modal token new`.")
    result = materialize({{ cookiecutter.__project_class }}.make_definitions(defs_path=modal_defs), instance)
    assert not result.success
    assert "`modal environment list --json` exited with code 1: Token missing." in step_failure_text(result)


def test_without_the_modal_command_the_step_fails_saying_it_is_not_installed(
    modal_defs, instance, tmp_path, monkeypatch
):
    git_repository(modal_defs.parent, branch="main")
    monkeypatch.setenv("PATH", str(only_git(tmp_path)))
    monkeypatch.setattr(modal_target, "PLATFORM_COMMANDS", tmp_path)  # nor installed with the platform
    result = materialize({{ cookiecutter.__project_class }}.make_definitions(defs_path=modal_defs), instance)
    assert not result.success
    assert "`defs/models/churn.yaml` needs `modal`, which is not installed" in step_failure_text(result)


def test_the_modal_installed_with_the_platform_runs_without_it_on_path(modal_defs, instance, tmp_path, monkeypatch):
    """`make dev` runs Dagster from `.venv` without activating it: `modal`, added to the platform's
    dependencies, is in `.venv/bin/`, not on PATH."""
    git_repository(modal_defs.parent, branch="main")
    installed = ModalStandIn(tmp_path / "venv_bin")
    monkeypatch.setenv("PATH", str(only_git(tmp_path)))
    monkeypatch.setattr(modal_target, "PLATFORM_COMMANDS", installed.folder)
    assert materialize({{ cookiecutter.__project_class }}.make_definitions(defs_path=modal_defs), instance).success
    assert ["run", "-e", "main", str(modal_defs / "models/churn.py")] in installed.calls()


def only_git(tmp_path: Path) -> Path:
    """A PATH folder holding `git` alone."""
    git = shutil.which("git")
    assert git is not None, "these tests need git"
    folder = tmp_path / "only_git"
    folder.mkdir()
    (folder / "git").symlink_to(git)
    return folder


def test_nope_deploy_creates_the_branch_environment_before_any_run(modal_defs, modal_stand_in):
    from nope.deploying import deploy

    git_repository(modal_defs.parent, branch="feature/churn-model")
    target_map = {{ cookiecutter.__project_class }}.invocation_target_map()
    [outcome] = deploy(modal_defs, target_map)
    assert outcome.done == "Created Modal environment `feature-churn-model`"
    [again] = deploy(modal_defs, target_map)
    assert again.done == "Modal environment `feature-churn-model` is ready"
    assert modal_stand_in.environments() == ["main", "feature-churn-model"]


def test_manifest_args_reach_modal_run(make_defs, modal_stand_in, instance):
    defs_path = make_defs({"models/churn.py": SCRIPT, "models/churn.yaml": "target: modal\nargs: [--days, 7]\n"})
    repo = git_repository(defs_path.parent, branch="main")
    assert materialize({{ cookiecutter.__project_class }}.make_definitions(defs_path=defs_path), instance).success
    assert ["run", "-e", "main", str(repo / "defs/models/churn.py"), "--days", "7"] in modal_stand_in.calls()


def test_modal_gets_its_token_but_the_script_not_the_platforms_secrets(make_defs, modal_stand_in, instance, monkeypatch):
    monkeypatch.setenv("MODAL_TOKEN_ID", "ak-123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "platform-secret")
    script = pipes_script(token='os.environ.get("MODAL_TOKEN_ID")', secret='os.environ.get("AWS_SECRET_ACCESS_KEY", "hidden")')
    defs_path = make_defs({"models/churn.py": script, "models/churn.yaml": "target: modal\n"})
    git_repository(defs_path.parent, branch="main")
    assert materialize({{ cookiecutter.__project_class }}.make_definitions(defs_path=defs_path), instance).success
    metadata = instance.get_latest_materialization_event(dg.AssetKey(["models", "churn"])).asset_materialization.metadata
    assert (metadata["token"].value, metadata["secret"].value) == ("ak-123", "hidden")


def test_a_run_reads_the_git_branch_once(modal_defs, modal_stand_in, instance, tmp_path, monkeypatch):
    """The environment created and the one run in come from one reading: a branch switched between two cannot split them."""
    git_repository(modal_defs.parent, branch="main")
    recording = tmp_path / "recording_git"
    recording.mkdir()
    log = tmp_path / "git_calls.txt"
    (recording / "git").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {shutil.which("git")} "$@"\n')
    (recording / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{recording}:{os.environ['PATH']}")
    assert materialize({{ cookiecutter.__project_class }}.make_definitions(defs_path=modal_defs), instance).success
    branch_reads = [line for line in log.read_text().splitlines() if line.startswith("symbolic-ref")]
    assert branch_reads == ["symbolic-ref --quiet --short HEAD"]


def test_nope_environment_names_the_modal_environment_over_the_branch(modal_defs, modal_stand_in, instance, monkeypatch):
    """A deployment sets NOPE_ENVIRONMENT=production: its runs use Modal's `production`, whatever the checkout."""
    git_repository(modal_defs.parent, branch="feature/churn-model")
    monkeypatch.setenv("NOPE_ENVIRONMENT", "production")
    assert materialize({{ cookiecutter.__project_class }}.make_definitions(defs_path=modal_defs), instance).success
    assert ["run", "-e", "production", str(modal_defs / "models/churn.py")] in modal_stand_in.calls()
    event = instance.get_latest_materialization_event(dg.AssetKey(["models", "churn"]))
    assert event.asset_materialization.metadata["environment"].value == "production"


def test_nope_deploy_teardown_removes_the_branch_environment(modal_defs, modal_stand_in):
    from nope.deploying import deploy, teardown

    git_repository(modal_defs.parent, branch="main")
    target_map = {{ cookiecutter.__project_class }}.invocation_target_map()
    deploy(modal_defs, target_map, branch="feature/Churn-model")
    assert modal_stand_in.environments() == ["main", "feature-churn-model"]

    [outcome] = teardown(modal_defs, target_map, branch="feature/Churn-model")
    assert outcome.done == "Removed Modal environment `feature-churn-model`"
    assert ["environment", "delete", "feature-churn-model", "--confirm"] in modal_stand_in.calls()
    assert modal_stand_in.environments() == ["main"]
    [again] = teardown(modal_defs, target_map, branch="feature/Churn-model")
    assert again.done is None and again.error is None  # already gone: nothing to remove


def test_teardown_keeps_modals_default_environment(modal_defs, modal_stand_in):
    from nope.deploying import teardown

    git_repository(modal_defs.parent, branch="main")
    [outcome] = teardown(modal_defs, {{ cookiecutter.__project_class }}.invocation_target_map(), branch="main")
    assert outcome.done == "Kept Modal environment `main`: it is Modal's default"
    assert modal_stand_in.environments() == ["main"]
    assert not any(call[:2] == ["environment", "delete"] for call in modal_stand_in.calls())


def test_the_nope_deploy_teardown_command_removes_the_modal_environment(modal_defs, modal_stand_in):
    """`nope deploy --teardown --branch B`, as CI runs it when B is merged or deleted."""
    root = git_repository(modal_defs.parent, branch="main")
    shutil.copy(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "platform")}

    def nope(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "nope", *args], cwd=root, env=environment, capture_output=True, text=True)

    assert nope("deploy", "--branch", "feature/churn-model").returncode == 0
    result = nope("deploy", "--teardown", "--branch", "feature/churn-model")
    assert result.returncode == 0, result.stderr
    assert "defs/models/churn.yaml (modal): Removed Modal environment `feature-churn-model`" in result.stdout
    assert modal_stand_in.environments() == ["main"]
