"""`nope deploy`: let each target ship its scripts for an environment, and remove them when it goes.

Some runtimes need the practitioner's code put somewhere before Dagster can run it (a
Modal environment per branch, a notebook workspace, a hosted job). A target says how in
its `deploy` method, and how to remove it again in `teardown`; this module runs one of them
for every manifest with the environment in context and reports what each did. CI deploys a
branch when its pull request opens or changes, and tears it down when the branch is merged or
deleted. Like `nope check`, it never imports Dagster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nope import environments
from nope.loading import TargetMap, load_defs
from nope.problems import NopeManifestError
from nope.targets import NopeInvocationTarget


@dataclass(frozen=True)
class DeployContext:
    """What a target's `deploy` and `teardown` know: the environment and the repository root.

    `branch` is the environment's name as given (`--branch`, else `NOPE_ENVIRONMENT`, else the
    checked-out git branch); `environment` is its safe form, the one runs use (`nope/environments.py`).
    """

    branch: str
    repo_root: Path

    @property
    def environment(self) -> str:
        return environments.safe_name(self.branch)


@dataclass(frozen=True)
class DeployOutcome:
    """What happened to one manifest: `done` says what was done, `error` why it failed."""

    manifest: str
    target: str
    done: str | None = None
    error: str | None = None


class DeployError(Exception):
    """Deployment could not start (e.g. the environment cannot be determined, or is production's to tear down)."""


Hook = Callable[[NopeInvocationTarget, DeployContext], str | None]


def deploy(defs_path: Path, target_map: TargetMap, branch: str | None = None) -> list[DeployOutcome]:
    """Run every manifest's `deploy` hook; a failing hook is reported and the others still run."""
    return _run_hooks(defs_path, target_map, _context(defs_path, branch), lambda target, context: target.deploy(context))


def teardown(defs_path: Path, target_map: TargetMap, branch: str) -> list[DeployOutcome]:
    """Run every manifest's `teardown` hook for `branch`, which is gone. Production is never torn down."""
    context = _context(defs_path, branch)
    if context.environment == environments.PRODUCTION:
        raise DeployError(f"`{branch}` is production, which `nope deploy --teardown` never removes")
    return _run_hooks(defs_path, target_map, context, lambda target, context: target.teardown(context))


def _context(defs_path: Path, branch: str | None) -> DeployContext:
    """The context for `branch`, else for the environment runs would be in; a sentence when there is none."""
    repo_root = Path(defs_path).absolute().parent
    try:
        name = branch or environments.current_environment(repo_root).name
        environments.safe_name(name)
    except environments.DetachedHead:
        raise DeployError("the repository is on a detached HEAD; pass --branch") from None
    except environments.UnknownEnvironment as unknown:
        raise DeployError(f"cannot tell the environment ({unknown}); pass --branch") from None
    except environments.UnsafeEnvironment as unsafe:
        raise DeployError(str(unsafe)) from None
    return DeployContext(branch=name, repo_root=repo_root)


def _run_hooks(defs_path: Path, target_map: TargetMap, context: DeployContext, hook: Hook) -> list[DeployOutcome]:
    loaded = load_defs(defs_path, target_map)
    if loaded.problems:
        raise NopeManifestError(loaded.problems)
    outcomes = []
    for target in loaded.targets:
        manifest, name = target.manifest.relative_path, target.manifest.target
        try:
            outcomes.append(DeployOutcome(manifest, name, done=hook(target, context)))
        except Exception as error:  # one target's failure must not hide the others' results
            outcomes.append(DeployOutcome(manifest, name, error=f"{type(error).__name__}: {error}"))
    return outcomes
