"""What `nope check` accepts, Dagster loads: generated manifests hold the two to each other.

`nope check` restates Dagster's rules without importing Dagster (`nope/dagster_rules.py`).
These tests generate manifests from a seeded generator over every manifest key, with values
valid and nasty, and require that whatever `Project.load` accepts also builds and resolves in
strict mode, and that lenient mode never fails the code location whatever is generated.
"""

from __future__ import annotations

import datetime
import random
from pathlib import Path

import dagster as dg
import pytest
import yaml

from nope import NopeAssetManifest
from nope.dagster_rules import RESERVED_NAMES, cron_problem
from test_manifest_errors import SCRIPT, write_tree

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }} as Project

from conftest import description_of, specs_by_key

# Per cron field, values that are valid there; and values that are wrong somewhere or everywhere.
GOOD_CRON_FIELDS = [
    ["0", "5", "59", "*/15", "0-30/10", "1,2", "*", "5/10"],
    ["0", "23", "9-17", "*/2", "*", "6,18"],
    ["1", "31", "30", "1-15", "*", "*/7"],
    ["1", "2", "12", "jan", "FEB", "jan-jun", "*", "*/3"],
    ["0", "7", "mon", "sun-sat", "mon-fri", "*", "1-5", "0-7"],
]
NASTY_CRON_FIELDS = ["60", "99", "-1", "*/0", "*/90", "5-1", "L", "?", "1#2", "1-60", "32", "0x1", "mon-fry", "١"]

# Each key's candidate values, good and bad mixed; `{group}` is replaced by the manifest's group.
VALUES: dict[str, list] = {
    "description": ["Orders.", "", None, 5, "x" * 5_000, "2024-01-01"],
    "owners": [["team:a"], ["team:"], ["a@b.co"], ["a@b.technology"], ["-a@b.co"], ["_a@b.co"], ["bob"], ["a@b.c0"]],
    "tags": [{"tier": "gold"}, {"dagster/priority": "1"}, {"a/b": "c"}, {"kind": "csv"}, {"kind": ""}, {"x" * 64: "y"},
             {"tier": "a b"}, {"tier": "x" * 64}, {"tier": 5}, {"dagster/kind/x": ""}, {"a.b-c": "d.e-f"}],
    "kinds": [["python"], [f"k{i}" for i in range(9)], [f"k{i}" for i in range(10)], [f"k{i}" for i in range(11)],
              [""], ["a b"], ["x" * 64], ["csv", "csv"]],
    "metadata": [{"dagster/row_count": "abc"}, {"dagster/row_count": 5}, {"dagster/row_count": True},
                 {"dagster/row_count": 5.0}, {"dagster/table_name": 5}, {"dagster/table_name": "db.s.orders"},
                 {"dagster/column_schema": "x"}, {"dagster/code_references": "x"}, {"dagster/foo": 1},
                 {"dagster/storage_kind": "snowflake"}, {"plain": [1, {"a": None}]}, {"when": datetime.date(2024, 1, 1)},
                 {"ratio": float("nan")}, {"big": 10**30}, {"nested": {1: "a"}}],
    "key": ["{group}/x", "other/x", "input", "class", "{group}/class", "broken_manifests/x", "{group}/a/_b",
            "{group}/deep/er/key", "{group}//x", "{group}/x-y", "{group}"],
    "deps": [["base/root"], ["base/root", "base/root"], ["base/missing"], ["{group}/self"], [], ["base"]],
    "automation": ["eager", "on_missing", {"cron": "0 6 * * *"}, {"cron": "0 6 * * *", "timezone": "Factory"},
                   {"cron": "0 6 * * *", "timezone": "Mars/Olympus"}, {"cron": "0 6 * * *", "timezone": "localtime"},
                   "CRON"],
    "timeout": [1, 0, -1, float("inf"), float("nan"), "10", 1e300, True, 604_800],
    "retries": [{"max": 3}, {"max": 0}, {"max": 101}, {"max": 2, "delay": 1.5, "backoff": "exponential"},
                {"max": 2, "delay": -1}, {"max": 2, "delay": float("inf")}, {"max": 2, "delay": float("nan")},
                {"max": 2, "backoff": "linear"}, {"max": 2, "delay": 1e300}, {"max": True},
                {"max": 30, "delay": 1, "backoff": "exponential"}],
    "pool": ["db", "a b", "a/b", "x" * 64, "é", "", " pad ", "a.b-c_d", "a:b"],
    "partitions": ["daily", None],  # unpublished names are refused when definitions load, by design
    "checks": [[{"name": "ok"}], [{"name": "input"}], [{"name": "class"}], [{"name": "a b"}],
               [{"name": "ok"}, {"name": "ok"}], [{"name": "ok", "asset": "nope"}], [{"name": "ok", "blocking": True}]],
    "args": [["--days", 7], [None], ["x" * 1000], ["a\0b"], ["x" * 100_001]],
    "env": [{"A": "1"}, {"1A": "x"}, {"A": "${HOME}"}, {"A": "$"}, {"A": "a\0b"}, {"A": "${A:-b}"}],
    "script": ["a\0.py"],
}  # fmt: skip


