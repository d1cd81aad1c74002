"""Manifest keys beyond the tutorial, each run through a real Dagster instance."""

from __future__ import annotations

import datetime
import json

import dagster as dg
import pytest

from nope import NopeManifestError, NopeProject

from conftest import description_of, materialize, specs_by_key

PIPES_REPORT = """
from dagster_pipes import open_dagster_pipes

with open_dagster_pipes() as pipes:
    pipes.report_asset_materialization()
"""


class PublishingProject(NopeProject):
    """A platform that publishes a daily partitions definition, as a platform owner would."""

    @classmethod
    def partitions(cls):
        return {"daily": dg.DailyPartitionsDefinition(start_date="2026-01-01")}


def test_a_check_reported_by_the_script_reaches_the_instance(make_defs, instance):
    defs_path = make_defs(
        {
            "sales/orders.py": """
                from dagster_pipes import open_dagster_pipes

                with open_dagster_pipes() as pipes:
                    pipes.report_asset_materialization(metadata={"rows": 3})
                    pipes.report_asset_check(check_name="row_count_positive", passed=True, metadata={"rows": 3})
            """,
            "sales/orders.yaml": """
                target: subprocess
                checks:
                  - name: row_count_positive
                    description: orders is never empty
                    blocking: true
                  - name: never_reported
            """,
        }
    )
    defs = NopeProject.make_definitions(defs_path=defs_path)
    result = materialize(defs, instance)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["row_count_positive"].passed
    assert evaluations["row_count_positive"].metadata["rows"].value == 3
    assert not evaluations["never_reported"].passed
    problem = evaluations["never_reported"].metadata["problem"].value
    assert isinstance(problem, str) and "did not report this check" in problem
    check_specs = {spec.name: spec for spec in defs.resolve_assets_def(dg.AssetKey(["sales", "orders"])).check_specs}
    assert check_specs["row_count_positive"].blocking
    assert check_specs["row_count_positive"].description == "orders is never empty"
    assert not check_specs["never_reported"].blocking


def test_a_partitioned_asset_materializes_one_partition_and_a_range(make_defs, instance, tmp_path):
    seen = tmp_path / "seen.jsonl"
    defs_path = make_defs(
        {
            "g/daily.py": """
                import json, os
                from dagster_pipes import open_dagster_pipes

                with open_dagster_pipes() as pipes:
                    # Dagster 1.13's Pipes reports a partition only for single-key runs.
                    single = "NOPE_PARTITION_KEY" in os.environ
                    seen = dict(
                        pipes_key=pipes.partition_key if single else None,
                        env_key=os.environ.get("NOPE_PARTITION_KEY"),
                        env_range=[os.environ["NOPE_PARTITION_KEY_RANGE_START"], os.environ["NOPE_PARTITION_KEY_RANGE_END"]],
                    )
                    with open(SEEN, "a") as out:
                        out.write(json.dumps(seen) + "\\n")
                    pipes.report_asset_materialization()
            """.replace("SEEN", repr(str(seen))),
            "g/daily.yaml": "target: subprocess\npartitions: daily\n",
        }
    )
    defs = PublishingProject.make_definitions(defs_path=defs_path)
    assert materialize(defs, instance, partition_key="2026-01-02").success
    # A backfill of a small range in one run, as the UI launches it.
    range_tags = {"dagster/asset_partition_range_start": "2026-01-03", "dagster/asset_partition_range_end": "2026-01-05"}
    job = defs.resolve_implicit_global_asset_job_def()
    assert job.execute_in_process(instance=instance, tags=range_tags).success
    runs = [json.loads(line) for line in seen.read_text().splitlines()]
    assert runs[0] == {"pipes_key": "2026-01-02", "env_key": "2026-01-02", "env_range": ["2026-01-02", "2026-01-02"]}
    assert runs[1]["env_range"] == ["2026-01-03", "2026-01-05"]
    assert runs[1]["env_key"] is None
    materialized = instance.get_materialized_partitions(dg.AssetKey(["g", "daily"]))
    assert materialized == {"2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"}


def test_a_cron_automation_requests_a_run_after_its_tick(make_defs, instance):
    defs_path = make_defs(
        {"g/report.py": PIPES_REPORT, "g/report.yaml": "target: subprocess\nautomation: {cron: '0 6 * * *'}\n"}
    )
    defs = NopeProject.make_definitions(defs_path=defs_path)
    sensor = defs.resolve_sensor_def("nope_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    key = dg.AssetKey(["g", "report"])
    before = datetime.datetime(2026, 3, 2, 5, 30, tzinfo=datetime.UTC)
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=before)
    assert first.total_requested == 0
    after = datetime.datetime(2026, 3, 2, 6, 5, tzinfo=datetime.UTC)
    second = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=after, cursor=first.cursor
    )
    assert second.total_requested == 1
    assert second.get_requested_partitions(key) == {None}


