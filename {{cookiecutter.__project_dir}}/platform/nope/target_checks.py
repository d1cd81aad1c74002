"""Checks on one manifest's final values: what its assets will be, after the platform's overrides.

The models check what a practitioner wrote; these check what the platform will hand to
Dagster (an overridden `tags` or `key` property included), each problem placed on the line
the practitioner should edit:

- an explicit `key:` stays in the manifest's own group, so one team cannot claim another
  team's asset (unless the project sets `allow_keys_outside_group`);
- the `broken_manifests/` prefix is lenient mode's, so a placeholder never collides;
- Dagster's rules on the assets' output names and number of kinds (`dagster_rules`);
- a Python script that declares packages (PEP 723) runs on a target that installs them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from nope import dagster_rules
from nope.manifests import NopeAssetManifest
from nope.models import RESERVED_GROUP, default_asset_key
from nope.problems import NopeManifestError, Problem
from nope.script_metadata import declared_dependencies
from nope.targets import NopeInvocationTarget

KIND_TAG = "kind"
"""A manifest tag that becomes a Dagster kind (the badge in the asset graph) rather than a tag."""


def kinds_and_tags(target: NopeInvocationTarget, asset: NopeAssetManifest) -> tuple[set[str], dict[str, str]]:
    """The asset's kinds (its `kinds` plus its `kind` tag) and its other tags, as Dagster gets them."""
    tags = {**target.manifest.tags, **asset.tags}
    kinds = set(asset.kinds)
    if KIND_TAG in tags:
        kinds.add(tags.pop(KIND_TAG))
    return kinds, tags


def _written_key(asset: NopeAssetManifest) -> str:
    """The key as the manifest file sets it (a platform's `key` property may prefix it: that is trusted)."""
    written = asset.values.key if "key" in asset.values.model_fields_set else asset.target_manifest.values.key
    return written or default_asset_key(asset.target_manifest.group, asset.name)


def check_target(
    target: NopeInvocationTarget, *, allow_keys_outside_group: bool, installing_targets: Sequence[str]
) -> list[Problem]:
    """Problems in the final values of one manifest's assets, and in what its script declares.

    `installing_targets`: the platform's targets that install a script's declared packages.
    """
    manifest = target.manifest
    problems: list[Problem] = []

    def report(asset: NopeAssetManifest, field: str, message: str) -> None:
        own = field in asset.values.model_fields_set
        path = (*asset.yaml_path, field) if own else (field,)
        problems.append(Problem(manifest.relative_path, *manifest.position(*path), message))

    outputs: dict[str, str] = {}
    for asset in target.asset_manifests:
        key = asset.key
        if key.split("/")[0] == RESERVED_GROUP:
            report(asset, "key", f"`key:` cannot start with `{RESERVED_GROUP}/`: lenient mode names its placeholders so")
        elif not allow_keys_outside_group and not _written_key(asset).startswith(f"{target.group}/"):
            report(
                asset,
                "key",
                f"`key: {_written_key(asset)}` must start with this group `{target.group}/` "
                f"(e.g. `{target.group}/{asset.name}`): assets of other groups belong to their own folders",
            )
        name = dagster_rules.output_name(key)
        if name in dagster_rules.RESERVED_NAMES:
            report(asset, "key", f"`key: {key}` is a name Dagster reserves; put it under a group: `{target.group}/{key}`")
        elif name in outputs:
            report(asset, "key", f"`key: {key}` reads `{name}` to Dagster, like `{outputs[name]}` in this manifest; rename one")
        outputs.setdefault(name, key)
        kinds, _ = kinds_and_tags(target, asset)
        if len(kinds) > dagster_rules.MAX_KINDS:
            report(
                asset,
                "kinds",
                f"{len(kinds)} kinds ({', '.join(sorted(kinds))}, counting the `kind` tag); Dagster allows at most {dagster_rules.MAX_KINDS}",
            )
    return problems + _uninstalled_dependencies(target, installing_targets)


def _uninstalled_dependencies(target: NopeInvocationTarget, installing_targets: Sequence[str]) -> list[Problem]:
    """A script that declares packages its target never installs would run without them.

    Reported on the manifest's `target:` line, where the usual fix is made (`target: uv`).
    """
    target_cls = type(target)
    if target_cls.installs_script_dependencies or target.script_path.suffix.lower() != ".py":
        return []
    try:
        declared = declared_dependencies(target.manifest.read_script_bytes())
    except NopeManifestError as changed:  # the script changed since it was found: that is the problem
        return changed.problems
    if declared is None or declared.names() <= target_cls.provided_dependencies:
        return []
    script = os.path.relpath(target.script_path, target.repo_root).replace(os.sep, "/")
    packages = ", ".join(f"`{requirement}`" for requirement in declared.requirements)
    if installing_targets:
        choices = " or ".join(f"`target: {name}`" for name in installing_targets)
        fix = f"use {choices}, which installs them, or remove the `# /// script` block"
    else:
        fix = "remove the `# /// script` block, or ask a platform owner for a target that installs them (such as `uv`)"
    message = (
        f"target `{target.manifest.target}` does not install the packages {script}:{declared.line} declares "
        f"({packages}), so the script would run without them; {fix}"
    )
    return [Problem(target.manifest.relative_path, *target.manifest.position("target"), message)]
