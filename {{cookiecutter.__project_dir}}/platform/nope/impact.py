"""What a branch changes, asset by asset: `nope diff`'s comparison of the base tree with the working tree.

Both sides are resolved the same way (resolved_assets.py) and compared by key:

- **added**: a key only the working tree defines (or whose manifest was broken at the base);
- **removed**: a key only the base defines, unless the working tree's manifest for it is broken
  (then it is not known to be gone: its problems are listed instead);
- **modified**: a key on both sides whose aspects differ, named after manifest keys (+ `script`);
- **downstream**: unchanged assets of the working tree that depend, through any number of
  assets and groups, on one of those.

Problems of both sides are listed, marked `base` or `head`; a removed asset that the working
tree still depends on is a problem of its own. Nothing here imports Dagster.
"""

from __future__ import annotations

import importlib
import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nope.base_resolution import BaseProcess, base_of_groups, base_with_this_platform, changed_groups
from nope.base_tree import base_commit
from nope.loading import LoadedDefs
from nope.project import NopeProject
from nope.resolved_assets import resolved_tree


@dataclass
class Impact:
    """The report of `nope diff`: its JSON form is a documented contract (docs/reference/nope-command.md)."""

    base: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: dict[str, list[str]] = field(default_factory=dict)
    downstream: list[str] = field(default_factory=list)
    owners: dict[str, list[str]] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    """(upstream, downstream) between reported assets: the markdown report's graph."""
    problems: list[dict[str, Any]] = field(default_factory=list)
    """`{"side": "base"|"head", "path", "line", "column", "message"}`, base first."""

    @property
    def selected(self) -> list[str]:
        """What a run should materialize: the added, modified and downstream assets (removed ones are gone)."""
        return sorted({*self.added, *self.modified, *self.downstream})

    @property
    def head_problems(self) -> list[dict[str, Any]]:
        return [problem for problem in self.problems if problem["side"] == "head"]

    def as_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "added": self.added,
            "removed": self.removed,
            "modified": self.modified,
            "downstream": self.downstream,
            "owners": self.owners,
            "edges": [list(edge) for edge in self.edges],
            "problems": self.problems,
        }


def repository_branch(project: type[NopeProject]) -> str:
    """The branch pull requests merge into: REPOSITORY_BRANCH in the platform package's settings, else `main`."""
    try:
        settings = importlib.import_module(f"{project.__module__.split('.')[0]}.settings")
    except ImportError:
        return "main"
    branch = getattr(settings, "REPOSITORY_BRANCH", "main")
    return branch if isinstance(branch, str) and branch else "main"


def branch_impact(
    repo_root: Path, defs_path: Path, project: type[NopeProject], *, base_ref: str | None, branch: str
) -> Impact:
    """Compare the base (`base_ref`, or the merge base with `branch`) with the working tree.

    The base is read for the changed groups only when that is enough, else whole, in a process
    of its own while this one resolves the working tree (base_resolution.py says when and why).
    """
    commit = base_commit(repo_root, base_ref, branch)
    defs_name = defs_path.absolute().relative_to(repo_root.absolute()).as_posix()
    groups = changed_groups(repo_root, commit, defs_name, project)
    if groups is None:
        return compare(*_whole_base_and_head(repo_root, commit, defs_name, defs_path, project, None), commit=commit)
    loaded = project.load(defs_path)
    groups = _with_broken_groups(groups, loaded, defs_path.absolute())
    if groups is None:
        return compare(*_whole_base_and_head(repo_root, commit, defs_name, defs_path, project, loaded), commit=commit)
    head = resolved_tree(loaded, defs_path.absolute())
    return compare(base_of_groups(repo_root, commit, defs_name, project, groups, head), head, commit=commit)


def _with_broken_groups(groups: set[str], loaded: LoadedDefs, defs_path: Path) -> set[str] | None:
    """`groups` and those with a broken file now (another group's change may have broken it), or
    None when a broken file lies at the top of defs/ (or is defs/ itself): then the whole base is read."""
    below = [
        path.relative_to(defs_path).parts if path.is_relative_to(defs_path) else () for path in loaded.broken_manifests
    ]
    if any(len(parts) < 2 for parts in below):
        return None
    return groups | {parts[0] for parts in below}


