"""`nope deploy`: let each target ship its scripts for the current branch.

Some runtimes need the practitioner's code put somewhere before Dagster can run it (a
Modal environment per branch, a notebook workspace, a hosted job). A target says how in
its `deploy` method; this module runs it for every manifest with the branch name in
context and reports what each did. Like `nope check`, it never imports Dagster.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from nope.loading import TargetMap, load_defs
from nope.problems import NopeManifestError


@dataclass(frozen=True)
class DeployContext:
    """What a target's `deploy` knows: the branch being deployed and the repository root."""

    branch: str
    repo_root: Path


@dataclass(frozen=True)
class DeployOutcome:
    """What happened to one manifest: `done` says what was shipped, `error` why it failed."""

    manifest: str
    target: str
    done: str | None = None
    error: str | None = None


class DeployError(Exception):
    """Deployment could not start (e.g. the branch cannot be determined)."""


def current_branch(repo_root: Path) -> str:
    """The checked-out git branch of the repository, as `git` reports it."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"],
            cwd=repo_root,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        raise DeployError(f"cannot tell the git branch of {repo_root}; pass --branch ({detail.strip()})") from None
    branch = result.stdout.strip()
    if branch == "HEAD":
        raise DeployError("the repository is on a detached HEAD; pass --branch")
    return branch


def deploy(defs_path: Path, target_map: TargetMap, branch: str | None = None) -> list[DeployOutcome]:
    """Run every manifest's `deploy` hook; a failing hook is reported and the others still run."""
    loaded = load_defs(defs_path, target_map)
    if loaded.problems:
        raise NopeManifestError(loaded.problems)
    repo_root = Path(defs_path).absolute().parent
    context = DeployContext(branch=branch or current_branch(repo_root), repo_root=repo_root)
    outcomes = []
    for target in loaded.targets:
        manifest, name = target.manifest.relative_path, target.manifest.target
        try:
            outcomes.append(DeployOutcome(manifest, name, done=target.deploy(context)))
        except Exception as error:  # one target's failure must not hide the others' results
            outcomes.append(DeployOutcome(manifest, name, error=f"{type(error).__name__}: {error}"))
    return outcomes
