"""Shared fixtures: the repository's paths, a real Dagster instance, and scratch `defs/` trees."""

from __future__ import annotations

import os
import shutil
import signal
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from modal_stand_in import ModalStandIn

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFS_PATH = REPO_ROOT / "defs"


def pipes_script(**metadata: str) -> str:
    """A script that reports one materialization through Pipes: each keyword is a metadata
    entry, its value the Python expression the script reports (`os` is imported for them)."""
    entries = ", ".join(f"{name}={expression}" for name, expression in metadata.items())
    return textwrap.dedent(
        f"""
        import os
        from dagster_pipes import open_dagster_pipes

        with open_dagster_pipes() as pipes:
            pipes.report_asset_materialization(metadata=dict({entries}))
        """
    )


PIPES_SCRIPT = pipes_script(reported_by='"the script"')
"""A script that reports, through Pipes, that it ran."""


def environment_script(variable: str) -> str:
    """A Pipes script that reports where it ran: `variable`'s value, as its `environment` metadata."""
    return pipes_script(environment=f'os.environ["{variable}"]')


@pytest.fixture(autouse=True)
def no_environment_from_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no NOPE_ENVIRONMENT, as on a laptop, whatever the shell that ran pytest
    set (CI sets one): the environment is then the git branch, or `local` outside git."""
    monkeypatch.delenv("NOPE_ENVIRONMENT", raising=False)


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A real, SQLite-backed Dagster instance in a temporary folder."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as test_instance:
        yield test_instance


@pytest.fixture
def repo_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of this repository's defs/ in a scratch repo root, which becomes the cwd."""
    root = tmp_path / "repo"
    shutil.copytree(DEFS_PATH, root / "defs")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def make_defs(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Write a scratch defs/ tree from {relative path: text}; returns the defs/ path."""

    def write(files: dict[str, str]) -> Path:
        defs = tmp_path / "scratch" / "defs"
        for relative, text in files.items():
            path = defs / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        defs.mkdir(parents=True, exist_ok=True)
        return defs

    return write


def materialize(defs: dg.Definitions, instance: dg.DagsterInstance, **kwargs: Any) -> dg.ExecuteInProcessResult:
    """Materialize every asset of `defs` on `instance`, the way a run from the UI would."""
    assets: list[dg.AssetsDefinition | dg.AssetSpec | dg.SourceAsset] = []
    for asset in defs.assets or []:
        # Dagster's deprecated cacheable assets cannot be materialized this way; Nope makes none.
        assert isinstance(asset, dg.AssetsDefinition | dg.AssetSpec | dg.SourceAsset), f"not materializable: {asset!r}"
        assets.append(asset)
    return dg.materialize(assets, resources=defs.resources, instance=instance, raise_on_error=False, **kwargs)


@pytest.fixture
def modal_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModalStandIn:
    """A stand-in `modal` command first on PATH: Modal's cloud cannot be reached from tests."""
    stand_in = ModalStandIn(tmp_path / "modal_bin")
    monkeypatch.setenv("PATH", f"{stand_in.folder}{os.pathsep}{os.environ['PATH']}")
    return stand_in


def process_alive(pid: int) -> bool:
    """Whether `pid` runs: a zombie (exited, not yet reaped by its parent) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def wait_until_gone(pids: list[int], deadline_seconds: float = 30) -> list[int]:
    """The pids still alive after waiting up to `deadline_seconds` for them all to end."""
    deadline = time.monotonic() + deadline_seconds
    while any(process_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if process_alive(pid)]


def wait_for_file(path: Path, deadline_seconds: float = 120) -> str:
    """The text of `path` once a process wrote it (a full line), failing the test past the deadline."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text()
        time.sleep(0.1)
    raise AssertionError(f"{path} was not written within {deadline_seconds} seconds")


@pytest.fixture
def leftovers() -> Iterator[list[int]]:
    """Pids a test started indirectly; whatever still runs at the end is killed, so no test leaks processes."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)


def specs_by_key(defs: dg.Definitions) -> dict[str, dg.AssetSpec]:
    """Every asset spec of `defs`, by its key written `group/name`."""
    return {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}


def step_failure_text(result: dg.ExecuteInProcessResult) -> str:
    """The step failure's message, with its cause's when it has one."""
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None, "the step failed without an error"
    return error.message + (error.cause.message if error.cause else "")


def description_of(spec: dg.AssetSpec) -> str:
    """The spec's description, which every Nope asset has (its script's source at the least)."""
    assert spec.description is not None, f"{spec.key.to_user_string()} has no description"
    return spec.description
