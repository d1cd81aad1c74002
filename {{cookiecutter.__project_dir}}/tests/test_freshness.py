"""`freshness:` in a manifest: Dagster's freshness policy on the asset, and `nope check` refusing what it cannot be."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from nope import NopeManifestError, NopeProject, freshness

from conftest import REPO_ROOT, specs_by_key


def test_max_lag_is_a_freshness_policy_of_that_window(make_defs):
    defs_path = make_defs({"g/a.py": "print(1)\n", "g/a.yaml": "target: subprocess\nfreshness: {max_lag: 26h}\n"})
    spec = specs_by_key(NopeProject.make_definitions(defs_path=defs_path))["g/a"]
    assert spec.freshness_policy == dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26))


def test_warn_after_cron_and_the_group_default_reach_dagster(make_defs):
    defs_path = make_defs(
        {
            "g/_group.yaml": "freshness: {max_lag: 1h30m, warn_after: 45m}\n",
            "g/a.py": "print(1)\n",
            "g/a.yaml": "target: subprocess\n",
            "g/b.py": "print(1)\n",
            "g/b.yaml": "target: subprocess\nfreshness: {max_lag: 2h, cron: '0 9 * * *', timezone: Europe/Berlin}\n",
        }
    )
    specs = specs_by_key(NopeProject.make_definitions(defs_path=defs_path))
    assert specs["g/a"].freshness_policy == dg.FreshnessPolicy.time_window(
        fail_window=timedelta(minutes=90), warn_window=timedelta(minutes=45)
    )
    assert specs["g/b"].freshness_policy == dg.FreshnessPolicy.cron(
        deadline_cron="0 9 * * *", lower_bound_delta=timedelta(hours=2), timezone="Europe/Berlin"
    )


class PublishingProject(NopeProject):
    """A platform that publishes a named freshness policy, as a platform owner would."""

    @classmethod
    def freshness_policies(cls):
        return {"daily": dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26))}


def test_a_published_policy_is_named_and_an_unknown_name_is_an_error(make_defs):
    defs_path = make_defs({"g/a.py": "print(1)\n", "g/a.yaml": "target: subprocess\nfreshness: daily\n"})
    spec = specs_by_key(PublishingProject.make_definitions(defs_path=defs_path))["g/a"]
    assert spec.freshness_policy == dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26))
    (defs_path / "g/a.yaml").write_text("target: subprocess\nfreshness: dialy\n")
    with pytest.raises(NopeManifestError) as raised:
        PublishingProject.make_definitions(defs_path=defs_path)
    assert "defs/g/a.yaml:2:" in str(raised.value)
    assert "unknown freshness policy `dialy`. Did you mean `daily`?" in str(raised.value)


BAD_FRESHNESS = {
    "a duration nobody can read": ("{max_lag: 26 hours-ish}", "`26 hours-ish` is not a duration"),
    "the issue's example": ("{max_lag: soon-ish}", "write whole numbers with a unit (s, m, h, d, w), e.g. `26h`"),
    "under Dagster's minute": ("{max_lag: 30s}", "under a minute"),
    "a bad cron": ("{max_lag: 1h, cron: '0 25 * * *'}", "the hour field `25` must be within 0-23"),
    "a cron that never runs": ("{max_lag: 1h, cron: '0 9 31 2 *'}", "never runs: February has no day 31"),
    "an unknown time zone": (
        "{max_lag: 1h, cron: '0 9 * * *', timezone: Europe/Berln}",
        "`Europe/Berln` is not a time zone name such as `UTC` or `Europe/Paris`. Did you mean `Europe/Berlin`?",
    ),
    "a warning after the failure": ("{max_lag: 2h, warn_after: 3h}", "`3h` is not shorter than `max_lag: 2h`"),
    "a window longer than the cron's ticks": (
        "{max_lag: 26h, cron: '0 9 * * *'}",
        "`max_lag: 26h` is longer than the 1d between two ticks of `0 9 * * *` in UTC",
    ),
    "summer time shortens a day": (
        "{max_lag: 24h, cron: '0 9 * * *', timezone: Europe/Berlin}",
        "write at most `23h`",
    ),
}


def test_nope_check_refuses_bad_freshness_with_file_and_line(tmp_path: Path):
    """One tree holding every mistake, one `nope check` process (as CI runs it): each reported at its line."""
    defs = tmp_path / "defs" / "g"
    defs.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for index, (value, _) in enumerate(BAD_FRESHNESS.values()):
        (defs / f"a{index}.py").write_text("print(1)\n")
        (defs / f"a{index}.yaml").write_text(f"target: subprocess\nowners: [team:data]\nfreshness: {value}\n")
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "platform")}
    environment.pop("GITHUB_ACTIONS", None)
    checked = subprocess.run(
        [sys.executable, "-m", "nope", "check"], cwd=tmp_path, env=environment, capture_output=True, text=True
    )
    assert checked.returncode == 1, checked.stdout + checked.stderr
    report = checked.stdout + checked.stderr
    assert "Traceback" not in report
    for index, (name, (_, words)) in enumerate(BAD_FRESHNESS.items()):
        line = next((line for line in report.splitlines() if line.startswith(f"defs/g/a{index}.yaml:3:")), "")
        assert words in line, f"{name}: {report}"


@pytest.mark.parametrize(
    ("cron", "timezone"),
    [
        ("0 9 * * *", "UTC"),
        ("0 9 * * *", "Europe/Berlin"),
        ("30 2 * * *", "America/New_York"),
        ("*/15 8-17 * * mon-fri", "UTC"),
        ("0 6 1 * *", "Australia/Sydney"),
        ("0 0 1,15 * 1", "UTC"),
        ("0 12 29 2 *", "UTC"),
    ],
)
def test_the_longest_window_nope_check_allows_with_a_cron_is_one_dagster_accepts(cron, timezone):
    gap = freshness.shortest_cron_gap_seconds(cron, timezone)
    dg.FreshnessPolicy.cron(deadline_cron=cron, lower_bound_delta=timedelta(seconds=gap), timezone=timezone)
