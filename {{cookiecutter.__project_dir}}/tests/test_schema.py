"""The JSON Schema editors use: committed, current, and as strict as `nope check` where it can be.

Practitioners have no Python: their editor's completion and red squiggles come from
nope.schema.json alone. These tests prove that file is what the platform's targets produce,
that it accepts every valid manifest, and that it catches the common mistakes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import jsonschema  # type: ignore[import-untyped]  # the dev group has no types-jsonschema
import pytest
import yaml
from pydantic import StringConstraints

from nope import NopeAssetManifest, NopeInvocationTargetManifest, NopeProject, NopeSubprocessInvocationTarget
from nope.schema import group_defaults_schema, manifest_schema, render
from nope.validation_messages import PATTERN_MEANING

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }} as Project

from conftest import DEFS_PATH, REPO_ROOT

SCHEMA_PATH = REPO_ROOT / "nope.schema.json"
GROUP_SCHEMA_PATH = REPO_ROOT / "nope.group.schema.json"


def committed_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def committed_group_schema() -> dict:
    return json.loads(GROUP_SCHEMA_PATH.read_text(encoding="utf-8"))


def schema_errors(schema: dict, manifest: object) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [error.message for error in validator.iter_errors(manifest)]


def test_the_committed_schema_is_what_nope_schema_generates():
    generated = render(manifest_schema(Project.invocation_target_map()))
    assert SCHEMA_PATH.read_text(encoding="utf-8") == generated, (
        "nope.schema.json is out of date with the platform's targets: run "
        "`python -m nope schema -o nope.schema.json` (PYTHONPATH=platform) and commit it"
    )


def test_the_schema_is_valid_and_names_every_target():
    schema = committed_schema()
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft7Validator
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["properties"]["target"]["enum"] == sorted(Project.invocation_target_map())


def test_every_manifest_in_defs_is_valid_for_the_schema():
    for path in sorted(DEFS_PATH.rglob("*.yaml")):
        schema = committed_group_schema() if path.name == "_group.yaml" else committed_schema()
        assert schema_errors(schema, yaml.safe_load(path.read_text())) == [], path


def test_the_committed_group_defaults_schema_is_what_nope_schema_generates():
    assert GROUP_SCHEMA_PATH.read_text(encoding="utf-8") == render(group_defaults_schema()), (
        "nope.group.schema.json is out of date: run "
        "`python -m nope schema --group-defaults -o nope.group.schema.json` (PYTHONPATH=platform) and commit it"
    )


@pytest.mark.parametrize(
    ("defaults", "words"),
    [
        ({"script": "a.py"}, "'script' is not one of"),
        ({"owners": ["bob"]}, "'bob' does not match"),
        ({"retries": {"max": 0}}, "is not valid under any of the given schemas"),
        ({"automation": {"cron": "daily"}}, "'daily'"),
    ],
)
def test_the_group_defaults_schema_flags_what_nope_check_rejects(defaults, words):
    errors = schema_errors(committed_group_schema(), defaults)
    assert any(words in error for error in errors), errors


@pytest.mark.parametrize(
    ("manifest", "words"),
    [
        ({"target": "subprocces"}, "is not one of"),
        ({"script": "a.py"}, "'target' is a required property"),
        ({"target": "subprocess", "owner": ["team:x"]}, "'owner' is not one of"),
        ({"target": "subprocess", "assets": {"a": {"dep": []}}}, "'dep' is not one of"),
        ({"target": "subprocess", "assets": {"daily-revenue": {}}}, "daily-revenue"),
        ({"target": "subprocess", "assets": {}}, "should be non-empty"),
        ({"target": "subprocess", "owners": ["bob"]}, "'bob' does not match"),
        ({"target": "subprocess", "deps": "g/a"}, "is not of type 'array'"),
        ({"target": "subprocess", "deps": ["g.a"]}, "'g.a' does not match"),
        ({"target": "subprocess", "tags": {"tier": "gold class"}}, "'gold class' does not match"),
        ({"target": "subprocess", "tags": {"a b": "x"}}, "'a b' does not match"),
    ],
)
def test_the_schema_flags_common_mistakes_in_the_editor(manifest: dict, words: str):
    errors = schema_errors(committed_schema(), manifest)
    assert any(words in error for error in errors), errors


def schema_nodes(node: object, path: str = "#"):
    """Every (path, schema) below `node`, skipping values (`default`, `enum`) and `if` conditions."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from schema_nodes(item, f"{path}/{index}")
    elif isinstance(node, dict):
        yield path, node
        for keyword, value in node.items():
            if keyword in ("properties", "$defs"):
                for name, schema in value.items():
                    yield from schema_nodes(schema, f"{path}/{keyword}/{name}")
            elif keyword not in ("default", "const", "enum", "examples", "if"):
                yield from schema_nodes(value, f"{path}/{keyword}")


