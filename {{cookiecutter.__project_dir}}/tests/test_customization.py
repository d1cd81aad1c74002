"""The Nope tutorial's platform-owner sections, run as written (only the import lines differ).

"Customizing the platform metadata" (kind tag, default owner `team:foobar`), "Customizing
Platform Execution" (the `fancy` target and its `FancyRuntimeResource`) and "A more
realistic example of platform customization" (the Modal project). The tutorial imports from
`dagster._nope` and Dagster's private modules; here the same names come from `nope` and
Dagster's public API. Modal itself is replaced by a stand-in `modal` command on PATH that
records its calls and runs the script locally (tests/modal_stand_in.py).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

import dagster as dg
import pytest
from dagster import AssetExecutionContext, PipesExecutionResult, PipesSubprocessClient

from nope import (
    NopeAssetManifest,
    NopeInvocationTarget,
    NopeInvocationTargetManifest,
    NopeManifestError,
    NopeProject,
    NopeSubprocessInvocationTarget,
)

from conftest import environment_script, materialize, specs_by_key
from modal_stand_in import git_repository

# --- "Customizing the platform metadata" --------------------------------------------------


class TutorialSubprocessInvocationTarget(NopeSubprocessInvocationTarget):
    class InvocationTargetManifest(NopeInvocationTargetManifest):
        @property
        def tags(self) -> dict:
            return {"kind": "python", **super().tags}

    class AssetManifest(NopeAssetManifest):
        @property
        def owners(self) -> list:
            owners_from_manifest_file = super().owners
            return owners_from_manifest_file if owners_from_manifest_file else ["team:foobar"]


class TutorialProject(NopeProject):
    @classmethod
    def invocation_target_map(cls) -> dict:
        return {"subprocess": TutorialSubprocessInvocationTarget}


# --- "Customizing Platform Execution" ------------------------------------------------------


class FancyRuntimeResource:
    def call(self, asset_keys) -> None:
        print(f"FancyRuntimeResource called on asset keys: {asset_keys}")


class FancyInvocationTarget(NopeInvocationTarget):
    def invoke(self, context: AssetExecutionContext, fancy_runtime_resource: FancyRuntimeResource):
        # Platform owner has complete control here. Can do whatever they want
        fancy_runtime_resource.call(context.selected_asset_keys)


# --- "A more realistic example of platform customization" (Modal) --------------------------


def get_current_branch() -> str | None:
    return get_stripped_stdout(["git", "rev-parse", "--abbrev-ref", "HEAD"])


def get_stripped_stdout(cmds: list[str]) -> str:
    result = subprocess.run(cmds, capture_output=True, check=True, text=True)
    return result.stdout.strip()


def modal_has_env(env_name: str) -> bool:
    modal_list_output = json.loads(get_stripped_stdout(["modal", "environment", "list", "--json"]))
    for model_env in modal_list_output:
        if model_env["name"] == env_name:
            return True
    return False


def modal_create_env(env_name: str) -> None:
    subprocess.run(
        ["modal", "environment", "create", env_name],
        capture_output=True,
        check=True,
    )


class ModalKicktestInvocationTarget(NopeInvocationTarget):
    class InvocationTargetManifest(NopeInvocationTargetManifest):
        @property
        def tags(self) -> dict:
            return {"kind": "modal"}

    def invoke(
        self, context: AssetExecutionContext, subprocess_client: PipesSubprocessClient
    ) -> Iterable[PipesExecutionResult]:
        branch_name = get_current_branch()

        if branch_name is None:
            raise Exception("Could not determine current branch")

        if not modal_has_env(env_name=branch_name):
            modal_create_env(env_name=branch_name)

        return subprocess_client.run(
            context=context,
            command=["modal", "run", "-e", branch_name, self.python_script_path],
        ).get_results()


class ModalKicktestProject(NopeProject):
    @classmethod
    def invocation_target_map(cls) -> dict:
        return {"modal": ModalKicktestInvocationTarget}


# --- the tests -----------------------------------------------------------------------------

def test_the_kind_tag_is_python_unless_the_manifest_sets_its_own(make_defs):
    defs_path = make_defs(
        {
            "group_a/plain.py": "print(1)\n",
            "group_a/plain.yaml": "target: subprocess\n",
            "group_a/frames.py": "print(2)\n",
            "group_a/frames.yaml": "target: subprocess\ntags: {kind: pandas, tier: gold}\n",
        }
    )
    specs = specs_by_key(TutorialProject.make_definitions(defs_path=defs_path))
    assert specs["group_a/plain"].kinds == {"python"}
    assert specs["group_a/frames"].kinds == {"pandas"}
    assert specs["group_a/frames"].tags["tier"] == "gold"


def test_the_default_owner_is_team_foobar_and_manifest_owners_replace_it(make_defs):
    defs_path = make_defs(
        {
            "group_a/ownerless.py": "print(1)\n",
            "group_a/ownerless.yaml": "target: subprocess\n",
            "group_a/owned.py": "print(2)\n",
            "group_a/owned.yaml": "target: subprocess\nowners: [ana@example.com]\n",
        }
    )
    specs = specs_by_key(TutorialProject.make_definitions(defs_path=defs_path))
    assert specs["group_a/ownerless"].owners == ["team:foobar"]
    assert specs["group_a/owned"].owners == ["ana@example.com"]


FANCY_AND_SUBPROCESS_DEFS = {
    "group_a/asset_one.py": 'if __name__ == "__main__":\n    print("hello")\n',
    "group_a/asset_one.yaml": "target: subprocess\nscript: asset_one.py\n",
    "fancy_group/scores.py": "# run by the Fancy system, not by Dagster\n",
    "fancy_group/scores.yaml": (
        "target: fancy\nscript: scores.py\nassets:\n  raw_scores: {}\n  clean_scores:\n    deps: [fancy_group/raw_scores]\n"
    ),
}


def test_the_fancy_target_calls_its_resource_and_counts_every_asset_as_materialized(make_defs, instance, capfd):
    defs_path = make_defs(FANCY_AND_SUBPROCESS_DEFS)

    class TutorialProject(NopeProject):
        @classmethod
        def invocation_target_map(cls) -> dict:
            return {
                "fancy": FancyInvocationTarget,
                "subprocess": TutorialSubprocessInvocationTarget,
            }

    defs = TutorialProject.make_definitions(
        defs_path=defs_path,
        resources={
            "fancy_runtime_resource": FancyRuntimeResource(),
            "subprocess_client": PipesSubprocessClient(),
        },
    )
    result = materialize(defs, instance)
    assert result.success
    for key in ["fancy_group/raw_scores", "fancy_group/clean_scores", "group_a/asset_one"]:
        assert instance.get_latest_materialization_event(dg.AssetKey.from_user_string(key)) is not None, key
    printed = capfd.readouterr().out
    assert "FancyRuntimeResource called on asset keys:" in printed
    assert "raw_scores" in printed and "clean_scores" in printed


def test_a_target_whose_resource_is_not_provided_fails_at_load_naming_target_and_key(make_defs):
    defs_path = make_defs(FANCY_AND_SUBPROCESS_DEFS)

    class TutorialProject(NopeProject):
        @classmethod
        def invocation_target_map(cls) -> dict:
            return {"fancy": FancyInvocationTarget, "subprocess": TutorialSubprocessInvocationTarget}

    with pytest.raises(NopeManifestError) as raised:
        TutorialProject.make_definitions(defs_path=defs_path)
    message = str(raised.value)
    assert "defs/fancy_group/scores.yaml:1:" in message
    assert "`fancy` (FancyInvocationTarget) needs the resource `fancy_runtime_resource`" in message


def test_the_modal_project_runs_in_the_environment_named_after_the_git_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, modal_stand_in, instance
):
    repo = git_repository(tmp_path / "repo", branch="churn-model")
    (repo / "defs/group_one").mkdir(parents=True)
    (repo / "defs/group_one/modal_asset_one.py").write_text(environment_script("MODAL_ENVIRONMENT"))
    (repo / "defs/group_one/modal_asset_one.yaml").write_text("target: modal\n")
    monkeypatch.chdir(repo)  # the tutorial's code asks git and modal about the current folder

    defs = ModalKicktestProject.make_definitions(defs_path=repo / "defs")
    assert specs_by_key(defs)["group_one/modal_asset_one"].kinds == {"modal"}
    assert materialize(defs, instance).success
    assert materialize(defs, instance).success  # the environment exists now: not created again

    event = instance.get_latest_materialization_event(dg.AssetKey(["group_one", "modal_asset_one"]))
    assert event.asset_materialization.metadata["environment"].value == "churn-model"
    script = str(repo / "defs/group_one/modal_asset_one.py")
    assert modal_stand_in.calls() == [
        ["environment", "list", "--json"],
        ["environment", "create", "churn-model"],
        ["run", "-e", "churn-model", script],
        ["environment", "list", "--json"],
        ["run", "-e", "churn-model", script],
    ]
