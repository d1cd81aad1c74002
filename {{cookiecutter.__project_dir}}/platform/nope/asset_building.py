"""From a validated target to a Dagster multi-asset: the one place that builds Dagster objects.

One manifest becomes one `multi_asset` whose op calls the target's `invoke`, passing the
resources its signature names. Manifest tags named `kind` become Dagster kinds (the badge
in the asset graph); code references link every asset to its manifest and script. In
lenient mode, each broken manifest becomes a placeholder asset that shows its problems.
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from graphlib import TopologicalSorter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from nope.descriptions import bounded_text
from nope.freshness import duration_seconds
from nope.models import RESERVED_GROUP, Automation, CronAutomation, Freshness, FreshnessFields, Retries
from nope.problems import NopeManifestError, Problem
from nope.target_checks import kinds_and_tags

if TYPE_CHECKING:
    from nope.manifests import NopeAssetManifest
    from nope.targets import NopeInvocationTarget

@dataclass(frozen=True)
class Publications:
    """What the platform publishes for manifests to name: partitions, automation rules, freshness policies."""

    partitions: Mapping[str, dg.PartitionsDefinition]
    automation_conditions: Mapping[str, dg.AutomationCondition]
    freshness_policies: Mapping[str, dg.FreshnessPolicy] = field(default_factory=dict)

    def automation_condition(self, automation: Automation | None) -> dg.AutomationCondition | None:
        if automation is None:
            return None
        if isinstance(automation, CronAutomation):
            return dg.AutomationCondition.on_cron(automation.cron, automation.timezone)
        return self.automation_conditions[automation]

    def freshness_policy(self, freshness: Freshness | None) -> dg.FreshnessPolicy | None:
        """`{max_lag: 26h}` is a time window, `{max_lag: 1h, cron: ...}` a deadline, a name the platform's policy."""
        if freshness is None:
            return None
        if not isinstance(freshness, FreshnessFields):
            return self.freshness_policies[freshness]
        max_lag = timedelta(seconds=duration_seconds(freshness.max_lag))
        if freshness.cron:
            return dg.FreshnessPolicy.cron(
                deadline_cron=freshness.cron, lower_bound_delta=max_lag, timezone=freshness.timezone
            )
        warn_after = timedelta(seconds=duration_seconds(freshness.warn_after)) if freshness.warn_after else None
        return dg.FreshnessPolicy.time_window(fail_window=max_lag, warn_window=warn_after)


def build_assets_definition(target: NopeInvocationTarget, publications: Publications) -> dg.AssetsDefinition:
    """One multi-asset for one manifest, named after the manifest's path below defs/."""
    manifest = target.manifest
    resource_keys = target.required_resource_keys()
    specs = [_asset_spec(target, asset, publications) for asset in target.asset_manifests]
    check_specs = _check_specs(target)

    # No annotations on the op function: Dagster evaluates them (`typing.get_type_hints`) for
    # every op it builds, and `Iterator[Any]` alone was ~5% of loading 10,000 manifests.
    def _invocation(context):  # an `AssetExecutionContext`
        resources = {key: getattr(context.resources, key) for key in resource_keys}
        with _last_attempt_fails_with_its_own_error(context, target):
            results = _results(target.invoke(context, **resources), context, target)
        yield from results
        yield from _unreported_checks(results, context)

    # Dagster asks for the op function's signature about 14 times per multi-asset it builds
    # (context, config and resource parameters), and `inspect.signature` returns a function's
    # `__signature__` as it is (PEP 362). Every op has this same signature, so it is worked
    # out once: building each multi-asset is then ~15% cheaper (measured on 2,000 of them).
    _invocation.__signature__ = _OP_FUNCTION_SIGNATURE  # type: ignore[attr-defined]  # PEP 362 allows it; typeshed's functions do not declare it
    return dg.multi_asset(
        name=target.op_name,
        specs=specs,
        check_specs=check_specs,
        description=bounded_text(manifest.description),  # the op's: bounded as the assets' are
        required_resource_keys=set(resource_keys),
        partitions_def=publications.partitions[manifest.partitions] if manifest.partitions else None,
        retry_policy=_retry_policy(manifest.retries),
        pool=manifest.pool,
    )(_invocation)


