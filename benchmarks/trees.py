"""Benchmark trees: the same N scripts and asset graph, once for Nope and once for Components.

Both contenders must load exactly the same work, or the ratios mean nothing. So one
function decides every asset (`bench_assets`): N assets in N/50 groups of 50, every asset
with an owner, and dependency chains across the groups: asset j of group g depends on
asset j of group g-1, so each of the 50 chains crosses every group and the graph is N/50
deep. (One single chain through all N assets is not a shape Dagster can load: building
its asset job recurses once per level and sorts topologically in quadratic time, so a
3,000-deep chain already fails with RecursionError, for every contender alike.) The
writers then spell that graph in each contender's own format:

- Nope: a baked platform repository (`include_examples=no`) with `defs/<group>/<name>.py`
  and a manifest `defs/<group>/<name>.yaml` next to it.
- Dagster Components: a minimal `dg` project (`pyproject.toml` with `[tool.dg]`, a root
  package whose `defs` module is the defs folder) with one folder per script holding the
  script and its `defs.yaml` (`type: dagster.PythonScriptComponent`).

The real-path run row (`run.py`'s `cli-run`) needs another graph: one chain through every
asset, asset j depending on asset j-1 across the group boundaries, so a run executes its
steps one after the other and each step's process cost is paid in sequence. Such a chain is
only a few dozen assets long, far below where Dagster's recursion stops (`single_chain=True`).

Generated files are kept under the work folder by N (writing 10,000 of each takes a few
seconds); the Nope repository around them is baked afresh on each run.
"""

from __future__ import annotations

import compileall
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent
GROUP_SIZE = 50
OWNER = "team:analytics"
COMPONENTS_PACKAGE = "bench_components"

# The same Pipes script for both contenders: it reports its one asset materialized.
SCRIPT = '''"""Benchmark asset {name}: reports itself materialized through Dagster Pipes."""

from dagster_pipes import open_dagster_pipes

with open_dagster_pipes() as pipes:
    pipes.report_asset_materialization(metadata={{"rows": {index}}})
'''


@dataclass(frozen=True)
class BenchAsset:
    group: str
    name: str
    dep: str | None  # the upstream asset key, `group/name`, or None for the first asset

    @property
    def key(self) -> str:
        return f"{self.group}/{self.name}"


def bench_assets(n: int, group_size: int = GROUP_SIZE, *, single_chain: bool = False) -> list[BenchAsset]:
    """N assets in groups of 50; each depends on the asset at the same place in the previous group.

    With `single_chain`, each asset depends on the one just before it instead: one chain N deep.
    """
    step_back = 1 if single_chain else group_size
    assets: list[BenchAsset] = []
    for index in range(n):
        group = f"g{index // group_size:04d}"
        upstream = assets[index - step_back].key if index >= step_back else None
        assets.append(BenchAsset(group, f"a{index:05d}", upstream))
    return assets


def chain_of_three(n: int, group_size: int) -> list[str]:
    """Three chained assets (each the next one's upstream), in three groups: what a run-start row runs."""
    return [bench_assets(n, group_size)[index * group_size].key for index in range(3)]


def tree_name(kind: str, n: int, group_size: int, *, single_chain: bool = False) -> str:
    name = f"{kind}_{n}" if group_size == GROUP_SIZE else f"{kind}_{n}_groups_of_{group_size}"
    return f"{name}_single_chain" if single_chain else name


def nope_tree(work: Path, n: int, group_size: int = GROUP_SIZE, *, single_chain: bool = False) -> Path:
    """A freshly baked platform repository holding N manifests; returns the repository folder.

    The repository is baked again on every call, so the benchmark always measures the
    template's current loader; only the generated `defs/` is kept between calls.
    """
    root = work / tree_name("nope", n, group_size, single_chain=single_chain)
    repo = root / "acme-data-platform"
    fresh = root / "fresh"
    shutil.rmtree(fresh, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(fresh), str(TEMPLATE), "include_examples=no"],
        check=True,
        capture_output=True,
    )
    baked = fresh / repo.name
    shutil.rmtree(baked / "defs")
    if (repo / "defs" / ".bench-complete").exists():
        (repo / "defs").rename(baked / "defs")
    else:
        _write_nope_defs(baked / "defs", bench_assets(n, group_size, single_chain=single_chain))
    shutil.rmtree(repo, ignore_errors=True)
    baked.rename(repo)
    fresh.rmdir()
    _compile(repo / "definitions.py", repo / "platform")
    return repo


