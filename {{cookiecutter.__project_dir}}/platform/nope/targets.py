"""Invocation targets: how a manifest's script is run, and the two that ship by default.

A target class is what a manifest's `target:` names. It nests the manifest classes it
accepts (platform owners override their properties) and defines `invoke`, whose
parameters after `context` name the Dagster resources it needs: `invoke(self, context,
subprocess_client)` needs the `subprocess_client` resource, which Dagster injects.

Dagster is imported only inside the methods that run or build assets, so `nope check`
can validate a whole tree without paying for the Dagster import.
"""

from __future__ import annotations

import functools
import inspect
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from nope import environments
from nope.environments import Environment
from nope.manifests import NopeAssetManifest, NopeInvocationTargetManifest
from nope.models import AssetFields, TargetFields
from nope.script_environment import MINIMAL_ENVIRONMENT, ReferenceNotAllowed, expand, passed_through

if TYPE_CHECKING:
    import dagster as dg

    from nope.asset_building import Publications
    from nope.deploying import DeployContext


DATA_LOCATION_VARIABLE = "NOPE_DATA_LOCATION"
"""The variable scripts read their data location from: their environment's own (see `data_location`)."""

PRODUCTION_DATA_VARIABLE = "NOPE_PRODUCTION_DATA_LOCATION"
"""The variable a branch's scripts read production's data from, read-only (see `production_data_read_only`)."""

PLATFORM_VARIABLES = (environments.ENVIRONMENT_VARIABLE, DATA_LOCATION_VARIABLE, PRODUCTION_DATA_VARIABLE)

_run_environments: dict[str, dict[tuple[type, Path], Environment]] = {}
"""The current run's environment, by kind of target and repository: see `run_environment`."""
"""What only the platform sets: a manifest's `env:` of the same name is dropped, so that no manifest
hands its script production's data location under a name scripts trust."""


def resolved_data_location(location: str, repo_root: Path) -> str:
    """A URL (`s3://...`) or absolute path as given; a relative path from the repository root."""
    if "://" in location or Path(location).is_absolute():
        return location
    return str(repo_root / location)


class NopeInvocationTarget:
    """Base of every target. Subclass it and define `invoke` to run scripts your own way."""

    InvocationTargetManifest: ClassVar[type[NopeInvocationTargetManifest]] = NopeInvocationTargetManifest
    AssetManifest: ClassVar[type[NopeAssetManifest]] = NopeAssetManifest

    installs_script_dependencies: ClassVar[bool] = False
    """Whether this target installs the packages a Python script declares in its inline metadata
    (a PEP 723 `# /// script` block), as `uv` does. Only these targets get the block from `nope new`,
    and `nope check` refuses a script that declares packages its target would never install."""

    provided_dependencies: ClassVar[frozenset[str]] = frozenset()
    """Packages every script of this target has without installing anything (normalized names,
    such as `dagster-pipes`): a script may declare them whatever the target."""

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

    @functools.cached_property
    def op_name(self) -> str:
        """Unique per manifest (two groups may both have `main.py`): its path below defs/."""
        folders_below_defs = self.manifest.relative_path.split("/")[1:-1]
        return "__".join([*folders_below_defs, self.manifest.name])

    @classmethod
    def script_suffixes(cls) -> tuple[str, ...]:
        """Extensions this target runs. A manifest without `script:` uses the sibling file with one."""
        return (".py",)

    @classmethod
    def scaffold_script(cls, *, suffix: str, asset_keys: list[str], single: bool) -> str:
        """The script `nope new` writes for this target in the language of `suffix`.

        Override to start new scripts from your own template (a Modal app, a dbt model); the
        default writes a Pipes script for Python and one comment line in the language's own
        syntax otherwise (`nope/scaffold.py`).
        """
        from nope import scaffold

        return scaffold.script_text(
            suffix=suffix, asset_keys=asset_keys, single=single, declare_dependencies=cls.installs_script_dependencies
        )

    @classmethod
    @functools.cache  # per class: signatures do not change, and every manifest asks
    def required_resource_keys(cls) -> tuple[str, ...]:
        """Resource keys `invoke` asks for: its named parameters after `self` and `context`."""
        parameters = list(inspect.signature(cls.invoke).parameters.values())[2:]
        return tuple(p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))

    def invoke(self, context: dg.AssetExecutionContext, *args: Any, **resources: Any) -> Any:
        """Run the script. Return Pipes results, `MaterializeResult`s, or None (all selected assets done).

        A target's `invoke` names the resources it needs after `context`; Dagster passes them
        by name. (`*args, **resources` here lets each target name its own, for type checkers too.)
        """
        raise NotImplementedError(f"{type(self).__qualname__} must define invoke(self, context, ...)")

    def deploy(self, context: DeployContext) -> str | None:
        """Ship this manifest's script for `context.branch` (run by `nope deploy`).

        Return a sentence saying what was done, or None when there is nothing to ship (the
        default: the script runs straight from this repository).
        """
        return None

    def teardown(self, context: DeployContext) -> str | None:
        """Remove what `deploy` made for `context.branch`, which was merged or deleted
        (run by `nope deploy --teardown`; never for production).

        Return a sentence saying what was removed, or None when there was nothing (the default).
        """
        return None

    def build_assets_definition(self, publications: Publications) -> dg.AssetsDefinition:
        """The Dagster multi-asset for this manifest. Override to change how it is built."""
        from nope.asset_building import build_assets_definition

        return build_assets_definition(self, publications)