def random_cron(rng: random.Random) -> str:
    fields = [rng.choice(NASTY_CRON_FIELDS if rng.random() < 0.1 else good) for good in GOOD_CRON_FIELDS]
    if rng.random() < 0.1:  # a field too many or too few
        fields = fields[:-1] if rng.random() < 0.5 else [*fields, "*"]
    return " ".join(fields)


def random_value(rng: random.Random, key: str, group: str):
    value = rng.choice(VALUES[key])
    if value == "CRON":
        return {"cron": random_cron(rng)}
    return yaml.safe_load(yaml.safe_dump(value).replace("{group}", group))  # a fresh copy, group filled in


def random_manifest(rng: random.Random, group: str) -> dict:
    manifest: dict = {"target": "subprocess"}
    for key in rng.sample(sorted(VALUES), rng.choice([1, 1, 2, 3])):
        manifest[key] = random_value(rng, key, group)
    if rng.random() < 0.25:  # several assets, each with a few keys of its own
        asset_keys = ["description", "owners", "tags", "kinds", "metadata", "key", "deps", "automation"]
        manifest["assets"] = {
            name: {key: random_value(rng, key, group) for key in rng.sample(asset_keys, rng.choice([0, 1, 2]))}
            for name in rng.sample(["x", "y", "input", "class", "self"], rng.choice([1, 2]))
        }
        manifest.pop("key", None)
    return manifest


def generated_tree(seed: int, manifests: int = 30) -> dict[str, str]:
    rng = random.Random(seed)
    files = {"base/root.py": SCRIPT, "base/root.yaml": "target: subprocess\n"}
    for index in range(manifests):
        group = rng.choice(["g", "h"])
        files[f"{group}/m{index}.py"] = SCRIPT
        files[f"{group}/m{index}.yaml"] = yaml.safe_dump(random_manifest(rng, group), allow_unicode=True)
    if rng.random() < 0.5:
        files["g/_group.yaml"] = yaml.safe_dump({key: random_value(rng, key, "g") for key in ("pool", "tags")})
    return files


def assert_loads(defs: dg.Definitions) -> None:
    defs.resolve_asset_graph()
    defs.resolve_all_asset_specs()
    dg.Definitions.validate_loadable(defs)


