"""The benchmark: Nope against Dagster Components and against the floor, as one table.

    python benchmarks/run.py                    # N = 1,000 and 10,000, 3 rounds
    python benchmarks/run.py --quick            # N = 1,000 only, a 12-asset CLI run, 2 rounds
    python benchmarks/run.py --only cli-run     # one row (or several: load check run cli-run diff)

Every measurement is a fresh process (`contenders.py`), timed from launch to exit, with
its peak memory read from the kernel (`os.wait4`). The machine is shared and noisy, so
contenders alternate within each round (the order rotates every round, so nobody always
runs on a cold or a hot cache) and the table shows medians; the ratios inside one run
are what to compare, not the absolute seconds.

`nope check` runs the repository's command line (`python -m nope check`) when the loader
has one (`platform/nope/cli.py`), else `NopeProject.load()`, the same dagster-free code path.

The `cli-run` row is the real path of a run: `dagster asset materialize --select '*'` over a
single chain of 30 Pipes assets in 3 groups, on a fresh instance, with Dagster's default
multiprocess executor (the command's process, then one process per step, one after the other).
Its log is read afterwards to prove that every step ran in a process of its own.

The `diff` row times `nope diff` (the base read from git, both sides resolved and compared) on
a repository of 5,000 manifests in git where a branch changed one script, against `nope check`
of the same tree, alternating; the issue's bar is 3× `nope check`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import trees  # noqa: E402

CONTENDERS_SCRIPT = HERE / "contenders.py"
RUN_ASSETS = 50
CLI_ASSETS = 30  # the CLI run row: one chain of 30 assets ...
QUICK_CLI_ASSETS = 12  # (--quick: of 12) ...
CLI_GROUPS = 3  # ... in 3 groups of equal size
DIFF_MANIFESTS = 5000  # the diff row: one changed script among 5,000 manifests
ROWS = ("load", "check", "run", "cli-run", "diff")
"""What `--only` can pick: load definitions (and its peak memory), check, the in-process
materialize, the `dagster asset materialize` run, and `nope diff` against `nope check`."""


@dataclass
class Sample:
    seconds: float
    peak_mb: float
    figures: dict
    timed_out: bool = False
    """Stopped at the time limit: `seconds` is then a lower bound, shown as `> ...`."""


def _environment() -> dict[str, str]:
    """The child environment: this interpreter's tools first on PATH, no warning noise.

    Components' `PythonScriptComponent` runs scripts with the `python` it finds on PATH;
    putting this interpreter's folder first gives both contenders the same Python.
    """
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONWARNINGS"] = "ignore"
    env["DAGSTER_HOME"] = str(Path(tempfile.gettempdir()) / "nope-benchmarks-dagster-home")
    Path(env["DAGSTER_HOME"]).mkdir(exist_ok=True)
    telemetry = Path(env["DAGSTER_HOME"]) / "dagster.yaml"
    telemetry.write_text("telemetry:\n  enabled: false\n")
    return env


TIME_LIMIT = 180.0


def json_figures(stdout: str, stderr: str) -> dict:
    """The figures a `contenders.py` process printed: its last line of output, if JSON."""
    last_line = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    return json.loads(last_line) if last_line.startswith("{") else {}


def measure(
    command: list[str],
    cwd: Path | None = None,
    env: dict | None = None,
    *,
    read_figures: Callable[[str, str], dict] = json_figures,
) -> Sample:
    """Run one fresh process; its wall time, peak resident memory and the figures in its output.

    A process still running after `TIME_LIMIT` seconds is stopped: one contender taking
    many minutes per sample would otherwise make the whole benchmark unaffordable, and a
    lower bound is enough to show how far apart the contenders are. `read_figures` gets the
    process's stdout and stderr once it succeeded.
    """
    began = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            command, cwd=cwd, env=env or _environment(), stdout=out, stderr=err, start_new_session=True
        )
        # os.wait4 rather than Popen.wait: it also returns the child's peak memory. Linux
        # counts the forked copy of this process (~15 MB) too, a floor far below any load.
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            seconds = time.perf_counter() - began
            if pid:
                break
            if seconds > TIME_LIMIT:
                os.killpg(process.pid, signal.SIGKILL)  # the child's own session: it and its subprocesses
                _, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if seconds > TIME_LIMIT:
        return Sample(TIME_LIMIT, usage.ru_maxrss / 1024, {}, timed_out=True)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-3000:]}")
    return Sample(seconds, usage.ru_maxrss / 1024, read_figures(stdout, stderr))


def child(measure_name: str, contender: str, tree: Path) -> list[str]:
    return [sys.executable, str(CONTENDERS_SCRIPT), measure_name, contender, str(tree)]


def nope_check_command(repo: Path) -> tuple[list[str], Path, dict]:
    """`python -m nope check defs` from the repository when the CLI exists, else `NopeProject.load()`."""
    env = _environment()
    if (repo / "platform" / "nope" / "cli.py").exists():
        env["PYTHONPATH"] = str(repo / "platform")
        return [sys.executable, "-m", "nope", "check", "defs"], repo, env
    return child("check", "nope", repo), repo, env


def nope_diff_command(repo: Path) -> tuple[list[str], Path, dict]:
    """`python -m nope diff --format json` in the repository: the branch against its merge base with `main`."""
    env = _environment()
    env["PYTHONPATH"] = str(repo / "platform")
    return [sys.executable, "-m", "nope", "diff", "--format", "json"], repo, env


def diff_figures(stdout: str, stderr: str) -> dict:
    """What the diff found: one modified asset, and how many downstream."""
    report = json.loads(stdout)
    return {"modified": len(report["modified"]), "downstream": len(report["downstream"])}


def dg_command() -> list[str]:
    dg = Path(sys.executable).parent / "dg"
    if not dg.exists():
        raise SystemExit("`dg` not found next to this Python: run the benchmark with `make benchmarks` (see benchmarks/README.md)")
    return [str(dg), "check", "yaml"]


DAGSTER = Path(sys.executable).with_name("dagster")

# The instance of every CLI run, in a fresh DAGSTER_HOME. An instance cannot choose an executor:
# a job's comes from its definitions, and neither contender sets one, so both run on Dagster's
# default, multiprocess (a process per step). `cli_run_figures` checks that from the run's log.
CLI_RUN_INSTANCE = "telemetry:\n  enabled: false\n"


def cli_run_command(contender: str, tree: Path, home: Path) -> tuple[list[str], Path, dict]:
    """`dagster asset materialize --select '*'` of a whole tree, on the fresh instance in `home`.

    Ours loads the baked repository's `definitions.py`, Components the project's
    `bench_definitions.py` (`load_from_defs_folder`, what its `definitions.py` would hold).
    """
    if not DAGSTER.exists():
        raise SystemExit("`dagster` not found next to this Python: run the benchmark with `make benchmarks`")
    target, import_path = {
        "nope": ("definitions.py", tree / "platform"),
        "components": ("bench_definitions.py", tree),
    }[contender]
    (home / "dagster.yaml").write_text(CLI_RUN_INSTANCE)
    env = {key: value for key, value in _environment().items() if not key.startswith(("DAGSTER_", "NOPE_"))}
    env.update(DAGSTER_HOME=str(home), PYTHONPATH=str(import_path))
    return [str(DAGSTER), "asset", "materialize", "--select", "*", "-f", target], tree, env


# Dagster's console log line of an event: `... - <job> - <run id> - <pid> - [<step key> - ]<EVENT> - <message>`.
_EVENT_LINE = re.compile(r" - (?P<pid>\d+) - (?:(?P<step>\S+) - )?(?P<event>[A-Z_]+) - ")
_MULTIPROCESS = re.compile(r"Executing steps using multiprocess executor: parent process \(pid: (?P<pid>\d+)\)")


def cli_run_figures(stdout: str, stderr: str) -> dict:
    """Assets materialized and step processes, read from the run's log; raises unless every step had its own process."""
    parent = _MULTIPROCESS.search(stderr)
    if parent is None:
        raise RuntimeError(f"the run did not use the multiprocess executor:\n{stderr[-3000:]}")
    step_pids: dict[str, str] = {}
    materialized = 0
    for line in stderr.splitlines():
        event = _EVENT_LINE.search(line)
        if event is None:
            continue
        if event["event"] == "STEP_START":
            step_pids[event["step"]] = event["pid"]
        elif event["event"] == "ASSET_MATERIALIZATION":
            materialized += 1
    processes = set(step_pids.values())
    if len(processes) != len(step_pids) or parent["pid"] in processes:
        raise RuntimeError(f"steps shared a process (parent {parent['pid']}): {step_pids}")
    return {"assets": materialized, "steps": len(step_pids), "step_processes": len(processes)}


