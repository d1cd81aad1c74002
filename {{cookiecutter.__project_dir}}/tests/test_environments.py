"""Branch environments: every script sees NOPE_ENVIRONMENT, and no branch writes where production writes.

Scripts run through a real Dagster instance with this platform's own targets and settings
(production's data in `data/production`, each other environment's in `data/<name>`, below the
repository root); the git repositories are real.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from nope import environments
from nope.environments import Environment, UnsafeEnvironment, safe_name

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }}
from {{ cookiecutter.platform_package }}.project import {{ cookiecutter.__project_class.removesuffix('Project') }}SubprocessInvocationTarget as SubprocessTarget

from conftest import materialize, step_failure_text
from modal_stand_in import git_repository

# Reports the platform's variables it got, and writes a file into every data location it was handed.
WRITES_WHERE_IT_IS_TOLD = """
import json, os
from pathlib import Path
from dagster_pipes import open_dagster_pipes

handed = {name: os.environ.get(name) for name in ("NOPE_ENVIRONMENT", "NOPE_DATA_LOCATION", "NOPE_PRODUCTION_DATA_LOCATION")}
written = []
for name in ("NOPE_DATA_LOCATION", "NOPE_PRODUCTION_DATA_LOCATION"):
    if handed[name]:
        try:
            Path(handed[name]).mkdir(parents=True, exist_ok=True)
            (Path(handed[name]) / "written_by_the_script").write_text("x")
            written.append(name)
        except OSError:
            pass
with open_dagster_pipes() as pipes:
    pipes.report_asset_materialization(metadata={"handed": json.dumps(handed), "written": json.dumps(written)})
"""


@pytest.fixture
def repo(make_defs) -> Path:
    """A repository root on git branch `main` with one `target: subprocess` script."""
    defs_path = make_defs({"g/job.py": WRITES_WHERE_IT_IS_TOLD, "g/job.yaml": "target: subprocess\n"})
    return git_repository(defs_path.parent, branch="main")


def run(repo: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return materialize({{ cookiecutter.__project_class }}.make_definitions(defs_path=repo / "defs"), instance)


def handed(instance: dg.DagsterInstance) -> tuple[dict[str, str | None], list[str]]:
    event = instance.get_latest_materialization_event(dg.AssetKey(["g", "job"]))
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    return json.loads(str(metadata["handed"].value)), json.loads(str(metadata["written"].value))


def test_a_branch_run_sees_its_environment_and_its_own_data_location(repo, instance, monkeypatch):
    monkeypatch.setenv("NOPE_ENVIRONMENT", "feature-x")
    assert run(repo, instance).success
    seen, written = handed(instance)
    assert seen["NOPE_ENVIRONMENT"] == "feature-x"
    assert seen["NOPE_DATA_LOCATION"] == str(repo / "data/feature-x")
    assert seen["NOPE_PRODUCTION_DATA_LOCATION"] is None  # the platform offers no way to production's data here
    assert written == ["NOPE_DATA_LOCATION"]
    assert (repo / "data/feature-x/written_by_the_script").is_file()
    assert not (repo / "data/production").exists()


def test_production_writes_productions_location(repo, instance, monkeypatch):
    monkeypatch.setenv("NOPE_ENVIRONMENT", "production")
    assert run(repo, instance).success
    seen, _ = handed(instance)
    assert seen["NOPE_ENVIRONMENT"] == "production"
    assert seen["NOPE_DATA_LOCATION"] == str(repo / "data/production")


def test_without_nope_environment_a_laptop_run_is_in_its_git_branch(repo, instance):
    subprocess.run(["git", "checkout", "--quiet", "-b", "feature/Churn-model"], cwd=repo, check=True)
    assert environments.current_environment(repo) == Environment("feature/Churn-model", "git branch")
    assert run(repo, instance).success
    seen, _ = handed(instance)
    assert seen["NOPE_ENVIRONMENT"] == "feature-churn-model"
    assert seen["NOPE_DATA_LOCATION"] == str(repo / "data/feature-churn-model")


def test_outside_git_a_run_is_local_never_production(make_defs, instance, monkeypatch, tmp_path):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # no outer repository either
    defs_path = make_defs({"g/job.py": WRITES_WHERE_IT_IS_TOLD, "g/job.yaml": "target: subprocess\n"})
    assert run(defs_path.parent, instance).success
    seen, _ = handed(instance)
    assert (seen["NOPE_ENVIRONMENT"], seen["NOPE_DATA_LOCATION"]) == ("local", str(defs_path.parent / "data/local"))


def test_a_manifest_cannot_hand_itself_productions_location(repo, instance, monkeypatch):
    """The platform's variables are set after the manifest's `env:`: these names are the platform's or absent."""
    production = repo / "data/production"
    (repo / "defs/g/job.yaml").write_text(
        "target: subprocess\nenv:\n  NOPE_ENVIRONMENT: production\n"
        f"  NOPE_DATA_LOCATION: '{production}'\n  NOPE_PRODUCTION_DATA_LOCATION: '{production}'\n"
    )
    monkeypatch.setenv("NOPE_ENVIRONMENT", "feature-x")
    assert run(repo, instance).success
    seen, written = handed(instance)
    assert seen == {
        "NOPE_ENVIRONMENT": "feature-x",
        "NOPE_DATA_LOCATION": str(repo / "data/feature-x"),
        "NOPE_PRODUCTION_DATA_LOCATION": None,
    }
    assert written == ["NOPE_DATA_LOCATION"] and not production.exists()


