"""`.github/CODEOWNERS`: what decides how scripts run is reviewed by the platform's owners."""

from __future__ import annotations

from {{ cookiecutter.platform_package }}.settings import DEFAULT_OWNERS

from conftest import REPO_ROOT

PROTECTED = ["/platform/", "/pyproject.toml", "/*.lock", "/.github/", "/Makefile", "/dagster.yaml"]
# How the platform is built and deployed, where this repository has it.
PROTECTED += [path for path in ("/Dockerfile", "/compose.yaml", "/deploy/") if (REPO_ROOT / path.strip("/")).exists()]


def owned_paths() -> dict[str, list[str]]:
    lines = (REPO_ROOT / ".github" / "CODEOWNERS").read_text().splitlines()
    return {line.split()[0]: line.split()[1:] for line in lines if line.strip() and not line.startswith("#")}


def expected_owners() -> list[str]:
    """Teams become a placeholder the platform owner fills in (GitHub wants `@org/team`); emails stay."""
    owners = [f"@YOUR-GITHUB-ORG/{owner.removeprefix('team:')}" if owner.startswith("team:") else owner for owner in DEFAULT_OWNERS]
    return owners or ["@YOUR-GITHUB-ORG/platform-owners"]


def test_the_platforms_files_belong_to_the_default_owners():
    owned = owned_paths()
    for path in PROTECTED:
        assert owned.get(path) == expected_owners(), path


def test_practitioners_files_need_no_platform_review():
    assert not any(path.startswith(("/defs", "defs")) for path in owned_paths())


def test_the_placeholder_is_explained_where_it_must_be_replaced():
    text = (REPO_ROOT / ".github" / "CODEOWNERS").read_text()
    if any(owner.startswith("@YOUR-GITHUB-ORG/") for owner in expected_owners()):
        assert "REPLACE `YOUR-GITHUB-ORG` with your GitHub organization" in text
