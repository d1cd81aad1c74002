"""A run's processes build only the manifests the run needs (platform/nope/run_scope.py).

Each test makes a manifest the run does not need unreadable as a manifest (invalid YAML): a
process that read it would stop with its problem, as a code server does in strict mode. So
a run that succeeds proves its processes never read that file, and a run that selects the
broken asset proves the narrowing falls back to reading everything and reporting it.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import dagster as dg
import pytest

from nope.run_scope import SCOPE_VARIABLE, RunScope, current_scope

from conftest import REPO_ROOT

SCRIPT = "from dagster_pipes import open_dagster_pipes\n\nwith open_dagster_pipes() as pipes:\n    pipes.report_asset_materialization()\n"
DAGSTER = str(Path(sys.executable).with_name("dagster"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """This repository's platform and definitions, with three groups: `needed`, `upstream`, `other`."""
    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "platform", root / "platform", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(REPO_ROOT / "definitions.py", root / "definitions.py")
    files = {
        "upstream/source.py": SCRIPT,
        "upstream/source.yaml": "target: subprocess\n",
        "needed/table.py": SCRIPT,
        "needed/table.yaml": "target: subprocess\ndeps: [upstream/source]\n",
        "other/report.py": SCRIPT,
        "other/report.yaml": "target: subprocess\n",
    }
    for relative, text in files.items():
        path = root / "defs" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def break_manifest(repo: Path, relative: str) -> None:
    (repo / "defs" / relative).write_text("target: subprocess\nowners: [team:x\n")


def materialize(repo: Path, selection: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """`dagster asset materialize --select ...` with the default (multiprocess) executor."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key not in (SCOPE_VARIABLE, "DAGSTER_HOME")}
    env.update(DAGSTER_HOME=str(home), PYTHONPATH=str(repo / "platform"))
    return subprocess.run(
        [DAGSTER, "asset", "materialize", "--select", selection, "-f", "definitions.py"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_run_of_one_asset_never_reads_other_groups(repo: Path, tmp_path: Path):
    break_manifest(repo, "other/report.yaml")
    result = materialize(repo, "needed/table", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RUN_SUCCESS" in result.stderr
    # The command and its step process both built `needed` only: the broken file was never read.
    assert "defs/other/report.yaml" not in result.stderr


def test_a_run_needs_no_manifest_of_its_assets_upstream_groups(repo: Path, tmp_path: Path):
    """A dep is only a key to Dagster: the upstream group is not read for the run."""
    break_manifest(repo, "upstream/source.yaml")
    result = materialize(repo, "needed/table", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_selection_beyond_plain_keys_reads_everything(repo: Path, tmp_path: Path):
    break_manifest(repo, "other/report.yaml")
    result = materialize(repo, "needed/table+", tmp_path)
    assert result.returncode != 0
    assert "defs/other/report.yaml:3:1: is not valid YAML" in result.stderr


def test_a_broken_manifest_the_run_needs_is_reported_as_ever(repo: Path, tmp_path: Path):
    break_manifest(repo, "needed/table.yaml")
    result = materialize(repo, "needed/table", tmp_path)
    assert result.returncode != 0
    assert "defs/needed/table.yaml:3:1: is not valid YAML" in result.stderr


# -- how a process knows its scope --------------------------------------------------------


def step_arguments(step_keys: list[str]) -> str:
    # How Dagster's step launchers pass a step worker its arguments (`get_command_args`);
    # building them needs Dagster's own private classes, which the test imports for that alone.
    from dagster._core.definitions.reconstruct import ReconstructableRepository  # no public API: see above
    from dagster._grpc.types import ExecuteStepArgs  # no public API builds them: see above

    repository = ReconstructableRepository.for_file(str(REPO_ROOT / "definitions.py"), "defs")
    origin = repository.get_reconstructable_job("__ASSET_JOB").get_python_origin()
    arguments = ExecuteStepArgs(job_origin=origin, run_id="a-run", step_keys_to_execute=step_keys)
    return base64.b64encode(zlib.compress(dg.serialize_value(arguments).encode())).decode()


@pytest.mark.parametrize(
    ("argv", "scope"),
    [
        (["/env/bin/dagster", "asset", "materialize", "--select", "a/b,c/d", "-f", "definitions.py"], RunScope(frozenset({"a/b", "c/d"}), frozenset())),
        (["/env/bin/dagster", "asset", "materialize", "--select=a/b"], RunScope(frozenset({"a/b"}), frozenset())),
        (["/env/bin/dagster", "asset", "materialize", "--select", "*"], None),
        (["/env/bin/dagster", "asset", "materialize", "--select", "group:sales"], None),
        (["/env/bin/dagster", "asset", "materialize", "-f", "definitions.py"], None),
        (["/env/bin/dagster", "dev"], None),
        (["/env/bin/python", "-m", "pytest"], None),
        (["/env/lib/dagster/__main__.py", "api", "execute_step", "--compressed-input-json", "garbage"], None),
    ],
)
def test_the_scope_comes_from_how_dagster_started_the_process(argv, scope, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(SCOPE_VARIABLE, raising=False)
    assert current_scope(argv) == scope


def test_a_step_worker_builds_its_own_step(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(SCOPE_VARIABLE, raising=False)
    argv = ["/env/lib/dagster/__main__.py", "api", "execute_step", "--compressed-input-json", step_arguments(["sales__orders"])]
    scope = current_scope(argv)
    assert scope == RunScope(frozenset(), frozenset({"sales__orders"}))
    assert scope is not None and scope.groups == {"sales"}


def test_step_processes_inherit_their_run_worker_s_scope(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(SCOPE_VARIABLE, RunScope(frozenset({"a/b"}), frozenset()).to_environment())
    assert current_scope(["/env/bin/python", "-c", textwrap.dedent("from multiprocessing import spawn")]) == RunScope(
        frozenset({"a/b"}), frozenset()
    )
