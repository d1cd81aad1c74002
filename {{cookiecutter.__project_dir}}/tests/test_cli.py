"""The `nope` command, run the way practitioners' CI and pre-commit hooks run it: a real process."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from nope import NopeProject

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }} as Project

from conftest import REPO_ROOT, materialize

PLATFORM = REPO_ROOT / "platform"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A scratch platform repository: this repo's pyproject.toml and schema, an empty defs/."""
    root = tmp_path / "repo"
    (root / "defs").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copy(REPO_ROOT / "nope.schema.json", root / "nope.schema.json")
    return root


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def nope(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m nope ...` in `cwd`, outside GitHub Actions unless `env` says otherwise."""
    environment = {key: value for key, value in os.environ.items() if key != "GITHUB_ACTIONS"}
    environment.update({"PYTHONPATH": str(PLATFORM), **env})
    return subprocess.run(
        [sys.executable, "-m", "nope", *args], cwd=cwd, env=environment, capture_output=True, text=True
    )


BROKEN = {
    "defs/g/a.py": "print(1)\n",
    "defs/g/a.yaml": "target: subprocess\nownerz: [team:x]\n",
    "defs/h/b.py": "print(1)\n",
    "defs/h/b.yaml": "target: subprocess\ndeps: [g/aa]\n",
}


def test_check_on_this_repository_is_clean():
    result = nope("check", cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems" in result.stdout


def test_check_lists_every_problem_as_path_line_column_and_exits_1(repo: Path):
    write(repo, BROKEN)
    result = nope("check", cwd=repo)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "defs/g/a.yaml:2:1: unknown key `ownerz`. Did you mean `owners`? "
        "Allowed here: args, assets, automation, checks, deps, description, env, freshness, key, kinds, metadata, owners, "
        "partitions, pool, retries, script, tags, target, timeout",
        "defs/h/b.yaml:2:8: unknown dep `g/aa`. No manifest defines it.",
    ]
    assert "2 problem(s) in 2 file(s)" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_also_runs_from_a_subfolder_and_takes_a_path(repo: Path, tmp_path: Path):
    write(repo, BROKEN)
    assert nope("check", cwd=repo / "defs" / "g").returncode == 1
    clean = tmp_path / "elsewhere" / "defs"
    write(clean.parent, {"defs/g/a.py": "print(1)\n", "defs/g/a.yaml": "target: subprocess\n"})
    result = nope("check", str(clean), cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_reports_on_the_paths_given_inside_defs(repo: Path):
    write(repo, BROKEN)
    only_h = nope("check", "defs/h/b.yaml", cwd=repo)
    assert only_h.returncode == 1
    assert only_h.stdout.splitlines() == ["defs/h/b.yaml:2:8: unknown dep `g/aa`. No manifest defines it."]
    write(repo, {"defs/k/c.py": "print(1)\n", "defs/k/c.yaml": "target: subprocess\n"})
    clean_folder = nope("check", "defs/k", cwd=repo)
    assert clean_folder.returncode == 0, clean_folder.stdout
    missing = nope("check", "defs/nope.yaml", cwd=repo)
    assert missing.returncode == 2
    assert "defs/nope.yaml does not exist" in missing.stderr


def test_check_lists_a_cause_before_the_problems_it_causes(repo: Path):
    """A dependent's problem is a consequence: the broken manifest it points at is read first."""
    write(
        repo,
        {
            "defs/a/zz_broken.py": "print(1)\n",
            "defs/a/zz_broken.yaml": "target: subproces\n",
            "defs/a/aa_user.py": "print(1)\n",
            "defs/a/aa_user.yaml": "target: subprocess\ndeps: [a/zz_broken]\n",
            "defs/b/other.py": "print(1)\n",
            "defs/b/other.yaml": "target: subprocess\nownerz: []\n",
        },
    )
    result = nope("check", cwd=repo)
    assert result.returncode == 1
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        "defs/a/zz_broken.yaml",
        "defs/a/aa_user.yaml",
        "defs/b/other.yaml",
    ], result.stdout
    assert "dep `a/zz_broken` is defined by defs/a/zz_broken.yaml, which has problems" in result.stdout


def test_check_json_is_for_machines(repo: Path):
    write(repo, BROKEN)
    result = nope("check", "--format", "json", cwd=repo)
    report = json.loads(result.stdout)
    assert result.returncode == 1
    assert report["ok"] is False
    assert report["manifests"] == 2
    assert report["problems"][0] == {
        "path": "defs/g/a.yaml",
        "line": 2,
        "column": 1,
        "message": report["problems"][0]["message"],
    }
    assert report["problems"][1]["message"].startswith("unknown dep `g/aa`")


def test_check_inside_github_actions_prints_annotations(repo: Path):
    write(repo, BROKEN)
    result = nope("check", cwd=repo, GITHUB_ACTIONS="true")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("::error file=defs/g/a.yaml,line=2,col=1,title=nope check::unknown key `ownerz`.")
    assert lines[1] == "::error file=defs/h/b.yaml,line=2,col=8,title=nope check::unknown dep `g/aa`. No manifest defines it."


def test_check_never_imports_dagster(repo: Path):
    write(repo, BROKEN)
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['nope', 'check']\n"
        "try:\n"
        "    runpy.run_module('nope', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "loaded = sorted(name for name in sys.modules if name.split('.')[0] in ('dagster', 'dagster_pipes'))\n"
        "print('DAGSTER MODULES:', loaded)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(PLATFORM)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr  # the problems were found...
    assert "DAGSTER MODULES: []" in result.stdout  # ...without importing Dagster


def test_outside_a_platform_repository_it_says_so(tmp_path: Path):
    result = nope("check", cwd=tmp_path)
    assert result.returncode == 2
    assert "no pyproject.toml with a [tool.nope] table" in result.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('project = "no_such_platform:Project"', "no module `no_such_platform`"),
        ('project = "nope"', "must read `package:ProjectClass`"),
        ('project = "nope:Problem"', "is not a NopeProject subclass"),
    ],
)
def test_a_wrong_tool_nope_setting_is_named(tmp_path: Path, setting: str, message: str):
    (tmp_path / "pyproject.toml").write_text(f"[tool.nope]\n{setting}\n")
    result = nope("check", cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_schema_to_an_unwritable_place_says_so(repo: Path):
    result = nope("schema", "-o", "no/such/folder/schema.json", cwd=repo)
    assert result.returncode == 2
    assert "cannot write no/such/folder/schema.json: No such file or directory" in result.stderr


def test_list_shows_key_group_target_deps_and_owners():
    table = nope("list", cwd=REPO_ROOT)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["KEY", "GROUP", "TARGET", "DEPS", "OWNERS"]
    rows = json.loads(nope("list", "--format", "json", cwd=REPO_ROOT).stdout)
    expected = {
        asset.key: (target.group, target.manifest.target, asset.deps, asset.owners)
        for target in Project.load(REPO_ROOT / "defs").targets
        for asset in target.asset_manifests
    }
    assert {row["key"]: (row["group"], row["target"], row["deps"], row["owners"]) for row in rows} == expected
    assert len(table.stdout.splitlines()) == len(expected) + 1


def test_list_piped_into_a_reader_that_stops_early_is_not_an_error(repo: Path):
    files = {}
    for index in range(2000):
        files[f"defs/g/a{index}.py"] = ""
        files[f"defs/g/a{index}.yaml"] = "target: subprocess\n"
    write(repo, files)
    environment = {**os.environ, "PYTHONPATH": str(PLATFORM)}
    listing = subprocess.Popen([sys.executable, "-m", "nope", "list"], cwd=repo, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert listing.stdout is not None and listing.stderr is not None
    assert listing.stdout.readline().split() == [b"KEY", b"GROUP", b"TARGET", b"DEPS", b"OWNERS"]
    listing.stdout.close()  # like `| head -1`
    assert listing.wait() == 0
    assert b"Traceback" not in listing.stderr.read()


def test_list_reports_problems_and_exits_1(repo: Path):
    write(repo, {**BROKEN, "defs/g/ok.py": "print(1)\n", "defs/g/ok.yaml": "target: subprocess\n"})
    result = nope("list", cwd=repo)
    assert result.returncode == 1
    assert "g/ok" in result.stdout
    assert "defs/g/a.yaml:2:1: unknown key `ownerz`" in result.stderr


def test_new_writes_a_manifest_and_script_that_pass_check_and_materialize(repo: Path, instance):
    result = nope("new", "marketing/spend", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["created defs/marketing/spend.py", "created defs/marketing/spend.yaml"]
    manifest = (repo / "defs/marketing/spend.yaml").read_text()
    assert manifest.startswith("# yaml-language-server: $schema=../../nope.schema.json\n")
    assert (repo / "defs/marketing" / "../../nope.schema.json").resolve() == (repo / "nope.schema.json").resolve()
    assert nope("check", cwd=repo).returncode == 0
    defs = Project.make_definitions(defs_path=repo / "defs")
    assert materialize(defs, instance).success
    assert instance.get_latest_materialization_event(dg.AssetKey(["marketing", "spend"])) is not None


def test_new_with_several_assets_reports_each(repo: Path, instance):
    result = nope("new", "sales/revenue", "--assets", "daily, by_customer", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert nope("check", cwd=repo).returncode == 0
    defs = Project.make_definitions(defs_path=repo / "defs")
    assert materialize(defs, instance).success
    for name in ("daily", "by_customer"):
        event = instance.get_latest_materialization_event(dg.AssetKey(["sales", name]))
        assert event.asset_materialization.metadata["rows"].value == 0


@pytest.mark.parametrize("target", sorted(Project.invocation_target_map()))
def test_new_passes_check_for_every_target_of_the_platform(repo: Path, target: str):
    result = nope("new", f"g/made_for_{target}", "--target", target, cwd=repo)
    assert result.returncode == 0, result.stderr
    assert f"target: {target}\n" in (repo / f"defs/g/made_for_{target}.yaml").read_text()
    assert nope("check", cwd=repo).returncode == 0


@pytest.mark.parametrize("target", sorted(Project.invocation_target_map()))
def test_new_declares_packages_only_for_a_target_that_installs_them(repo: Path, target: str):
    """A `# /// script` block promises packages: only `uv` installs them; the others would ignore it."""
    assert nope("new", "g/made", "--target", target, cwd=repo).returncode == 0
    declares = "# /// script\n# dependencies = " in (repo / "defs/g/made.py").read_text()
    assert declares == (target == "uv")
    assert Project.invocation_target_map()[target].installs_script_dependencies == (target == "uv")


PACKAGES_SCRIPT = '''"""Counts orders."""
# /// script
# requires-python = ">=3.11"
# dependencies = [
#   "pandas>=2",
# ]
# ///
print("counted")
'''


def test_check_refuses_a_script_whose_packages_its_target_never_installs(repo: Path):
    write(repo, {"defs/g/orders.py": PACKAGES_SCRIPT, "defs/g/orders.yaml": "# orders\ntarget: subprocess\n"})
    result = nope("check", cwd=repo)
    assert result.returncode == 1
    if "uv" in Project.invocation_target_map():
        fix = "use `target: uv`, which installs them, or remove the `# /// script` block"
    else:
        fix = "remove the `# /// script` block, or ask a platform owner for a target that installs them (such as `uv`)"
    assert result.stdout.splitlines() == [
        "defs/g/orders.yaml:2:1: target `subprocess` does not install the packages defs/g/orders.py:4 declares "
        f"(`pandas>=2`), so the script would run without them; {fix}"
    ]


def test_check_accepts_declared_packages_the_target_has_or_installs(repo: Path):
    """`dagster-pipes` is the platform's own (scripts `nope new` wrote before declare it); `uv` installs the rest."""
    pipes_only = PACKAGES_SCRIPT.replace('"pandas>=2"', '"Dagster_Pipes>=1.8"')
    files = {"defs/g/pipes.py": pipes_only, "defs/g/pipes.yaml": "target: subprocess\n"}
    if "uv" in Project.invocation_target_map():
        files |= {"defs/g/orders.py": PACKAGES_SCRIPT, "defs/g/orders.yaml": "target: uv\n"}
    write(repo, files)
    result = nope("check", cwd=repo)
    assert result.returncode == 0, result.stdout


def test_a_platform_without_an_installing_target_says_to_ask_for_one(make_defs):
    defs_path = make_defs({"g/orders.py": PACKAGES_SCRIPT, "g/orders.yaml": "target: subprocess\n"})
    [problem] = NopeProject.load(defs_path).problems
    assert (problem.path, problem.line) == ("defs/g/orders.yaml", 1)
    assert problem.message.endswith("or ask a platform owner for a target that installs them (such as `uv`)")


def test_new_refuses_to_overwrite(repo: Path):
    write(repo, {"defs/sales/orders.py": "my precious work\n"})
    result = nope("new", "sales/orders", cwd=repo)
    assert result.returncode == 2
    assert "defs/sales/orders.py already exists" in result.stderr
    assert (repo / "defs/sales/orders.py").read_text() == "my precious work\n"
    assert not (repo / "defs/sales/orders.yaml").exists()


# `nope new` in a child process that, just as it opens `argv[1]` to write it, lets another
# `nope new` of the same name win the race: that file appears first (an audit hook, no patching).
NEW_LOSING_A_RACE = """
import os, sys
from nope.cli import main
contested, = sys.argv[1:]
raced = []
def write_first(name, args):
    if name == "open" and not raced and os.fspath(args[0]).endswith(contested) and args[1] not in ("r", "rb", None):
        raced.append(contested)
        with open(args[0], "w") as theirs:
            theirs.write("the other one's\\n")
sys.addaudithook(write_first)
sys.exit(main(["new", "sales/orders"]))
"""


@pytest.mark.parametrize("contested", ["defs/sales/orders.py", "defs/sales/orders.yaml"])
def test_new_that_loses_a_race_for_the_name_says_it_exists_and_replaces_nothing(repo: Path, contested: str):
    (repo / "defs/sales").mkdir()
    result = subprocess.run(
        [sys.executable, "-c", NEW_LOSING_A_RACE, contested],
        cwd=repo, env={**os.environ, "PYTHONPATH": str(PLATFORM)}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"nope: {contested} already exists; pick another name or edit it\n"
    assert "created" not in result.stdout
    assert (repo / contested).read_text() == "the other one's\n"
    assert [path.name for path in (repo / "defs/sales").iterdir()] == [Path(contested).name]  # none of ours is left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sales-eu/orders"], "group `sales-eu` must use letters, digits and underscores only (try `sales_eu`)"),
        (["orders"], "write <group>/<name>"),
        (["sales/orders", "--target", "subproces"], "unknown target `subproces`. Did you mean `subprocess`?"),
        (["sales/orders", "--assets", "a,b-c"], "asset name `b-c` must use letters"),
    ],
)
def test_new_refuses_bad_names_and_writes_nothing(repo: Path, args: list[str], message: str):
    result = nope("new", *args, cwd=repo)
    assert result.returncode == 2
    assert message in result.stderr
    assert list((repo / "defs").iterdir()) == []