@pytest.mark.parametrize("seed", range(12))
def test_what_nope_check_accepts_dagster_loads(tmp_path: Path, seed: int):
    defs_path = write_tree(tmp_path, generated_tree(seed))

    # Lenient mode loads whatever the tree holds.
    assert_loads(Project.make_definitions(defs_path=defs_path, lenient=True))

    # Strict mode loads what `nope check` accepts: drop the refused manifests until none is left.
    refused = 0
    for _ in range(5):
        broken = Project.load(defs_path).broken_manifests
        if not broken:
            break
        for path in broken:
            path.unlink()
            refused += 1
    accepted = Project.load(defs_path)
    assert accepted.problems == []
    assert_loads(Project.make_definitions(defs_path=defs_path))
    # The generator must exercise both sides, or this test could not fail.
    assert len(accepted.targets) >= 5 and refused >= 5, (len(accepted.targets), refused)


def test_crons_nope_check_accepts_are_crons_dagster_accepts():
    rng = random.Random(0)
    accepted = refused = 0
    for cron in {random_cron(rng) for _ in range(3_000)}:
        if cron_problem(cron) is None:
            dg.AutomationCondition.on_cron(cron)  # raises on a cron Dagster refuses
            accepted += 1
        else:
            refused += 1
    assert accepted > 100 and refused > 100


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("99 99 99 99 99", "the minute field `99` must be within 0-59"),
        ("0 6 * * mon-fry", "the weekday field `mon-fry` must be within 0-7 or sun-sat"),
        ("*/0 * * * *", "the minute step `/0` must be between 1 and 59"),
        ("0 0 30 feb *", "never runs: February has no day 30"),
        ("0 0 31 4 *", "never runs: April has no day 31"),
        ("0 0 31 apr,jun,9,nov *", "never runs: April, June, September and November have no day 31"),
        ("0 0 30-31 2 mon", "never runs: February has no day 30 or 31"),
        ("0 6 * *", "is not a cron of five fields"),
        ("0 0 L * *", "the day of month field `L` must be within 1-31"),
        ("0 0 1-5/2,? * *", "the day of month field `1-5/2,?` is not a number"),
    ],
)
def test_a_cron_dagster_refuses_is_a_problem_at_its_line(tmp_path: Path, cron: str, words: str):
    defs = write_tree(tmp_path, {"g/a.py": SCRIPT, "g/a.yaml": f"target: subprocess\nautomation:\n  cron: '{cron}'\n"})
    [problem] = Project.load(defs).problems
    assert (problem.path, problem.line, problem.column) == ("defs/g/a.yaml", 3, 3)
    assert words in problem.message, problem.message


def test_every_cron_of_a_month_and_day_nope_check_accepts_runs_within_five_years():
    from dagster._utils.schedules import cron_string_iterator  # no public API iterates a cron's times

    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    accepted = refused = 0
    for month in range(1, 13):
        for day in ("28", "29", "30", "31", "30,31", "29-31", "*/10"):
            cron = f"0 0 {day} {month} *"
            if cron_problem(cron) is not None:
                refused += 1
                continue
            accepted += 1
            first = next(cron_string_iterator(start.timestamp(), cron, "UTC"))
            assert first < start.replace(year=2031), cron
    assert accepted > 50 and refused > 5, (accepted, refused)


@pytest.mark.parametrize("cron", ["0 6 * * *", "*/15 9-17 * * mon-fri", "0 0 1 jan,jul *", "30 2 * * 0-7", "5/10 * * * *"])
def test_common_crons_are_accepted(cron: str):
    assert cron_problem(cron) is None


