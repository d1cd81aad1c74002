"""`NopeProject`: turns a `defs/` folder into Dagster definitions.

Platform owners subclass it to publish their targets (`invocation_target_map`) and
default resources; `definitions.py` calls `make_definitions` and nothing else.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from nope.loading import LoadedDefs, load_defs
from nope.owner_channels import OwnerChannels
from nope.problems import NopeManifestError, Problem, did_you_mean
from nope.process_privacy import keep_this_process_private
from nope.run_scope import current_scope, pass_to_child_processes
from nope.targets import NopeInvocationTarget, NopeSubprocessInvocationTarget

if TYPE_CHECKING:
    import dagster as dg

    from nope.asset_building import Publications

_log = logging.getLogger(__name__)


class NopeProject:
    """The platform: which targets exist and which resources they get."""

    allow_keys_outside_group: ClassVar[bool] = False
    """Whether a manifest's `key:` may name an asset outside its own group folder.

    Off by default: `key: sales/orders` in `defs/marketing/` would claim another team's asset,
    so it is refused at the claimant's file. Set True on your project class where several
    folders deliberately share one key namespace (the `broken_manifests/` prefix stays reserved).
    """

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
    def partitions(cls) -> dict[str, dg.PartitionsDefinition]:
        """Partitions definitions manifests may name in `partitions:`. Override to publish yours."""
        return {}

    @classmethod
    def automation_conditions(cls) -> dict[str, dg.AutomationCondition]:
        """Automation rules manifests may name in `automation:` (besides `{cron: ...}`)."""
        import dagster as dg

        return {
            "eager": dg.AutomationCondition.eager(),
            "on_missing": dg.AutomationCondition.on_missing(),
        }

    @classmethod
    def freshness_policies(cls) -> dict[str, dg.FreshnessPolicy]:
        """Freshness policies manifests may name in `freshness:` (besides `{max_lag: ...}`). None by default."""
        return {}

    @classmethod
    def team_channels(cls) -> dict[str, list[str]]:
        """`team:<name>` owner -> email addresses and `webhook:<VARIABLE>` entries (owner_channels.py). None by default."""
        return {}

    @classmethod
    def owner_channels(cls) -> OwnerChannels:
        """How owners are told: the teams' channels, and the SMTP server and UI address of the environment."""
        return OwnerChannels.from_environment(cls.team_channels(), os.environ)

    @classmethod
    def git_repository(cls) -> tuple[str, str] | None:
        """(web address, branch) of this repository on its git host, or None.

        When set, each asset's links to its script and manifest point at the files there
        (GitHub and GitLab address layouts) instead of at paths on the Dagster machine.
        """
        return None

    @classmethod
    def platform_problems(cls, repo_root: Path) -> list[Problem]:
        """Mistakes in the platform's own defaults (its settings module), with file and line.

        None by default; the generated project checks its `settings.py` here
        (`nope.platform_settings.check_settings`). `nope check` reports them with the manifests'
        problems, and `make_definitions` refuses to load with them, even in lenient mode: they
        touch every asset.
        """
        return []

    @classmethod
    def load(cls, defs_path: Path | str) -> LoadedDefs:
        """Read and check `defs/` and the platform's defaults without building anything (what `nope check` runs)."""
        loaded = load_defs(
            Path(defs_path), cls.invocation_target_map(), allow_keys_outside_group=cls.allow_keys_outside_group
        )
        loaded.platform_problems = cls.platform_problems(Path(defs_path).absolute().parent)
        loaded.problems[:0] = loaded.platform_problems
        return loaded

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
        from nope.asset_building import Publications

        keep_this_process_private()  # it holds the platform's secrets, and will start scripts
        loaded = cls._load_what_this_process_needs(defs_path)
        platform_problems = cls.platform_problems(Path(defs_path).absolute().parent)
        if platform_problems:
            raise NopeManifestError(platform_problems) from None
        all_resources = {**cls.default_resources(), **(resources or {})}
        publications = Publications(
            partitions=cls.partitions(),
            automation_conditions=cls.automation_conditions(),
            freshness_policies=cls.freshness_policies(),
        )
        broken = cls._broken_manifests(loaded, all_resources, publications, defs_path, lenient=lenient)
        valid = [target for target in loaded.targets if target.manifest_path not in broken]
        return cls._build(valid, broken, publications, all_resources, defs_path, lenient=lenient)

    @classmethod
    def _broken_manifests(
        cls,
        loaded: LoadedDefs,
        resources: Mapping[str, Any],
        publications: Publications,
        defs_path: Path | str,
        *,
        lenient: bool,
    ) -> dict[Path, list[Problem]]:
        """Manifest -> problems: what reading found, plus resources and publications the platform lacks.

        Strict mode raises them all at once; lenient mode logs them and carries on.
        """
        broken = dict(loaded.broken_manifests)
        for target in loaded.targets:
            found = _missing_resources(target, resources) + _unknown_publications(target, publications)
            if found:
                broken[target.manifest_path] = found
        problems = [problem for file_problems in broken.values() for problem in file_problems]
        if problems and (not lenient or not Path(defs_path).is_dir()):  # no defs/ at all is the platform's mistake
            raise NopeManifestError(problems) from None
        if problems:
            _log.warning("%s", NopeManifestError(problems))
        return broken

    @classmethod
    def _build(
        cls,
        targets: list[NopeInvocationTarget],
        broken: dict[Path, list[Problem]],
        publications: Publications,
        resources: Mapping[str, Any],
        defs_path: Path | str,
        *,
        lenient: bool,
    ) -> dg.Definitions:
        """One multi-asset per valid manifest, and a placeholder per broken one.

        In lenient mode a manifest Dagster refuses anyway (a rule `nope check` does not know
        yet) becomes a placeholder too, rather than failing everyone's code location.
        """
        from nope.asset_building import build_each, refused_when_resolved

        built, refused = build_each(targets, publications, lenient=lenient)
        defs = cls._definitions(built, broken | refused, defs_path, resources)
        if lenient:
            refused |= refused_when_resolved(defs, built, targets)
            if refused:
                _log.warning("%s", NopeManifestError(problem for found in refused.values() for problem in found))
                built = {path: asset for path, asset in built.items() if path not in refused}
                defs = cls._definitions(built, broken | refused, defs_path, resources)
        return defs

    @classmethod
    def _load_what_this_process_needs(cls, defs_path: Path | str) -> LoadedDefs:
        """Every manifest in a code server; in a run's process, only the manifests the run needs.

        A run worker, a step worker or `dagster asset materialize --select <keys>` reads only
        the groups holding its assets (run_scope.py says how it knows), so a run's cost does
        not grow with the number of manifests. When a wanted asset is not found where its key
        says (a platform that renames keys, or allows keys outside their group) or its manifest
        is broken, everything is read, as a code server does, and reported as it would be.
        """
        scope = current_scope()
        if scope is None or cls.allow_keys_outside_group:
            return cls.load(defs_path)
        loaded = load_defs(Path(defs_path), cls.invocation_target_map(), groups=scope.groups)
        wanted = [
            target
            for target in loaded.targets
            if target.op_name in scope.op_names or any(asset.key in scope.asset_keys for asset in target.asset_manifests)
        ]
        found_keys = {asset.key for target in wanted for asset in target.asset_manifests}
        if scope.asset_keys - found_keys or scope.op_names - {target.op_name for target in wanted}:
            return cls.load(defs_path)  # not where its key says, or broken: the whole tree says why
        pass_to_child_processes(scope)
        return LoadedDefs(wanted, [], {})

    @classmethod
    def _definitions(
        cls,
        built: Mapping[Path, dg.AssetsDefinition],
        broken: Mapping[Path, list[Problem]],
        defs_path: Path | str,
        resources: Mapping[str, Any],
    ) -> dg.Definitions:
        """The built assets (linked to the git host if set), a placeholder per broken manifest, the sensors."""
        import dagster as dg

        from nope.asset_building import build_broken_manifest_assets

        automated = any(spec.automation_condition for asset in built.values() for spec in asset.specs)
        assets: Sequence[Any] = list(built.values())  # Dagster's own union of asset types, once linked
        repository = cls.git_repository()
        if repository:
            # Git links are a beta API: Dagster warns once per call and per asset, which flooded
            # the webserver's log (10 warnings for the examples) on every load. Its use is ours to
            # watch, on Dagster upgrades, not every platform owner's to read.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", dg.BetaWarning)
                assets = dg.link_code_references_to_git(
                    assets_defs=assets,
                    git_url=repository[0],
                    git_branch=repository[1],
                    file_path_mapping=dg.AnchorBasedFilePathMapping(
                        local_file_anchor=Path(defs_path).absolute().parent, file_anchor_path_in_repository=""
                    ),
                )
        placeholders = build_broken_manifest_assets(dict(broken), Path(defs_path).absolute())
        sensors: list[dg.SensorDefinition] = [_automation_sensor()] if automated else []
        channels = cls.owner_channels()
        if channels.configured:  # else no sensor: every process that loads skips the mail and web modules
            from nope.notifications import owner_sensors

            owners_by_op = {
                asset.node_def.name: {spec.key.to_user_string(): list(spec.owners) for spec in asset.specs}
                for asset in built.values()
            }
            fresh_keys = [
                spec.key.to_user_string() for asset in built.values() for spec in asset.specs if spec.freshness_policy
            ]
            sensors += owner_sensors(owners_by_op, channels, fresh_keys=fresh_keys)
        return dg.Definitions(assets=[*assets, *placeholders], resources=resources, sensors=sensors)


