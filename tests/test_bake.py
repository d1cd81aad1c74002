"""Baking the template: defaults, unusual answers, hygiene, and the baked repo's own tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import TEMPLATE, bake, bake_refused, run_baked_tests, template_clone, unrendered_files
from user_shell import run_as_user


def test_defaults_give_the_documented_layout(default_repo: Path):
    assert default_repo.name == "acme-data-platform"
    for relative in [
        "README.md",
        "pyproject.toml",
        "definitions.py",
        "workspace.yaml",
        "Makefile",
        ".gitignore",
        "platform/nope/__init__.py",
        "platform/acme_platform/project.py",
        "defs/group_a/asset_one.yaml",
        "defs/group_a/assets_three_and_four.py",
        "defs/sales/revenue.yaml",
        "tests/test_examples.py",
    ]:
        assert (default_repo / relative).is_file(), relative
    # platform/ is a plain folder: a package named `platform` would shadow Python's own module.
    assert not (default_repo / "platform/__init__.py").exists()
    assert ".dagster_home/" in (default_repo / ".gitignore").read_text()
    assert "AcmeProject.make_definitions" in (default_repo / "definitions.py").read_text()


def test_no_template_syntax_survives_baking(default_repo: Path):
    assert unrendered_files(default_repo) == []
    assert not list(default_repo.rglob("__pycache__"))


# The default bake's whole suite, and each other combination's tests, run in test_answers.py's
# matrix of the example and target answers ("examples-uv-and-modal" is the default bake).


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param({"company_name": "Café Ñandú", "project_name": "Plateforme de données — Café Ñandú 数据"}, id="unicode"),
        pytest.param(
            {"company_name": "Consolidated " * 6 + "Holdings", "project_name": "A " + "very long name " * 12},
            id="long-name",
        ),
        pytest.param(
            {"company_name": 'O\'Brien "Quotes" \\ Co', "default_owners": "data@example.com, team:ops"},
            id="quotes-backslashes-two-owners",
        ),
    ],
)
def test_unusual_but_valid_answers_bake_a_working_repo(tmp_path: Path, user_home: Path, answers: dict):
    repo = bake(tmp_path, **answers)
    assert unrendered_files(repo) == []
    result = run_baked_tests(repo, user_home, 'make test ARGS="' + " ".join(NAME_TESTS) + '"')
    assert result.returncode == 0, result.stdout[-6000:]
    assert [relative for relative in NAME_TESTS if relative not in result.stdout] == [], result.stdout[-6000:]


# Where a name or owner answer lands, so what an unusual one can break: the platform package and
# project class every test imports and subclasses (definitions, customization, the command line's
# generated code), the examples materialized under them, the docs site's title, the schema's and
# CODEOWNERS' text. The rest of the suite runs once, in the default bake (tests/test_answers.py).
NAME_TESTS = [
    "tests/test_definitions.py",
    "tests/test_examples.py",
    "tests/test_customization.py",
    "tests/test_cli.py",
    "tests/test_docs.py",
    "tests/test_schema.py",
    "tests/test_codeowners.py",
]


def test_owners_answer_is_embedded_as_data(tmp_path: Path):
    repo = bake(tmp_path, default_owners="data@example.com, team:ops", default_kind_tag="pandas")
    settings = (repo / "platform/acme_platform/settings.py").read_text()
    assert 'DEFAULT_OWNERS: list[str] = ["data@example.com", "team:ops"]' in settings
    assert 'DEFAULT_KIND: str = "pandas"' in settings


def test_without_examples_the_repo_has_an_empty_defs_folder_and_no_example_tests(tmp_path: Path):
    repo = bake(tmp_path, include_examples="no")
    assert not (repo / "defs/group_a").exists()
    assert not (repo / "tests/test_examples.py").exists()
    assert [path.name for path in (repo / "defs").iterdir()] == [".gitkeep"]


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"platform_package": "1acme"}, "platform_package: `1acme` is not a valid Python package name"),
        ({"platform_package": "platform"}, "platform_package: `platform` is already taken"),
        ({"platform_package": "json"}, "platform_package: `json` is already taken"),
        ({"default_owners": "bob"}, "default_owners: `bob` is neither an email address nor `team:<name>`"),
        ({"default_kind_tag": "has spaces"}, "default_kind_tag: `has spaces` must be 1 to 63"),
        ({"project_slug": "-bad slug"}, "project_slug: `-bad slug` must start and end with a letter or digit"),
        ({"repository_url": "git@github.com:acme/x.git"}, "repository_url: `git@github.com:acme/x.git` must be an https://"),
        ({"company_name": "Acme\nInc"}, "company_name: must be one line of text"),
        ({"project_name": "Data\rPlatform"}, "project_name: must be one line of text"),
        ({"platform_package": "yaml"}, "platform_package: `yaml` would shadow the `yaml` module of a package this repository installs"),
        ({"platform_package": "sqlalchemy"}, "platform_package: `sqlalchemy` would shadow"),
        ({"company_name": "A" * 5000}, "company_name: `" + "A" * 57 + "...` is 5,000 characters long; at most 100"),
        ({"project_slug": "a" * 300}, "project_slug: `" + "a" * 57 + "...` is 300 characters long; at most 100"),
        ({"project_slug": "data/platform"}, "project_slug: `data/platform` must start and end with a letter or digit"),
        ({"project_slug": "../escaped"}, "project_slug: `../escaped` must start and end with a letter or digit"),
        ({"deployment": "kubernetes"}, "deployment: `kubernetes` needs `dagster_storage=postgres`"),
        ({"deployment": "docker", "dagster_storage": "sqlite"}, "deployment: `docker` needs `dagster_storage=postgres`"),
        ({"deployment": "swarm", "dagster_storage": "postgres"}, "deployment: `swarm` must be `local`, `docker` or `kubernetes`"),
    ],
)
def test_bad_answers_stop_in_the_hook_and_leave_nothing_behind(tmp_path: Path, answers: dict, message: str):
    result = bake_refused(tmp_path, **answers)
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []
    assert not (tmp_path.parent / "escaped").exists()


def test_several_bad_answers_are_all_reported(tmp_path: Path):
    result = bake_refused(tmp_path, default_owners="bob", default_kind_tag="a b", platform_package="class")
    assert result.stderr.count("error: ") == 3


def test_dependency_pins_match_between_template_and_baked_repo(default_repo: Path):
    pyproject = tomllib.loads((default_repo / "pyproject.toml").read_text())
    pinned = [*pyproject["project"]["dependencies"], *pyproject["dependency-groups"]["dev"]]  # dg is a dev tool
    baked = {dep.split("==")[0]: dep for dep in pinned if "==" in dep}
    template = {
        line.split("==")[0]: line.strip()
        for line in (TEMPLATE / "requirements/test.in").read_text().splitlines()
        if "==" in line and line.startswith(("dagster", "ruff", "mypy", "types-PyYAML", "mkdocs"))
        and not line.startswith(("dagster-postgres", "dagster-docker", "dagster-k8s"))
    }  # pinned only in repos that chose them (tests/test_postgres.py, tests/test_deployments.py)
    assert baked == template
    assert {"dagster", "dagster-pipes", "dagster-webserver", "dagster-dg-cli"} <= set(baked)


def test_the_cli_materializes_the_examples_on_the_embedded_sqlite_instance(default_repo: Path, tmp_path: Path):
    """The quick start's `dagster asset materialize`, with a persistent DAGSTER_HOME like `make dev`."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(default_repo / "dagster.yaml", home / "dagster.yaml")  # as `make dev` does
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(default_repo / "platform")}
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "asset", "materialize", "--select", "*", "-f", "definitions.py"],
        cwd=default_repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (home / "storage").is_dir() or list(home.glob("**/*.db")), "no SQLite storage was written"
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import dagster as dg; i = dg.DagsterInstance.get(); "
            "e = i.get_latest_materialization_event(dg.AssetKey(['group_a', 'asset_four'])); "
            "print(e.asset_materialization.metadata['metadata'].value)",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.stdout.strip() == "value_two", check.stderr[-2000:]