@pytest.mark.parametrize("schema_path", [SCHEMA_PATH, GROUP_SCHEMA_PATH], ids=lambda path: path.name)
def test_every_key_has_hover_text_and_every_format_a_sentence(schema_path: Path):
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    for path, node in schema_nodes(schema):
        for name, key in node.get("properties", {}).items():
            assert key.get("description") and key.get("markdownDescription") == key["description"], f"{path}: {name}"
        if "pattern" in node:
            # The editor's sentence is `nope check`'s, from the one table of meanings.
            assert node.get("errorMessage") == f"This is not {PATTERN_MEANING[node['pattern']]}.", path
        if "properties" in node and "allOf" not in node:  # the union's root: its keys are the branches'
            # Unknown keys are reported with the allowed ones, and every allowed one is offered.
            assert node["propertyNames"]["enum"] == sorted(node["properties"]), path
            assert ", ".join(sorted(node["properties"])) in node["propertyNames"]["errorMessage"], path


class TicketedTarget(NopeSubprocessInvocationTarget):
    """A platform owner's target: one more key, and owners narrowed to teams."""

    class InvocationTargetManifest(NopeInvocationTargetManifest):
        class Model(NopeInvocationTargetManifest.Model):
            ticket: str

    class AssetManifest(NopeAssetManifest):
        class Model(NopeAssetManifest.Model):
            owners: list[Annotated[str, StringConstraints(pattern=r"^team:[a-z_]+$")]] = []


class TicketedProject(NopeProject):
    @classmethod
    def invocation_target_map(cls):
        return {"ticketed": TicketedTarget}


def test_a_platform_owners_keys_reach_both_the_checker_and_the_schema(tmp_path: Path):
    schema = manifest_schema(TicketedProject.invocation_target_map())
    assert schema_errors(schema, {"target": "ticketed", "ticket": "DATA-1", "owners": ["team:sales"]}) == []
    assert any("'ticket' is a required property" in error for error in schema_errors(schema, {"target": "ticketed"}))
    narrowed = schema_errors(schema, {"target": "ticketed", "ticket": "DATA-1", "owners": ["ana@example.com"]})
    assert any("'ana@example.com' does not match" in error for error in narrowed)

    defs = tmp_path / "defs"
    (defs / "g").mkdir(parents=True)
    (defs / "g/a.py").write_text("print(1)\n")
    (defs / "g/a.yaml").write_text("target: ticketed\n")
    [problem] = TicketedProject.load(defs).problems
    assert (problem.path, problem.line, problem.message) == ("defs/g/a.yaml", 1, "`ticket` is required")
    (defs / "g/a.yaml").write_text("target: ticketed\nticket: DATA-1\nowners: [ana@example.com]\n")
    [problem] = TicketedProject.load(defs).problems
    assert (problem.line, problem.column) == (3, 10) and "`ana@example.com` is not" in problem.message
    (defs / "g/a.yaml").write_text("target: ticketed\nticket: DATA-1\nowners: [team:sales]\n")
    assert TicketedProject.load(defs).problems == []


def test_vs_code_applies_the_schema_to_defs_and_recommends_the_yaml_extension():
    settings = json.loads((REPO_ROOT / ".vscode/settings.json").read_text())
    schemas = {(REPO_ROOT / file).resolve(): patterns for file, patterns in settings["yaml.schemas"].items()}
    assert "defs/**/*.yaml" in schemas[SCHEMA_PATH]
    assert "defs/*/_group.yaml" in schemas[GROUP_SCHEMA_PATH]
    extensions = json.loads((REPO_ROOT / ".vscode/extensions.json").read_text())
    assert "redhat.vscode-yaml" in extensions["recommendations"]


def test_ci_and_pre_commit_run_nope_check():
    workflow = yaml.safe_load((REPO_ROOT / ".github/workflows/checks.yml").read_text())
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as true
    steps = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert ".venv/bin/python -m nope check" in steps  # in the lock's `check` group only
    assert "make test PYTHON=python" in steps
    assert "${{ '{{' }} github.workflow {{ '}}' }}" in workflow["concurrency"]["group"]
    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    assert hooks[0]["entry"].endswith("python -m nope check")
