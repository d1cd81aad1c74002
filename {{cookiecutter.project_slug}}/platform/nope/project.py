"""`NopeProject`: turns a `defs/` folder into Dagster definitions.

Platform owners subclass it to publish their targets (`invocation_target_map`) and
default resources; `definitions.py` calls `make_definitions` and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nope.loading import LoadedDefs, load_defs
from nope.problems import NopeManifestError, Problem
from nope.targets import NopeInvocationTarget, NopeSubprocessInvocationTarget

if TYPE_CHECKING:
    import dagster as dg

_log = logging.getLogger(__name__)


class NopeProject:
    """The platform: which targets exist and which resources they get."""

    @classmethod
    def invocation_target_map(cls) -> dict[str, type[NopeInvocationTarget]]:
        """Manifest `target:` name -> target class. Override to add or replace targets."""
        return {"subprocess": NopeSubprocessInvocationTarget}

    @classmethod
    def default_resources(cls) -> dict[str, Any]:
        """Resources every code location gets; `make_definitions(resources=...)` merges over them."""
        from nope.subprocess_client import NopeSubprocessClient

        return {"subprocess_client": NopeSubprocessClient()}

    @classmethod
    def load(cls, defs_path: Path | str) -> LoadedDefs:
        """Read and check `defs/` without building anything (what `nope check` runs)."""
        return load_defs(Path(defs_path), cls.invocation_target_map())

    @classmethod
    def make_definitions(
        cls,
        defs_path: Path | str,
        resources: Mapping[str, Any] | None = None,
        lenient: bool = False,
    ) -> dg.Definitions:
        """A plain `dagster.Definitions` with one multi-asset per manifest under `defs_path`.

        Raises `NopeManifestError` listing every problem in `defs/` at once. With
        `lenient=True` (for production deployments), every valid manifest still loads and
        each broken one becomes a placeholder asset in the `broken_manifests` group whose
        description lists its problems and whose materialization fails saying so: one
        practitioner's typo cannot take down everyone's assets.
        """
        import dagster as dg

        from nope.asset_building import build_broken_manifest_assets

        loaded = cls.load(defs_path)
        all_resources = {**cls.default_resources(), **(resources or {})}
        broken = {**loaded.broken_manifests, **_missing_resources(loaded.targets, all_resources)}
        problems = [problem for file_problems in broken.values() for problem in file_problems]
        if problems and (not lenient or not Path(defs_path).is_dir()):  # no defs/ at all is the platform's mistake
            raise NopeManifestError(problems) from None
        if problems:
            _log.warning("%s", NopeManifestError(problems))
        assets = [target.build_assets_definition() for target in loaded.targets if target.manifest_path not in broken]
        assets += build_broken_manifest_assets(broken, Path(defs_path).absolute())
        return dg.Definitions(assets=assets, resources=all_resources)


def _missing_resources(targets: list[NopeInvocationTarget], resources: Mapping[str, Any]) -> dict[Path, list[Problem]]:
    """A target whose `invoke` asks for a resource nobody provides fails at load, not mid-run."""
    found: dict[Path, list[Problem]] = {}
    for target in targets:
        problems = found.setdefault(target.manifest_path, [])
        for key in target.required_resource_keys():
            if key not in resources:
                problems.append(
                    Problem(
                        target.manifest.relative_path,
                        *target.manifest.position("target"),
                        f"target `{target.manifest.target}` ({type(target).__qualname__}) needs the resource "
                        f"`{key}`, which the platform does not provide; pass it to make_definitions(resources=...)",
                    )
                )
    return {path: problems for path, problems in found.items() if problems}
