"""Run start: what one run costs as the repository grows, for ours, Components and a floor.

    python benchmarks/run_start.py                       N = 50, 1,000, 5,000, 10,000; 3 rounds
    python benchmarks/run_start.py --sizes 50 5000 --rounds 2

Two runs are timed at each N, from launch to the run's end: one asset, and three chained assets
(each in its own group, each the next one's upstream). Two paths:

- CLI: `dagster asset materialize --select <keys>` in a fresh process with a fresh instance,
  the default (multiprocess) executor: the command's own process, then one process per step.
- GraphQL: a run launched through the webserver of a running `dagster dev` (its code server
  already loaded), timed until the run succeeds: the run worker, then one process per step.
  Ours and the floor only: Components' `dagster dev` at 5,000 and more did not finish loading
  in the time this row can spend.

The floor is the least a run's processes can build: a definitions file holding only the
selected manifests' assets (`floor_definitions.py`, written into the tree), so its time is
Dagster's own cost of a run and does not depend on N. Contenders alternate every round, and
every measurement is a fresh process; the table shows medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import trees  # noqa: E402
from dagster_dev import DagsterDev, free_port  # noqa: E402  (the template tests' driver of `dagster dev`)

DAGSTER = str(Path(sys.executable).with_name("dagster"))
TIME_LIMIT = 300.0

FLOOR_DEFINITIONS = '''"""The run-start floor: only the selected manifests' assets (BENCH_SELECTED), each run through Pipes."""
import os
import sys
from pathlib import Path

import dagster as dg
import yaml

DEFS = Path(__file__).resolve().parent / "defs"


def build(key):
    group, name = key.split("/")
    manifest = yaml.load((DEFS / group / f"{name}.yaml").read_bytes(), Loader=yaml.CSafeLoader)
    script = DEFS / group / f"{name}.py"
    spec = dg.AssetSpec(key=dg.AssetKey([group, name]), deps=[dg.AssetKey(d.split("/")) for d in manifest.get("deps", [])], group_name=group)

    @dg.multi_asset(name=f"{group}__{name}", specs=[spec])
    def run_script(context: dg.AssetExecutionContext, pipes: dg.PipesSubprocessClient):
        return pipes.run(context=context, command=[sys.executable, str(script)]).get_results()

    return run_script


