"""What a script sees of the platform's environment: the minimal set, the manifest's `env`, what the platform allows."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from nope import NopeInvocationTarget, NopeProject, NopeSubprocessInvocationTarget

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }}

from conftest import materialize, step_failure_text

REPORTS_ITS_ENVIRONMENT = """
import json, os, sys
open(OUT, "w").write(json.dumps(dict(args=sys.argv[1:], env=dict(os.environ))))
"""


def project_with(target: type[NopeInvocationTarget]) -> type[NopeProject]:
    class Project(NopeProject):
        @classmethod
        def invocation_target_map(cls) -> dict[str, type[NopeInvocationTarget]]:
            return {"subprocess": target}

    return Project


class WarehouseTarget(NopeSubprocessInvocationTarget):
    """A platform that passes `DBT_*` variables through and lets manifests copy `WAREHOUSE_*`."""

    passed_through_environment = (*NopeSubprocessInvocationTarget.passed_through_environment, "DBT_*")
    env_references = ("WAREHOUSE_*",)


@pytest.fixture
def platform_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The platform's process holds secrets and settings, as a production one does."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "platform-secret")
    monkeypatch.setenv("DBT_PROFILES_DIR", "/etc/dbt")
    monkeypatch.setenv("WAREHOUSE_HOST", "db.internal")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("TZ", "Europe/Paris")


def run_and_read(project: type[NopeProject], make_defs, instance, tmp_path, manifest: str) -> dict:
    out = tmp_path / "seen.json"
    defs_path = make_defs({"g/job.py": REPORTS_ITS_ENVIRONMENT.replace("OUT", repr(str(out))), "g/job.yaml": manifest})
    result = materialize(project.make_definitions(defs_path=defs_path), instance)
    assert result.success, [event.message for event in result.get_step_failure_events()]
    return json.loads(out.read_text())

def test_a_script_sees_the_minimal_environment_not_the_platforms_secrets(
    make_defs, instance, tmp_path, platform_secrets
):
    seen = run_and_read(NopeProject, make_defs, instance, tmp_path, "target: subprocess\nargs: [--days, 7]\n")
    assert seen["args"] == ["--days", "7"]
    env = seen["env"]
    assert "AWS_SECRET_ACCESS_KEY" not in env and "DBT_PROFILES_DIR" not in env
    assert env["LC_ALL"] == "C.UTF-8" and env["TZ"] == "Europe/Paris"
    assert "PATH" in env and "HOME" in env
    assert "DAGSTER_PIPES_CONTEXT" in env and "DAGSTER_PIPES_MESSAGES" in env
    assert env["NOPE_ENVIRONMENT"] == "local"  # the platform's own: where the run happens (no git branch here)
    minimal = {"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "NOPE_ENVIRONMENT"}
    assert {name for name in env if not name.startswith(("DAGSTER_PIPES_", "LC_"))} <= minimal


def test_the_manifest_env_and_an_allowed_reference_reach_the_script(make_defs, instance, tmp_path, platform_secrets):
    manifest = "target: subprocess\nenv: {REGION: eu, DSN: 'postgres://${WAREHOUSE_HOST}/sales', COST: '$$5'}\n"
    env = run_and_read(project_with(WarehouseTarget), make_defs, instance, tmp_path, manifest)["env"]
    assert (env["REGION"], env["DSN"], env["COST"]) == ("eu", "postgres://db.internal/sales", "$5")
    assert env["DBT_PROFILES_DIR"] == "/etc/dbt"  # widened by the platform owner
    assert "AWS_SECRET_ACCESS_KEY" not in env


def test_a_manifest_cannot_copy_a_variable_the_platform_does_not_allow(make_defs, instance, platform_secrets):
    defs_path = make_defs(
        {"g/a.py": "print(1)\n", "g/a.yaml": "target: subprocess\nenv: {KEY: '${AWS_SECRET_ACCESS_KEY}'}\n"}
    )
    result = materialize(project_with(WarehouseTarget).make_definitions(defs_path=defs_path), instance)
    assert not result.success
    text = step_failure_text(result)
    assert "env `KEY` uses ${AWS_SECRET_ACCESS_KEY}, which the platform does not let manifests copy" in text
    assert "(allowed: `WAREHOUSE_*`)" in text and "SCRIPT_ENV_REFERENCES" in text
    assert "platform-secret" not in text


def test_by_default_no_reference_is_allowed(make_defs, instance, platform_secrets):
    defs_path = make_defs({"g/a.py": "print(1)\n", "g/a.yaml": "target: subprocess\nenv: {H: '${WAREHOUSE_HOST}'}\n"})
    result = materialize(NopeProject.make_definitions(defs_path=defs_path), instance)
    assert not result.success
    assert "which the platform does not let manifests copy (allowed: none)" in step_failure_text(result)


def test_an_allowed_reference_to_a_variable_the_platform_lacks_fails_saying_which(make_defs, instance, monkeypatch):
    monkeypatch.delenv("WAREHOUSE_PASSWORD", raising=False)
    defs_path = make_defs({"g/a.py": "print(1)\n", "g/a.yaml": "target: subprocess\nenv: {X: '${WAREHOUSE_PASSWORD}'}\n"})
    result = materialize(project_with(WarehouseTarget).make_definitions(defs_path=defs_path), instance)
    assert not result.success
    assert "env `X` uses ${WAREHOUSE_PASSWORD}, which is not set on the platform" in step_failure_text(result)


def test_the_company_platform_keeps_secrets_from_scripts(make_defs, instance, tmp_path, platform_secrets):
    from {{ cookiecutter.platform_package }}.settings import SCRIPT_ENV_PASSTHROUGH, SCRIPT_ENV_REFERENCES

    env = run_and_read({{ cookiecutter.__project_class }}, make_defs, instance, tmp_path, "target: subprocess\n")["env"]
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert SCRIPT_ENV_PASSTHROUGH == [] and SCRIPT_ENV_REFERENCES == []  # the generated defaults: nothing more


def test_dagsters_own_client_still_runs_scripts_and_says_what_it_cannot_do(make_defs, instance, tmp_path):
    out = tmp_path / "seen.json"
    defs_path = make_defs({"g/job.py": REPORTS_ITS_ENVIRONMENT.replace("OUT", repr(str(out))), "g/job.yaml": "target: subprocess\n"})
    defs = NopeProject.make_definitions(defs_path=defs_path, resources={"subprocess_client": dg.PipesSubprocessClient()})
    result = materialize(defs, instance)
    assert result.success
    logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("is not the platform's NopeSubprocessClient: the script sees the platform's whole environment" in line for line in logs)
    assert "DAGSTER_PIPES_CONTEXT" in json.loads(out.read_text())["env"]


class LoaderDebugTarget(NopeSubprocessInvocationTarget):
    """A target whose scripts get `LD_DEBUG`: glibc's loader then writes `<LD_DEBUG_OUTPUT>.<pid>` for
    every process started with it, which shows which processes ran with the script's environment."""

    loader_log = ""

    def environment(self, context: dg.AssetExecutionContext) -> dict[str, str]:
        return {**super().environment(context), "LD_DEBUG": "libs", "LD_DEBUG_OUTPUT": self.loader_log}