def _whole_base_and_head(
    repo_root: Path, commit: str, defs_name: str, defs_path: Path, project: type[NopeProject], loaded: LoadedDefs | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The whole base, resolved in its own process while this one loads the working tree (unless `loaded` already)."""
    base_process = BaseProcess(repo_root, commit, defs_name, project)
    try:
        head = resolved_tree(loaded or project.load(defs_path), defs_path.absolute())
    except BaseException:
        base_process.stop()  # a bug in the platform's code, or Ctrl-C: the child does not outlive the command
        raise
    base, why = base_process.answer()
    if base is None:
        base = base_with_this_platform(repo_root, commit, defs_name, project, why)
    return base, head


def compare(base: dict[str, Any], head: dict[str, Any], *, commit: str) -> Impact:
    """The report from the two resolved trees (resolved_assets.py's JSON form)."""
    base_assets, head_assets = base["assets"], head["assets"]
    unreadable = _unreadable(base_assets, head["broken"])
    impact = Impact(base=commit)
    impact.added = sorted(set(head_assets) - set(base_assets))
    impact.removed = sorted(set(base_assets) - set(head_assets) - unreadable)
    for key in sorted(set(base_assets) & set(head_assets)):
        before, after = base_assets[key]["aspects"], head_assets[key]["aspects"]
        if before != after:
            impact.modified[key] = _changed_aspects(json.loads(before), json.loads(after))
    changed_keys = {*impact.added, *impact.modified, *impact.removed}
    impact.downstream = _downstream(changed_keys, head_assets)
    for key in sorted({*changed_keys, *impact.downstream}):
        impact.owners[key] = list((head_assets.get(key) or base_assets[key])["owners"])
    impact.edges = _edges({*changed_keys, *impact.downstream}, base_assets, head_assets)
    impact.problems = [
        *({"side": "base", **_shown(problem)} for problem in base["problems"]),
        *({"side": "head", **_shown(problem)} for problem in head["problems"]),
        *({"side": "head", **problem} for problem in _still_needed(impact.removed, base_assets, head)),
    ]
    return impact


def _unreadable(base_assets: dict[str, Any], broken: list[dict[str, str]]) -> set[str]:
    """Base keys the working tree's broken files may still define: not known to be removed."""
    keys = {reach["asset"] for reach in broken if reach["asset"]}
    for key, asset in base_assets.items():
        manifest = asset["manifest"]
        if any(
            manifest == reach["scope"] or (reach["scope"].endswith("/") and manifest.startswith(reach["scope"]))
            for reach in broken
        ):
            keys.add(key)
    return keys


def _changed_aspects(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Names of the aspects whose values differ (an aspect one side lacks counts as null)."""
    return sorted(name for name in {*before, *after} if before.get(name) != after.get(name))


def _downstream(changed: set[str], head_assets: dict[str, Any]) -> list[str]:
    """Unchanged assets of the working tree that depend on a changed one, transitively, across groups."""
    dependents: dict[str, list[str]] = {}
    for key, asset in head_assets.items():
        for dep in asset["deps"]:
            dependents.setdefault(dep, []).append(key)
    reached: set[str] = set()
    queue = deque(changed)
    while queue:
        for dependent in dependents.get(queue.popleft(), []):
            if dependent not in reached:
                reached.add(dependent)
                queue.append(dependent)
    return sorted(reached - changed)


def _edges(shown: set[str], base_assets: dict[str, Any], head_assets: dict[str, Any]) -> list[tuple[str, str]]:
    """(upstream, downstream) between reported assets: the working tree's deps, the base's for removed assets."""
    edges: set[tuple[str, str]] = set()
    for key in shown:
        asset = head_assets.get(key) or base_assets[key]
        edges.update((dep, key) for dep in asset["deps"] if dep in shown)
    for key, asset in head_assets.items():  # a removed asset's dependents are broken here; the base knew them
        edges.update((dep, key) for dep in asset["deps"] if dep in shown and key in shown)
    return sorted(edges)


def _shown(problem: dict[str, Any]) -> dict[str, Any]:
    return {name: problem[name] for name in ("path", "line", "column", "message")}


def _still_needed(removed: list[str], base_assets: dict[str, Any], head: dict[str, Any]) -> list[dict[str, Any]]:
    """A removed asset that an asset of the working tree still lists in `deps`: one problem per dependent.

    The dependent's manifest is broken in the working tree (an unknown dep), so its base deps say
    who it is; the line is that of the working tree's own problem when there is one.
    """
    gone = set(removed)
    problems = []
    for key, asset in sorted(base_assets.items()):
        if key in head["assets"] or key in gone:
            continue  # kept and valid (so no dep on a removed asset), or removed itself
        for dep in sorted(gone.intersection(asset["deps"])):
            line, column = next(
                (
                    (problem["line"], problem["column"])
                    for problem in head["problems"]
                    if problem["path"] == asset["manifest"] and f"`{dep}`" in problem["message"]
                ),
                (0, 0),
            )
            problems.append(
                {
                    "path": asset["manifest"],
                    "line": line,
                    "column": column,
                    "message": f"`{key}` still depends on `{dep}`, which this change removes; "
                    "remove the dep, or keep the asset",
                }
            )
    return problems
