"""The benchmark: Nope against Dagster Components and against the floor, as one table.

    python benchmarks/run.py            # N = 1,000 and 10,000, 3 rounds
    python benchmarks/run.py --quick    # N = 1,000 only, 2 rounds

Every measurement is a fresh process (`contenders.py`), timed from launch to exit, with
its peak memory read from the kernel (`os.wait4`). The machine is shared and noisy, so
contenders alternate within each round (the order rotates every round, so nobody always
runs on a cold or a hot cache) and the table shows medians; the ratios inside one run
are what to compare, not the absolute seconds.

`nope check` runs the repository's command line (`python -m nope check`) when the loader
has one (`platform/nope/cli.py`), else `NopeProject.load()`, the same dagster-free code path.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import trees  # noqa: E402

CONTENDERS_SCRIPT = HERE / "contenders.py"
RUN_ASSETS = 50


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


def measure(command: list[str], cwd: Path | None = None, env: dict | None = None) -> Sample:
    """Run one fresh process; its wall time, peak resident memory and the JSON it printed.

    A process still running after `TIME_LIMIT` seconds is stopped: one contender taking
    many minutes per sample would otherwise make the whole benchmark unaffordable, and a
    lower bound is enough to show how far apart the contenders are.
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
    last_line = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    figures = json.loads(last_line) if last_line.startswith("{") else {}
    return Sample(seconds, usage.ru_maxrss / 1024, figures)


def child(measure_name: str, contender: str, tree: Path) -> list[str]:
    return [sys.executable, str(CONTENDERS_SCRIPT), measure_name, contender, str(tree)]


def nope_check_command(repo: Path) -> tuple[list[str], Path, dict]:
    """`python -m nope check defs` from the repository when the CLI exists, else `NopeProject.load()`."""
    env = _environment()
    if (repo / "platform" / "nope" / "cli.py").exists():
        env["PYTHONPATH"] = str(repo / "platform")
        return [sys.executable, "-m", "nope", "check", "defs"], repo, env
    return child("check", "nope", repo), repo, env


def dg_command() -> list[str]:
    dg = Path(sys.executable).parent / "dg"
    if not dg.exists():
        raise SystemExit("`dg` not found next to this Python: run the benchmark with `make benchmarks` (see benchmarks/README.md)")
    return [str(dg), "check", "yaml"]


def rotated(items: list, by: int) -> list:
    by %= len(items)
    return items[by:] + items[:by]


def run_benchmark(sizes: list[int], rounds: int, work: Path, run_assets: int, log=print) -> dict:
    """Every measurement, `rounds` times, contenders alternating; returns samples by (measure, N, contender).

    A contender that hit the time limit is not run again for that measure and size: its
    lower bound is known, and repeating it would only cost the same minutes again.
    """
    samples: dict[tuple, list[Sample]] = defaultdict(list)
    nope_trees = {n: trees.nope_tree(work, n) for n in [*sizes, run_assets]}
    components_trees = {n: trees.components_tree(work, n) for n in [*sizes, run_assets]}

    def take(key: tuple, run_one, describe) -> None:
        if any(sample.timed_out for sample in samples[key]):
            return
        sample = run_one()
        samples[key].append(sample)
        log(f"round {round_index + 1}/{rounds}  {key[0]:5} N={key[1]:<6} {key[2]:11} {describe(sample)}")

    def seconds(sample: Sample) -> str:
        return f"> {sample.seconds:.0f} s (stopped)" if sample.timed_out else f"{sample.seconds:7.2f} s"

    for round_index in range(rounds):
        for n in sizes:
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
                for contender in rotated(list(contenders), round_index):
                    take((measure_name, n, contender), contenders[contender], seconds)
        runs = {
            "nope": lambda: measure(child("run", "nope", nope_trees[run_assets])),
            "components": lambda: measure(child("run", "components", components_trees[run_assets])),
            "floor": lambda: measure(child("run", "floor", nope_trees[run_assets])),
            "bookkeeping": lambda: measure(child("run", "bookkeeping", nope_trees[run_assets])),
        }
        for contender in rotated(list(runs), round_index):
            take(("run", run_assets, contender), runs[contender], lambda sample: f"{_per_asset(sample) * 1000:7.1f} ms/asset")
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


def table(samples: dict, sizes: list[int], run_assets: int) -> str:
    """The issue's table, in Markdown, from medians."""
    rows = ["| measure | ours | Dagster Components | floor | ratios |", "|---|---|---|---|---|"]
    contenders = ("nope", "components", "floor")
    load = {(n, c): Figure.median(samples[("load", n, c)]) for n in sizes for c in contenders}
    for n in sizes:
        ours, peer, floor = (load[(n, c)] for c in contenders)
        rows.append(
            f"| load definitions, N={n:,} | {ours.seconds()} | {peer.seconds()} | {floor.seconds()} "
            f"| peer/ours {ratio(peer, ours)}, ours/floor {ratio(ours, floor, 2)} |"
        )
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        growth = [ratio(load[(large, c)], load[(small, c)]) for c in contenders]
        rows.append(
            f"| load growth, N={large:,} / N={small:,} | {growth[0]} | {growth[1]} | {growth[2]} "
            f"| linear would be {large / small:.0f}× |"
        )
    for n in sizes:
        ours, peer, floor = (Figure.median(samples[("check", n, c)]) for c in contenders)
        rows.append(
            f"| `nope check` vs `dg check yaml`, N={n:,} | {ours.seconds()} | {peer.seconds()} | {floor.seconds()} "
            f"| peer/ours {ratio(peer, ours)}, ours/floor {ratio(ours, floor)}, "
            f"ours check/ours load {ratio(ours, load[(n, 'nope')], 2)} |"
        )
    for n in sizes:
        ours, peer, floor = (
            Figure.median(samples[("load", n, c)], lambda sample: sample.peak_mb) for c in contenders
        )
        rows.append(
            f"| peak memory while loading, N={n:,} | {ours.megabytes()} | {peer.megabytes()} | {floor.megabytes()} "
            f"| peer/ours {ratio(peer, ours)}, ours/floor {ratio(ours, floor, 2)} |"
        )
    ours, peer, launch, step = (
        Figure.median(samples[("run", run_assets, c)], _per_asset) for c in (*contenders, "bookkeeping")
    )
    rows.append(
        f"| materialize {run_assets} assets in process, per asset | {ours.seconds()} | {peer.seconds()} "
        f"| {launch.seconds()} launch (+ {step.seconds()} Dagster step) "
        f"| peer/ours {ratio(peer, ours, 2)}, ours/(launch + step) {ratio(ours, Figure(launch.value + step.value), 2)} |"
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
    parser.add_argument("--quick", action="store_true", help="N=1,000 only, 2 rounds")
    parser.add_argument("--sizes", type=int, nargs="+", help="tree sizes (default 1000 10000)")
    parser.add_argument("--rounds", type=int, help="rounds of every measurement (default 3, quick 2)")
    parser.add_argument("--run-assets", type=int, default=RUN_ASSETS, help="assets materialized per run (default 50)")
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

    began = time.perf_counter()
    samples = run_benchmark(sizes, rounds, args.work, args.run_assets, log=lambda line: print(line, file=sys.stderr))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n{when}; {machine()}; {rounds} rounds, medians; {time.perf_counter() - began:.0f} s in all\n")
    print(table(samples, sizes, args.run_assets))
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
