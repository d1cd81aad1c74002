"""Finding manifests under `defs/`, in a fixed order.

Sorted walking makes the graph, op order and error order the same on every machine.
Names starting with `_` or `.` are never manifests: they are kept for group settings,
caches (`__pycache__`) and editor or VCS folders.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

MANIFEST_SUFFIXES = (".yaml", ".yml")


class ManifestFile(NamedTuple):
    """A manifest found under defs/: its path, and its folder and file names below defs/.

    The names come from the walk itself, so reading thousands of manifests never has to
    take their paths apart again (`Path.relative_to` was a tenth of `nope check`).
    """

    path: Path
    below_defs: tuple[str, ...]


def is_ignored(name: str) -> bool:
    return name.startswith(("_", "."))


def find_manifests(defs_path: Path) -> list[ManifestFile]:
    """Every manifest file below `defs_path`, sorted; top-level files are included (and rejected later)."""
    found: list[ManifestFile] = []
    for folder, subfolders, files in os.walk(defs_path):
        subfolders[:] = sorted(name for name in subfolders if not is_ignored(name))
        folder_path = Path(folder)
        below = folder_path.relative_to(defs_path).parts
        found += [
            ManifestFile(folder_path / name, (*below, name))
            for name in sorted(files)
            # Case-insensitive, so `orders.YAML` is found and reported rather than silently skipped.
            if name.lower().endswith(MANIFEST_SUFFIXES) and not is_ignored(name)
        ]
    return found
