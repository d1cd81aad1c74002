"""`target: uv`: scripts run with `uv run --script`, in an environment built from their inline metadata.

The tests run offline (`UV_OFFLINE=1`, a fresh uv cache) with scripts that need no packages:
uv builds their environments on the platform's own interpreter without downloading anything.
"""

from __future__ import annotations

import json
import sys

import dagster as dg
import pytest

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }}
from {{ cookiecutter.platform_package }}.settings import DEFAULT_KIND, DEFAULT_OWNERS

from conftest import materialize, step_failure_text

INLINE_METADATA = """\
# /// script
# requires-python = ">=3.11"
# dependencies = DEPENDENCIES
# ///
"""


@pytest.fixture(autouse=True)
def offline_uv(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv_cache"))

def test_a_uv_script_runs_in_its_own_environment_with_the_pipes_environment(make_defs, instance, monkeypatch):
    script = INLINE_METADATA.replace("DEPENDENCIES", "[]") + (
        "import os, sys\n"
        "from pathlib import Path\n"
        "Path('uv_ran.txt').write_text(sys.prefix + '\\n' + str('DAGSTER_PIPES_CONTEXT' in os.environ))\n"
    )
    defs_path = make_defs({"models/churn.py": script, "models/churn.yaml": "target: uv\n"})
    defs = {{ cookiecutter.__project_class }}.make_definitions(defs_path=defs_path)
    spec = next(iter(defs.resolve_all_asset_specs()))
    assert spec.kinds == {DEFAULT_KIND} and spec.owners == DEFAULT_OWNERS

    # The platform's virtualenv is not on PATH (as under `make dev`): the packaged uv is found anyway.
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    result = materialize(defs, instance)
    assert result.success
    assert instance.get_latest_materialization_event(dg.AssetKey(["models", "churn"])) is not None
    prefix, saw_pipes = (defs_path.parent / "uv_ran.txt").read_text().splitlines()
    assert prefix != sys.prefix  # uv's environment for this script, not the platform's
    assert saw_pipes == "True"


def test_a_dependency_uv_cannot_install_fails_the_step_with_uvs_reason(make_defs, instance):
    script = INLINE_METADATA.replace("DEPENDENCIES", '["nope-no-such-package"]') + "print('never runs')\n"
    defs_path = make_defs({"models/needy.py": script, "models/needy.yaml": "target: uv\n"})
    result = materialize({{ cookiecutter.__project_class }}.make_definitions(defs_path=defs_path), instance)
    assert not result.success
    text = step_failure_text(result)
    assert "exited with code" in text
    assert "nope-no-such-package" in text


def test_uv_gets_its_settings_but_the_script_not_the_platforms_secrets(make_defs, instance, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "platform-secret")
    script = INLINE_METADATA.replace("DEPENDENCIES", "[]") + (
        "import json, os\n"
        "from pathlib import Path\n"
        "Path('uv_env.json').write_text(json.dumps(dict(os.environ)))\n"
    )
    defs_path = make_defs({"models/env.py": script, "models/env.yaml": "target: uv\n"})
    assert materialize({{ cookiecutter.__project_class }}.make_definitions(defs_path=defs_path), instance).success
    seen = json.loads((defs_path.parent / "uv_env.json").read_text())
    assert "AWS_SECRET_ACCESS_KEY" not in seen
    assert seen["UV_OFFLINE"] == "1"  # uv's own settings pass through: it ran offline, from this cache
