"""Strict and lenient loading: one practitioner's typo, in development and in production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from nope import NopeManifestError

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }} as Project

from conftest import REPO_ROOT, description_of, materialize, specs_by_key

GOOD_SCRIPT = "print('fine')\n"
TREE = {
    "sales/orders.py": GOOD_SCRIPT,
    "sales/orders.yaml": "target: subprocess\n",
    "sales/revenue.py": GOOD_SCRIPT,
    "sales/revenue.yaml": "target: subprocess\ndeps: [sales/orders]\nownerz: [team:sales]\n",
    "finance/ledger.py": GOOD_SCRIPT,
    "finance/ledger.yaml": "target: subprocess\ndeps: [sales/orders]\n",
}


def test_strict_by_default_one_typo_stops_the_load(make_defs):
    with pytest.raises(NopeManifestError, match=r"defs/sales/revenue.yaml:3:1: unknown key `ownerz`"):
        Project.make_definitions(defs_path=make_defs(TREE))


def test_lenient_loads_the_valid_manifests_and_shows_the_broken_one(make_defs, instance):
    defs = Project.make_definitions(defs_path=make_defs(TREE), lenient=True)
    specs = specs_by_key(defs)
    assert sorted(specs) == ["broken_manifests/sales__revenue_yaml", "finance/ledger", "sales/orders"]
    placeholder = specs["broken_manifests/sales__revenue_yaml"]
    assert placeholder.group_name == "broken_manifests"
    assert "defs/sales/revenue.yaml:3:1: unknown key `ownerz`. Did you mean `owners`?" in description_of(placeholder)

    result = materialize(defs, instance)
    assert not result.success  # the placeholder fails, on purpose...
    [failure] = result.get_step_failure_events()
    error = failure.step_failure_data.error
    assert error is not None and "defs/sales/revenue.yaml:3:1: unknown key `ownerz`" in error.message
    for key in (["sales", "orders"], ["finance", "ledger"]):  # ...and everyone else's assets ran
        assert instance.get_latest_materialization_event(dg.AssetKey(key)) is not None


def test_lenient_sets_aside_assets_that_depend_on_a_broken_manifest(make_defs):
    tree = {**TREE, "finance/ledger.yaml": "target: subprocess\ndeps: [sales/revenue]\n"}
    defs = Project.make_definitions(defs_path=make_defs(tree), lenient=True)
    keys = sorted(spec.key.to_user_string() for spec in defs.resolve_all_asset_specs())
    assert keys == ["broken_manifests/finance__ledger_yaml", "broken_manifests/sales__revenue_yaml", "sales/orders"]


def test_lenient_still_refuses_a_missing_defs_folder(tmp_path: Path):
    with pytest.raises(NopeManifestError, match="the defs folder does not exist"):
        Project.make_definitions(defs_path=tmp_path / "nothing_here", lenient=True)


def test_definitions_py_turns_lenient_on_with_nope_lenient(repo_copy: Path):
    (repo_copy / "defs/broken").mkdir()
    (repo_copy / "defs/broken/typo.yaml").write_text("target: subprocces\n")
    (repo_copy / "definitions.py").write_text((REPO_ROOT / "definitions.py").read_text())
    probe = "import definitions; print(sorted(s.key.to_user_string() for s in definitions.defs.resolve_all_asset_specs()))"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "platform"), str(repo_copy)])}

    strict = subprocess.run([sys.executable, "-c", probe], cwd=repo_copy, env=environment, capture_output=True, text=True)
    assert strict.returncode != 0
    assert "defs/broken/typo.yaml:1:1: unknown target `subprocces`. Did you mean `subprocess`?" in strict.stderr

    environment["NOPE_LENIENT"] = "1"
    lenient = subprocess.run([sys.executable, "-c", probe], cwd=repo_copy, env=environment, capture_output=True, text=True)
    assert lenient.returncode == 0, lenient.stderr
    assert "'broken_manifests/broken__typo_yaml'" in lenient.stdout


class KeysAnywhereProject(Project):
    allow_keys_outside_group = True


def test_lenient_keeps_the_owner_of_a_key_another_group_claims(make_defs):
    tree = {
        "aaa/claim.py": GOOD_SCRIPT,
        "aaa/claim.yaml": "target: subprocess\nkey: sales/orders\n",
        "sales/orders.py": GOOD_SCRIPT,
        "sales/orders.yaml": "target: subprocess\n",
    }
    defs = Project.make_definitions(defs_path=make_defs(tree), lenient=True)
    specs = specs_by_key(defs)
    assert sorted(specs) == ["broken_manifests/aaa__claim_yaml", "sales/orders"]
    assert specs["sales/orders"].group_name == "sales"
    assert "`key: sales/orders` must start with this group `aaa/`" in description_of(specs["broken_manifests/aaa__claim_yaml"])


def test_a_platform_may_allow_keys_outside_the_group(make_defs):
    tree = {"g/thing.py": GOOD_SCRIPT, "g/thing.yaml": "target: subprocess\nkey: warehouse/raw/thing\n"}
    specs = KeysAnywhereProject.make_definitions(defs_path=make_defs(tree)).resolve_all_asset_specs()
    assert [(spec.key.to_user_string(), spec.group_name) for spec in specs] == [("warehouse/raw/thing", "g")]


def test_no_manifest_can_take_a_placeholders_key_even_where_keys_may_leave_the_group(make_defs):
    tree = {
        **TREE,  # sales/revenue.yaml is broken: its placeholder is broken_manifests/sales__revenue_yaml
        "g/squatter.py": GOOD_SCRIPT,
        "g/squatter.yaml": "target: subprocess\nkey: broken_manifests/sales__revenue_yaml\n",
    }
    defs = KeysAnywhereProject.make_definitions(defs_path=make_defs(tree), lenient=True)
    specs = specs_by_key(defs)
    assert sorted(specs) == [
        "broken_manifests/g__squatter_yaml",
        "broken_manifests/sales__revenue_yaml",
        "finance/ledger",
        "sales/orders",
    ]
    assert "`key:` cannot start with `broken_manifests/`" in description_of(specs["broken_manifests/g__squatter_yaml"])