def test_a_writable_folder_is_never_handed_as_productions_read_only_data(repo, instance, monkeypatch):
    """The platform cannot make a folder read-only for a script of its own user: it refuses to pretend."""
    production = repo / "data/production"
    production.mkdir(parents=True)
    monkeypatch.setattr(SubprocessTarget, "production_data_read_only", str(production))
    monkeypatch.setenv("NOPE_ENVIRONMENT", "feature-x")
    result = run(repo, instance)
    assert not result.success
    assert "production's read-only data location" in step_failure_text(result)
    assert "is writable by the platform, so a branch's script could write production's data through it" in step_failure_text(result)
    assert list(production.iterdir()) == [] and not (repo / "data/feature-x").exists()


def test_object_storage_is_handed_as_productions_read_only_data_to_branches_only(repo, instance, monkeypatch):
    monkeypatch.setattr(SubprocessTarget, "production_data_read_only", "s3://acme-data/production")
    monkeypatch.setenv("NOPE_ENVIRONMENT", "feature-x")
    assert run(repo, instance).success
    assert handed(instance)[0]["NOPE_PRODUCTION_DATA_LOCATION"] == "s3://acme-data/production"
    monkeypatch.setenv("NOPE_ENVIRONMENT", "production")
    assert run(repo, instance).success
    assert handed(instance)[0]["NOPE_PRODUCTION_DATA_LOCATION"] is None


def test_an_environments_location_overlapping_productions_stops_the_run(repo, instance, monkeypatch):
    monkeypatch.setattr(SubprocessTarget, "data_location", "data")  # production's data would hold every branch's
    monkeypatch.setenv("NOPE_ENVIRONMENT", "feature-x")
    result = run(repo, instance)
    assert not result.success
    assert f"data location `{repo}/data/feature-x` overlaps production's `{repo}/data`" in step_failure_text(result)
    assert not (repo / "data").exists()


def test_a_malicious_environment_name_stays_inside_the_environments_folder(repo, instance, monkeypatch):
    monkeypatch.setenv("NOPE_ENVIRONMENT", "../../escape")
    assert run(repo, instance).success
    assert handed(instance)[0]["NOPE_DATA_LOCATION"] == str(repo / "data/escape")
    assert [path.name for path in (repo / "data").iterdir()] == ["escape"]
    assert not (repo.parent / "escape").exists() and not (repo.parent.parent / "escape").exists()

    [target] = {{ cookiecutter.__project_class }}.load(repo / "defs").targets
    assert isinstance(target, SubprocessTarget)
    for given, folder in [
        ("/etc/cron.d", "etc-cron.d"),
        ("feature/../../production-copy", "feature-..-..-production-copy"),
        (".hidden", "hidden"),
        ("a\\..\\b", "a-..-b"),
        ("~root", "root"),
    ]:
        location = Path(target.environment_variables(Environment(given, "test"))["NOPE_DATA_LOCATION"])
        assert location == repo / "data" / folder, given
        assert location.resolve().parent == (repo / "data").resolve(), given


