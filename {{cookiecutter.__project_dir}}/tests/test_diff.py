"""`nope diff`: what a branch changes, compared in real git repositories (a base commit, a branch)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from nope.base_resolution import changed_groups

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }} as Project
from {{ cookiecutter.platform_package }}.settings import DEFAULT_OWNERS, REPOSITORY_BRANCH

from conftest import REPO_ROOT

PLATFORM = REPO_ROOT / "platform"
PACKAGE = "{{ cookiecutter.platform_package }}"
CONTRACT_KEYS = {"base", "added", "removed", "modified", "downstream", "owners", "edges", "problems"}

SCRIPT = "print('hello')\n"

BASE_TREE = {
    "defs/a/x.yaml": "target: subprocess\n",
    "defs/a/x.py": SCRIPT,
    "defs/a/y.yaml": "target: subprocess\ndeps: [a/x]\n",
    "defs/a/y.py": SCRIPT,
    "defs/b/z.yaml": "target: subprocess\ndeps: [a/y]\nowners: [team:b]\n",
    "defs/b/z.py": SCRIPT,
    "defs/b/w.yaml": "target: subprocess\nowners: [team:b]\n",
    "defs/b/w.py": SCRIPT,
    "defs/c/_group.yaml": "owners: [team:c]\n",
    "defs/c/o.yaml": "target: subprocess\n",
    "defs/c/o.py": SCRIPT,
    "defs/c/p.yaml": "target: subprocess\n",
    "defs/c/p.py": SCRIPT,
    "defs/c/d.yaml": "target: subprocess\nowners: [team:d]\n",
    "defs/c/d.py": SCRIPT,
}


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def git(root: Path, *args: str) -> str:
    identity = ["-c", "user.name=A practitioner", "-c", "user.email=practitioner@example.com"]
    return subprocess.run(
        ["git", *identity, *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()


def nope(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "GITHUB_ACTIONS"}
    environment["PYTHONPATH"] = str(PLATFORM)
    return subprocess.run(
        [sys.executable, "-m", "nope", *args], cwd=root, env=environment, capture_output=True, text=True
    )


def diff(root: Path, *args: str, code: int = 0) -> dict[str, Any]:
    result = nope(root, "diff", "--format", "json", *args)
    assert result.returncode == code, result.stderr + result.stdout
    report = json.loads(result.stdout)
    assert set(report) == CONTRACT_KEYS
    return report


def committed_platform_repository(root: Path, git_root: Path) -> Path:
    """BASE_TREE in a platform repository at `root`, committed on the repository's branch in the git
    repository at `git_root` (`root` itself or a folder above it), and a branch `change` checked out."""
    root.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(PLATFORM / PACKAGE, root / "platform" / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    write(root, BASE_TREE)
    git(git_root, "init", "-q", "-b", REPOSITORY_BRANCH)
    git(git_root, "add", "-A")
    git(git_root, "commit", "-q", "-m", "base")
    git(git_root, "checkout", "-q", "-b", "change")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return committed_platform_repository(tmp_path / "repo", tmp_path / "repo")


def test_added_removed_modified_and_downstream_across_groups(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    write(
        repo,
        {
            "defs/a/x.py": "print('changed')\n",  # the script: a/y and, across groups, b/z downstream
            "defs/a/new.yaml": "target: subprocess\nowners: [team:new]\n",
            "defs/a/new.py": SCRIPT,
            "defs/c/o.yaml": "target: subprocess\nowners: [team:o]\n",
            "defs/c/d.yaml": "target: subprocess\nowners: [team:d]\ndeps: [c/p]\n",
        },
    )
    (repo / "defs/b/w.yaml").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")
    (repo / "defs/c/p.py").write_text("print('not committed yet')\n")  # the working tree, not HEAD, is compared

    report = diff(repo)

    assert report["base"] == base
    assert report["added"] == ["a/new"]
    assert report["removed"] == ["b/w"]
    assert report["modified"] == {"a/x": ["script"], "c/d": ["deps"], "c/o": ["owners"], "c/p": ["script"]}
    assert report["downstream"] == ["a/y", "b/z"]
    assert report["owners"]["a/new"] == ["team:new"]
    assert report["owners"]["b/w"] == ["team:b"]  # a removed asset: its owners at the base
    assert report["owners"]["c/o"] == ["team:o"]
    assert report["owners"]["b/z"] == ["team:b"]
    assert ["a/x", "a/y"] in report["edges"] and ["a/y", "b/z"] in report["edges"] and ["c/p", "c/d"] in report["edges"]
    assert report["problems"] == []


def test_a_platform_repository_in_a_subfolder_of_a_git_repository(tmp_path: Path) -> None:
    (tmp_path / "monorepo").mkdir()
    repo = committed_platform_repository(tmp_path / "monorepo" / "data-platform", tmp_path / "monorepo")
    (repo / "defs/c/o.py").write_text("print('changed')\n")
    (repo / "defs/c/new.yaml").write_text("target: subprocess\n")
    (repo / "defs/c/new.py").write_text(SCRIPT)

    report = diff(repo)

    assert (report["added"], report["modified"]) == (["c/new"], {"c/o": ["script"]})
    # Paths from git are the platform repository's own: only the changed group is read from the base,
    # whatever Python wrote importing the platform package (this suite runs with PYTHONDONTWRITEBYTECODE).
    write(repo, {f"platform/{PACKAGE}/__pycache__/settings.cpython-311.pyc": "bytes"})
    assert changed_groups(repo, report["base"], "defs", Project) == {"c"}


def test_a_group_default_and_a_platform_default_reach_every_asset(repo: Path) -> None:
    (repo / "defs/c/_group.yaml").write_text("owners: [team:c2]\ntimeout: 60\n")
    settings = repo / "platform" / PACKAGE / "settings.py"
    text = settings.read_text()
    settings.write_text(text.replace("DEFAULT_KIND: str = ", "DEFAULT_KIND: str = 'sql' or "))

    report = diff(repo)

    # c/d sets its own owners: only the timeout reaches it. Every asset shows the kind.
    assert report["modified"] == {
        "a/x": ["kinds"], "a/y": ["kinds"], "b/w": ["kinds"], "b/z": ["kinds"],
        "c/d": ["kinds", "timeout"], "c/o": ["kinds", "owners", "timeout"], "c/p": ["kinds", "owners", "timeout"],
    }  # fmt: skip
    assert report["owners"]["c/o"] == ["team:c2"]


def test_a_freshness_policy_from_a_group_default_shows_on_its_group(repo: Path) -> None:
    group_defaults = repo / "defs/c/_group.yaml"
    group_defaults.write_text(group_defaults.read_text() + "freshness: {max_lag: 26h}\n")

    report = diff(repo)

    assert report["modified"] == {"c/d": ["freshness"], "c/o": ["freshness"], "c/p": ["freshness"]}


def test_a_removed_asset_something_still_depends_on_is_a_problem(repo: Path) -> None:
    for suffix in ("yaml", "py"):
        (repo / f"defs/a/y.{suffix}").unlink()

    report = diff(repo, code=1)

    assert report["removed"] == ["a/y"]
    assert "b/z" not in report["removed"]  # broken now (its dep is gone), not removed
    assert {
        "side": "head",
        "path": "defs/b/z.yaml",
        "line": 2,
        "column": 8,
        "message": "`b/z` still depends on `a/y`, which this change removes; remove the dep, or keep the asset",
    } in report["problems"]


def test_broken_manifests_on_either_side_are_listed_and_do_not_stop_the_report(repo: Path) -> None:
    write(repo, {"defs/b/w.yaml": "target: subprocess\nownerz: [team:b]\n"})  # broken at the base
    git(repo, "commit", "-q", "-am", "a typo")
    git(repo, "branch", "-f", REPOSITORY_BRANCH)
    git(repo, "checkout", "-q", "-b", "fix")
    write(
        repo,
        {
            "defs/b/w.yaml": "target: subprocess\nowners: [team:b]\n",  # fixed here
            "defs/a/x.yaml": "target: subprocess\ntimeout: soon\n",  # broken here
            "defs/c/o.py": "print('changed')\n",
        },
    )

    result = nope(repo, "diff", "--format", "json")

    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["added"] == ["b/w"]  # broken at the base: it comes into being
    assert report["removed"] == []  # a/x is broken, not gone
    assert report["modified"] == {"c/o": ["script"]}
    sides = {(problem["side"], problem["path"], problem["line"]) for problem in report["problems"]}
    assert ("base", "defs/b/w.yaml", 2) in sides
    assert ("head", "defs/a/x.yaml", 2) in sides
    text = nope(repo, "diff")
    assert text.returncode == 1
    assert "\nproblem (head): defs/a/x.yaml:2:" in text.stdout
    assert "\nproblem (base): defs/b/w.yaml:2:1: " in text.stdout


def test_no_change_selects_nothing(repo: Path) -> None:
    result = nope(repo, "diff", "--format", "select")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert "no asset changes" in nope(repo, "diff").stdout


def test_the_selection_is_what_dagster_materializes(repo: Path) -> None:
    """`--format select` prints what `dagster asset materialize --select` resolves to exactly the reported assets.

    The selection is resolved as that command resolves it (`AssetSelection.from_coercible(select.split(","))`,
    strictly: an unknown key fails), on this repository's definitions.
    """
    (repo / "defs/a/y.py").write_text("print('changed')\n")
    (repo / "defs/c/o.yaml").write_text("target: subprocess\nowners: [team:o]\n")

    result = nope(repo, "diff", "--format", "select")

    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    selection = result.stdout.strip()
    defs = Project.make_definitions(defs_path=repo / "defs")
    selected = dg.AssetSelection.from_coercible(selection.split(",")).resolve(defs.resolve_asset_graph())
    assert {key.to_user_string() for key in selected} == {"a/y", "b/z", "c/o"}


def test_markdown_has_a_table_per_kind_and_a_mermaid_graph(repo: Path) -> None:
    (repo / "defs/a/x.py").write_text("print('changed')\n")
    (repo / "defs/b/w.yaml").unlink()

    result = nope(repo, "diff", "--format", "markdown")

    assert result.returncode == 0, result.stderr
    text = result.stdout
    owners = ", ".join(f"`{owner}`" for owner in DEFAULT_OWNERS)
    assert f"| `a/x` | `script` | {owners} |" in text
    assert "#### Removed (1)" in text and "#### Downstream (2)" in text
    graph = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    nodes = ['n0["a/x"]:::modified', 'n1["a/y"]:::downstream', 'n2["b/w"]:::removed', 'n3["b/z"]:::downstream']
    assert all(f"  {node}\n" in graph for node in nodes)
    assert "  n0 --> n1\n  n1 --> n3\n" in graph
    assert "classDef modified" in graph and "classDef downstream" in graph


def test_a_base_that_is_not_here_is_refused_saying_how_to_fetch_it(repo: Path, tmp_path: Path) -> None:
    result = nope(repo, "diff", "--base", "no-such-branch")
    assert result.returncode == 2
    assert (
        result.stderr
        == "nope: `no-such-branch` is not a commit here: fetch it with `git fetch origin no-such-branch`, or pass another --base\n"
    )

    base = git(repo, "rev-parse", REPOSITORY_BRANCH)
    (repo / "defs/a/x.py").write_text("print('changed')\n")
    git(repo, "commit", "-q", "-am", "change")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth=1", "--branch", "change", f"file://{repo}", str(clone))
    shallow = nope(clone, "diff")
    assert shallow.returncode == 2
    assert shallow.stderr == (
        f"nope: the branch `{REPOSITORY_BRANCH}` is not here: fetch it with `git fetch origin {REPOSITORY_BRANCH}`, or pass --base REF\n"
    )
    missing = nope(clone, "diff", "--base", base)
    assert missing.returncode == 2
    assert "not in this shallow clone: fetch it with" in missing.stderr and "git fetch --unshallow" in missing.stderr
    assert "Traceback" not in shallow.stderr + missing.stderr
    git(clone, "fetch", "-q", "--depth=1", "origin", f"{REPOSITORY_BRANCH}:refs/remotes/origin/{REPOSITORY_BRANCH}")
    unrelated = nope(clone, "diff")
    assert unrelated.returncode == 2
    assert "fetch the history with `git fetch --unshallow`" in unrelated.stderr


def test_diff_never_imports_dagster(repo: Path) -> None:
    """A `dagster` that ends any process importing it, first on both sides' paths: the report still comes.

    The platform package changes too, so the base is read whole, in a process of its own (base_resolution.py).
    """
    write(repo, {"platform/dagster/__init__.py": "import os\nos._exit(42)\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a trap")
    git(repo, "branch", "-f", REPOSITORY_BRANCH)
    (repo / "defs/a/x.py").write_text("print('changed')\n")
    settings = repo / "platform" / PACKAGE / "settings.py"
    settings.write_text(settings.read_text() + "# edited\n")

    assert diff(repo)["modified"] == {"a/x": ["script"]}


def test_a_base_script_over_the_limit_is_never_read_and_reported_as_check_would(repo: Path) -> None:
    write(repo, {"defs/a/big.yaml": "target: subprocess\n", "defs/a/big.py": "#" * 10_000_001})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a script too big")
    git(repo, "branch", "-f", REPOSITORY_BRANCH)
    (repo / "defs/a/big.py").write_text(SCRIPT)

    report = diff(repo)

    assert report["added"] == ["a/big"]  # broken at the base, fine now
    assert {
        "side": "base",
        "path": "defs/a/big.yaml",
        "line": 1,
        "column": 1,
        "message": "script `big.py` is 10,000,001 bytes, over the 10 MB limit; keep data out of defs/",
    } in report["problems"]


def test_a_base_whose_platform_package_cannot_be_imported_is_read_with_this_one(repo: Path) -> None:
    init = repo / "platform" / PACKAGE / "__init__.py"
    fixed = init.read_text()
    init.write_text("raise ImportError('an old platform')\n")
    git(repo, "commit", "-q", "-am", "a broken platform")
    git(repo, "branch", "-f", REPOSITORY_BRANCH)
    init.write_text(fixed)
    (repo / "defs/a/x.py").write_text("print('changed')\n")

    report = diff(repo)

    assert report["modified"] == {"a/x": ["script"]}
    (note,) = [problem for problem in report["problems"] if problem["path"] == "platform"]
    assert note["side"] == "base"
    assert note["message"].startswith(
        "the base's platform package could not be imported (ImportError: an old platform)"
    )


def test_mermaid_labels_are_escaped_whatever_a_platform_names_its_keys() -> None:
    from nope.impact import Impact
    from nope.impact_report import mermaid

    graph = mermaid(Impact(base="0" * 40, added=['a/"b"<c>'], owners={'a/"b"<c>': []}))

    assert '  n0["a/#34;b#34;#60;c#62;"]:::added\n' in graph


def test_a_base_symlink_leading_out_of_defs_is_refused_as_check_refuses_it(repo: Path) -> None:
    (repo / "defs/a/secret.yaml").symlink_to("/etc/passwd")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a link out")
    git(repo, "branch", "-f", REPOSITORY_BRANCH)
    (repo / "defs/a/secret.yaml").unlink()

    report = diff(repo)

    assert (report["added"], report["removed"], report["modified"]) == ([], [], {})
    assert {
        "side": "base",
        "path": "defs/a/secret.yaml",
        "line": 0,
        "column": 0,
        "message": "points outside defs/; keep it inside defs/",
    } in report["problems"]
    assert "root:" not in json.dumps(report)