def test_a_published_rule_name_is_an_automation_condition(make_defs):
    defs_path = make_defs({"g/a.py": "print(1)\n", "g/a.yaml": "target: subprocess\nautomation: eager\n"})
    spec = specs_by_key(NopeProject.make_definitions(defs_path=defs_path))["g/a"]
    assert spec.automation_condition == dg.AutomationCondition.eager()


def test_a_timeout_stops_a_sleeping_script_and_fails_the_step(make_defs, instance):
    defs_path = make_defs(
        {"g/slow.py": "import time\ntime.sleep(600)\n", "g/slow.yaml": "target: subprocess\ntimeout: 1\n"}
    )
    result = materialize(NopeProject.make_definitions(defs_path=defs_path), instance)
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None
    assert "did not finish within 1 seconds and was stopped" in error.message + str(error.cause)


def test_a_retry_policy_retries_a_flaky_script_until_it_succeeds(make_defs, instance, tmp_path):
    attempts = tmp_path / "attempts"
    defs_path = make_defs(
        {
            "g/flaky.py": """
                import sys
                from pathlib import Path

                attempts = Path(ATTEMPTS)
                attempts.write_text(str(int(attempts.read_text() or 0) + 1) if attempts.exists() else "1")
                if int(attempts.read_text()) < 3:
                    sys.exit("the warehouse is busy")
            """.replace("ATTEMPTS", repr(str(attempts))),
            "g/flaky.yaml": "target: subprocess\nretries: {max: 3, delay: 0}\n",
        }
    )
    result = materialize(NopeProject.make_definitions(defs_path=defs_path), instance)
    assert result.success
    assert attempts.read_text() == "3"
    assert len([e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]) == 2


@pytest.mark.parametrize(
    ("files", "where"),
    [
        (
            {"sales/_group.yaml": "owners: [team:sales]\nretries: {max: 2, delay: 0}\n", "sales/orders.yaml": "target: subprocess\n"},
            "defs/sales/_group.yaml:2",
        ),
        (
            {"sales/_group.yaml": "retries: {max: 5}\n", "sales/orders.yaml": "target: subprocess\n\nretries: {max: 2, delay: 0}\n"},
            "defs/sales/orders.yaml:3",
        ),
    ],
    ids=["retries from _group.yaml", "the manifest's own retries"],
)
def test_a_step_out_of_retries_leads_with_the_scripts_error_and_says_where_retries_were_set(
    make_defs, instance, files: dict[str, str], where: str
):
    defs_path = make_defs({"sales/orders.py": "import sys\nsys.exit('the warehouse is busy')\n", **files})
    result = materialize(NopeProject.make_definitions(defs_path=defs_path), instance)
    assert not result.success
    assert len([e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]) == 2
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None
    first_line, *rest = error.message.splitlines()
    assert first_line.endswith("orders.py` exited with code 1."), error.message  # the script's error leads
    assert "the warehouse is busy" in rest
    assert rest[-1] == f"All 3 attempts failed (`retries:` at {where})."
    assert "max_retries" not in error.message


def test_pool_limits_the_op(make_defs):
    defs_path = make_defs({"g/a.py": "print(1)\n", "g/a.yaml": "target: subprocess\npool: warehouse\n"})
    defs = NopeProject.make_definitions(defs_path=defs_path)
    assets_def = defs.resolve_assets_def(dg.AssetKey(["g", "a"]))
    assert assets_def.op.pool == "warehouse"


def test_group_defaults_apply_and_a_manifest_overrides_them(make_defs):
    defs_path = make_defs(
        {
            "sales/_group.yaml": """
                description: Sales numbers, owned by the sales analytics team.
                owners: [team:sales]
                tags: {domain: sales, tier: gold}
                retries: {max: 2}
                automation: eager
            """,
            "sales/a.py": "print(1)\n",
            "sales/a.yaml": "target: subprocess\n",
            "sales/b.py": "print(2)\n",
            "sales/b.yaml": "target: subprocess\nowners: [ana@example.com]\ntags: {tier: silver}\nautomation: on_missing\n",
            "other/c.py": "print(3)\n",
            "other/c.yaml": "target: subprocess\n",
        }
    )
    defs = NopeProject.make_definitions(defs_path=defs_path)
    found = specs_by_key(defs)
    assert found["sales/a"].owners == ["team:sales"]
    assert description_of(found["sales/a"]).startswith("Sales numbers, owned by the sales analytics team.")
    assert found["sales/a"].tags == {"domain": "sales", "tier": "gold"}
    assert found["sales/a"].automation_condition == dg.AutomationCondition.eager()
    assert found["sales/b"].owners == ["ana@example.com"]
    assert found["sales/b"].tags == {"domain": "sales", "tier": "silver"}
    assert found["sales/b"].automation_condition == dg.AutomationCondition.on_missing()
    retry_policy = defs.resolve_assets_def(dg.AssetKey(["sales", "a"])).op.retry_policy
    assert retry_policy is not None and retry_policy.max_retries == 2
    assert found["other/c"].owners == [] and found["other/c"].automation_condition is None