def test_the_scripts_environment_reaches_the_script_only_not_the_platforms_supervisor(make_defs, instance, tmp_path):
    LoaderDebugTarget.loader_log = str(tmp_path / "loader" / "ld")
    (tmp_path / "loader").mkdir()
    pids = tmp_path / "pids"
    defs_path = make_defs({"g/job.sh": f'echo "$$ $PPID" > {pids}\n', "g/job.yaml": "target: subprocess\n"})
    result = materialize(project_with(LoaderDebugTarget).make_definitions(defs_path=defs_path), instance)
    assert result.success
    script_pid, supervisor_pid = pids.read_text().split()
    loaded_with_the_scripts_environment = {path.suffix[1:] for path in (tmp_path / "loader").iterdir()}
    assert script_pid in loaded_with_the_scripts_environment
    assert supervisor_pid not in loaded_with_the_scripts_environment


def test_a_manifests_path_does_not_choose_the_interpreter(make_defs, instance, tmp_path):
    impostors = tmp_path / "impostors"
    impostors.mkdir()
    impostor = impostors / "bash"
    impostor.write_text(f"#!/bin/sh\necho the impostor ran > {tmp_path / 'impostor_ran'}\n")
    impostor.chmod(0o755)
    path_seen = tmp_path / "path_seen"
    manifest = f"target: subprocess\nenv:\n  PATH: '{impostors}:/usr/bin:/bin'\n"
    defs_path = make_defs({"g/job.sh": f'echo "$PATH" > {path_seen}\n', "g/job.yaml": manifest})
    result = materialize(NopeProject.make_definitions(defs_path=defs_path), instance)
    assert result.success
    assert not (tmp_path / "impostor_ran").exists()  # the platform's bash ran the script
    assert path_seen.read_text().strip() == f"{impostors}:/usr/bin:/bin"  # and the script sees the manifest's PATH
