"""The code location loads, and its asset graph is exactly what the manifests say."""

from __future__ import annotations

import importlib
from pathlib import Path

import dagster as dg
import yaml

from conftest import DEFS_PATH, description_of, specs_by_key


def manifests_as_written() -> dict[str, dict]:
    """Asset key -> {group, deps, script} read straight from the YAML, independent of the loader."""
    expected = {}
    for path in sorted(DEFS_PATH.rglob("*.y*ml")):
        if path.name.startswith(("_", ".")):
            continue
        data = yaml.safe_load(path.read_text())
        group = path.relative_to(DEFS_PATH).parts[0]
        script = path.parent / data.get("script", path.stem + ".py")
        assets = data.get("assets") or {path.stem: {}}
        for name, fields in assets.items():
            fields = fields or {}
            expected[f"{group}/{name}"] = {
                "group": group,
                "deps": sorted(fields.get("deps", data.get("deps", []))),
                "script": script,
            }
    return expected


def load_defs() -> dg.Definitions:
    return importlib.import_module("definitions").defs


def test_definitions_module_loads_a_plain_dagster_definitions():
    defs = load_defs()
    assert isinstance(defs, dg.Definitions)
    defs.resolve_asset_graph()  # raises if the graph is inconsistent
    assert "subprocess_client" in (defs.resources or {})


def test_asset_graph_matches_the_manifests():
    expected = manifests_as_written()
    specs = specs_by_key(load_defs())
    assert sorted(specs) == sorted(expected)
    for key, want in expected.items():
        spec = specs[key]
        assert spec.group_name == want["group"], key
        assert sorted(dep.asset_key.to_user_string() for dep in spec.deps) == want["deps"], key


def test_descriptions_show_the_script_source_and_code_versions_follow_it():
    expected = manifests_as_written()
    specs = specs_by_key(load_defs())
    for key, want in expected.items():
        source = want["script"].read_text().rstrip()
        assert source in description_of(specs[key]), key
        assert "```" in description_of(specs[key])
        assert specs[key].code_version, key
    # Assets of one manifest share its code version; different scripts differ.
    versions = {key: specs[key].code_version for key in expected}
    by_script: dict[Path, set[str | None]] = {}
    for key, want in expected.items():
        by_script.setdefault(want["script"], set()).add(versions[key])
    assert all(len(found) == 1 for found in by_script.values())
    assert len({next(iter(found)) for found in by_script.values()}) == len(by_script)


def test_every_asset_links_to_its_manifest_and_script():
    """On the git host when the platform names its repository, else to the local files."""
    from {{ cookiecutter.platform_package }}.settings import REPOSITORY_BRANCH, REPOSITORY_URL

    for spec in load_defs().resolve_all_asset_specs():
        references = spec.metadata["dagster/code_references"].code_references
        if REPOSITORY_URL:
            prefix = f"{REPOSITORY_URL}/tree/{REPOSITORY_BRANCH}/defs/"
            assert all(reference.url.startswith(prefix) for reference in references), spec.key
            local = [DEFS_PATH.parent / reference.url[len(prefix) - 5 :].split("#")[0] for reference in references]
        else:
            local = [Path(reference.file_path) for reference in references]
        assert {path.suffix for path in local} >= {".yaml"}, spec.key
        assert all(path.is_file() for path in local), spec.key


def test_the_platform_default_owner_and_kind_apply_unless_a_manifest_sets_its_own():
    from {{ cookiecutter.platform_package }}.settings import DEFAULT_KIND, DEFAULT_OWNERS

    for spec in load_defs().resolve_all_asset_specs():
        assert spec.owners, spec.key
        assert spec.kinds, spec.key
    examples = specs_by_key(load_defs())
    if "group_a/asset_one" in examples:
        assert examples["group_a/asset_one"].owners == DEFAULT_OWNERS
        assert examples["group_a/asset_one"].kinds == {DEFAULT_KIND}
