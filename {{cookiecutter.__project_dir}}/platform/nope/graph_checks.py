"""Checks that need every manifest at once: duplicate keys, unknown deps, cycles.

Each problem is attached to the manifest (and line) a practitioner should edit, so
lenient mode can set that one manifest aside and keep everyone else's assets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from pathlib import Path

from nope.manifests import NopeAssetManifest
from nope.problems import Problem, did_you_mean
from nope.targets import NopeInvocationTarget


def check_graph(
    targets: list[NopeInvocationTarget],
    unreadable: Mapping[str, str] | None = None,
    *,
    groups: Collection[str] | None = None,
) -> dict[Path, list[Problem]]:
    """Manifest path -> the graph problems found in it.

    `unreadable` maps the asset key each broken manifest would define to that manifest, so a
    dep on it points the practitioner at the real mistake instead of claiming nothing defines it.
    `groups`: only these groups were read (a run's process); deps on other groups are not checked.
    """
    unreadable = unreadable or {}
    found: dict[Path, list[Problem]] = defaultdict(list)

    def report(asset: NopeAssetManifest, path: tuple[str | int, ...], message: str, *, caused_by: str = "") -> None:
        manifest = asset.target_manifest
        found[manifest.path].append(Problem(manifest.relative_path, *manifest.position(*path), message, caused_by))

    owners: dict[str, NopeAssetManifest] = {}
    op_names: dict[str, NopeInvocationTarget] = {}
    for target in targets:
        if target.op_name in op_names:
            other = op_names[target.op_name].manifest.relative_path
            found[target.manifest_path].append(
                Problem(target.manifest.relative_path, 1, 1, f"clashes with {other}: both would run as the Dagster op `{target.op_name}`; rename or remove one")
            )
        op_names[target.op_name] = target
        for asset in target.asset_manifests:
            if asset.key in owners:
                first = owners[asset.key].target_manifest
                line, _ = first.position(*owners[asset.key].yaml_path)
                report(asset, asset.yaml_path, f"asset `{asset.key}` is already defined in {first.relative_path}:{line}")
            else:
                owners[asset.key] = asset

    for asset in owners.values():
        for index, dep in enumerate(asset.deps):
            if dep in unreadable:
                report(
                    asset,
                    (*_deps_path(asset), index),
                    f"dep `{dep}` is defined by {unreadable[dep]}, which has problems",
                    caused_by=unreadable[dep],
                )
            elif dep not in owners and (groups is None or dep.split("/")[0] in groups):
                hint = did_you_mean(dep, owners)
                report(asset, (*_deps_path(asset), index), f"unknown dep `{dep}`.{hint or ' No manifest defines it.'}")

    for cycle in _cycles({key: [dep for dep in asset.deps if dep in owners] for key, asset in owners.items()}):
        start = owners[cycle[0]]
        index = start.deps.index(cycle[1])
        report(start, (*_deps_path(start), index), f"dependency cycle: {' -> '.join(cycle)}")
    return dict(found)


def _deps_path(asset: NopeAssetManifest) -> tuple[str, ...]:
    own = "deps" in asset.values.model_fields_set
    return (*asset.yaml_path, "deps") if own else ("deps",)


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each cycle once, as `[a, b, ..., a]`, found by an iterative depth-first search."""
    done: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = [start]
        on_path = {start}
        iterators = [iter(graph[start])]
        while iterators:
            step = next(iterators[-1], None)
            if step is None:
                iterators.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if step in on_path:
                cycles.append(path[path.index(step):] + [step])
            elif step not in done:
                path.append(step)
                on_path.add(step)
                iterators.append(iter(graph[step]))
    return cycles
