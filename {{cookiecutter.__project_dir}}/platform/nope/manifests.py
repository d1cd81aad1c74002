"""The manifest objects platform owners customize.

A target nests subclasses of these (`InvocationTargetManifest`, `AssetManifest`) and
overrides properties; `super().<property>` always returns what the manifest file says,
so a platform rule like "default owner when none is given" is one short property.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from nope.descriptions import FENCE_LANGUAGES, asset_description, limit_per_asset
from nope.models import (
    AssetFields,
    Automation,
    CheckFields,
    Freshness,
    ManifestFields,
    Retries,
    TargetFields,
    default_asset_key,
)
from nope.problems import NopeManifestError, Problem
from nope.safe_files import MAX_SCRIPT_BYTES, RefusedFile, read_regular_file, real_path_of

if TYPE_CHECKING:
    from nope.yaml_reader import YamlDocument

FieldsT = TypeVar("FieldsT", bound=TargetFields)


@dataclass(frozen=True)
class GroupDefaults:
    """A group's `_group.yaml`: the keys it sets for every manifest of the group, and where."""

    data: dict[str, Any] = field(default_factory=dict)
    relative_path: str = ""
    document: YamlDocument | None = None

    def written_at(self, key: str) -> str | None:
        """`path:line` of the top-level `key` in the file; None when the file does not set it."""
        if key not in self.data or self.document is None:
            return None
        return f"{self.relative_path}:{self.document.position((key,))[0]}"


NO_GROUP_DEFAULTS = GroupDefaults()
"""A group without `_group.yaml`."""


class NopeInvocationTargetManifest:
    """One manifest file: one invocation of one script, producing one or more assets."""

    Model: TypeAlias = TargetFields
    """The target-level keys a manifest may hold. Subclass to add or narrow keys.

    A `TypeAlias` so type checkers accept `class Model(NopeInvocationTargetManifest.Model)`; a
    subclass that others may subclass in turn writes `Model: TypeAlias = ...` too."""

    code_version_keys: tuple[str, ...] = ("target", "script", "args", "env")
    """Manifest keys that change what the script does; with its bytes they make the code version."""

    def __init__(
        self,
        *,
        values: ManifestFields,
        path: Path,
        defs_path: Path,
        group: str,
        script_path: Path,
        document: YamlDocument,
        relative_path: str,
        group_defaults: GroupDefaults = NO_GROUP_DEFAULTS,
    ):
        self.values = values  # the validated manifest file over its group's defaults: an instance of `Model` too
        self.path = path
        self.defs_path = defs_path
        self.group = group
        self.script_path = script_path
        self.document = document
        self.relative_path = relative_path  # from the repository root: `defs/group_a/asset_one.yaml`
        self.group_defaults = group_defaults

    @property
    def target(self) -> str:
        return self.values.target

    @property
    def name(self) -> str:
        """The manifest's file name without extension; names the single asset it may define."""
        return self.path.stem

    @property
    def tags(self) -> dict[str, str]:
        """Tags for every asset of this manifest (each asset's own tags win)."""
        return dict(self.values.tags)

    @property
    def description(self) -> str | None:
        return self.values.description

    @property
    def args(self) -> list[str]:
        return list(self.values.args)

    @property
    def env(self) -> dict[str, str]:
        """Extra environment, unexpanded: `${VAR}` is resolved when the script runs."""
        return dict(self.values.env)

    @property
    def timeout(self) -> float | None:
        return self.values.timeout

    @property
    def retries(self) -> Retries | None:
        return self.values.retries

    @property
    def partitions(self) -> str | None:
        """The name of a partitions definition the platform publishes."""
        return self.values.partitions

    @property
    def pool(self) -> str | None:
        return self.values.pool

    @property
    def checks(self) -> list[CheckFields]:
        return list(self.values.checks)

    @cached_property
    def script_bytes(self) -> bytes:
        """The script as the assets are built from it (their code version and description), read once."""
        return self.read_script_bytes()

    def read_script_bytes(self) -> bytes:
        """The script as it is now, read with the limits `nope check` applied: it may have changed since.

        Checks that read the script while the manifests load call this, not `script_bytes`, so the
        assets are built from what the script holds then, within the limits again.
        """
        try:
            return read_regular_file(self.script_path, limit=MAX_SCRIPT_BYTES, real_root=real_path_of(self.defs_path))
        except RefusedFile as refused:
            written = os.path.relpath(self.script_path, self.path.parent)
            raise NopeManifestError([Problem(self.relative_path, 0, 0, f"script `{written}` {refused.reason}")]) from None

    @property
    def script_source(self) -> str:
        return self.script_bytes.decode("utf-8", errors="replace")

    @cached_property
    def description_limit(self) -> int:
        """Characters each of its assets' descriptions may hold: the manifest's assets share a budget."""
        return limit_per_asset(len(self.values.assets or [self.name]))

    @cached_property
    def source_language(self) -> str:
        """The script's language, for the code block that shows it in descriptions."""
        return FENCE_LANGUAGES.get(self.script_path.suffix.lower(), "")

    @cached_property
    def code_version(self) -> str:
        """Changes whenever what the invocation does changes.

        Hashes the script's bytes and the manifest keys in `code_version_keys` (target,
        script, args, env; a platform owner adds their own). Descriptions, owners, tags,
        schedules and retries are left out: editing them does not make data stale.
        """
        invocation_keys = self.values.model_dump(include=set(self.code_version_keys), mode="json")
        digest = hashlib.sha256(self.script_bytes)
        digest.update(json.dumps(invocation_keys, sort_keys=True).encode())
        return digest.hexdigest()[:16]

    def position(self, *path: str | int) -> tuple[int, int]:
        """Line and column in the manifest file of the value at `path` (for error messages)."""
        return self.document.position(tuple(path))

    def written_at(self, key: str) -> str:
        """`path:line` where the top-level `key` is set: this file, else its group's `_group.yaml`.

        For messages about a value the practitioner may not have written here (inherited `retries`).
        """
        if (key,) not in self.document.positions:
            inherited = self.group_defaults.written_at(key)
            if inherited:
                return inherited
        return f"{self.relative_path}:{self.position(key)[0]}"

    def fields(self, model: type[FieldsT]) -> FieldsT:
        """`values` as `model`, a target's own `Model` class, so its extra keys read typed.

        `values` is built from the target's `Model` (`models.manifest_model`), so it is always an
        instance of it; a `Model` that does not subclass `model` is a mistake in the target.
        """
        if not isinstance(self.values, model):
            raise TypeError(f"{type(self).__qualname__}.Model must be a subclass of {model.__qualname__}")
        return self.values


