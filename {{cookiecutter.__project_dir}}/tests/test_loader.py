"""How the loader turns manifests into assets, and how the subprocess target runs scripts."""

from __future__ import annotations

import dagster as dg
import pytest

from nope import NopeManifestError, NopeProject

from conftest import PIPES_SCRIPT, description_of, materialize, specs_by_key, step_failure_text


def test_older_manifest_forms_kind_implicit_script_and_top_level_deps(make_defs):
    defs_path = make_defs(
        {
            "g/first.py": "print('first')\n",
            "g/first.yaml": "kind: subprocess\n",
            "g/second.py": "print('second')\n",
            "g/second.yaml": "target: subprocess\ndeps: [g/first]\nowners: [ana@example.com]\n",
        }
    )
    specs = specs_by_key(NopeProject.make_definitions(defs_path=defs_path))
    assert sorted(specs) == ["g/first", "g/second"]
    assert [dep.asset_key.to_user_string() for dep in specs["g/second"].deps] == ["g/first"]
    assert specs["g/second"].owners == ["ana@example.com"]


def test_explicit_key_and_manifest_description_come_before_the_source(make_defs):
    defs_path = make_defs(
        {
            "g/thing.py": "print('x')\n",
            "g/thing.yaml": "target: subprocess\nkey: g/raw/thing\ndescription: The thing.\n",
        }
    )
    spec = specs_by_key(NopeProject.make_definitions(defs_path=defs_path))["g/raw/thing"]
    assert description_of(spec).startswith("The thing.\n\n```python\nprint('x')\n```")
    assert spec.group_name == "g"


def test_two_groups_may_both_have_main_py(make_defs, instance):
    defs_path = make_defs(
        {
            "one/main.py": PIPES_SCRIPT,
            "one/main.yaml": "target: subprocess\n",
            "two/main.py": PIPES_SCRIPT,
            "two/main.yaml": "target: subprocess\n",
        }
    )
    defs = NopeProject.make_definitions(defs_path=defs_path)
    assert sorted(specs_by_key(defs)) == ["one/main", "two/main"]
    assert materialize(defs, instance).success


def test_files_starting_with_underscore_or_dot_are_not_manifests(make_defs):
    defs_path = make_defs(
        {
            "g/real.py": "print('x')\n",
            "g/real.yaml": "target: subprocess\n",
            "g/_draft.yaml": "this is: [not, loaded\n",
            "g/.hidden.yaml": "neither: {\n",
            "_scratch/anything.yaml": "nor: [\n",
        }
    )
    assert list(specs_by_key(NopeProject.make_definitions(defs_path=defs_path))) == ["g/real"]


def test_walk_order_is_sorted_and_stable(make_defs):
    files = {}
    for group in ("zeta", "alpha", "mid"):
        for name in ("b", "a", "c"):
            files[f"{group}/{name}.py"] = "print(1)\n"
            files[f"{group}/{name}.yaml"] = "target: subprocess\n"
    defs_path = make_defs(files)
    loaded = NopeProject.load(defs_path)
    order = [target.manifest.relative_path for target in loaded.targets]
    assert order == sorted(order)
    assert order == [target.manifest.relative_path for target in NopeProject.load(defs_path).targets]


def test_code_version_changes_with_the_script_and_not_with_the_description(make_defs):
    defs_path = make_defs({"g/a.py": "print(1)\n", "g/a.yaml": "target: subprocess\n"})

    def version() -> str | None:
        return specs_by_key(NopeProject.make_definitions(defs_path=defs_path))["g/a"].code_version

    first = version()
    (defs_path / "g/a.yaml").write_text("target: subprocess\ndescription: now documented\n")
    assert version() == first
    (defs_path / "g/a.py").write_text("print(2)\n")
    assert version() != first


def test_a_failing_script_fails_its_step_with_its_stderr(make_defs, instance):
    defs_path = make_defs(
        {
            "g/broken.py": """
                import sys
                print("working on it")
                print("KeyError: 'customer_id' while reading orders.csv", file=sys.stderr)
                sys.exit(3)
            """,
            "g/broken.yaml": "target: subprocess\n",
        }
    )
    result = materialize(NopeProject.make_definitions(defs_path=defs_path), instance)
    assert not result.success
    text = step_failure_text(result)
    assert "exited with code 3" in text
    assert "KeyError: 'customer_id' while reading orders.csv" in text


def test_a_plain_script_that_never_opens_pipes_still_materializes(make_defs, instance):
    defs_path = make_defs({"g/plain.py": "print('no pipes here')\n", "g/plain.yaml": "target: subprocess\n"})
    result = materialize(NopeProject.make_definitions(defs_path=defs_path), instance)
    assert result.success
    assert instance.get_latest_materialization_event(dg.AssetKey(["g", "plain"])) is not None


def test_scripts_run_from_the_repository_root(make_defs, instance):
    defs_path = make_defs(
        {
            "g/where.py": "from pathlib import Path\nPath('ran_here.txt').write_text('yes')\n",
            "g/where.yaml": "target: subprocess\n",
        }
    )
    assert materialize(NopeProject.make_definitions(defs_path=defs_path), instance).success
    assert (defs_path.parent / "ran_here.txt").read_text() == "yes"


def test_passed_resources_merge_over_the_defaults(make_defs):
    defs_path = make_defs({"g/a.py": "print(1)\n", "g/a.yaml": "target: subprocess\n"})
    defs = NopeProject.make_definitions(defs_path=defs_path, resources={"extra": object()})
    assert defs.resources is not None
    assert {"subprocess_client", "extra"} <= set(defs.resources)
    replacement = dg.PipesSubprocessClient()
    defs = NopeProject.make_definitions(defs_path=defs_path, resources={"subprocess_client": replacement})
    assert defs.resources is not None
    assert defs.resources["subprocess_client"] is replacement


def test_mistakes_raise_one_error_naming_the_file(make_defs):
    defs_path = make_defs({"g/a.yaml": "target: subprocess\n"})
    with pytest.raises(NopeManifestError) as raised:
        NopeProject.make_definitions(defs_path=defs_path)
    assert "defs/g/a.yaml" in str(raised.value)
    assert "has no script" in str(raised.value)


@pytest.mark.parametrize("enabled_before", [True, False])
def test_reading_defs_leaves_the_garbage_collector_as_it_found_it(make_defs, enabled_before: bool):
    """The loader pauses Python's cyclic collector while it reads (a speed-up); a code server
    or a platform script that loads defs/ must get the collector back as it was, even when
    a manifest is broken."""
    import gc

    defs_path = make_defs({"g/ok.py": "print('ok')\n", "g/ok.yaml": "target: subprocess\n", "g/bad.yaml": "target: [\n"})
    try:
        gc.enable() if enabled_before else gc.disable()
        loaded = NopeProject.load(defs_path)
        assert gc.isenabled() is enabled_before
    finally:
        gc.enable()
    assert [target.manifest.name for target in loaded.targets] == ["ok"]
    assert [problem.path for problem in loaded.problems] == ["defs/g/bad.yaml"]
