"""Checks on one manifest's final values: what its assets will be, after the platform's overrides.

The models check what a practitioner wrote; these check what the platform will hand to
Dagster (an overridden `tags` or `key` property included), each problem placed on the line
the practitioner should edit:

- an explicit `key:` stays in the manifest's own group, so one team cannot claim another
  team's asset (unless the project sets `allow_keys_outside_group`);
- the `broken_manifests/` prefix is lenient mode's, so a placeholder never collides;
- Dagster's rules on the assets' output names and number of kinds (`dagster_rules`).
"""

from __future__ import annotations

from nope import dagster_rules
from nope.manifests import NopeAssetManifest
from nope.models import RESERVED_GROUP, default_asset_key
from nope.problems import Problem
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


def check_target(target: NopeInvocationTarget, *, allow_keys_outside_group: bool) -> list[Problem]:
    """Problems in the final values of one manifest's assets."""
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
    return problems
