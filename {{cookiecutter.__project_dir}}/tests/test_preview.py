"""`make preview`: the assets a branch changed, run on a throwaway Dagster instance in the branch's environment."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from nope import preview
from test_diff import committed_platform_repository

from conftest import REPO_ROOT

PREVIEW = """make preview SELECT='key:"sales/orders"'"""
"""As docs/platform/environments.md has it."""


def test_make_preview_runs_the_selection_on_a_throwaway_instance_in_the_branchs_environment(tmp_path: Path):
    environment = f"preview-test-{os.getpid()}"
    summary, temporary = tmp_path / "summary.md", tmp_path / "tmp"
    temporary.mkdir()
    shell = {name: value for name, value in os.environ.items() if not name.startswith(("DAGSTER_", "MAKE", "MFLAGS"))}
    # What CI sets: the pull request's branch as the environment, and GitHub's job summary file.
    shell.update(NOPE_ENVIRONMENT=environment, GITHUB_STEP_SUMMARY=str(summary), TMPDIR=str(temporary))
    history = REPO_ROOT / ".dagster_home/history"
    history_before = sorted(history.iterdir()) if history.exists() else None
    try:
        result = subprocess.run(["bash", "-c", PREVIEW], cwd=REPO_ROOT, env=shell, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        outcome = f'Preview of `key:"sales/orders"` in environment `{environment}`: succeeded.'
        assert outcome in result.stdout
        assert summary.read_text() == f"{outcome}\n"
        assert (REPO_ROOT / "data" / environment / "sales/orders.csv").is_file()  # the branch's own data
    finally:
        shutil.rmtree(REPO_ROOT / "data" / environment, ignore_errors=True)
    assert list(temporary.glob("nope-preview-*")) == []  # the throwaway DAGSTER_HOME is gone
    assert (sorted(history.iterdir()) if history.exists() else None) == history_before  # the repository's instance untouched


def test_nothing_changed_says_so_and_succeeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setattr(preview, "changed_assets", lambda repo_root: "")  # `nope diff --format select` printed nothing
    monkeypatch.setenv("NOPE_ENVIRONMENT", "feature-x")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    assert preview.main(tmp_path) == 0
    said = "Nothing to preview: this branch changes no asset (environment `feature-x`)."
    assert said in capsys.readouterr().out
    assert (tmp_path / "summary.md").read_text() == f"{said}\n"


def test_a_preview_never_runs_in_production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("NOPE_ENVIRONMENT", "production")
    monkeypatch.setenv("NOPE_PREVIEW_SELECT", 'key:"sales/orders"')
    assert preview.main(tmp_path) == 2
    assert "a preview runs a branch's changes, never in production" in capsys.readouterr().err


def test_without_select_it_runs_what_nope_diff_says_the_branch_changed(tmp_path: Path):
    repo = committed_platform_repository(tmp_path / "repo", tmp_path / "repo")
    (repo / "defs/a/x.py").write_text("print('changed')\n")  # a/x, and downstream a/y and b/z
    assert preview.changed_assets(repo).split(",") == ["a/x", "a/y", "b/z"]
