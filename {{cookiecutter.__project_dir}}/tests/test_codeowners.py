"""`.github/CODEOWNERS`: every path that decides how scripts run has an owner; `defs/` has none.

Who those owners are is the platform owner's choice: the README says to replace
`YOUR-GITHUB-ORG` with the organization, and DEFAULT_OWNERS in settings.py (who owns assets)
is another matter. So these tests check the file's structure only, and two of them run this
module on a copy of the repository to prove that following that step keeps it green and that
a missing owner line fails it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from conftest import REPO_ROOT

CODEOWNERS = Path(".github") / "CODEOWNERS"
PLACEHOLDER = "YOUR-GITHUB-ORG"

PLATFORM_PATTERNS = [
    "/platform/", "/pyproject.toml", "/*.lock", "/requirements*.txt", "/.github/", "/Makefile", "/dagster.yaml",
    "/definitions.py", "/workspace.yaml", "/.pre-commit-config.yaml", "/tests/",
    # How the platform is built and deployed.
    "/Dockerfile", "/.dockerignore", "/compose.yaml", "/deploy/",
]  # fmt: skip
"""What decides how scripts run and what they reach, written as CODEOWNERS patterns."""

OWNER_PATTERN = re.compile(
    r"@[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}(?:/[A-Za-z0-9][A-Za-z0-9_.-]*)?"  # @user or @org/team
    r"|[^@\s]+@[^@\s]+\.[^@\s]+"  # an email address
)
"""The owners GitHub accepts: `@user`, `@org/team`, or the email address of a user."""


def platform_patterns(root: Path) -> list[str]:
    """The patterns of `PLATFORM_PATTERNS` naming something this repository has."""
    return [pattern for pattern in PLATFORM_PATTERNS if any(root.glob(pattern.strip("/")))]


def owner_lines(root: Path) -> dict[str, list[str]]:
    """CODEOWNERS as pattern -> owners (comments and blank lines left out)."""
    rules = {}
    for line in (root / CODEOWNERS).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            pattern, *owners = line.split()
            rules[pattern] = owners
    return rules


def ownership_problems(root: Path) -> list[str]:
    """What is wrong with the repository's CODEOWNERS, one sentence each; [] when nothing is."""
    rules = owner_lines(root)
    problems = []
    for pattern in platform_patterns(root):
        owners = rules.get(pattern)
        if not owners:
            problems.append(f"{pattern} has no owner line in {CODEOWNERS}")
        for owner in owners or []:
            if not OWNER_PATTERN.fullmatch(owner):
                problems.append(f"{pattern}: `{owner}` is not a GitHub owner (`@user`, `@org/team` or an email address)")
    problems += [
        f"{pattern} is listed: practitioners' defs/ needs no platform review"
        for pattern in rules
        if pattern.lstrip("/").startswith("defs")
    ]
    return problems


def test_every_platform_path_has_an_owner_and_defs_has_none():
    assert ownership_problems(REPO_ROOT) == []


def test_the_placeholder_is_explained_where_it_must_be_replaced():
    text = (REPO_ROOT / CODEOWNERS).read_text(encoding="utf-8")
    if PLACEHOLDER in text:
        assert f"REPLACE `{PLACEHOLDER}` with your GitHub organization" in text


def run_this_module_on_a_copy(
    tmp_path: Path, edit_codeowners: Callable[[str], str], default_owners: str
) -> subprocess.CompletedProcess[str]:
    """This module's other tests, run on a copy of the repository whose CODEOWNERS and DEFAULT_OWNERS are edited."""
    copy = tmp_path / "repo"
    shutil.copytree(
        REPO_ROOT,
        copy,
        ignore=shutil.ignore_patterns(".git", ".venv", ".tools", ".dagster_home", "data", "build", "__pycache__", "*_cache"),
    )
    codeowners = copy / CODEOWNERS
    codeowners.write_text(edit_codeowners(codeowners.read_text(encoding="utf-8")), encoding="utf-8")
    settings = copy / "platform" / "{{ cookiecutter.platform_package }}" / "settings.py"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(re.sub(r"^DEFAULT_OWNERS\b.*$", f"DEFAULT_OWNERS: list[str] = {default_owners}", text, flags=re.M), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", str(Path("tests") / "test_codeowners.py"), "-k", "not on_a_copy"],
        cwd=copy,
        capture_output=True,
        text=True,
    )


def test_on_a_copy_the_readmes_step_keeps_the_tests_green(tmp_path: Path):
    """Replace the placeholder with the organization, and give assets other default owners."""
    result = run_this_module_on_a_copy(
        tmp_path, lambda text: text.replace(PLACEHOLDER, "acme-corp"), '["team:analytics", "ana@example.com"]'
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_on_a_copy_a_missing_owner_line_fails_the_tests(tmp_path: Path):
    def without_platform_line(text: str) -> str:
        return "\n".join(line for line in text.splitlines() if not line.startswith("/platform/")) + "\n"

    result = run_this_module_on_a_copy(tmp_path, without_platform_line, '["team:data-platform"]')
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"/platform/ has no owner line in {CODEOWNERS}" in result.stdout


def test_an_owner_github_would_not_recognize_is_named(tmp_path: Path):
    (tmp_path / "platform").mkdir()
    (tmp_path / ".github").mkdir()
    (tmp_path / CODEOWNERS).write_text("/platform/  acme/platform  @acme/platform\n/.github/  @acme\n/defs/  @acme\n")
    assert ownership_problems(tmp_path) == [
        "/platform/: `acme/platform` is not a GitHub owner (`@user`, `@org/team` or an email address)",
        "/defs/ is listed: practitioners' defs/ needs no platform review",
    ]
