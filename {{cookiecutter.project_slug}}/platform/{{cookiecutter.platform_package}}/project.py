"""The company platform: the targets practitioners may name, and their defaults.

This is the platform owner's file. It follows the Nope tutorial's pattern: nested manifest
classes override properties, `super()` gives what the manifest file says.
"""

from __future__ import annotations

from nope import (
    NopeAssetManifest,
    NopeInvocationTarget,
    NopeInvocationTargetManifest,
    NopeProject,
    NopeSubprocessInvocationTarget,
)

from {{ cookiecutter.platform_package }}.settings import DEFAULT_KIND, DEFAULT_OWNERS


class {{ cookiecutter.__project_class.removesuffix('Project') }}SubprocessInvocationTarget(NopeSubprocessInvocationTarget):
    """`target: subprocess`, with the company's kind tag and default owners."""

    class InvocationTargetManifest(NopeInvocationTargetManifest):
        @property
        def tags(self) -> dict[str, str]:
            # The manifest's own `kind` tag, if any, wins over the platform default.
            return {"kind": DEFAULT_KIND, **super().tags}

    class AssetManifest(NopeAssetManifest):
        @property
        def owners(self) -> list[str]:
            # Owners in the manifest replace the default entirely; they are not merged.
            return super().owners or list(DEFAULT_OWNERS)


class {{ cookiecutter.__project_class }}(NopeProject):
    """The project `definitions.py` builds; `invocation_target_map` names every target."""

    @classmethod
    def invocation_target_map(cls) -> dict[str, type[NopeInvocationTarget]]:
        return {"subprocess": {{ cookiecutter.__project_class.removesuffix('Project') }}SubprocessInvocationTarget}
