"""Which environment a run is in, the one home of that answer for targets, deploy hooks and scripts.

Production and every branch share one platform but must never share data: a branch's run that
overwrote production's tables would be an outage merged by nobody. So each run has an
environment, named by `NOPE_ENVIRONMENT` where Dagster runs (the deployments set `production`),
else by the checked-out git branch (a laptop, CI). Its safe form names everything per
environment (the data location, the Modal environment), and production's data location is
handed to no other environment. Nothing here imports Dagster: `nope deploy` uses it too.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ENVIRONMENT_VARIABLE = "NOPE_ENVIRONMENT"
"""Set where Dagster runs to name the environment; every script sees the environment's safe name in it."""

PRODUCTION = "production"
"""The one environment that writes production's data location; only `NOPE_ENVIRONMENT=production` names it."""

NO_BRANCH = "local"
"""The environment of a run outside a git branch with no `NOPE_ENVIRONMENT` (a fresh copy not yet
under git, a detached HEAD): still not production, so it can never write production's data."""

MAX_NAME_LENGTH = 64
"""Modal's limit on environment names, short enough for a folder name anywhere."""

_NOT_ALLOWED = re.compile(r"[^a-z0-9._-]")
_EDGES = "._-"


class UnknownEnvironment(Exception):
    """No `NOPE_ENVIRONMENT`, and no git branch to name the environment after; the message says why."""


class DetachedHead(UnknownEnvironment):
    """The repository is checked out at a commit, not a branch (as some CI checkouts are)."""


class UnsafeEnvironment(Exception):
    """A name that cannot be an environment: empty once made safe, or posing as production."""


@dataclass(frozen=True)
class Environment:
    """An environment: its `name` as given (`feature/Churn`) and where that came from, for messages.

    Valid by construction: a name that cannot be one raises `UnsafeEnvironment` here.
    """

    name: str
    source: str

    def __post_init__(self) -> None:
        safe_name(self.name)

    @property
    def safe_name(self) -> str:
        """The name as folders and Modal accept it (see `safe_name`)."""
        return safe_name(self.name)

    @property
    def is_production(self) -> bool:
        return self.name == PRODUCTION


def safe_name(name: str) -> str:
    """`feature/Churn-model` -> `feature-churn-model`: one path segment, safe on every file system.

    Lower case (`Main` and `main` are one folder on macOS), every character other than a letter,
    digit, `.`, `_` or `-` replaced by `-`, and no `.` or `-` at either end, so that no name is
    `.`, `..` or hidden, and none starts like an option. A name longer than 64 characters keeps its
    first 55 and a hash of the whole, so two long branch names that share a beginning stay apart.
    Raises `UnsafeEnvironment` when nothing is left (`..`, `///`), or when a name that is not
    exactly `production` would become it (`Production`, `production/`): only production is production.
    """
    safe = _NOT_ALLOWED.sub("-", name.lower()).strip(_EDGES)
    if len(safe) > MAX_NAME_LENGTH:
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
        safe = f"{safe[: MAX_NAME_LENGTH - 9].rstrip(_EDGES)}-{digest}"
    if not safe:
        raise UnsafeEnvironment(f"`{name}` cannot name an environment: it needs a letter or a digit")
    if safe == PRODUCTION and name != PRODUCTION:
        raise UnsafeEnvironment(f"`{name}` would be taken for production: only `{PRODUCTION}` itself names it")
    return safe


def current_environment(repo_root: Path, environ: Mapping[str, str] = os.environ) -> Environment:
    """`NOPE_ENVIRONMENT` where it is set, else the checked-out git branch.

    Raises `UnknownEnvironment` (or `DetachedHead`) when neither names one, `UnsafeEnvironment`
    for a git branch named `production`: production is what a deployment says it is, not a
    branch someone created.
    """
    given = environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if given:
        environment = Environment(given, ENVIRONMENT_VARIABLE)
    else:
        environment = Environment(current_branch(repo_root), "git branch")
        if environment.is_production:
            raise UnsafeEnvironment(
                f"the git branch is named `{PRODUCTION}`, the production environment's name: production is only "
                f"where {ENVIRONMENT_VARIABLE}={PRODUCTION} is set. Rename the branch, or set {ENVIRONMENT_VARIABLE}."
            )
    return environment


def run_environment(repo_root: Path, environ: Mapping[str, str] = os.environ) -> Environment:
    """The environment a script runs in: `current_environment`, or `local` outside any git branch.

    A run must not fail because a fresh copy is not yet a git repository: it gets `local`, which
    is not production either. Unsafe names still raise.
    """
    try:
        return current_environment(repo_root, environ)
    except UnknownEnvironment as unknown:
        return Environment(NO_BRANCH, f"no git branch ({unknown})")


GIT_SECONDS = 10
"""How long `git` may take to name the branch (a repository on a stalled network disk)."""


def current_branch(repo_root: Path) -> str:
    """The checked-out git branch of `repo_root`; `DetachedHead` or `UnknownEnvironment` when there is none."""
    try:
        result = subprocess.run(
            ["git", "symbolic-ref", "--quiet", "--short", "HEAD"],
            cwd=repo_root,
            capture_output=True,
            text=True,
            timeout=GIT_SECONDS,
        )
    except OSError as error:
        raise UnknownEnvironment(f"git cannot run: {error.strerror or error}") from None
    except subprocess.TimeoutExpired:
        raise UnknownEnvironment(f"git did not name the branch within {GIT_SECONDS} seconds") from None
    if result.returncode == 1:
        raise DetachedHead(f"`{repo_root}` has a detached HEAD")
    if result.returncode != 0:
        raise UnknownEnvironment(f"could not read the git branch of `{repo_root}`: {result.stderr.strip()}")
    return result.stdout.strip()


class SharedLocation(Exception):
    """An environment's data location would overlap production's; the message names both."""


def data_location(environment: Environment, *, production: str, environments: str) -> str:
    """Where `environment` keeps its data: production's location for production, else its own folder
    `<environments>/<safe name>`, which must not overlap production's.

    Both locations arrive resolved (URLs as given, paths absolute). Raises `SharedLocation` when the
    folder would be production's location, inside it, or hold it (an `environments` setting pointed
    at production's data): then the platform hands the run no location rather than production's.
    """
    if environment.is_production:
        return production
    own = f"{environments.rstrip('/')}/{environment.safe_name}"
    if overlaps(own, production):
        raise SharedLocation(
            f"environment `{environment.safe_name}`'s data location `{own}` overlaps production's `{production}`: "
            "point the environments' data location (NOPE_ENVIRONMENTS_DATA_LOCATION) somewhere else"
        )
    return own


def overlaps(first: str, second: str) -> bool:
    """Whether one location is the other or lies inside it, segment by segment (`data2` is not inside `data`)."""
    a, b = _segments(first), _segments(second)
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _segments(location: str) -> tuple[str, ...]:
    scheme, separator, rest = location.partition("://")
    if not separator:
        scheme, rest = "", location
    parts = [part for part in PurePosixPath(os.path.normpath(rest) if not scheme else rest).parts if part not in ("", "/")]
    return (scheme, *parts)
