"""Where loading time goes: `python benchmarks/profile_load.py [N ...]`.

Loads the benchmark's Nope tree of N manifests once under cProfile and prints the
cumulative time of each stage the loader goes through, so a proposed change can be
judged by the share it attacks. cProfile slows Python-heavy code more than C code (YAML
parsing, hashing), so read the shares, not the seconds; `pyinstrument` gives a full tree:
`pyinstrument benchmarks/contenders.py load nope <tree>`.
"""

from __future__ import annotations

import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import trees  # noqa: E402

# (label, file name ending, function name): stages nest as indented.
STAGES = [
    ("make_definitions", "nope/project.py", "make_definitions"),
    ("  read and check defs/ (`nope check`)", "nope/loading.py", "load_defs"),
    ("    read YAML (libyaml, then one walk)", "nope/yaml_reader.py", "read_yaml"),
    ("    pydantic validation", "pydantic/main.py", "model_validate"),
    ("    resolve the script", "nope/loading.py", "_script_path"),
    ("    graph checks", "nope/graph_checks.py", "check_graph"),
    ("  build one multi_asset per manifest", "nope/asset_building.py", "build_assets_definition"),
    ("    AssetSpec arguments (properties)", "nope/asset_building.py", "_asset_spec"),
    ("      code version (hash script + manifest)", "nope/manifests.py", "code_version"),
    ("      description (script source fenced)", "nope/manifests.py", "description"),
    ("      code references metadata", "nope/asset_building.py", "_code_references"),
    ("    dagster.AssetSpec(...)", "dagster/_core/definitions/assets/definition/asset_spec.py", "__new__"),
    ("    dagster.multi_asset(...)(fn)", "dagster/_core/definitions/decorators/asset_decorator.py", "inner"),
    ("  required resources (inspect.signature)", "nope/targets.py", "required_resource_keys"),
    ("  dagster.Definitions(...)", "dagster/_core/definitions/definitions_class.py", "__init__"),
    ("Definitions.validate_loadable (Dagster)", "dagster/_core/definitions/definitions_class.py", "validate_loadable"),
]

PROGRAM = """
import gc, sys, time
began = time.perf_counter()
import dagster as dg
imported = time.perf_counter()
collecting = [0.0, 0.0]  # start of the current collection, seconds so far

def timed(phase, info):
    if phase == "start":
        collecting[0] = time.perf_counter()
    else:
        collecting[1] += time.perf_counter() - collecting[0]

gc.callbacks.append(timed)
sys.path[:0] = [{platform!r}, {repo!r}]
import definitions
dg.Definitions.validate_loadable(definitions.defs)
print("gc", collecting[1])
print("import dagster", imported - began)
"""


def profile(repo: Path, output: Path) -> tuple[float, float]:
    """Profile one load in a fresh process; returns the seconds `import dagster` took there,
    and the seconds Python's cyclic garbage collector ran after it (in every stage)."""
    program = output.with_suffix(".py")
    program.write_text(PROGRAM.format(platform=str(repo / "platform"), repo=str(repo)))
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "cProfile", "-o", str(output), str(program)],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = dict(line.rsplit(" ", 1) for line in result.stdout.splitlines()[-2:])
    return float(figures["import dagster"]), float(figures["gc"])


def stage_times(stats: pstats.Stats) -> dict[str, float]:
    """Cumulative seconds per stage (summed over every function matching the stage)."""
    totals = {label: 0.0 for label, _, _ in STAGES}
    for (filename, _, function), (_, _, _, cumulative, callers) in stats.stats.items():  # type: ignore[attr-defined]
        for label, suffix, name in STAGES:
            if function == name and filename.endswith(suffix):
                # Count only calls from outside the function itself (recursion would double it).
                own = sum(
                    times[3] for caller, times in callers.items() if not (caller[0] == filename and caller[2] == name)
                )
                totals[label] += own if callers else cumulative
    return totals


def main(sizes: list[int]) -> None:
    work = Path(tempfile.gettempdir()) / "nope-benchmarks"
    for n in sizes:
        repo = trees.nope_tree(work, n)
        output = work / f"load_{n}.prof"
        began = time.perf_counter()
        import_seconds, gc_seconds = profile(repo, output)
        total = time.perf_counter() - began
        stats = pstats.Stats(str(output))
        print(f"\nN={n:,}: {total:.1f} s under cProfile, `import dagster` {import_seconds:.2f} s")
        print(f"  {'cyclic garbage collection (all stages)':<48} {gc_seconds:8.2f} s  {gc_seconds / total:6.1%}")
        for label, seconds in stage_times(stats).items():
            print(f"  {label:<48} {seconds:8.2f} s  {seconds / total:6.1%}")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [1000, 10000])