def build_each(
    targets: list[NopeInvocationTarget], publications: Publications, *, lenient: bool
) -> tuple[dict[Path, dg.AssetsDefinition], dict[Path, list[Problem]]]:
    """Each target's multi-asset by manifest path, and (lenient mode) the manifests Dagster refused.

    Strict mode raises, naming the manifest: the error is Dagster's, or a script that changed
    since it was checked. Lenient mode turns the error into the manifest's problem, so one
    practitioner's file never fails the code location.
    """
    built: dict[Path, dg.AssetsDefinition] = {}
    refused: dict[Path, list[Problem]] = {}
    for target in targets:
        try:
            built[target.manifest_path] = target.build_assets_definition(publications)
        except NopeManifestError as error:
            if not lenient:
                raise
            refused[target.manifest_path] = error.problems
        except Exception as error:
            if not lenient:
                error.add_note(f"while building the assets of {target.manifest.relative_path}")
                raise
            refused[target.manifest_path] = [_refused_by_dagster(target, error)]
    return built, refused


def refused_when_resolved(
    defs: dg.Definitions, built: Mapping[Path, dg.AssetsDefinition], targets: Iterable[NopeInvocationTarget]
) -> dict[Path, list[Problem]]:
    """Manifests whose assets Dagster refuses only when it resolves the asset graph (lenient mode).

    Dagster checks some values there (e.g. `dagster/row_count` metadata), not when building.
    The graph is resolved once here, as the code server would anyway (Dagster caches it on
    `defs`); only when that fails is each multi-asset resolved alone to find the culprits.
    """
    try:
        defs.resolve_asset_graph()
        return {}
    except Exception as whole_graph_error:
        refused = {}
        targets_by_path = {target.manifest_path: target for target in targets}
        for path, assets_def in built.items():
            try:
                dg.Definitions(assets=[assets_def], resources=defs.resources).resolve_asset_graph()
            except Exception as error:
                refused[path] = [_refused_by_dagster(targets_by_path[path], error)]
        if not refused:  # no single manifest is the cause: a platform bug, raised as it is
            raise whole_graph_error
        return refused


def _refused_by_dagster(target: NopeInvocationTarget, error: Exception) -> Problem:
    text = " ".join(str(error).split())  # one line, as every problem is
    return Problem(target.manifest.relative_path, 0, 0, f"Dagster refused its assets: {type(error).__name__}: {text}")


_OP_FUNCTION_SIGNATURE = inspect.Signature([inspect.Parameter("context", inspect.Parameter.POSITIONAL_OR_KEYWORD)])
"""The signature of every manifest's op function: `(context)`."""


@contextmanager
def _last_attempt_fails_with_its_own_error(context: dg.AssetExecutionContext, target: NopeInvocationTarget) -> Iterator[None]:
    """On the last attempt `retries:` allows, fail leading with the error itself, saying where the retries were set.

    Dagster reports a step that used up its retry policy as "Exceeded max_retries of 2", with the
    script's error only as the cause, while a `Failure` that refuses retries is reported as it is.
    So the last attempt turns its error into such a `Failure`: the script's words first, then
    "All 3 attempts failed (`retries:` at defs/sales/_group.yaml:2)." The original stays its cause.
    """
    retries = target.manifest.retries
    if retries is None or context.retry_number < retries.max:
        yield
        return
    try:
        yield
    except (dg.RetryRequested, dg.DagsterError):  # asked for by the code itself, or Dagster's own: reported as Dagster does
        raise
    except Exception as error:
        failure = error if isinstance(error, dg.Failure) else None
        words = failure.description if failure and failure.description else f"{type(error).__name__}: {error}"
        where = target.manifest.written_at("retries")
        raise dg.Failure(
            description=f"{words}\n\nAll {retries.max + 1} attempts failed (`retries:` at {where}).",
            metadata=failure.metadata if failure else None,
            allow_retries=False,
        ) from error


def _retry_policy(retries: Retries | None) -> dg.RetryPolicy | None:
    if retries is None:
        return None
    backoff = dg.Backoff.EXPONENTIAL if retries.backoff == "exponential" else None
    return dg.RetryPolicy(max_retries=retries.max, delay=retries.delay or None, backoff=backoff)


def _check_specs(target: NopeInvocationTarget) -> list[dg.AssetCheckSpec]:
    """Checks by asset name in the manifest; a manifest with one asset may leave the name out."""
    keys = {asset.name: asset.key for asset in target.asset_manifests}
    only = target.asset_manifests[0].key  # a check may name no asset only when there is one (`nope check`)
    return [
        dg.AssetCheckSpec(
            check.name,
            asset=dg.AssetKey((keys[check.asset] if check.asset else only).split("/")),
            description=check.description,
            blocking=check.blocking,
        )
        for check in target.manifest.checks
    ]


def _unreported_checks(results: list[Any], context: dg.AssetExecutionContext) -> Iterator[dg.AssetCheckResult]:
    """A declared check the script never reported fails, saying so (instead of a Dagster internal error)."""
    reported = {
        (result.asset_key, result.check_name) for result in results if isinstance(result, dg.AssetCheckResult)
    }
    for check_key in sorted(context.selected_asset_check_keys, key=str):
        if (check_key.asset_key, check_key.name) not in reported:
            yield dg.AssetCheckResult(
                asset_key=check_key.asset_key,
                check_name=check_key.name,
                passed=False,
                metadata={"problem": "the script did not report this check (pipes.report_asset_check)"},
            )