def test_a_repository_url_answer_links_every_asset_to_the_git_host(tmp_path: Path, user_home: Path):
    repo = bake(tmp_path, repository_url="https://github.com/acme/data-platform/", repository_branch="trunk")
    settings = (repo / "platform/acme_platform/settings.py").read_text()
    assert 'REPOSITORY_URL: str = "https://github.com/acme/data-platform"' in settings
    result = run_baked_tests(repo, user_home, "make test ARGS=tests/test_definitions.py")
    assert result.returncode == 0, result.stdout[-6000:]
    assert "test_definitions.py" in result.stdout and "test_loader.py" not in result.stdout


def test_a_contributor_runs_one_baked_test_file_from_the_baked_folder(tmp_path: Path, user_home: Path):
    """CONTRIBUTING's way to run a baked repository's own tests: the baked repository's `make test`,
    in its own `.venv`, never the template's environment."""
    template = template_clone(tmp_path)
    run_as_user("make bake", template, user_home)
    result = run_as_user("cd build/acme-data-platform && make test ARGS=tests/test_docs.py", template, user_home)
    assert "tests/test_docs.py" in result.stdout and " passed" in result.stdout and "test_loader.py" not in result.stdout
    assert (template / "build/acme-data-platform/.venv/bin/mkdocs").is_file()