@pytest.mark.parametrize(
    ("yaml_text", "position", "words"),
    [
        ("pool: a b\n", (2, 1), "pool: `a b` is not a pool name"),
        ("metadata:\n  dagster/row_count: abc\n", (2, 1), "`dagster/row_count` must be a whole number, not `abc`"),
        ("metadata:\n  dagster/column_schema: x\n", (2, 1), "keys starting with `dagster/` are Dagster's own"),
        ("tags:\n  dagster/priority: '1'\n", (3, 3), "tag keys starting with `dagster/` are Dagster's own"),
        ("kinds: [k0, k1, k2, k3, k4, k5, k6, k7, k8, k9]\n", (2, 1), "11 kinds"),
        ("owners: [ana@example.technology]\n", (2, 10), "is not an owner"),
        ("deps: [base/root, base/root]\n", (2, 1), "lists `base/root` more than once"),
        ("timeout: .inf\n", (2, 1), "finite number"),
    ],
)
def test_values_dagster_refuses_are_problems_at_their_line(tmp_path: Path, yaml_text: str, position: tuple, words: str):
    defs = write_tree(
        tmp_path,
        {"base/root.py": SCRIPT, "base/root.yaml": "target: subprocess\n", "g/a.py": SCRIPT, "g/a.yaml": f"target: subprocess\n{yaml_text}"},
    )
    [problem] = Project.load(defs).problems
    assert (problem.path, problem.line, problem.column) == ("defs/g/a.yaml", *position), str(problem)
    assert words in problem.message, str(problem)


def test_reserved_names_are_dagsters():
    from dagster._core.definitions.utils import DISALLOWED_NAMES  # no public API lists the names Dagster reserves

    assert RESERVED_NAMES == DISALLOWED_NAMES


class MetadataTheModelsNeverSee(Project):
    """A platform override that hands Dagster what `nope check` never saw: Dagster refuses it late."""

    @classmethod
    def invocation_target_map(cls):
        base = super().invocation_target_map()["subprocess"]

        # The bases are whatever the platform maps `subprocess` to, known only when this runs.
        class Target(base):  # type: ignore[valid-type, misc]
            class AssetManifest(base.AssetManifest):  # type: ignore[name-defined]
                @property
                def metadata(self) -> dict:
                    return {**super().metadata, "dagster/row_count": "many"} if self.name == "bad" else super().metadata

        return {"subprocess": Target}


def test_lenient_mode_sets_aside_a_manifest_dagster_refuses_anyway(tmp_path: Path):
    defs_path = write_tree(
        tmp_path,
        {"g/bad.py": SCRIPT, "g/bad.yaml": "target: subprocess\n", "g/good.py": SCRIPT, "g/good.yaml": "target: subprocess\n"},
    )
    with pytest.raises(Exception, match="row_count"):
        assert_loads(MetadataTheModelsNeverSee.make_definitions(defs_path=defs_path))
    defs = MetadataTheModelsNeverSee.make_definitions(defs_path=defs_path, lenient=True)
    specs = specs_by_key(defs)
    assert sorted(specs) == ["broken_manifests/g__bad_yaml", "g/good"]
    assert "defs/g/bad.yaml: Dagster refused its assets: ValidationError" in description_of(specs["broken_manifests/g__bad_yaml"])


def test_lenient_mode_sets_aside_a_manifest_whose_build_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    defs_path = write_tree(
        tmp_path,
        {"g/bad.py": SCRIPT, "g/bad.yaml": "target: subprocess\n", "g/good.py": SCRIPT, "g/good.yaml": "target: subprocess\n"},
    )
    original = NopeAssetManifest.description

    def description(self):
        if self.name == "bad":
            raise dg.DagsterInvalidDefinitionError("a rule nobody foresaw")
        return original.fget(self)  # type: ignore[attr-defined]  # mypy reads a property off its class as the getter

    monkeypatch.setattr(NopeAssetManifest, "description", property(description))
    with pytest.raises(dg.DagsterInvalidDefinitionError) as raised:
        Project.make_definitions(defs_path=defs_path)
    assert "while building the assets of defs/g/bad.yaml" in raised.value.__notes__
    specs = Project.make_definitions(defs_path=defs_path, lenient=True).resolve_all_asset_specs()
    placeholder = next(spec for spec in specs if spec.group_name == "broken_manifests")
    assert "DagsterInvalidDefinitionError: a rule nobody foresaw" in description_of(placeholder)
    assert sorted(spec.key.to_user_string() for spec in specs) == ["broken_manifests/g__bad_yaml", "g/good"]