def _asset_spec(
    target: NopeInvocationTarget, asset: NopeAssetManifest, publications: Publications
) -> dg.AssetSpec:
    kinds, tags = kinds_and_tags(target, asset)
    return dg.AssetSpec(
        key=dg.AssetKey(asset.key.split("/")),
        deps=[dg.AssetKey(dep.split("/")) for dep in asset.deps],
        description=asset.description,
        group_name=target.group,
        owners=asset.owners,
        tags=tags,
        kinds=kinds,
        code_version=asset.code_version,
        automation_condition=publications.automation_condition(asset.automation),
        freshness_policy=publications.freshness_policy(asset.freshness),
        metadata={**asset.metadata, **_code_references(target)},
    )


def _code_references(target: NopeInvocationTarget) -> dict[str, dg.CodeReferencesMetadataValue]:
    """Links from the asset to its manifest and script, shown as "source" links in the UI."""
    with warnings.catch_warnings():  # code references are a beta API; one warning per asset is noise
        warnings.simplefilter("ignore", dg.BetaWarning)
        return {
            "dagster/code_references": dg.CodeReferencesMetadataValue(
                code_references=[
                    dg.LocalFileCodeReference(file_path=str(target.script_path), line_number=1, label="script"),
                    dg.LocalFileCodeReference(file_path=str(target.manifest_path), line_number=1, label="manifest"),
                ]
            )
        }


def _results(returned: Any, context: dg.AssetExecutionContext, target: NopeInvocationTarget) -> list[Any]:
    """Normalize what `invoke` returned into results Dagster accepts, upstream assets first.

    None means "the run succeeded": every selected asset is reported materialized.
    """
    results: list[Any]
    if returned is None:
        results = [dg.MaterializeResult(asset_key=key) for key in context.selected_asset_keys]
    elif isinstance(returned, dg.PipesClientCompletedInvocation):
        results = list(returned.get_results())
    elif isinstance(returned, (dg.MaterializeResult, dg.AssetCheckResult)):
        results = [returned]
    else:
        results = list(returned)
    return _in_dependency_order(target, results)


BROKEN_GROUP = RESERVED_GROUP


def build_broken_manifest_assets(
    broken: dict[Path, list[Problem]], defs_path: Path
) -> list[dg.AssetsDefinition]:
    """Lenient mode: one placeholder asset per manifest that could not be loaded.

    It sits in the `broken_manifests` group, its description lists the problems (file, line,
    message), and materializing it fails with the same list, so the mistake is visible in
    the UI to whoever looks, instead of hiding in a log.
    """
    placeholders = []
    used_names: set[str] = set()
    for path, problems in broken.items():
        relative_path = path.relative_to(defs_path.parent).as_posix()
        name = re.sub(r"[^A-Za-z0-9_]", "_", path.relative_to(defs_path).as_posix().replace("/", "__"))
        while name in used_names:  # `a-b.yaml` and `a_b.yaml` both read `a_b_yaml`
            name += "_"
        used_names.add(name)
        placeholders.append(_broken_manifest_asset(name, relative_path, problems))
    return placeholders


def _broken_manifest_asset(name: str, relative_path: str, problems: list[Problem]) -> dg.AssetsDefinition:
    listing = "\n".join(f"- {problem}" for problem in problems)
    message = f"{relative_path} could not be loaded; fix it and reload the code location:\n{listing}"

    @dg.asset(
        key=dg.AssetKey([BROKEN_GROUP, name]),
        group_name=BROKEN_GROUP,
        description=message,
        metadata={"manifest": relative_path, "problems": dg.MetadataValue.md(listing)},
        tags={"nope/broken": "true"},
    )
    def _placeholder() -> None:
        raise dg.Failure(description=message)

    return _placeholder


def _in_dependency_order(target: NopeInvocationTarget, results: list[Any]) -> list[Any]:
    """`results` with each asset after those of the same manifest it depends on.

    Dagster refuses a multi-asset that reports an asset before one of its own upstream
    assets; a script (or `invoke`) should not have to know that. The sort is stable, so
    results for one asset keep their order.
    """
    graph = {asset.key: asset.deps for asset in target.asset_manifests}
    rank = {dg.AssetKey.from_user_string(key): i for i, key in enumerate(TopologicalSorter(graph).static_order())}
    return sorted(results, key=lambda result: rank.get(result.asset_key, len(rank)))