def _compile(*paths: Path) -> None:
    """Write the bytecode of what a contender imports, as a repository has it after its first run.

    This machine sets PYTHONDONTWRITEBYTECODE, so without it every process of a measure (each step
    of the CLI row) would compile that code again, which no second run on a user's machine does.
    """
    for path in paths:
        if path.is_dir():
            compileall.compile_dir(path, quiet=1)
        else:
            compileall.compile_file(path, quiet=1)


DIFF_CHANGED = "defs/g0000/a00000.py"
"""The one script the diff tree's branch changes: the first asset, so the asset at its place in every
later group is downstream of it (N/50 - 1 assets, across every group)."""


def diff_tree(work: Path, n: int) -> Path:
    """A baked repository of N manifests in git: everything committed on `main`, then a branch `change`
    that edits one script, committed. `nope diff` on it reports that asset and its downstream."""
    repo = nope_tree(work / "diff", n)  # its own folder: the load and check rows rebake theirs without git
    identity = ["-c", "user.name=Benchmark", "-c", "user.email=benchmark@example.com"]

    def git(*args: str) -> None:
        subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    git("checkout", "-q", "-b", "change")
    changed = repo / DIFF_CHANGED
    changed.write_text(changed.read_text() + "# changed on the branch\n")
    git("commit", "-q", "-am", "one script changed")
    return repo


def _write_nope_defs(defs: Path, assets: list[BenchAsset]) -> None:
    for index, asset in enumerate(assets):
        folder = defs / asset.group
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{asset.name}.py").write_text(SCRIPT.format(name=asset.key, index=index))
        deps = f"deps: [{asset.dep}]\n" if asset.dep else ""
        (folder / f"{asset.name}.yaml").write_text(
            f"target: subprocess\ndescription: Benchmark asset number {index}.\nowners: [{OWNER}]\n{deps}"
        )
    (defs / ".bench-complete").touch()  # ignored by the loader: names starting with `.` never are manifests


def components_tree(work: Path, n: int, group_size: int = GROUP_SIZE, *, single_chain: bool = False) -> Path:
    """A minimal Dagster Components project with N `PythonScriptComponent`s; returns its folder."""
    project = work / tree_name("components", n, group_size, single_chain=single_chain)
    if (project / ".bench-complete").exists():
        return project
    shutil.rmtree(project, ignore_errors=True)
    package = project / COMPONENTS_PACKAGE
    defs = package / "defs"
    defs.mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "{COMPONENTS_PACKAGE}"\nversion = "0.1.0"\n\n'
        f'[tool.dg]\ndirectory_type = "project"\n\n'
        f'[tool.dg.project]\nroot_module = "{COMPONENTS_PACKAGE}"\n'
    )
    (package / "__init__.py").write_text("")
    (defs / "__init__.py").write_text("")
    for index, asset in enumerate(bench_assets(n, group_size, single_chain=single_chain)):
        folder = defs / asset.group / asset.name
        folder.mkdir(parents=True)
        (folder / f"{asset.name}.py").write_text(SCRIPT.format(name=asset.key, index=index))
        deps = f"\n      deps: [{asset.dep}]" if asset.dep else ""
        (folder / "defs.yaml").write_text(
            "type: dagster.PythonScriptComponent\n"
            "attributes:\n"
            "  execution:\n"
            f"    path: {asset.name}.py\n"
            "  assets:\n"
            f"    - key: {asset.key}\n"
            f"      group_name: {asset.group}\n"
            f"      description: Benchmark asset number {index}.\n"
            f"      owners: [{OWNER}]{deps}\n"
        )
    # What `dagster asset materialize -f` loads in the run-start and CLI run rows, as a `definitions.py` would.
    (project / "bench_definitions.py").write_text(
        "from pathlib import Path\n\nimport dagster as dg\n\n"
        "defs = dg.load_from_defs_folder(path_within_project=Path(__file__).resolve().parent)\n"
    )
    _compile(project / "bench_definitions.py", package / "__init__.py", defs / "__init__.py")
    (project / ".bench-complete").touch()
    return project
