"""Each asset of a tree as the platform resolves it, as plain JSON data: what `nope diff` compares.

Two trees are compared by what their assets *are*, not by their YAML: a `_group.yaml` default
or a platform default (a default owner, a kind tag in `settings.py`) changes every asset it
reaches, and shows there. So each asset's aspects are read through the manifest objects the
platform customizes (`owners`, `tags`, ...), after group defaults, named after manifest keys,
plus `script` for the script's path and content (what its code version hashes).

The base tree is resolved with the *base's* platform package, in a process of its own
(base_resolution.py): two versions of one platform package cannot share a process. Nothing
here imports Dagster.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from nope.loading import LoadedDefs
from nope.models import AssetFields, default_asset_key
from nope.problems import NopeManifestError, Problem
from nope.target_checks import kinds_and_tags
from nope.targets import NopeInvocationTarget

TREE_FORMAT = 1
"""The version of the JSON this module prints; the comparing process refuses another."""

_TARGET_LEVEL_SKIPPED = {"assets", "script", *AssetFields.model_fields}
"""Keys of a manifest's top level read per asset instead (or, `script`, with the script's bytes)."""


def resolved_tree(loaded: LoadedDefs, defs_path: Path) -> dict[str, Any]:
    """`{"assets": {key: asset}, "broken": [...], "problems": [...]}` for one loaded tree.

    An asset is `{"manifest": path, "owners": [...], "deps": [...], "aspects": "<JSON>"}`: its
    aspects as one JSON text with sorted keys, so that equal assets (nearly all of them) are
    told equal by comparing two strings, and the base's answer stays quick to parse.
    `broken` lists where broken files reach (`{"path", "scope", "asset"}`): the assets a broken
    manifest (or `_group.yaml`, or folder) would define cannot be compared, only reported.
    """
    assets: dict[str, Any] = {}
    problems = list(loaded.problems)
    for target in loaded.targets:
        script, script_problems = _script_aspect(target, defs_path)
        problems += script_problems
        for asset in target.asset_manifests:
            aspects = _aspects(target, asset)
            aspects["script"] = script
            assets[asset.key] = {
                "manifest": target.manifest.relative_path,
                "owners": list(asset.owners),
                "deps": sorted(asset.deps),
                "aspects": json.dumps(aspects, sort_keys=True, default=str),
            }
    broken = [_reach(path, defs_path) for path in loaded.broken_manifests]
    return {"format": TREE_FORMAT, "assets": assets, "broken": broken, "problems": [_problem_dict(p) for p in problems]}


def _aspects(target: NopeInvocationTarget, asset: Any) -> dict[str, Any]:
    """The asset's resolved values by manifest key (target-level keys included: they reach every asset)."""
    manifest = target.manifest
    kinds, tags = kinds_and_tags(target, asset)
    target_level = manifest.values.model_dump(
        mode="json", include=set(type(manifest.values).model_fields) - _TARGET_LEVEL_SKIPPED
    )
    # The manifest object's properties, where the platform may override what the file says.
    aspects = {name: _plain(_property_or(manifest, name, value)) for name, value in target_level.items()}
    aspects["checks"] = [_plain(check) for check in manifest.checks if check.asset in (None, asset.name)]
    own_description = "description" in asset.values.model_fields_set
    aspects.update(
        deps=sorted(asset.deps),
        owners=sorted(asset.owners),
        tags=dict(sorted(tags.items())),
        kinds=sorted(kinds),
        metadata=_plain(asset.metadata),
        automation=_plain(asset.automation),
        freshness=_plain(asset.freshness),
        description=asset.values.description if own_description else manifest.description,
    )
    return aspects


def _property_or(manifest: Any, name: str, value: Any) -> Any:
    """The manifest object's property `name` (a platform may override it), else the file's value."""
    found = getattr(manifest, name, value)
    return value if callable(found) else found


def _script_aspect(target: NopeInvocationTarget, defs_path: Path) -> tuple[dict[str, str] | None, list[Problem]]:
    """The script's path below defs/ and a hash of its bytes, read within `nope check`'s limits."""
    try:
        content = target.manifest.script_bytes  # read once, within the limits, and kept for the code version
    except NopeManifestError as error:
        return None, list(error.problems)
    path = os.path.relpath(target.script_path, defs_path).replace(os.sep, "/")
    return {"path": path, "sha256": hashlib.sha256(content).hexdigest()}, []


def _reach(path: Path, defs_path: Path) -> dict[str, str]:
    """A broken file and the part of the tree it reaches: itself, or a whole folder (`_group.yaml`, a folder)."""
    shown = path.relative_to(defs_path.parent).as_posix() if path.is_relative_to(defs_path.parent) else path.as_posix()
    folder_wide = path.name == "_group.yaml" or path.is_dir()
    scope = (shown if path.is_dir() else shown.rsplit("/", 1)[0]) + "/" if folder_wide else shown
    below = path.relative_to(defs_path).parts if path.is_relative_to(defs_path) else ()
    guess = default_asset_key(below[0], path.stem) if len(below) == 2 and not folder_wide else ""
    return {"path": shown, "scope": scope, "asset": guess}


def _problem_dict(problem: Problem) -> dict[str, Any]:
    return {**problem.as_dict(), "caused_by": problem.caused_by}


def _plain(value: Any) -> Any:
    """A value as JSON has it: pydantic models dumped, mappings and sequences walked."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    return value
