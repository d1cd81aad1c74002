"""Invocation targets: how a manifest's script is run, and the two that ship by default.

A target class is what a manifest's `target:` names. It nests the manifest classes it
accepts (platform owners override their properties) and defines `invoke`, whose
parameters after `context` name the Dagster resources it needs: `invoke(self, context,
subprocess_client)` needs the `subprocess_client` resource, which Dagster injects.

Dagster is imported only inside the methods that run or build assets, so `nope check`
can validate a whole tree without paying for the Dagster import.
"""

from __future__ import annotations

import inspect
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from nope.manifests import NopeAssetManifest, NopeInvocationTargetManifest
from nope.models import AssetFields, TargetFields

if TYPE_CHECKING:
    import dagster as dg


class NopeInvocationTarget:
    """Base of every target. Subclass it and define `invoke` to run scripts your own way."""

    InvocationTargetManifest: ClassVar[type[NopeInvocationTargetManifest]] = NopeInvocationTargetManifest
    AssetManifest: ClassVar[type[NopeAssetManifest]] = NopeAssetManifest

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Catch a mis-declared nested class when the platform module is imported, naming it."""
        super().__init_subclass__(**kwargs)
        for attribute, base, model_base in (
            ("InvocationTargetManifest", NopeInvocationTargetManifest, TargetFields),
            ("AssetManifest", NopeAssetManifest, AssetFields),
        ):
            nested = getattr(cls, attribute)
            if not (isinstance(nested, type) and issubclass(nested, base)):
                raise TypeError(f"{cls.__qualname__}.{attribute} must be a subclass of {base.__name__}, got {nested!r}")
            if not (isinstance(nested.Model, type) and issubclass(nested.Model, model_base)):
                raise TypeError(
                    f"{cls.__qualname__}.{attribute}.Model must be a subclass of "
                    f"{base.__name__}.Model ({model_base.__name__}), got {nested.Model!r}"
                )
        parameters = list(inspect.signature(cls.invoke).parameters)
        if parameters[:2] != ["self", "context"]:
            raise TypeError(f"{cls.__qualname__}.invoke must take (self, context, <resources>...), got {parameters}")

    def __init__(self, manifest: NopeInvocationTargetManifest, asset_manifests: list[NopeAssetManifest]):
        self.manifest = manifest
        self.asset_manifests = asset_manifests

    @property
    def manifest_path(self) -> Path:
        return self.manifest.path

    @property
    def group(self) -> str:
        return self.manifest.group

    @property
    def script_path(self) -> Path:
        return self.manifest.script_path

    @property
    def python_script_path(self) -> str:
        """The script's absolute path as a string, ready for a command line (seed API)."""
        return str(self.manifest.script_path)

    @property
    def repo_root(self) -> Path:
        """The platform repository's root: the folder that holds `defs/`. Scripts run from here."""
        return self.manifest.defs_path.parent

    @property
    def op_name(self) -> str:
        """Unique per manifest (two groups may both have `main.py`): its path below defs/."""
        return "__".join(self.manifest.path.relative_to(self.manifest.defs_path).with_suffix("").parts)

    @classmethod
    def script_suffixes(cls) -> tuple[str, ...]:
        """Extensions this target runs. A manifest without `script:` uses the sibling file with one."""
        return (".py",)

    @classmethod
    def required_resource_keys(cls) -> list[str]:
        """Resource keys `invoke` asks for: its parameters after `self` and `context`."""
        return list(inspect.signature(cls.invoke).parameters)[2:]

    def invoke(self, context: dg.AssetExecutionContext, **resources: Any) -> Any:
        """Run the script. Return Pipes results, `MaterializeResult`s, or None (all selected assets done)."""
        raise NotImplementedError(f"{type(self).__qualname__} must define invoke(self, context, ...)")

    def build_assets_definition(self) -> dg.AssetsDefinition:
        """The Dagster multi-asset for this manifest. Override to change how it is built."""
        from nope.asset_building import build_assets_definition

        return build_assets_definition(self)


class NopeSubprocessInvocationTarget(NopeInvocationTarget):
    """Runs the script as a subprocess through Dagster Pipes (`target: subprocess`).

    The interpreter comes from the script's extension; Python scripts use the platform's
    own interpreter, so `dagster_pipes` is importable without any setup by practitioners.
    Extend `interpreters` in a subclass to support more languages.
    """

    interpreters: ClassVar[dict[str, list[str]]] = {
        ".py": [sys.executable],
        ".sh": ["bash"],
        ".r": ["Rscript"],
        ".js": ["node"],
    }

    @classmethod
    def script_suffixes(cls) -> tuple[str, ...]:
        return tuple(cls.interpreters)

    def command(self) -> list[str]:
        """The command line that runs the script (interpreter by extension, then the script)."""
        interpreter = self.interpreters.get(self.script_path.suffix.lower(), [])
        return [*interpreter, self.python_script_path]

    def invoke(self, context: dg.AssetExecutionContext, subprocess_client: dg.PipesSubprocessClient) -> Any:
        command = self.command()
        self.require_executable(command[0])
        return subprocess_client.run(context=context, command=command, cwd=str(self.repo_root)).get_results()

    def require_executable(self, executable: str) -> None:
        """Fail the step with a sentence, not an OSError traceback, when a command it needs is missing."""
        import dagster as dg

        if shutil.which(executable) is None:
            raise dg.Failure(
                description=(
                    f"`{self.manifest.relative_path}` needs `{executable}`, which is not installed where "
                    f"Dagster runs (not found on PATH). Install it there, or ask the platform owner to change "
                    f"how target `{self.manifest.target}` runs `{self.script_path.suffix.lower()}` scripts."
                )
            )
