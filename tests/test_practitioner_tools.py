"""The practitioner's tools in every bake: the committed schema matches the targets chosen.

The template commits `nope.schema.json` for every optional target; the post-generation hook
removes the targets a bake leaves out. Each baked repo's `tests/test_schema.py` compares the
file with what `nope schema` generates there, so running it per answer proves the pruning.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import bake, run_baked_tests


@pytest.mark.parametrize(
    ("extra_targets", "targets"),
    [("none", ["subprocess"]), ("uv", ["subprocess", "uv"]), ("modal", ["modal", "subprocess"])],
)
def test_each_bake_commits_the_schema_of_its_own_targets(tmp_path: Path, user_home: Path, extra_targets: str, targets: list[str]):
    repo = bake(tmp_path, extra_targets=extra_targets, company_name="Zeta Corp")
    schema = json.loads((repo / "nope.schema.json").read_text())
    assert schema["properties"]["target"]["enum"] == targets
    assert sorted(schema["$defs"]) == targets
    result = run_baked_tests(repo, user_home, "make test ARGS=tests/test_schema.py")
    assert result.returncode == 0, result.stdout[-6000:]


def test_github_expressions_survive_baking(tmp_path: Path):
    workflow = (bake(tmp_path) / ".github/workflows/checks.yml").read_text()
    assert "group: ${{ github.workflow }}-${{ github.ref }}" in workflow
