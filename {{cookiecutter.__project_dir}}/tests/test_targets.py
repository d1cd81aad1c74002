"""What a platform owner builds on: targets, their interpreters, their results, manifest overrides."""

from __future__ import annotations

import dagster as dg
import pytest

from nope import (
    NopeAssetManifest,
    NopeInvocationTarget,
    NopeInvocationTargetManifest,
    NopeProject,
    NopeSubprocessInvocationTarget,
)

from conftest import PIPES_SCRIPT, description_of, materialize, specs_by_key, step_failure_text


def project_with(targets: dict[str, type[NopeInvocationTarget]]) -> type[NopeProject]:
    class Project(NopeProject):
        @classmethod
        def invocation_target_map(cls) -> dict[str, type[NopeInvocationTarget]]:
            return targets

    return Project

def metadata_of(instance: dg.DagsterInstance, key: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey.from_user_string(key))
    assert event is not None, f"{key} was not materialized"
    materialization = event.asset_materialization
    assert materialization is not None, f"{key}'s event holds no materialization"
    return {name: value.value for name, value in materialization.metadata.items()}

# --- non-Python scripts --------------------------------------------------------------------


def test_a_shell_script_runs_through_bash_with_the_pipes_environment(make_defs, instance):
    defs_path = make_defs(
        {
            "ops/disk_report.sh": """
                set -eu
                echo "pipes context ${DAGSTER_PIPES_CONTEXT:+present}, shell $BASH_VERSION" > disk_report.txt
            """,
            "ops/disk_report.yaml": "target: subprocess\n",  # the script is the sibling .sh file
        }
    )
    result = materialize(NopeProject.make_definitions(defs_path=defs_path), instance)
    assert result.success
    assert instance.get_latest_materialization_event(dg.AssetKey(["ops", "disk_report"])) is not None
    written = (defs_path.parent / "disk_report.txt").read_text()
    assert written.startswith("pipes context present, shell ")


def test_a_failing_shell_script_fails_its_step_with_its_stderr(make_defs, instance):
    defs_path = make_defs(
        {"ops/broken.sh": "echo 'no such table: orders' >&2\nexit 4\n", "ops/broken.yaml": "target: subprocess\n"}
    )
    result = materialize(NopeProject.make_definitions(defs_path=defs_path), instance)
    assert not result.success
    assert "exited with code 4" in step_failure_text(result)
    assert "no such table: orders" in step_failure_text(result)


def test_a_missing_interpreter_fails_the_step_with_a_sentence(make_defs, instance, tmp_path, monkeypatch):
    defs_path = make_defs({"stats/model.R": "print('hi')\n", "stats/model.yaml": "target: subprocess\n"})
    defs = NopeProject.make_definitions(defs_path=defs_path)
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no Rscript here, whatever the machine has installed
    result = materialize(defs, instance)
    assert not result.success
    text = step_failure_text(result)
    assert "`defs/stats/model.yaml` needs `Rscript`, which is not installed where Dagster runs" in text
    assert "FileNotFoundError" not in text


def test_the_platform_owner_can_add_an_interpreter(make_defs, instance):
    class AwkTarget(NopeSubprocessInvocationTarget):
        interpreters = {**NopeSubprocessInvocationTarget.interpreters, ".awk": ["awk", "-f"]}

    defs_path = make_defs(
        {
            "ops/count.awk": 'BEGIN { print "counted by awk" > "awk_ran.txt" }\n',
            "ops/count.yaml": "target: subprocess\n",
        }
    )
    result = materialize(project_with({"subprocess": AwkTarget}).make_definitions(defs_path=defs_path), instance)
    assert result.success
    assert (defs_path.parent / "awk_ran.txt").read_text() == "counted by awk\n"


# --- what invoke may return ----------------------------------------------------------------


class ReportsItsFiles(NopeInvocationTarget):
    """Returns one MaterializeResult per asset, describing what the target knows about its files."""

    def invoke(self, context: dg.AssetExecutionContext) -> list[dg.MaterializeResult]:
        known = {
            "python_script_path": self.python_script_path,
            "manifest_path": str(self.manifest_path),
            "group": self.group,
            "assets": ",".join(asset.key for asset in self.asset_manifests),
        }
        # Returned in manifest order (downstream `second` first): the loader reports upstream first.
        return [
            dg.MaterializeResult(asset_key=dg.AssetKey.from_user_string(asset.key), metadata=known)
            for asset in self.asset_manifests
        ]


class ReturnsOneResult(NopeInvocationTarget):
    def invoke(self, context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"rows": 7})


class ReturnsTheInvocation(NopeSubprocessInvocationTarget):
    """Returns the Pipes invocation itself, without calling `get_results()`."""

    def invoke(self, context: dg.AssetExecutionContext, subprocess_client: dg.PipesSubprocessClient):
        return subprocess_client.run(context=context, command=self.command())


class ReturnsNothing(NopeInvocationTarget):
    def invoke(self, context: dg.AssetExecutionContext) -> None:
        return None


MULTI_ASSET_MANIFEST = """\
target: TARGET
script: pair.py
assets:
  second:
    deps: [g/first]
  first:
    description: upstream
"""


def test_invoke_may_return_materialize_results_and_targets_know_their_files(make_defs, instance):
    defs_path = make_defs({"g/pair.py": "# run elsewhere\n", "g/pair.yaml": MULTI_ASSET_MANIFEST.replace("TARGET", "files")})
    result = materialize(project_with({"files": ReportsItsFiles}).make_definitions(defs_path=defs_path), instance)
    assert result.success
    for key in ["g/first", "g/second"]:
        assert metadata_of(instance, key) == {
            "python_script_path": str(defs_path / "g/pair.py"),
            "manifest_path": str(defs_path / "g/pair.yaml"),
            "group": "g",
            "assets": "g/second,g/first",
        }