defs = dg.Definitions(
    assets=[build(key) for key in os.environ["BENCH_SELECTED"].split(",")],
    resources={"pipes": dg.PipesSubprocessClient()},
)
'''


def group_size_for(n: int) -> int:
    """Groups of 50, or smaller for a tree too small for three groups (N=50: groups of 16)."""
    return min(trees.GROUP_SIZE, n // 3)


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DAGSTER_", "NOPE_"))}
    # Components runs scripts with the `python` on PATH: this environment's, as `dg` would.
    env.update(DAGSTER_HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", **extra)
    return env


def cli_run(contender: str, tree: Path, keys: list[str]) -> float:
    """Seconds for `dagster asset materialize --select keys`; raises if the run fails."""
    target = {"nope": "definitions.py", "components": "bench_definitions.py", "floor": "floor_definitions.py"}[contender]
    home = Path(tempfile.mkdtemp(prefix="run-start-home-"))
    extra = {"PYTHONPATH": str(tree / "platform")} if contender == "nope" else {"PYTHONPATH": str(tree)}
    if contender == "floor":
        extra["BENCH_SELECTED"] = ",".join(keys)
    began = time.perf_counter()
    result = subprocess.run(
        [DAGSTER, "asset", "materialize", "--select", ",".join(keys), "-f", target],
        cwd=tree,
        env=environment(home, **extra),
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
    )
    elapsed = time.perf_counter() - began
    shutil.rmtree(home, ignore_errors=True)
    if result.returncode != 0:
        raise RuntimeError(f"{contender} run of {keys} failed:\n{result.stderr[-3000:]}")
    return elapsed


def dagster_dev(tree: Path, target: list[str], env: dict[str, str], home: Path) -> DagsterDev:
    """This environment's `dagster dev <target>` serving `tree` on a free port, in a process group of its own."""
    port = free_port()
    log = home / "dagster-dev.log"
    command = [DAGSTER, "dev", *target, "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "ab") as output:
        process = subprocess.Popen(command, cwd=tree, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    return DagsterDev(tree, port, process, log)


def graphql_runs(contender: str, tree: Path, selections: dict[str, list[str]], rounds: int) -> dict[str, list[float]]:
    """Launch→success seconds of each selection, `rounds` times, on one running `dagster dev`."""
    home = Path(tempfile.mkdtemp(prefix="run-start-dev-"))
    if contender == "nope":  # the tree's workspace.yaml, on an instance with the repository's settings
        instance = home / "instance"
        instance.mkdir()
        shutil.copyfile(tree / "dagster.yaml", instance / "dagster.yaml")
        server = dagster_dev(tree, [], environment(instance, PYTHONPATH=str(tree / "platform")), home)
    else:  # the floor's file, on Dagster's default instance and run launcher
        selected = ",".join(sorted({key for keys in selections.values() for key in keys}))
        env = environment(home, PYTHONPATH=str(tree), BENCH_SELECTED=selected)
        server = dagster_dev(tree, ["-f", "floor_definitions.py"], env, home)
    found: dict[str, list[float]] = {name: [] for name in selections}
    try:
        location = server.wait_until_ready()
        for _ in range(rounds):
            for name, keys in selections.items():
                began = time.perf_counter()
                run_id = server.launch(location, keys)
                status = server.wait_for_run(run_id)
                if status != "SUCCESS":
                    raise RuntimeError(f"{contender} GraphQL run of {keys} ended {status}:\n{server.log_tail()}")
                found[name].append(time.perf_counter() - began)
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 1000, 5000, 10000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "nope-benchmarks")
    parser.add_argument("--contenders", nargs="+", default=["nope", "components", "floor"])
    parser.add_argument("--time-limit", type=float, help="seconds before a CLI run is stopped (default 300)")
    args = parser.parse_args(argv)
    global TIME_LIMIT  # one setting for every measurement of this run
    TIME_LIMIT = args.time_limit or TIME_LIMIT
    began = time.perf_counter()
    cli: dict[tuple, list[float]] = {}
    gql: dict[tuple, list[float]] = {}
    stopped: set[tuple] = set()
    for n in args.sizes:
        size = group_size_for(n)
        nope_tree = trees.nope_tree(args.work, n, size)
        (nope_tree / "floor_definitions.py").write_text(FLOOR_DEFINITIONS)
        tree_of = {"nope": nope_tree, "floor": nope_tree}
        if "components" in args.contenders:
            tree_of["components"] = trees.components_tree(args.work, n, size)
        selections = {"one asset": trees.chain_of_three(n, size)[:1], "three chained": trees.chain_of_three(n, size)}
        for round_index in range(args.rounds):
            order = args.contenders[round_index % len(args.contenders) :] + args.contenders[: round_index % len(args.contenders)]
            for contender in order:
                for name, keys in selections.items():
                    key = (n, contender, name)
                    if key in stopped:
                        continue
                    try:
                        seconds = cli_run(contender, tree_of[contender], keys)
                    except subprocess.TimeoutExpired:
                        stopped.add(key)
                        seconds = TIME_LIMIT
                    cli.setdefault(key, []).append(seconds)
                    print(f"cli      N={n:<6} {contender:11} {name:13} {seconds:7.2f} s", file=sys.stderr, flush=True)
        for contender in ("nope", "floor"):
            for name, values in graphql_runs(contender, tree_of[contender], selections, args.rounds).items():
                gql[(n, contender, name)] = values
                print(f"graphql  N={n:<6} {contender:11} {name:13} {statistics.median(values):7.2f} s", file=sys.stderr, flush=True)

    def shown(values: list[float] | None, key: tuple) -> str:
        if not values:
            return "–"
        text = f"{statistics.median(values):.1f} s"
        return f"> {text}" if key in stopped else text

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n{when}; {args.rounds} rounds, medians; {time.perf_counter() - began:.0f} s in all\n")
    print("| run | N | ours (CLI) | Components (CLI) | floor (CLI) | ours (GraphQL) | floor (GraphQL) | ours vs ours at N=50 (CLI / GraphQL) |")
    print("|---|---|---|---|---|---|---|---|")
    smallest = args.sizes[0]
    for name in ("one asset", "three chained"):
        for n in args.sizes:
            ours_cli, ours_gql = cli.get((n, "nope", name)), gql.get((n, "nope", name))
            base_cli, base_gql = cli.get((smallest, "nope", name)), gql.get((smallest, "nope", name))
            growth = (
                f"{statistics.median(ours_cli) / statistics.median(base_cli):.2f}× / "
                f"{statistics.median(ours_gql) / statistics.median(base_gql):.2f}×"
                if ours_cli and base_cli and ours_gql and base_gql
                else "–"
            )
            print(
                f"| {name} | {n:,} | {shown(ours_cli, (n, 'nope', name))} | {shown(cli.get((n, 'components', name)), (n, 'components', name))} "
                f"| {shown(cli.get((n, 'floor', name)), (n, 'floor', name))} | {shown(ours_gql, ())} | {shown(gql.get((n, 'floor', name)), ())} | {growth} |"
            )


if __name__ == "__main__":
    main()