def _automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset's `automation:`; running by default, so a cron in a manifest just works."""
    import dagster as dg

    return dg.AutomationConditionSensorDefinition(
        "nope_automation",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Runs assets whose manifests set `automation:` (a cron or a platform rule).",
    )


def _unknown_publications(target: NopeInvocationTarget, publications: Publications) -> list[Problem]:
    """Partition, automation rule and freshness policy names must be ones the platform publishes."""
    problems = []

    def unknown(path: tuple[str, ...], what: str, name: str, known: Mapping[str, Any]) -> None:
        listed = ", ".join(f"`{item}`" for item in known) or "none"
        problems.append(
            Problem(
                target.manifest.relative_path,
                *target.manifest.position(*path),
                f"unknown {what} `{name}`.{did_you_mean(name, known)} The platform publishes: {listed}",
            )
        )

    if target.manifest.partitions and target.manifest.partitions not in publications.partitions:
        unknown(("partitions",), "partitions", target.manifest.partitions, publications.partitions)
    for asset in target.asset_manifests:
        rule = asset.automation
        if isinstance(rule, str) and rule not in publications.automation_conditions:
            own = "automation" in asset.values.model_fields_set
            path = (*asset.yaml_path, "automation") if own else ("automation",)
            unknown(path, "automation rule", rule, publications.automation_conditions)
        policy = asset.freshness
        if isinstance(policy, str) and policy not in publications.freshness_policies:
            own = "freshness" in asset.values.model_fields_set
            path = (*asset.yaml_path, "freshness") if own else ("freshness",)
            unknown(path, "freshness policy", policy, publications.freshness_policies)
    return problems


def _missing_resources(target: NopeInvocationTarget, resources: Mapping[str, Any]) -> list[Problem]:
    """A target whose `invoke` asks for a resource nobody provides fails at load, not mid-run."""
    return [
        Problem(
            target.manifest.relative_path,
            *target.manifest.position("target"),
            f"target `{target.manifest.target}` ({type(target).__qualname__}) needs the resource "
            f"`{key}`, which the platform does not provide; pass it to make_definitions(resources=...)",
        )
        for key in target.required_resource_keys()
        if key not in resources
    ]
