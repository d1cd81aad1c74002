"""Every supported combination of the target and example answers bakes a repo whose own tests pass."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from conftest import TEMPLATE, bake, bake_refused, run_baked_tests, unrendered_files
from user_shell import run_as_user


def _post_generation_table(name: str) -> dict[str, list[str]]:
    """A table of the post-generation hook, read from its source: the hook is the one home of
    which files each answer keeps (it runs before the repository exists, so it imports nothing)."""
    hook = (TEMPLATE / "hooks" / "post_gen_project.py").read_text(encoding="utf-8")
    [literal] = re.findall(rf"^{name} = (\{{.*?^\}})$", hook, re.DOTALL | re.MULTILINE)
    return ast.literal_eval(literal)


TARGET_FILES = _post_generation_table("TARGET_PATHS")
DEPLOYMENT_FILES = {
    "docker": ["compose.yaml", "deploy/docker/dagster.yaml"],
    "kubernetes": ["deploy/helm/values.yaml"],
}
# Each answer value, with and without the others: every target both kept and pruned, alone and
# together, with and without the examples (pairs, not the full product: what one target's pruning
# could break shows where it is kept or removed alone).
COMBINATIONS = [
    pytest.param("yes", "uv, modal", "local", id="examples-uv-and-modal"),  # the default bake
    pytest.param("no", "none", "local", id="no-examples-subprocess-only"),
    pytest.param("yes", "modal", "local", id="examples-modal"),
    pytest.param("no", "uv", "local", id="no-examples-uv"),
] + [
    # The container deployments and targets: two more bakes, not a product with the above.
    pytest.param("yes", "uv, modal, docker, k8s", "kubernetes", id="examples-all-targets-kubernetes"),
    pytest.param("no", "docker", "docker", id="no-examples-docker-target-docker"),
]
DEFAULT_ANSWERS = ("yes", "uv, modal", "local")

# What every other combination's answers can change, so what its bake runs besides `make lint`
# (ruff and mypy over exactly the files it kept): the graph loads (definitions), the schema, docs,
# CODEOWNERS and locks were pruned consistently, a script runs through a real instance (targets),
# the deploy hooks of the targets it kept run, and each kept target's and the examples' own tests.
# The rest of the suite (the loader's errors, hardening, Pipes parity, process trees, `dg`) runs
# the same code whatever the answers, so it runs once, in the default bake's whole suite.
ANSWER_TESTS = [
    "tests/test_definitions.py",
    "tests/test_schema.py",
    "tests/test_docs.py",
    "tests/test_codeowners.py",
    "tests/test_locks.py",
    "tests/test_targets.py",
    "tests/test_deploy.py",
]


def baked_tests_for_answers(include_examples: str, chosen: set[str], deployment: str) -> list[str]:
    """The baked test files a combination's answers can change (see ANSWER_TESTS)."""
    examples = ["tests/test_examples.py"] if include_examples == "yes" else []
    # A container deployment's dagster.yaml names a PostgreSQL server: `dg` must still list the graph.
    storage = ["tests/test_dg.py"] if deployment != "local" else []
    return ANSWER_TESTS + examples + storage + [f"tests/test_{name}_target.py" for name in sorted(chosen)]


