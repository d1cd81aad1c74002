"""The base tree, resolved: only the groups a branch changed when that is enough, else all of it
in a process of its own, while `nope diff` resolves the working tree.

**Only the changed groups** (`changed_groups`): when the platform package and pyproject.toml are
as at the base, an asset resolves from its manifest, its script and its group's `_group.yaml`
alone, so a group none of whose files changed resolves at the base as it does in the working tree
and is taken from there. Only the changed groups (and those with a broken manifest in the working
tree, which another group's change may have broken) are read from git and loaded, in this
process, with this platform. One changed manifest among 5,000 then reads one group, not 10,000
files. A dep is checked only within the groups read, as a run's process does (run_scope.py).

**All of it**, when the platform changed: two reasons for a second process: the base's platform package (its default owners and kind
tags, its targets) must be imported to resolve the base as it was, and it has the same module
name as this tree's; and reading the base from git and loading it take as long as loading the
working tree, so the two run side by side. The child runs this tree's loader (`nope`) with the
base's `platform/` first on its path (the base's copy of `nope` is never written), so both
sides are resolved by the same rules. Its answer is resolved_assets.py's JSON, bounded in time
and size like every other read of the base.

    python -m nope.base_resolution <repo root> <commit> <defs folder> <package:ProjectClass>
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import IO, Any

import nope
from nope.base_tree import RefusedBase, changed_paths, materialized
from nope.loading import load_defs
from nope.project import NopeProject
from nope.resolved_assets import TREE_FORMAT, resolved_tree

BASE_TIMEOUT_SECONDS = 600
"""Reading and resolving the base: 10,000 manifests take a few seconds."""

MAX_ANSWER_BYTES = 500_000_000
"""What the child may print (the base's assets as JSON, a few hundred bytes each)."""

CANNOT_USE_PLATFORM, REFUSED = 3, 4
"""The child's exit codes: the base's platform package cannot be imported; the base cannot be read."""


class BaseProcess:
    """The child, started; `answer()` waits for its tree (None: its platform package could not be used)."""

    def __init__(self, repo_root: Path, commit: str, defs_name: str, project: type[NopeProject]):
        self._out: IO[bytes] = tempfile.TemporaryFile()
        self._err: IO[bytes] = tempfile.TemporaryFile()
        self._started = time.monotonic()
        loader = Path(nope.__file__).parent.parent  # this tree's platform/: `nope` is found there
        self._process = subprocess.Popen(
            [sys.executable, "-m", "nope.base_resolution", str(repo_root), commit, defs_name, _spec(project)],
            cwd=repo_root, stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err,
            env={**os.environ, "PYTHONPATH": str(loader)},
        )  # fmt: skip

    def answer(self) -> tuple[dict[str, Any] | None, str]:
        """(the base's tree or None, the child's last words); raises RefusedBase when the base cannot be read."""
        try:
            return self._wait()
        finally:
            self.stop()

    def stop(self) -> None:
        """End the child if it still runs, and drop its output."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._out.close()
        self._err.close()

    def _wait(self) -> tuple[dict[str, Any] | None, str]:
        try:
            self._process.wait(timeout=max(1.0, BASE_TIMEOUT_SECONDS - (time.monotonic() - self._started)))
        except subprocess.TimeoutExpired:
            raise RefusedBase(f"reading the base took over {BASE_TIMEOUT_SECONDS} s") from None
        self._err.seek(0)
        words = " ".join(self._err.read(4000).decode("utf-8", errors="replace").split())
        if self._process.returncode == CANNOT_USE_PLATFORM:
            return None, words
        if self._process.returncode == REFUSED:
            raise RefusedBase(words)
        size = self._out.tell()
        if self._process.returncode != 0 or size > MAX_ANSWER_BYTES:
            raise RefusedBase(f"reading the base failed: {words[-500:] or f'{size:,} bytes of answer'}")
        self._out.seek(0)
        tree: dict[str, Any] = json.loads(self._out.read())
        if tree.get("format") != TREE_FORMAT:
            raise RefusedBase("reading the base gave an answer of another format")
        return tree, words


def base_with_this_platform(
    repo_root: Path, commit: str, defs_name: str, project: type[NopeProject], why: str
) -> dict[str, Any]:
    """The base read with this tree's platform package, saying so: its own could not be imported."""
    with materialized(repo_root, commit, [defs_name]) as (base_root, skipped):
        tree = resolved_tree(project.load(base_root / defs_name), (base_root / defs_name).absolute())
    note = (
        f"the base's platform package could not be imported ({why}); the base was read with this "
        "tree's platform, so a change of platform defaults is not shown"
    )
    tree["problems"][:0] = [_problem("platform", note), *(_problem(path, reason) for path, reason in skipped)]
    return tree


def changed_groups(repo_root: Path, commit: str, defs_name: str, project: type[NopeProject]) -> set[str] | None:
    """The groups whose files differ from the base, or None when the whole base must be read:
    the platform package (outside `platform/nope/`, which is this tree's on both sides) or
    pyproject.toml changed, a file at the top of defs/ changed, or keys may leave their group."""
    if project.allow_keys_outside_group:
        return None
    groups = set()
    for path in changed_paths(repo_root, commit, [defs_name, "platform", "pyproject.toml"]):
        below = path.removeprefix(f"{defs_name}/").split("/")
        if path.startswith("platform/nope/"):
            continue
        if not path.startswith(f"{defs_name}/") or len(below) < 2:
            return None
        groups.add(below[0])
    return groups


def base_of_groups(
    repo_root: Path, commit: str, defs_name: str, project: type[NopeProject], groups: set[str], head: dict[str, Any]
) -> dict[str, Any]:
    """The base: `groups` read from git and resolved with this platform, every other group as in `head`."""
    with materialized(repo_root, commit, [f"{defs_name}/{group}" for group in sorted(groups)]) as (base_root, skipped):
        base_defs = base_root / defs_name
        base_defs.mkdir(parents=True, exist_ok=True)
        loaded = load_defs(base_defs, project.invocation_target_map(), allow_keys_outside_group=False, groups=groups)
        tree = resolved_tree(loaded, base_defs.absolute())
    kept = {key: asset for key, asset in head["assets"].items() if _group_of(asset["manifest"]) not in groups}
    tree["assets"] = {**kept, **tree["assets"]}
    tree["problems"][:0] = [_problem(path, reason) for path, reason in skipped]
    return tree


def _group_of(manifest: str) -> str:
    """`defs/sales/orders.yaml` -> `sales`."""
    return manifest.split("/")[1]


def _spec(project: type[NopeProject]) -> str:
    return f"{project.__module__}:{project.__qualname__}"


def _problem(path: str, message: str) -> dict[str, Any]:
    return {"path": path, "line": 0, "column": 0, "message": message, "caused_by": ""}


def _base_project(base_root: Path, fallback_spec: str) -> type[NopeProject]:
    """The base's project class, named by its own pyproject.toml (else by this tree's), from its platform/."""
    spec = fallback_spec
    try:
        spec = str(tomllib.loads((base_root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["nope"]["project"])
    except (OSError, KeyError, TypeError, ValueError):
        pass  # no [tool.nope] at the base: this tree's project class names the package
    sys.path.insert(0, str(base_root / "platform"))
    module_name, _, class_name = spec.partition(":")
    project = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(project, type) and issubclass(project, NopeProject)):
        raise TypeError(f"{spec} is not a NopeProject subclass")
    return project


def main(argv: list[str]) -> int:
    """The child: read the base from git, resolve it with its own platform package, print it as JSON."""
    repo_root, commit, defs_name, fallback_spec = Path(argv[0]), argv[1], argv[2], argv[3]
    try:
        with materialized(repo_root, commit, [defs_name, "platform", "pyproject.toml"]) as (base_root, skipped):
            try:
                project = _base_project(base_root, fallback_spec)
            except (
                Exception
            ) as error:  # the base's platform package is the base's business: say why, the parent falls back
                print(f"{type(error).__name__}: {error}", file=sys.stderr)
                return CANNOT_USE_PLATFORM
            tree = resolved_tree(project.load(base_root / defs_name), (base_root / defs_name).absolute())
    except RefusedBase as refused:
        print(refused, file=sys.stderr)
        return REFUSED
    tree["problems"][:0] = [_problem(path, reason) for path, reason in skipped]
    json.dump(tree, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