def test_a_name_with_nothing_safe_left_or_posing_as_production_stops_the_run(repo, instance, monkeypatch):
    monkeypatch.setenv("NOPE_ENVIRONMENT", "..")
    result = run(repo, instance)
    assert not result.success
    assert "`..` cannot name an environment: it needs a letter or a digit" in step_failure_text(result)
    assert not (repo / "data").exists()
    for given, why in [
        ("/", "`/` cannot name an environment"),
        ("Production", "`Production` would be taken for production: only `production` itself names it"),
        ("production/", "`production/` would be taken for production"),
    ]:
        with pytest.raises(UnsafeEnvironment, match=re.escape(why)):
            Environment(given, "test")


def test_a_git_branch_named_production_is_not_production(repo, instance):
    subprocess.run(["git", "checkout", "--quiet", "-b", "production"], cwd=repo, check=True)
    result = run(repo, instance)
    assert not result.success
    assert "the git branch is named `production`, the production environment's name" in step_failure_text(result)
    assert not (repo / "data").exists()


def test_the_safe_form_of_names():
    """The rule the Modal environment and the data folder share (docs/platform/environments.md)."""
    assert safe_name("feature/Churn-model") == "feature-churn-model"
    assert safe_name("release_2.1") == "release_2.1"
    assert safe_name("-rf") == "rf"  # never starts like an option
    assert safe_name("équipe/été") == "quipe--t"
    long_a, long_b = "feature/" + "a" * 80, "feature/" + "a" * 79 + "b"
    assert len(safe_name(long_a)) == 64 and safe_name(long_a) != safe_name(long_b)
    assert safe_name(long_a).startswith("feature-aaaa")
    with pytest.raises(UnsafeEnvironment):
        safe_name("...")



# Reports the environment it was handed, after switching the repository to another branch.
SWITCHES_THE_BRANCH = """
import os, subprocess
from pathlib import Path
from dagster_pipes import open_dagster_pipes

repository = Path(__file__).resolve().parents[2]  # defs/g/first.py
subprocess.run(["git", "checkout", "--quiet", "-b", "switched-meanwhile"], cwd=repository, check=True)
with open_dagster_pipes() as pipes:
    pipes.report_asset_materialization(metadata={"environment": os.environ["NOPE_ENVIRONMENT"]})
"""

REPORTS_ITS_ENVIRONMENT = """
import os
from dagster_pipes import open_dagster_pipes

with open_dagster_pipes() as pipes:
    pipes.report_asset_materialization(metadata={"environment": os.environ["NOPE_ENVIRONMENT"]})
"""


def test_every_script_of_a_run_is_in_the_environment_of_its_start(make_defs, instance):
    defs_path = make_defs(
        {
            "g/first.py": SWITCHES_THE_BRANCH,
            "g/first.yaml": "target: subprocess\n",
            "g/second.py": REPORTS_ITS_ENVIRONMENT,
            "g/second.yaml": "target: subprocess\ndeps: [g/first]\n",
        }
    )
    repo = git_repository(defs_path.parent, branch="main")
    assert run(repo, instance).success
    seen = {}
    for name in ("first", "second"):
        event = instance.get_latest_materialization_event(dg.AssetKey(["g", name]))
        assert event is not None and event.asset_materialization is not None
        seen[name] = event.asset_materialization.metadata["environment"].value
    assert seen == {"first": "main", "second": "main"}  # not `switched-meanwhile`, though git says so now
    assert environments.current_branch(repo) == "switched-meanwhile"