def test_invoke_may_return_a_single_materialize_result(make_defs, instance):
    defs_path = make_defs({"g/one.py": "# run elsewhere\n", "g/one.yaml": "target: one\n"})
    result = materialize(project_with({"one": ReturnsOneResult}).make_definitions(defs_path=defs_path), instance)
    assert result.success
    assert metadata_of(instance, "g/one")["rows"] == 7


def test_invoke_may_return_the_pipes_invocation_itself(make_defs, instance):
    defs_path = make_defs({"g/piped.py": PIPES_SCRIPT, "g/piped.yaml": "target: piped\n"})
    defs = project_with({"piped": ReturnsTheInvocation}).make_definitions(defs_path=defs_path)
    assert materialize(defs, instance).success
    assert metadata_of(instance, "g/piped")["reported_by"] == "the script"


def test_invoke_returning_none_materializes_every_selected_asset_upstream_first(make_defs, instance):
    defs_path = make_defs({"g/pair.py": "# run elsewhere\n", "g/pair.yaml": MULTI_ASSET_MANIFEST.replace("TARGET", "quiet")})
    defs = project_with({"quiet": ReturnsNothing}).make_definitions(defs_path=defs_path)
    result = materialize(defs, instance)
    assert result.success
    materialized = [event.materialization.asset_key.to_user_string() for event in result.get_asset_materialization_events()]
    assert materialized == ["g/first", "g/second"]


class Ledger:
    """A plain object as a resource, the way the tutorial's FancyRuntimeResource is one."""

    def __init__(self) -> None:
        self.entries: list[str] = []


class WritesToTheLedger(NopeInvocationTarget):
    def invoke(self, context: dg.AssetExecutionContext, ledger: Ledger) -> None:
        ledger.entries.append(self.asset_manifests[0].key)


def test_a_platform_default_resource_reaches_invoke_by_parameter_name(make_defs, instance):
    ledger = Ledger()

    class LedgerProject(NopeProject):
        @classmethod
        def invocation_target_map(cls) -> dict[str, type[NopeInvocationTarget]]:
            return {"ledger": WritesToTheLedger}

        @classmethod
        def default_resources(cls) -> dict:
            return {**super().default_resources(), "ledger": ledger}

    defs_path = make_defs({"g/booked.py": "# run elsewhere\n", "g/booked.yaml": "target: ledger\n"})
    defs = LedgerProject.make_definitions(defs_path=defs_path)
    assert defs.resources is not None
    assert {"ledger", "subprocess_client"} <= set(defs.resources)
    assert materialize(defs, instance).success
    assert ledger.entries == ["g/booked"]


# --- manifest properties are override points -----------------------------------------------


class Audited(NopeSubprocessInvocationTarget):
    class InvocationTargetManifest(NopeInvocationTargetManifest):
        @property
        def tags(self) -> dict[str, str]:
            return {**super().tags, "audited": "yes"}

    class AssetManifest(NopeAssetManifest):
        @property
        def metadata(self) -> dict:
            return {**super().metadata, "sla_hours": 24}

        @property
        def description(self) -> str:
            return "Audited nightly.\n\n" + super().description

        @property
        def deps(self) -> list[str]:
            # Every asset waits for the shared calendar, except the calendar itself.
            own = super().deps
            return own if self.name == "calendar" else [*own, "g/calendar"]

        @property
        def code_version(self) -> str:
            return "rules-v2-" + super().code_version


def test_asset_and_target_manifest_properties_are_override_points(make_defs, instance):
    defs_path = make_defs(
        {
            "g/calendar.py": "print('days')\n",
            "g/calendar.yaml": "target: subprocess\n",
            "g/orders.py": "print('orders')\n",
            "g/orders.yaml": "target: subprocess\nmetadata: {source: shop}\ntags: {tier: gold}\n",
        }
    )
    defs = project_with({"subprocess": Audited}).make_definitions(defs_path=defs_path)
    orders = specs_by_key(defs)["g/orders"]
    assert orders.tags == {"tier": "gold", "audited": "yes"}
    assert orders.metadata["source"] == "shop" and orders.metadata["sla_hours"] == 24
    assert description_of(orders).startswith("Audited nightly.\n\n```python\nprint('orders')")
    assert [dep.asset_key.to_user_string() for dep in orders.deps] == ["g/calendar"]
    assert orders.code_version is not None and orders.code_version.startswith("rules-v2-")
    assert materialize(defs, instance).success


def test_the_asset_key_is_an_override_point(make_defs):
    class Warehouse(NopeSubprocessInvocationTarget):
        class AssetManifest(NopeAssetManifest):
            @property
            def key(self) -> str:
                return f"warehouse/{super().key}"

    defs_path = make_defs({"g/orders.py": "print(1)\n", "g/orders.yaml": "target: subprocess\n"})
    defs = project_with({"subprocess": Warehouse}).make_definitions(defs_path=defs_path)
    assert list(specs_by_key(defs)) == ["warehouse/g/orders"]


def test_a_nested_manifest_class_that_does_not_subclass_the_base_is_named_in_the_error():
    with pytest.raises(TypeError, match=r"Forgetful\.AssetManifest must be a subclass of NopeAssetManifest"):

        class Forgetful(NopeSubprocessInvocationTarget):
            class AssetManifest:
                @property
                def owners(self) -> list[str]:
                    return ["team:foobar"]