@pytest.mark.parametrize("existing", ["all", "zzz"])  # the clash is found in the new file or the old one
def test_new_refuses_an_asset_key_that_already_exists_and_writes_nothing(repo: Path, existing: str):
    write(
        repo,
        {f"defs/sales/{existing}.py": "print(1)\n", f"defs/sales/{existing}.yaml": "target: subprocess\nassets:\n  orders: {}\n"},
    )
    result = nope("new", "sales/orders", cwd=repo)
    assert result.returncode == 1
    assert "asset `sales/orders` is already defined in defs/sales/" in result.stderr
    assert "nothing was written" in result.stderr
    assert sorted(path.name for path in (repo / "defs/sales").iterdir()) == [f"{existing}.py", f"{existing}.yaml"]


def test_schema_prints_the_committed_schema():
    result = nope("schema", cwd=REPO_ROOT)
    assert result.returncode == 0
    assert result.stdout == (REPO_ROOT / "nope.schema.json").read_text()


def test_schema_writes_a_file(repo: Path):
    (repo / "nope.schema.json").unlink()
    assert nope("schema", "-o", "nope.schema.json", cwd=repo).returncode == 0
    assert (repo / "nope.schema.json").read_text() == (REPO_ROOT / "nope.schema.json").read_text()


SETTINGS = "platform/{{ cookiecutter.platform_package }}/settings.py"


