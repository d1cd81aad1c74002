"""The typed shape of a manifest file: what practitioners may write, checked by pydantic.

These models are the single source of truth for validation, for `nope check` and for the
JSON Schema editors use. A platform owner adds or narrows keys by subclassing them on a
target (`class Model(NopeAssetManifest.Model): ...`); the schema follows automatically.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model, model_validator

NAME_PATTERN = r"^[A-Za-z0-9_]+$"
"""Dagster's rule for group and asset names: letters, digits and underscores."""

ASSET_KEY_PATTERN = r"^[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*$"
OWNER_PATTERN = r"^(team:[A-Za-z0-9_.\-]+|[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,})$"
TAG_KEY_PATTERN = r"^([A-Za-z0-9_.\-]{1,63}/)?[A-Za-z0-9_.\-]{1,63}$"
TAG_VALUE_PATTERN = r"^[A-Za-z0-9_.\-]{0,63}$"

AssetName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
AssetKeyPath = Annotated[
    str,
    StringConstraints(pattern=ASSET_KEY_PATTERN),
    Field(description="A fully qualified asset key with slashes, e.g. `group_a/asset_one`."),
]
Owner = Annotated[
    str,
    StringConstraints(pattern=OWNER_PATTERN),
    Field(description="An email address or a team written `team:<name>`."),
]
TagKey = Annotated[str, StringConstraints(pattern=TAG_KEY_PATTERN)]
TagValue = Annotated[str, StringConstraints(pattern=TAG_VALUE_PATTERN)]


class NopeModel(BaseModel):
    """Base of every manifest model: unknown keys are mistakes, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class AssetFields(NopeModel):
    """What describes one asset. At the top level of a manifest, these are defaults for all its assets."""

    description: str | None = Field(None, description="Shown in the Dagster UI above the script's source.")
    deps: list[AssetKeyPath] = Field(
        default_factory=list, description="Upstream assets, fully qualified: `group/asset`."
    )
    owners: list[Owner] = Field(default_factory=list, description="Emails or `team:<name>` entries.")
    tags: dict[TagKey, TagValue] = Field(
        default_factory=dict,
        description="Key-value labels. The tag `kind` becomes a Dagster kind badge.",
        # pydantic's schema only describes matching keys; editors should also flag the others.
        json_schema_extra={"propertyNames": {"pattern": TAG_KEY_PATTERN}},
    )
    kinds: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,63}$")]] = Field(
        default_factory=list, description="Kind badges shown in the asset graph, e.g. `python`, `csv`."
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form metadata shown in the UI.")
    key: AssetKeyPath | None = Field(
        None, description="An explicit asset key (advanced). Default: `<group>/<asset name>`."
    )


class TargetFields(NopeModel):
    """What describes the invocation: which target runs which script."""

    target: str = Field(description="How the script is run, e.g. `subprocess`.")
    script: str | None = Field(
        None,
        description="The script, relative to this manifest. Default: the sibling file named like the manifest.",
    )


class _ManifestRules(NopeModel):
    """Rules that span the target's fields and the asset fields of a whole manifest."""

    @model_validator(mode="after")
    def _top_level_key_names_one_asset(self) -> _ManifestRules:
        if getattr(self, "assets", None) and getattr(self, "key", None) is not None:
            raise ValueError(
                "`key:` at the top level names a single asset; with `assets:`, set `key:` under each asset"
            )
        return self


@functools.cache
def manifest_model(
    target_name: str, target_fields: type[TargetFields], asset_fields: type[AssetFields]
) -> type[NopeModel]:
    """The full model of a manifest file for one target name.

    Top level = the target's fields + the asset fields (single-asset form, or defaults for
    every asset) + an optional `assets:` mapping of asset name to asset fields.
    """
    title = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", target_name)) or "Target"
    return create_model(
        f"{title}Manifest",
        __base__=(_ManifestRules, target_fields, asset_fields),
        __doc__=f"A manifest whose script is run by the `{target_name}` target.",
        target=(Literal[target_name], Field(description="How the script is run.")),
        # No `| None`: `assets:` left empty is a mistake to report, not a single-asset manifest.
        assets=(
            dict[AssetName, asset_fields],
            Field(
                None,
                min_length=1,
                description="Several assets made by one run of the script, by name.",
                json_schema_extra={"propertyNames": {"pattern": NAME_PATTERN}},  # editors flag bad names too
            ),
        ),
    )