@pytest.mark.parametrize(
    ("files", "where", "message"),
    [
        ({"g/a.yaml": "target: subprocess\nretries: {max: 0}\n"}, "defs/g/a.yaml:2:", "retries.max"),
        ({"g/a.yaml": "target: subprocess\ntimeout: -5\n"}, "defs/g/a.yaml:2:", "timeout"),
        ({"g/a.yaml": "target: subprocess\nautomation: {cron: daily}\n"}, "defs/g/a.yaml:2:", "`daily`"),
        (
            {"g/a.yaml": "target: subprocess\nautomation: {cron: '0 6 * * *', timezone: Mars/Olympus}\n"},
            "defs/g/a.yaml:2:",
            "`Mars/Olympus` is not a time zone name",
        ),
        ({"g/a.yaml": "target: subprocess\nenv: {X: 'cost in $'}\n"}, "defs/g/a.yaml:2:", "`X`: write `${VAR}`"),
        ({"g/a.yaml": "target: subprocess\nenv: {1BAD: x}\n"}, "defs/g/a.yaml:2:", "env"),
        (
            {"g/a.yaml": "target: subprocess\nenv: {LD_PRELOAD: /tmp/x.so}\n"},
            "defs/g/a.yaml:2:",
            "`LD_PRELOAD`: variables named `LD_*` or `DYLD_*` change how programs load",
        ),
        ({"g/a.yaml": "target: subprocess\nenv: {DYLD_INSERT_LIBRARIES: x}\n"}, "defs/g/a.yaml:2:", "`DYLD_INSERT_LIBRARIES`"),
        (
            {"g/a.yaml": "target: subprocess\nchecks:\n  - name: c\n    asset: nope\n"},
            "defs/g/a.yaml:4:",
            "check `c`: `nope` is not an asset of this manifest",
        ),
        (
            {"g/a.yaml": "target: subprocess\nassets: {x: {}, y: {}}\nchecks:\n  - name: c\n"},
            "defs/g/a.yaml:4:",
            "check `c`: say which asset it checks with `asset:` (one of x, y)",
        ),
        ({"g/_group.yaml": "owners: [bob]\n", "g/a.yaml": "target: subprocess\n"}, "defs/g/_group.yaml:1:", "bob"),
        ({"g/_group.yaml": "script: x.py\n", "g/a.yaml": "target: subprocess\n"}, "defs/g/_group.yaml:1:", "unknown key `script`"),
    ],
)
def test_bad_values_are_errors_with_file_and_line(make_defs, files, where, message):
    defs_path = make_defs({"g/a.py": "print(1)\n", **files})
    with pytest.raises(NopeManifestError) as raised:
        NopeProject.make_definitions(defs_path=defs_path)
    text = str(raised.value)
    assert where in text and message in text, text


@pytest.mark.parametrize(
    ("manifest", "line", "message"),
    [
        ("target: subprocess\npartitions: dialy\n", 2, "unknown partitions `dialy`. Did you mean `daily`?"),
        ("target: subprocess\nautomation: eagr\n", 2, "unknown automation rule `eagr`. Did you mean `eager`?"),
        ("target: subprocess\nassets:\n  x:\n    automation: sometimes\n", 4, "unknown automation rule `sometimes`"),
    ],
)
def test_names_the_platform_does_not_publish_are_errors_at_load(make_defs, manifest, line, message):
    defs_path = make_defs({"g/a.py": "print(1)\n", "g/a.yaml": manifest})
    with pytest.raises(NopeManifestError) as raised:
        PublishingProject.make_definitions(defs_path=defs_path)
    assert f"defs/g/a.yaml:{line}:" in str(raised.value)
    assert message in str(raised.value)


def test_a_platform_that_names_its_git_repository_links_assets_to_files_there(make_defs):
    class HostedProject(NopeProject):
        @classmethod
        def git_repository(cls):
            return ("https://github.com/acme/data-platform", "main")

    defs_path = make_defs({"g/a.py": "print(1)\n", "g/a.yaml": "target: subprocess\n"})
    spec = specs_by_key(HostedProject.make_definitions(defs_path=defs_path))["g/a"]
    urls = sorted(reference.url for reference in spec.metadata["dagster/code_references"].code_references)
    assert urls == [
        "https://github.com/acme/data-platform/tree/main/defs/g/a.py#L1",
        "https://github.com/acme/data-platform/tree/main/defs/g/a.yaml#L1",
    ]