def script_suffix_rule(target_name: str, target_cls: type[NopeInvocationTarget], refused_suffix: str = "") -> str:
    """What a target runs and where that is decided, for messages about a script it will not run;
    given the refused script's extension, also how a platform owner makes the target run it.

    A new target runs `.py` scripts unless its class says otherwise, which is easy to miss when
    writing, say, a SQL target: the message names the method to override.
    """
    runs = ", ".join(f"`{suffix}`" for suffix in target_cls.script_suffixes())
    rule = f"target `{target_name}` runs only {runs} scripts ({target_cls.__qualname__}.script_suffixes())"
    return f"{rule}; a platform owner adds `{refused_suffix}` there to run them" if refused_suffix else rule


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

    passed_through_environment: ClassVar[tuple[str, ...]] = MINIMAL_ENVIRONMENT
    """The platform's variables every script of this target sees (names or `fnmatch` patterns).
    Nothing else of the platform's environment reaches a script: widen it in a subclass."""

    target_environment: ClassVar[tuple[str, ...]] = ()
    """Variables this kind of target needs on top, such as its tool's cache or credentials."""

    provided_dependencies = frozenset({"dagster-pipes"})
    """Python scripts run on the platform's interpreter (or in its image), which has `dagster_pipes`."""

    env_references: ClassVar[tuple[str, ...]] = ()
    """Variables a manifest's `env:` may copy with `${VAR}` (names or patterns): none by default."""

    data_location: ClassVar[str | None] = None
    """Where production's scripts keep data that other steps read, given to each as `NOPE_DATA_LOCATION`.

    Steps may run on different machines (a container or pod per run or per step), so a path
    relative to a script means nothing to the next step: this is one place every step reaches (a
    shared volume, or an object-storage URL such as `s3://bucket/prefix` for scripts that speak
    it). A relative path is taken from the repository root. None: the variable is not set.
    Only production gets this location; every other environment gets its own folder below
    `environments_data_location` (`nope/environments.py` says why)."""

    environments_data_location: ClassVar[str] = "data"
    """Below this, each environment other than production (a branch) keeps its data, in a folder named
    after it: `data/feature-x`. It must not overlap `data_location` (no environment but production is
    named `production`, so `data/production` may be production's)."""

    production_data_read_only: ClassVar[str | None] = None
    """A read-only way to production's data, given to other environments' scripts as
    `NOPE_PRODUCTION_DATA_LOCATION`, so a branch can read what it did not rebuild (like dbt's defer).
    It must be read-only by construction: a read-only mount, or an object-storage URL whose
    credentials in branch environments only read. A local folder this process could write is
    refused (a script runs as the same user). None: branch runs get no way to production's data."""


    @classmethod
    def script_suffixes(cls) -> tuple[str, ...]:
        """The extensions `interpreters` knows: extend that map to run another language."""
        return tuple(cls.interpreters)

    def command(self) -> list[str]:
        """The command line: interpreter by extension, the script, then the manifest's `args`."""
        interpreter = self.interpreters.get(self.script_path.suffix.lower(), [])
        return [*interpreter, self.python_script_path, *self.manifest.args]

    def environment(self, context: dg.AssetExecutionContext) -> dict[str, str]:
        """The script's whole environment: the platform variables passed through, the manifest's
        `env` (with `${VAR}` filled from the allowed variables), the environment it runs in and its
        data (`environment_variables`), and the partition being run (`NOPE_PARTITION_KEY`, or
        `NOPE_PARTITION_KEY_RANGE_START`/`_END`) for scripts that do not speak Pipes. The Pipes
        variables are added by the client."""
        env = passed_through(os.environ, (*self.passed_through_environment, *self.target_environment))
        env.update(self.manifest_environment())
        for name in PLATFORM_VARIABLES:
            env.pop(name, None)
        env.update(self.environment_variables(self.run_environment(context)))
        if context.has_partition_key:
            env["NOPE_PARTITION_KEY"] = context.partition_key
        if context.has_partition_key or context.has_partition_key_range:
            key_range = context.partition_key_range
            env["NOPE_PARTITION_KEY_RANGE_START"], env["NOPE_PARTITION_KEY_RANGE_END"] = key_range.start, key_range.end
        return env

    def run_environment(self, context: dg.AssetExecutionContext) -> Environment:
        """The environment of `context`'s run, read once per run for every target of a kind: what
        the scripts see and what their targets act on (the Modal environment) must agree even if
        the branch changes meanwhile. (Once, too, because reading the branch starts `git`.)"""
        per_target = _run_environments.get(context.run_id)
        if per_target is None:
            _run_environments.clear()  # a new run: the last run's are not asked for again
            per_target = _run_environments[context.run_id] = {}
        key = (type(self), self.repo_root)
        if key not in per_target:
            per_target[key] = self.read_environment()
        return per_target[key]

    def read_environment(self) -> Environment:
        """The environment a run is in now (`NOPE_ENVIRONMENT`, else the git branch, else `local`);
        a sentence when its name is unsafe. Override to be stricter, as the Modal target is."""
        import dagster as dg

        try:
            return environments.run_environment(self.repo_root)
        except environments.UnsafeEnvironment as unsafe:
            raise dg.Failure(f"`{self.manifest.relative_path}` cannot run: {unsafe}") from None

    def environment_variables(self, where: Environment) -> dict[str, str]:
        """`NOPE_ENVIRONMENT`, the environment's own `NOPE_DATA_LOCATION`, and for a branch
        production's read-only `NOPE_PRODUCTION_DATA_LOCATION` when the platform offers one.

        Set in place of the manifest's `env` of these names (PLATFORM_VARIABLES): each is the
        platform's or absent.
        """
        import dagster as dg

        variables = {environments.ENVIRONMENT_VARIABLE: where.safe_name}
        if self.data_location is not None:
            try:
                variables[DATA_LOCATION_VARIABLE] = environments.data_location(
                    where,
                    production=resolved_data_location(self.data_location, self.repo_root),
                    environments=resolved_data_location(self.environments_data_location, self.repo_root),
                )
            except environments.SharedLocation as shared:
                raise dg.Failure(f"`{self.manifest.relative_path}` cannot run: {shared}") from None
        if self.production_data_read_only is not None and not where.is_production:
            variables[PRODUCTION_DATA_VARIABLE] = self.read_only_production_data(self.production_data_read_only)
        return variables

    def read_only_production_data(self, location: str) -> str:
        """`location` resolved, refused when it is a local folder this process may write (or is missing)."""
        import dagster as dg

        resolved = resolved_data_location(location, self.repo_root)
        if "://" in resolved:
            return resolved  # object storage: its credentials decide, which the platform cannot check
        problem = None
        if not Path(resolved).is_dir():
            problem = "is not a folder here. Mount it read-only where Dagster runs, or unset it."
        elif os.access(resolved, os.W_OK):
            problem = (
                "is writable by the platform, so a branch's script could write production's data through it. "
                "Mount it read-only, or unset it."
            )
        if problem:
            raise dg.Failure(
                f"`{self.manifest.relative_path}` cannot run: production's read-only data location `{resolved}` "
                f"(NOPE_PRODUCTION_DATA_LOCATION) {problem}"
            )
        return resolved

    def manifest_environment(self) -> dict[str, str]:
        """The manifest's `env`, each `${VAR}` filled from the platform's variables it may copy."""
        import dagster as dg

        env = {}
        for name, value in self.manifest.env.items():
            try:
                env[name] = expand(value, os.environ, self.env_references)
            except ReferenceNotAllowed as refused:
                allowed = ", ".join(f"`{pattern}`" for pattern in self.env_references) or "none"
                raise dg.Failure(
                    f"{self.manifest.relative_path}: env `{name}` uses ${{{refused.name}}}, which the platform "
                    f"does not let manifests copy (allowed: {allowed}). Set the value in the manifest, or ask "
                    "the platform owner to allow it (SCRIPT_ENV_REFERENCES in the platform's settings.py)."
                ) from None
            except KeyError as missing:
                raise dg.Failure(
                    f"{self.manifest.relative_path}: env `{name}` uses ${{{missing.args[0]}}}, "
                    "which is not set on the platform"
                ) from None
        return env

    def invoke(self, context: dg.AssetExecutionContext, subprocess_client: dg.PipesSubprocessClient) -> Any:
        return self.run_command(context, subprocess_client, self.command())

    def run_command(
        self, context: dg.AssetExecutionContext, subprocess_client: dg.PipesSubprocessClient, command: list[str]
    ) -> Any:
        """Run `command` through Pipes from the repository root, with this target's environment and timeout.

        What `invoke` does with `command()`; a subclass whose `invoke` works out facts the command
        needs (the Modal target's environment) builds the command from them and calls this.
        """
        import dagster as dg

        from nope.subprocess_client import NopeSubprocessClient

        self.require_executable(command[0])
        run_options: dict[str, Any] = {}
        if isinstance(subprocess_client, NopeSubprocessClient):
            run_options["inherit_environment"] = False
        else:
            context.log.warning(
                "`subprocess_client` is not the platform's NopeSubprocessClient: the script sees the "
                "platform's whole environment, and its processes may outlive the step."
            )
        if self.manifest.timeout is not None:
            if not isinstance(subprocess_client, NopeSubprocessClient):
                raise dg.Failure("`timeout:` needs the platform's NopeSubprocessClient as `subprocess_client`")
            run_options["timeout"] = self.manifest.timeout
        return subprocess_client.run(
            context=context,
            command=command,
            cwd=str(self.repo_root),
            env=self.environment(context),
            **run_options,
        ).get_results()

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
