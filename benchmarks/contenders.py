"""One measurement in a fresh process: `python contenders.py <measure> <contender> <tree>`.

`run.py` launches this file once per measurement, so every figure pays its own imports,
as a code server or a CI job does, and no cache warmed by a previous measurement helps.
It prints one JSON line: the seconds of the phases it timed itself (the parent times the
whole process, and reads its peak memory from the kernel).

Contenders: `nope` (the baked platform repository), `components` (Dagster Components'
`PythonScriptComponent`), and the floors, which do the least work the measure needs:
- `floor` for load: parse each manifest with libyaml, hash its script, build one
  `multi_asset` per manifest (owners, group, deps, code version), then the same
  `Definitions` and `validate_loadable` step as the others;
- `floor` for check: parse each manifest with libyaml, nothing else;
- `floor` for run: launch `python -c "import dagster_pipes"` once per asset;
- `bookkeeping` for run: materialize no-op assets in process, Dagster's own per-step cost.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import json  # noqa: E402  (the clock starts before any import)
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

COMPONENTS_PACKAGE = "bench_components"


def _nope_definitions(repo: Path):
    """Import the baked repository's `definitions.py`, as `dagster dev` does."""
    sys.path[:0] = [str(repo / "platform"), str(repo)]
    import definitions  # type: ignore[import-not-found]  # the baked repository's, on sys.path only from here on

    return definitions.defs


def _components_definitions(project: Path):
    """Load the Components project through its public entry point, as its `definitions.py` would."""
    sys.path.insert(0, str(project))
    import dagster as dg

    return dg.load_from_defs_folder(path_within_project=project)


def _floor_definitions(repo: Path):
    """The least a loader can do: YAML, script hash, one multi_asset per manifest."""
    import hashlib

    import dagster as dg
    import yaml

    def noop(context):  # never run: load only
        return None

    assets = []
    defs = repo / "defs"
    for group in sorted(os.listdir(defs)):
        if group.startswith((".", "_")) or not (defs / group).is_dir():
            continue
        for name in sorted(os.listdir(defs / group)):
            if not name.endswith(".yaml"):
                continue
            manifest_path = defs / group / name
            manifest = yaml.load(manifest_path.read_bytes(), Loader=yaml.CSafeLoader)
            script = manifest_path.with_suffix(".py")
            stem = manifest_path.stem
            spec = dg.AssetSpec(
                key=dg.AssetKey([group, stem]),
                deps=[dg.AssetKey(dep.split("/")) for dep in manifest.get("deps", [])],
                description=manifest.get("description"),
                group_name=group,
                owners=manifest["owners"],
                code_version=hashlib.sha256(script.read_bytes()).hexdigest()[:16],
            )
            assets.append(dg.multi_asset(name=f"{group}__{stem}", specs=[spec])(noop))
    return dg.Definitions(assets=assets)


def load(contender: str, tree: Path) -> dict[str, float]:
    """Build the definitions, then resolve them as a code server does before serving them."""
    build = {"nope": _nope_definitions, "components": _components_definitions, "floor": _floor_definitions}
    defs = build[contender](tree)
    built = time.perf_counter()
    import dagster as dg

    dg.Definitions.validate_loadable(defs)
    resolved = time.perf_counter()
    return {"build": built - START, "resolve": resolved - built, "assets": len(defs.resolve_all_asset_specs())}


def check(contender: str, tree: Path) -> dict[str, float]:
    """Validate a tree without building definitions (`nope check`'s job)."""
    if contender == "nope":
        sys.path[:0] = [str(tree / "platform"), str(tree)]
        import tomllib
        from importlib import import_module

        with open(tree / "pyproject.toml", "rb") as file:
            module_name, class_name = tomllib.load(file)["tool"]["nope"]["project"].split(":")
        project = getattr(import_module(module_name), class_name)
        loaded = project.load(tree / "defs")
        if loaded.problems:
            raise SystemExit(f"the benchmark tree has problems: {loaded.problems[:3]}")
        return {"manifests": len(loaded.targets), "dagster_imported": "dagster" in sys.modules}
    if contender == "floor":
        import yaml

        count = 0
        for manifest in sorted((tree / "defs").glob("*/*.yaml")):
            yaml.load(manifest.read_bytes(), Loader=yaml.CSafeLoader)
            count += 1
        return {"manifests": count}
    raise SystemExit(f"no in-process check for {contender}: run.py runs its command line")


def run(contender: str, tree: Path) -> dict[str, float]:
    """Materialize every asset of a small tree in process; report seconds per asset."""
    if contender == "floor":
        count = len(list((tree / "defs").glob("*/*.yaml")))
        began = time.perf_counter()
        for _ in range(count):
            subprocess.run([sys.executable, "-c", "import dagster_pipes"], check=True)
        return {"per_asset": (time.perf_counter() - began) / count, "assets": count}

    import dagster as dg

    if contender == "bookkeeping":
        defs = _bookkeeping_definitions(tree)
    elif contender == "nope":
        defs = _nope_definitions(tree)
    else:
        defs = _components_definitions(tree)
    assets = list(defs.assets or [])
    count = len(defs.resolve_all_asset_specs())
    # Made before the clock starts: creating an instance imports Dagster's storage (about 470
    # modules, half a second here), the same code for every contender, which is no step's cost.
    instance = dg.DagsterInstance.ephemeral()
    began = time.perf_counter()
    result = dg.materialize(assets, resources=defs.resources, instance=instance)
    elapsed = time.perf_counter() - began
    materialized = len(result.get_asset_materialization_events())
    if materialized != count:
        raise SystemExit(f"{contender}: {materialized} of {count} assets materialized")
    return {"per_asset": elapsed / count, "assets": count}


def _bookkeeping_definitions(repo: Path):
    """The same chain of assets as `repo` holds, each a no-op: what Dagster costs per step."""
    import dagster as dg

    assets = []
    previous = None
    for manifest in sorted((repo / "defs").glob("*/*.yaml")):
        key = dg.AssetKey([manifest.parent.name, manifest.stem])
        spec = dg.AssetSpec(key=key, deps=[previous] if previous else [], group_name=manifest.parent.name)

        def noop(context):
            yield from (dg.MaterializeResult(asset_key=key) for key in context.selected_asset_keys)

        assets.append(dg.multi_asset(name="__".join(key.path), specs=[spec])(noop))
        previous = key
    return dg.Definitions(assets=assets)


MEASURES = {"load": load, "check": check, "run": run}

if __name__ == "__main__":
    measure, contender, tree = sys.argv[1], sys.argv[2], Path(sys.argv[3]).resolve()
    figures = MEASURES[measure](contender, tree)
    print(json.dumps(figures), flush=True)
    # A code server keeps its definitions; tearing 10,000 of them down at exit takes
    # seconds that no load pays, so leave without it.
    os._exit(0)
