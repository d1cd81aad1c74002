"""The benchmark still works: its trees load, and one tiny measurement per measure runs.

Benchmarks are not tests: figures are judged by `benchmarks/run.py` on a quiet machine,
never asserted here. This only keeps the script from rotting between runs, at a size
small enough to stay fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE

sys.path.insert(0, str(TEMPLATE / "benchmarks"))

import run  # noqa: E402
import trees  # noqa: E402

N = 20


@pytest.fixture(scope="module")
def bench_trees(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("bench")
    return trees.nope_tree(work, N), trees.components_tree(work, N)


def test_both_trees_hold_the_same_graph(bench_trees: tuple[Path, Path]):
    nope_repo, components_project = bench_trees
    names = sorted(asset.name for asset in trees.bench_assets(N))
    assert sorted(path.stem for path in (nope_repo / "defs").glob("*/*.yaml")) == names
    assert sorted(path.parent.name for path in components_project.rglob("defs.yaml")) == names


def test_one_measurement_of_each_kind_runs(bench_trees: tuple[Path, Path]):
    nope_repo, components_project = bench_trees
    load = run.measure(run.child("load", "nope", nope_repo))
    assert load.figures["assets"] == N
    assert load.peak_mb > 0
    assert run.measure(run.child("load", "floor", nope_repo)).figures["assets"] == N
    assert run.measure(run.child("load", "components", components_project)).figures["assets"] == N
    run.measure(*run.nope_check_command(nope_repo))  # raises if `nope check` reports a problem
    assert run.measure(run.child("run", "nope", nope_repo)).figures["assets"] == N
    samples = {("load", N, contender): [load] for contender in ("nope", "components", "floor")}
    samples |= {("check", N, contender): [load] for contender in ("nope", "components", "floor")}
    one_run = run.Sample(1.0, 1.0, {"per_asset": 1.0})
    samples |= {("run", 1, contender): [one_run] for contender in ("nope", "components", "floor", "bookkeeping")}
    assert "| load definitions, N=20 |" in run.table(samples, [N], 1)


CLI_ASSETS = 6  # 3 groups of 2: the chain still crosses both group boundaries


def test_the_cli_run_row_runs_every_step_in_a_process_of_its_own(tmp_path: Path):
    samples = run.run_benchmark([], 1, tmp_path, 0, log=lambda line: None, cli_assets=CLI_ASSETS, only=["cli-run"])
    for contender in ("nope", "components"):
        (sample,) = samples[("cli-run", CLI_ASSETS, contender)]
        assert sample.figures == {"assets": CLI_ASSETS, "steps": CLI_ASSETS, "step_processes": CLI_ASSETS}
    shown = run.table(samples, [], 0, CLI_ASSETS)
    assert "| `dagster asset materialize --select '*'`, 6 chained assets in 3 groups," in shown
    assert "load definitions" not in shown  # only the rows measured


def _log_line(pid: int, step: str) -> str:
    return f'2026-12-06 21:29:35 +0000 - dagster - DEBUG - __ASSET_JOB - 0d1e9833-22bd - {pid} - {step} - STEP_START - Started execution of step "{step}".'


def test_a_run_without_a_process_per_step_is_refused():
    multiprocess = "2026-12-06 21:29:32 +0000 - dagster - DEBUG - __ASSET_JOB - 0d1e9833-22bd - 100 - ENGINE_EVENT - Executing steps using multiprocess executor: parent process (pid: 100)"
    in_process = "2026-12-06 21:29:32 +0000 - dagster - DEBUG - __ASSET_JOB - 0d1e9833-22bd - 100 - ENGINE_EVENT - Executing steps in process (pid: 100)"
    assert run.cli_run_figures("", "\n".join([multiprocess, _log_line(101, "a"), _log_line(102, "b")]))["step_processes"] == 2
    for log in (
        [in_process, _log_line(100, "a"), _log_line(100, "b")],
        [multiprocess, _log_line(101, "a"), _log_line(101, "b")],
        [multiprocess, _log_line(100, "a")],
    ):
        with pytest.raises(RuntimeError):
            run.cli_run_figures("", "\n".join(log))


DIFF_MANIFESTS = 120  # 3 groups: the changed first asset has one downstream asset in each later group


def test_the_diff_row_times_nope_diff_against_nope_check(tmp_path: Path):
    samples = run.run_benchmark([], 1, tmp_path, 0, log=lambda line: None, only=["diff"], diff_manifests=DIFF_MANIFESTS)
    (diff,) = samples[("diff", DIFF_MANIFESTS, "nope")]
    assert diff.figures == {"modified": 1, "downstream": 2}
    assert samples[("diff", DIFF_MANIFESTS, "check")]
    shown = run.table(samples, [], 0, diff_manifests=DIFF_MANIFESTS)
    assert "| `nope diff`, one changed script among N=120, against `nope check` of the same tree |" in shown
    assert "load definitions" not in shown
