"""Finding manifests under `defs/`, in a fixed order.

Sorted walking makes the graph, op order and error order the same on every machine.
Names starting with `_` or `.` are never manifests: they are kept for group settings,
caches (`__pycache__`) and editor or VCS folders.

A symlinked folder follows the rule every file under `defs/` follows (`safe_files`): it is
walked when it resolves inside `defs/`, and reported otherwise, never skipped silently.
Symlinked folders are walked after every real folder, and each real folder at most once, so
a link can neither loop nor multiply the tree, and a link to a folder that is read anyway is
the one reported.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Collection
from pathlib import Path
from typing import NamedTuple

from nope.problems import Problem
from nope.safe_files import OUTSIDE_DEFS, is_inside

MANIFEST_SUFFIXES = (".yaml", ".yml")


class ManifestFile(NamedTuple):
    """A manifest found under defs/: its path, and its folder and file names below defs/.

    The names come from the walk itself, so reading thousands of manifests never has to
    take their paths apart again (`Path.relative_to` was a tenth of `nope check`).
    """

    path: Path
    below_defs: tuple[str, ...]


class FoundManifests(NamedTuple):
    """The manifests of a tree, and the folders that could not be walked (folder -> problems)."""

    manifests: list[ManifestFile]
    broken_folders: dict[Path, list[Problem]]


def is_ignored(name: str) -> bool:
    return name.startswith(("_", "."))


def find_manifests(defs_path: Path, groups: Collection[str] | None = None) -> FoundManifests:
    """Every manifest file below `defs_path`, sorted; top-level files are included (and rejected later).

    `groups`: walk only these group folders (a run's process needs no others; see run_scope.py).
    """
    real_root = os.path.realpath(defs_path)
    walked: set[str] = set()
    found: list[ManifestFile] = []
    broken: dict[Path, list[Problem]] = {}
    # (names below defs/, path, real path); a linked folder's real path is worked out when its turn comes.
    folders: deque[tuple[tuple[str, ...], str, str]] = deque([((), str(defs_path), real_root)])
    linked_folders: deque[tuple[tuple[str, ...], str]] = deque()

    def report(below: tuple[str, ...], message: str) -> None:
        broken[defs_path.joinpath(*below)] = [Problem("/".join((defs_path.name, *below)), 0, 0, message)]

    while folders or linked_folders:
        if folders:
            below, folder, real_folder = folders.popleft()
        else:
            below, folder = linked_folders.popleft()
            real_folder = os.path.realpath(folder)
            if not is_inside(real_folder, real_root):
                report(below, OUTSIDE_DEFS)
                continue
        if real_folder in walked:
            relative = os.path.relpath(real_folder, real_root).replace(os.sep, "/")
            shown = defs_path.name if relative == "." else f"{defs_path.name}/{relative}"
            report(below, f"leads to {shown}/, which is read already; remove the link")
            continue
        walked.add(real_folder)
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            report(below, f"cannot be read: {error.strerror or error}")
            continue
        for entry in entries:
            if is_ignored(entry.name) or (groups is not None and not below and entry.name not in groups):
                continue
            try:
                linked_folder = entry.is_symlink() and entry.is_dir()
                folder_entry = linked_folder or entry.is_dir(follow_symlinks=False)
            except OSError as error:  # a link to itself (ELOOP), or an entry gone since the folder was listed
                report((*below, entry.name), f"cannot be read: {error.strerror or error}")
                continue
            if linked_folder:
                linked_folders.append(((*below, entry.name), entry.path))
            elif folder_entry:
                folders.append(((*below, entry.name), entry.path, os.path.join(real_folder, entry.name)))
            # Case-insensitive, so `orders.YAML` is found and reported rather than silently skipped.
            elif entry.name.lower().endswith(MANIFEST_SUFFIXES):
                found.append(ManifestFile(Path(entry.path), (*below, entry.name)))
    found.sort(key=_walk_order)
    return FoundManifests(found, broken)


def _walk_order(manifest: ManifestFile) -> tuple[tuple[int, str], ...]:
    """A folder's own files first, then its subfolders, each by name (what a sorted walk yields)."""
    *folders, name = manifest.below_defs
    return (*((1, folder) for folder in folders), (0, name))