@pytest.fixture
def repo_with_platform(repo: Path) -> Path:
    """The scratch repository with its own copy of the platform package, to edit its settings."""
    shutil.copytree(PLATFORM, repo / "platform", ignore=shutil.ignore_patterns("__pycache__"))
    return repo


def set_setting(repo: Path, name: str, value: str) -> int:
    """Replace the value of `name` in settings.py; returns its line number."""
    path = repo / SETTINGS
    lines = path.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(f"{name}:"))
    lines[index] = f"{lines[index].split('=')[0]}= {value}\n"
    path.write_text("".join(lines))
    return index + 1


@pytest.mark.parametrize(
    ("name", "value", "column", "message"),
    [
        ("DEFAULT_OWNERS", '["team:data", "bob"]', 43, "DEFAULT_OWNERS: `bob` is not an owner: write an email address or `team:<name>`"),
        ("DEFAULT_KIND", '"my kind"', 21, "DEFAULT_KIND: `my kind` is not a kind tag"),
        ("REPOSITORY_URL", '"github.com/acme/x"', 23, "REPOSITORY_URL: `github.com/acme/x` is not a web address"),
    ],
)
def test_check_reports_a_bad_platform_default_at_its_line_in_settings(
    repo_with_platform: Path, name: str, value: str, column: int, message: str
):
    line = set_setting(repo_with_platform, name, value)
    result = nope("check", cwd=repo_with_platform, PYTHONPATH=str(repo_with_platform / "platform"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{SETTINGS}:{line}:{column}: {message}" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "paths",
    [["defs"], ["defs/g/a.yaml"], ["defs/g/a.yaml", "defs/g/a.py"]],
    ids=["defs", "a changed manifest", "changed files"],
)
def test_check_of_some_paths_still_reports_the_platforms_problems(repo_with_platform: Path, paths: list[str]):
    """A bad default touches every asset, so it is reported whatever paths are checked (pre-commit passes some)."""
    write(repo_with_platform, {"defs/g/a.py": "print(1)\n", "defs/g/a.yaml": "target: subprocess\n"})
    line = set_setting(repo_with_platform, "DEFAULT_OWNERS", '["team:data", "bob"]')
    result = nope("check", *paths, cwd=repo_with_platform, PYTHONPATH=str(repo_with_platform / "platform"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"{SETTINGS}:{line}:43: DEFAULT_OWNERS: `bob` is not an owner: write an email address or `team:<name>`"
    ]
    assert "Traceback" not in result.stderr


def test_loading_with_a_bad_platform_default_names_the_setting_not_a_dagster_traceback(repo_with_platform: Path):
    set_setting(repo_with_platform, "DEFAULT_OWNERS", '["bob"]')
    script = (
        "import sys\n"
        "from nope import NopeManifestError\n"
        "from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }} as Project\n"
        "try:\n"
        "    Project.make_definitions(defs_path='defs', lenient=True)\n"
        "except NopeManifestError as error:\n"
        "    print(error)\n"
        "    sys.exit(3)\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(repo_with_platform / "platform")}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=repo_with_platform, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"{SETTINGS}:" in result.stdout and "`bob` is not an owner" in result.stdout


def test_new_with_a_shell_script_writes_one_that_runs(repo: Path, instance):
    result = nope("new", "ops/cleanup", "--script", "cleanup.sh", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert (repo / "defs/ops/cleanup.sh").read_text().startswith("# Makes ops/cleanup.")
    assert "script: cleanup.sh\n" in (repo / "defs/ops/cleanup.yaml").read_text()
    assert nope("check", cwd=repo).returncode == 0
    assert materialize(Project.make_definitions(defs_path=repo / "defs"), instance).success


def test_new_refuses_a_script_the_target_does_not_run(repo: Path):
    result = nope("new", "ops/report", "--script", "report.sql", cwd=repo)
    assert result.returncode == 2
    assert "--script `report.sql`: target `subprocess` runs only `.py`, `.sh`, `.r`, `.js` scripts" in result.stderr
    assert not (repo / "defs/ops").exists()


SQL_PLATFORM = '''
import sys

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }}
from {{ cookiecutter.platform_package }}.project import {{ cookiecutter.__project_class.removesuffix('Project') }}SubprocessInvocationTarget

RUN_SQL = "import sqlite3, sys; sqlite3.connect(':memory:').executescript(open(sys.argv[1]).read())"


class SqlTarget({{ cookiecutter.__project_class.removesuffix('Project') }}SubprocessInvocationTarget):
    interpreters = {".sql": [sys.executable, "-c", RUN_SQL]}


class SqlProject({{ cookiecutter.__project_class }}):
    @classmethod
    def invocation_target_map(cls):
        return {**super().invocation_target_map(), "sql": SqlTarget}
'''


def test_new_for_a_custom_sql_target_writes_a_sql_script_that_runs(repo: Path, instance, monkeypatch):
    write(repo, {"platform/sql_platform.py": SQL_PLATFORM})
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'project = "{{ cookiecutter.platform_package }}:{{ cookiecutter.__project_class }}"', 'project = "sql_platform:SqlProject"'
    ))
    result = nope("new", "warehouse/orders", "--target", "sql", cwd=repo)
    assert result.returncode == 0, result.stderr
    script = (repo / "defs/warehouse/orders.sql").read_text()
    assert script.startswith("-- Makes warehouse/orders.")  # SQL's comment, not `#`
    monkeypatch.syspath_prepend(str(repo / "platform"))
    sql_platform = importlib.import_module("sql_platform")  # this test wrote it: no type checker sees it

    assert materialize(sql_platform.SqlProject.make_definitions(defs_path=repo / "defs"), instance).success


SQL_TARGET_OF_ITS_OWN = '''
from nope import NopeInvocationTarget

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }}


class SqlTarget(NopeInvocationTarget):
    """The README's "add a target", for SQL: runs the script in an in-memory SQLite database."""

    def invoke(self, context):
        import sqlite3

        sqlite3.connect(":memory:").executescript(self.script_path.read_text())
SCRIPT_SUFFIXES

class SqlProject({{ cookiecutter.__project_class }}):
    @classmethod
    def invocation_target_map(cls):
        return {**super().invocation_target_map(), "sql": SqlTarget}
'''

SQL_SUFFIXES = '''
    @classmethod
    def script_suffixes(cls):
        return (".sql",)
'''


def use_project(repo: Path, module: str, text: str) -> None:
    """Write `platform/<module>.py` and make its `SqlProject` the project `nope` uses."""
    write(repo, {f"platform/{module}.py": text})
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(re.sub(r'^project = ".*"$', f'project = "{module}:SqlProject"', pyproject.read_text(), flags=re.M))


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (
            "target: sql\n",
            "defs/warehouse/orders.yaml:1:1: has no script it runs: target `sql` runs only `.py` scripts "
            "(SqlTarget.script_suffixes()), so `orders.sql` next to it is not run; add `orders.py`, or set `script:`",
        ),
        (
            "target: sql\nscript: orders.sql\n",
            "defs/warehouse/orders.yaml:2:1: script `orders.sql`: target `sql` runs only `.py` scripts "
            "(SqlTarget.script_suffixes()); a platform owner adds `.sql` there to run them",
        ),
    ],
    ids=["next to the manifest", "named by script:"],
)
def test_a_target_that_does_not_say_it_runs_sql_names_script_suffixes(
    repo: Path, instance, monkeypatch: pytest.MonkeyPatch, manifest: str, message: str
):
    use_project(repo, "own_sql_platform", SQL_TARGET_OF_ITS_OWN.replace("SCRIPT_SUFFIXES", ""))
    write(repo, {"defs/warehouse/orders.sql": "CREATE TABLE orders (id INTEGER);\n", "defs/warehouse/orders.yaml": manifest})
    result = nope("check", cwd=repo)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [message]

    # What the message says, done: the target lists `.sql`, and the same files pass and run.
    use_project(repo, "own_sql_platform_fixed", SQL_TARGET_OF_ITS_OWN.replace("SCRIPT_SUFFIXES", SQL_SUFFIXES))
    assert nope("check", cwd=repo).returncode == 0
    monkeypatch.syspath_prepend(str(repo / "platform"))
    fixed = importlib.import_module("own_sql_platform_fixed")  # this test wrote it: no type checker sees it
    assert materialize(fixed.SqlProject.make_definitions(defs_path=repo / "defs"), instance).success


def test_new_for_a_target_that_does_not_say_it_runs_sql_names_script_suffixes(repo: Path):
    use_project(repo, "own_sql_platform", SQL_TARGET_OF_ITS_OWN.replace("SCRIPT_SUFFIXES", ""))
    result = nope("new", "warehouse/orders", "--target", "sql", "--script", "orders.sql", cwd=repo)
    assert result.returncode == 2
    assert result.stderr == (
        "nope: --script `orders.sql`: target `sql` runs only `.py` scripts (SqlTarget.script_suffixes()); "
        "a platform owner adds `.sql` there to run them\n"
    )
    assert not (repo / "defs/warehouse").exists()