def measure_cli_run(contender: str, tree: Path, assets: int) -> Sample:
    """One CLI run of `tree` (`assets` chained assets) in a fresh DAGSTER_HOME, removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="nope-benchmarks-home-"))
    try:
        sample = measure(*cli_run_command(contender, tree, home), read_figures=cli_run_figures)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if not sample.timed_out and not sample.figures["assets"] == sample.figures["step_processes"] == assets:
        raise RuntimeError(f"{contender}: expected {assets} assets, each in a step process of its own: {sample.figures}")
    return sample


def rotated(items: list, by: int) -> list:
    if not items:
        return items
    by %= len(items)
    return items[by:] + items[:by]


def run_benchmark(
    sizes: list[int],
    rounds: int,
    work: Path,
    run_assets: int,
    log=print,
    *,
    cli_assets: int = CLI_ASSETS,
    only: Collection[str] = ROWS,
    diff_manifests: int = DIFF_MANIFESTS,
) -> dict:
    """The `only` rows' measurements, `rounds` times, contenders alternating; samples by (measure, N, contender).

    A contender that hit the time limit is not run again for that measure and size: its
    lower bound is known, and repeating it would only cost the same minutes again.
    """
    samples: dict[tuple, list[Sample]] = defaultdict(list)
    load_sizes = sizes if {"load", "check"} & set(only) else []
    tree_sizes = [*load_sizes, *([run_assets] if "run" in only else [])]
    nope_trees = {n: trees.nope_tree(work, n) for n in tree_sizes}
    components_trees = {n: trees.components_tree(work, n) for n in tree_sizes}
    cli_trees: dict[str, Path] = {}
    if "cli-run" in only:
        group_size = cli_assets // CLI_GROUPS
        cli_trees["nope"] = trees.nope_tree(work, cli_assets, group_size, single_chain=True)
        cli_trees["components"] = trees.components_tree(work, cli_assets, group_size, single_chain=True)

    diff_repo = trees.diff_tree(work, diff_manifests) if "diff" in only else None

    def take(key: tuple, run_one, describe) -> None:
        if any(sample.timed_out for sample in samples[key]):
            return
        sample = run_one()
        samples[key].append(sample)
        log(f"round {round_index + 1}/{rounds}  {key[0]:7} N={key[1]:<6} {key[2]:11} {describe(sample)}")

    def seconds(sample: Sample) -> str:
        return f"> {sample.seconds:.0f} s (stopped)" if sample.timed_out else f"{sample.seconds:7.2f} s"

    for round_index in range(rounds):
        for n in load_sizes:
            loads = {
                "nope": lambda n=n: measure(child("load", "nope", nope_trees[n])),
                "components": lambda n=n: measure(child("load", "components", components_trees[n])),
                "floor": lambda n=n: measure(child("load", "floor", nope_trees[n])),
            }
            checks = {
                "nope": lambda n=n: measure(*nope_check_command(nope_trees[n])),
                "components": lambda n=n: measure(dg_command(), cwd=components_trees[n]),
                "floor": lambda n=n: measure(child("check", "floor", nope_trees[n])),
            }
            for measure_name, contenders in (("load", loads), ("check", checks)):
                if measure_name in only:
                    for contender in rotated(list(contenders), round_index):
                        take((measure_name, n, contender), contenders[contender], seconds)
        if "run" in only:
            runs = {
                "nope": lambda: measure(child("run", "nope", nope_trees[run_assets])),
                "components": lambda: measure(child("run", "components", components_trees[run_assets])),
                "floor": lambda: measure(child("run", "floor", nope_trees[run_assets])),
                "bookkeeping": lambda: measure(child("run", "bookkeeping", nope_trees[run_assets])),
            }
            for contender in rotated(list(runs), round_index):
                take(("run", run_assets, contender), runs[contender], lambda sample: f"{_per_asset(sample) * 1000:7.1f} ms/asset")
        if diff_repo is not None:
            diffs = {
                "nope": lambda: measure(*nope_diff_command(diff_repo), read_figures=diff_figures),
                "check": lambda: measure(*nope_check_command(diff_repo)),
            }
            for contender in rotated(list(diffs), round_index):
                take(("diff", diff_manifests, contender), diffs[contender], seconds)
        for contender in rotated(list(cli_trees), round_index):
            take(
                ("cli-run", cli_assets, contender),
                lambda contender=contender: measure_cli_run(contender, cli_trees[contender], cli_assets),
                lambda sample: f"{seconds(sample)} ({sample.seconds / cli_assets:.2f} s/asset)",
            )
    return samples


def _per_asset(sample: Sample) -> float:
    return sample.figures.get("per_asset", float("inf"))


@dataclass(frozen=True)
class Figure:
    """A median; `at_least` when it comes from a stopped process (a lower bound)."""

    value: float
    at_least: bool = False

    @classmethod
    def median(cls, samples: list[Sample], value=lambda sample: sample.seconds) -> Figure:
        middle = statistics.median(value(sample) for sample in samples)
        stopped = [value(sample) for sample in samples if sample.timed_out]
        return cls(middle, bool(stopped) and middle >= min(stopped))

    def seconds(self) -> str:
        text = f"{self.value:.2f} s" if self.value >= 0.1 else f"{self.value * 1000:.0f} ms"
        return f"> {text}" if self.at_least else text

    def megabytes(self) -> str:
        return f"{'> ' if self.at_least else ''}{self.value:.0f} MB"


def ratio(numerator: Figure, denominator: Figure, digits: int = 1) -> str:
    """numerator / denominator; `>` when only the numerator is a lower bound, `?` when both or the denominator are."""
    if denominator.at_least:
        return "?"
    return f"{'> ' if numerator.at_least else ''}{numerator.value / denominator.value:.{digits}f}×"


def table(
    samples: dict, sizes: list[int], run_assets: int, cli_assets: int = CLI_ASSETS, diff_manifests: int = DIFF_MANIFESTS
) -> str:
    """The issue's table, in Markdown, from medians: the rows of the measures that were taken."""
    rows = ["| measure | ours | Dagster Components | floor | ratios |", "|---|---|---|---|---|"]
    contenders = ("nope", "components", "floor")

    def taken(measure_name: str, n: int, who: tuple[str, ...] = contenders) -> bool:
        return all(samples.get((measure_name, n, contender)) for contender in who)

    load = {(n, c): Figure.median(samples[("load", n, c)]) for n in sizes if taken("load", n) for c in contenders}
    for n in sizes:
        if taken("load", n):
            ours, peer, floor = (load[(n, c)] for c in contenders)
            rows.append(
                f"| load definitions, N={n:,} | {ours.seconds()} | {peer.seconds()} | {floor.seconds()} "
                f"| peer/ours {ratio(peer, ours)}, ours/floor {ratio(ours, floor, 2)} |"
            )
    small, large = (sizes[0], sizes[-1]) if sizes else (0, 0)
    if len(sizes) > 1 and taken("load", small) and taken("load", large):
        growth = [ratio(load[(large, c)], load[(small, c)]) for c in contenders]
        rows.append(
            f"| load growth, N={large:,} / N={small:,} | {growth[0]} | {growth[1]} | {growth[2]} "
            f"| linear would be {large / small:.0f}× |"
        )
    for n in sizes:
        if taken("check", n):
            ours, peer, floor = (Figure.median(samples[("check", n, c)]) for c in contenders)
            against_load = f", ours check/ours load {ratio(ours, load[(n, 'nope')], 2)}" if taken("load", n) else ""
            rows.append(
                f"| `nope check` vs `dg check yaml`, N={n:,} | {ours.seconds()} | {peer.seconds()} | {floor.seconds()} "
                f"| peer/ours {ratio(peer, ours)}, ours/floor {ratio(ours, floor)}{against_load} |"
            )
    for n in sizes:
        if taken("load", n):
            ours, peer, floor = (
                Figure.median(samples[("load", n, c)], lambda sample: sample.peak_mb) for c in contenders
            )
            rows.append(
                f"| peak memory while loading, N={n:,} | {ours.megabytes()} | {peer.megabytes()} | {floor.megabytes()} "
                f"| peer/ours {ratio(peer, ours)}, ours/floor {ratio(ours, floor, 2)} |"
            )
    if taken("run", run_assets, (*contenders, "bookkeeping")):
        ours, peer, launch, step = (
            Figure.median(samples[("run", run_assets, c)], _per_asset) for c in (*contenders, "bookkeeping")
        )
        rows.append(
            f"| materialize {run_assets} assets in process, per asset | {ours.seconds()} | {peer.seconds()} "
            f"| {launch.seconds()} launch (+ {step.seconds()} Dagster step) "
            f"| peer/ours {ratio(peer, ours, 2)}, ours/(launch + step) {ratio(ours, Figure(launch.value + step.value), 2)} |"
        )
    if taken("cli-run", cli_assets, ("nope", "components")):
        ours_run, peer_run = (Figure.median(samples[("cli-run", cli_assets, c)]) for c in ("nope", "components"))
        ours, peer = (Figure(run.value / cli_assets, run.at_least) for run in (ours_run, peer_run))
        rows.append(
            f"| `dagster asset materialize --select '*'`, {cli_assets} chained assets in {CLI_GROUPS} groups, "
            f"a process per step, per asset | {ours.seconds()} | {peer.seconds()} | – "
            f"| ours/peer {ratio(ours, peer, 2)} (whole run {ours_run.seconds()} against {peer_run.seconds()}) |"
        )
    if taken("diff", diff_manifests, ("nope", "check")):
        ours, check = (Figure.median(samples[("diff", diff_manifests, c)]) for c in ("nope", "check"))
        rows.append(
            f"| `nope diff`, one changed script among N={diff_manifests:,}, against `nope check` of the same tree "
            f"| {ours.seconds()} | – | {check.seconds()} (`nope check`) | diff/check {ratio(ours, check, 2)} (bar: 3×) |"
        )
    return "\n".join(rows)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    quick = f"N=1,000 only, a {QUICK_CLI_ASSETS}-asset CLI run, 2 rounds"
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--sizes", type=int, nargs="+", help="tree sizes (default 1000 10000)")
    parser.add_argument("--rounds", type=int, help="rounds of every measurement (default 3, quick 2)")
    parser.add_argument("--run-assets", type=int, default=RUN_ASSETS, help="assets materialized per run (default 50)")
    parser.add_argument(
        "--cli-assets",
        type=int,
        help=f"chained assets of the CLI run, a multiple of {CLI_GROUPS} (default {CLI_ASSETS}, quick {QUICK_CLI_ASSETS})",
    )
    parser.add_argument(
        "--diff-manifests", type=int, default=DIFF_MANIFESTS, help=f"manifests of the diff row's tree (default {DIFF_MANIFESTS:,})"
    )
    parser.add_argument("--only", nargs="+", choices=ROWS, default=list(ROWS), help="measure only these rows")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "nope-benchmarks", help="where trees are generated"
    )
    parser.add_argument("--json", type=Path, help="also write every sample here")
    parser.add_argument("--time-limit", type=float, help="seconds before a measurement is stopped (default 180)")
    args = parser.parse_args(argv)
    global TIME_LIMIT  # one setting for every measurement of this run
    TIME_LIMIT = args.time_limit or TIME_LIMIT
    sizes = args.sizes or ([1000] if args.quick else [1000, 10000])
    rounds = args.rounds or (2 if args.quick else 3)
    cli_assets = args.cli_assets or (QUICK_CLI_ASSETS if args.quick else CLI_ASSETS)
    if cli_assets < CLI_GROUPS or cli_assets % CLI_GROUPS:
        parser.error(f"--cli-assets must be a positive multiple of {CLI_GROUPS} (the CLI run's groups)")

    began = time.perf_counter()
    samples = run_benchmark(
        sizes,
        rounds,
        args.work,
        args.run_assets,
        log=lambda line: print(line, file=sys.stderr),
        cli_assets=cli_assets,
        only=args.only,
        diff_manifests=args.diff_manifests,
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n{when}; {machine()}; {rounds} rounds, medians; {time.perf_counter() - began:.0f} s in all\n")
    print(table(samples, sizes, args.run_assets, cli_assets, args.diff_manifests))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {"measure": key[0], "n": key[1], "contender": key[2], **vars(sample)}
                    for key, values in samples.items()
                    for sample in values
                ],
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