@pytest.mark.parametrize(("include_examples", "extra_targets", "deployment"), COMBINATIONS)
def test_each_combination_bakes_only_what_was_chosen_and_its_tests_pass(
    tmp_path: Path, user_home: Path, include_examples: str, extra_targets: str, deployment: str
):
    storage = "sqlite" if deployment == "local" else "postgres"
    repo = bake(tmp_path, include_examples=include_examples, extra_targets=extra_targets, deployment=deployment, dagster_storage=storage)
    chosen = {name for name in TARGET_FILES if name in extra_targets.replace(" ", "").split(",")}

    for name, files in TARGET_FILES.items():
        for relative in files:
            assert (repo / relative).is_file() == (name in chosen), relative
    assert (repo / "platform/nope/container_target.py").is_file() == bool(chosen & {"docker", "k8s"})
    for name, files in DEPLOYMENT_FILES.items():
        for relative in files:
            assert (repo / relative).is_file() == (name == deployment), relative
    assert (repo / "Dockerfile").is_file() == (deployment != "local" or bool(chosen & {"docker", "k8s"}))
    project = (repo / "platform/acme_platform/project.py").read_text()
    for name in TARGET_FILES:
        assert (f'"{name}": Acme' in project) == (name in chosen), name
    assert ('"uv>=' in (repo / "pyproject.toml").read_text()) == ("uv" in chosen)
    targets_page = (repo / "docs/targets/index.md").read_text()
    for name in TARGET_FILES:
        assert (f"[`{name}`]({name}.md)" in targets_page) == (name in chosen), name
    for page in ("local", "docker", "kubernetes"):
        assert (repo / f"docs/operators/{page}.md").is_file() == (page == deployment), page
    assert (repo / "defs/group_a").is_dir() == (include_examples == "yes")
    assert unrendered_files(repo) == []

    # The platform owner's first edits, as docs/platform/security.md says: CODEOWNERS names the
    # organization, and the assets' default owners need not be its reviewers. The suite stays green.
    codeowners = repo / ".github/CODEOWNERS"
    codeowners.write_text(codeowners.read_text().replace("YOUR-GITHUB-ORG", "acme-corp"))
    settings = repo / "platform/acme_platform/settings.py"
    settings.write_text(settings.read_text().replace('["team:data-platform"]', '["team:analytics", "data@acme.example"]', 1))
    assert '"team:analytics"' in settings.read_text() and "YOUR-GITHUB-ORG" not in codeowners.read_text()

    # What the generated README tells a platform owner to type, in a new user's shell: each
    # installs the repository's own .venv from its locks (uv's cache in that shell's HOME is
    # warm after the first bake), then the gates its CI and pre-commit run: lint and import
    # order (ruff) and types (mypy); then its own tests.
    lint = run_as_user("make lint", repo, user_home).stdout
    assert "All checks passed!" in lint and "Success: no issues found" in lint, lint[-4000:]
    if (include_examples, extra_targets, deployment) == DEFAULT_ANSWERS:
        result = run_baked_tests(repo, user_home)  # the whole suite, once
    else:
        files = baked_tests_for_answers(include_examples, chosen, deployment)
        assert all((repo / relative).is_file() for relative in files), files
        result = run_baked_tests(repo, user_home, 'make test ARGS="' + " ".join(files) + '"')
        assert [relative for relative in files if relative not in result.stdout] == [], result.stdout[-6000:]
    assert result.returncode == 0, result.stdout[-6000:]
    assert " passed" in result.stdout and " skipped" not in result.stdout


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        pytest.param(
            {"extra_targets": "uv, spark"},
            "extra_targets: `spark` is not a target this template ships; choose from `uv`, `modal`, `docker`, `k8s` or `none`",
            id="unknown-target",
        ),
        pytest.param({"include_examples": "maybe"}, "include_examples: `maybe` must be `yes` or `no`", id="examples-not-yes-no"),
        pytest.param({"default_owners": " , "}, "default_owners: give at least one owner", id="no-owner"),
    ],
)
def test_unsupported_answers_stop_in_the_hook_and_leave_nothing_behind(tmp_path: Path, answers: dict, message: str):
    result = bake_refused(tmp_path, **answers)
    assert f"error: {message}" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_company_name_names_the_project_class_and_its_targets(tmp_path: Path):
    repo = bake(tmp_path, company_name="Globex Corp", extra_targets="uv")
    project = (repo / "platform/globex_corp_platform/project.py").read_text()
    assert "class GlobexCorpProject(NopeProject):" in project
    assert "class GlobexCorpUvInvocationTarget(NopeUvInvocationTarget):" in project
    assert "GlobexCorpProject.make_definitions" in (repo / "definitions.py").read_text()


def test_the_hooks_owner_rule_is_the_loaders():
    """The pre-generation hook runs before the repository exists, so it keeps a copy of the owner pattern."""
    hook = (TEMPLATE / "hooks" / "pre_gen_project.py").read_text(encoding="utf-8")
    models = (TEMPLATE / "{{cookiecutter.__project_dir}}" / "platform" / "nope" / "models.py").read_text(encoding="utf-8")
    [copy] = re.findall(r'^OWNER = re\.compile\((r".*")\)$', hook, re.MULTILINE)
    [original] = re.findall(r'^OWNER_PATTERN = (r".*")$', models, re.MULTILINE)
    assert copy == original


def test_the_hook_knows_every_module_a_baked_lock_installs():
    """A platform package named like a dependency's module would shadow it; the hook keeps the
    list, and this fails when a lock brings a package with a module the list lacks."""
    hook = (TEMPLATE / "hooks" / "pre_gen_project.py").read_text(encoding="utf-8")
    [modules_literal] = re.findall(r"^DEPENDENCY_MODULES = frozenset\((\{.*?\})\)$", hook, re.DOTALL | re.MULTILINE)
    listed = set(ast.literal_eval(modules_literal))
    locked: set[str] = set()
    for lock in (TEMPLATE / "{{cookiecutter.__project_dir}}" / ".locks").glob("*.uv.lock"):
        locked |= {package["name"] for package in tomllib.loads(lock.read_text())["package"]}
    modules = {
        module
        for module, distributions in importlib.metadata.packages_distributions().items()
        if module.isidentifier() and "__mypyc" not in module  # mypyc's hashed helper modules are no names to take
        and any(re.sub(r"[-_.]+", "-", name).lower() in locked for name in distributions)
    }
    assert {"yaml", "dagster", "sqlalchemy", "pydantic"} <= modules  # the environment holds the locked packages
    assert modules - listed == set()


def test_the_hooks_target_table_names_every_optional_target_and_real_files():
    """The matrix above takes the hook's own table: it must list each optional target of the answers, and real files."""
    answer = (TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8")
    assert set(TARGET_FILES) == set(re.findall(r"'(\w+)' in cookiecutter\.extra_targets", answer))
    project = TEMPLATE / "{{cookiecutter.__project_dir}}"
    assert all((project / relative).is_file() for files in TARGET_FILES.values() for relative in files)