class NopeAssetManifest:
    """One asset of a manifest. Values not set on the asset fall back to the manifest's top level."""

    Model: TypeAlias = AssetFields
    """The keys an asset may hold. Subclass to add or narrow keys."""

    def __init__(self, *, name: str, values: AssetFields, target_manifest: NopeInvocationTargetManifest):
        self.name = name
        self.values = values
        self.target_manifest = target_manifest

    def _value(self, field: str) -> Any:
        """The asset's own value if it set one, else the manifest's top-level value."""
        if field in self.values.model_fields_set:
            return getattr(self.values, field)
        return getattr(self.target_manifest.values, field)

    @property
    def yaml_path(self) -> tuple[str, ...]:
        """Where this asset's own keys sit in the manifest file (the top level for a single asset)."""
        top_level = self.target_manifest.values.assets is None
        return () if top_level else ("assets", self.name)

    @property
    def key(self) -> str:
        """The asset key with slashes: `<group>/<name>` unless the manifest sets `key:`."""
        return self._value("key") or default_asset_key(self.target_manifest.group, self.name)

    @property
    def deps(self) -> list[str]:
        return list(self._value("deps"))

    @property
    def owners(self) -> list[str]:
        return list(self._value("owners"))

    @property
    def tags(self) -> dict[str, str]:
        return {**self.target_manifest.values.tags, **self.values.tags}

    @property
    def automation(self) -> Automation | None:
        """A rule name the platform publishes, a cron, or None (materialized only when asked)."""
        return self._value("automation")

    @property
    def freshness(self) -> Freshness | None:
        """How late the asset may be: a policy name the platform publishes, `max_lag` and friends, or None."""
        return self._value("freshness")

    @property
    def kinds(self) -> list[str]:
        return list(self._value("kinds"))

    @property
    def metadata(self) -> dict[str, Any]:
        return {**self.target_manifest.values.metadata, **self.values.metadata}

    @property
    def description(self) -> str:
        """The manifest's description, then the script's source in a fenced code block, bounded
        (`descriptions.py`: Dagster copies every description into the code location's snapshot)."""
        manifest = self.target_manifest
        return asset_description(
            self._value("description"),
            manifest.script_source,
            language=manifest.source_language,
            limit=manifest.description_limit,
        )

    @property
    def code_version(self) -> str:
        return self.target_manifest.code_version
