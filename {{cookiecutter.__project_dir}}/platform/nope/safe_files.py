"""Reading practitioners' files under `defs/` without letting one file hang or exhaust the reader.

A pull request that adds files under `defs/` is read by `nope check` in CI and by the code
server in production, so every read here is bounded: only regular files are read (a FIFO
would block forever, `/dev/zero` never ends), never more than a cap, and a symlink is
followed only when it resolves inside `defs/` (only `defs/` is reviewed as practitioners'
files). The rule is the same for manifests, `_group.yaml`, scripts and folders; each caller
words the problem for its own kind of file with the reason given here.

An ordinary file costs one `lstat` more than a plain `open`: the type is known before
anything is opened (opening some devices has side effects), and the opened descriptor is
checked again (`fstat`) in case the file was swapped in between.
"""

from __future__ import annotations

import functools
import os
import stat

MAX_YAML_BYTES = 1_000_000
"""Manifests and `_group.yaml` files: a few dozen lines each; 1 MB is thousands of times that."""

MAX_SCRIPT_BYTES = 10_000_000
"""Scripts are read whole for their code version and shown in the asset's description; data
belongs in storage the platform sets up, not in `defs/`."""

# Never block on a FIFO that slipped past the checks; never follow a symlink swapped in last.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class RefusedFile(Exception):
    """A file that is not read. `reason` continues a sentence whose subject is the file:
    "defs/g/a.yaml: <reason>" or "script `a.py` <reason>"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def is_inside(resolved: str, real_root: str) -> bool:
    """Whether a fully resolved path is `real_root` or below it."""
    return resolved == real_root or resolved.startswith(real_root + os.sep)


@functools.cache
def real_path_of(folder: str | os.PathLike[str]) -> str:
    """`os.path.realpath`, once per folder: every script of a tree is checked against its defs/."""
    return os.path.realpath(folder)


OUTSIDE_DEFS = "points outside defs/; keep it inside defs/"
"""The reason a link or path leaving defs/ is refused. Where it leads is left out: `nope check`
prints into CI logs that more people read than the repository's files (`/root/.ssh/id_rsa`)."""


def follow_inside(path: str, real_root: str) -> str:
    """The real path a symlink leads to, refused unless it stays below `real_root` (the real defs/)."""
    resolved = os.path.realpath(path)
    if not is_inside(resolved, real_root):
        raise RefusedFile(OUTSIDE_DEFS)
    return resolved


def refuse_unless_small_regular_file(status: os.stat_result, limit: int) -> None:
    """Refuse what is not a regular file (by its type, before any open) or is over `limit` bytes."""
    if not stat.S_ISREG(status.st_mode):
        raise RefusedFile(f"is {_kind_of(status.st_mode)}, not a regular file; only regular files are read from defs/")
    if status.st_size > limit:
        raise RefusedFile(f"is {status.st_size:,} bytes, over the {_megabytes(limit)} limit; keep data out of defs/")


def read_regular_file(path: str | os.PathLike[str], *, limit: int, real_root: str | None) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, or `RefusedFile` saying why not.

    `real_root` is the real path of `defs/`: a symlink must resolve inside it (None: symlinks
    are followed anywhere, for callers reading outside a `defs/` tree).
    """
    path = os.fspath(path)
    try:
        status = os.lstat(path)
        if stat.S_ISLNK(status.st_mode):
            path = follow_inside(path, real_root) if real_root is not None else os.path.realpath(path)
            status = os.stat(path)
        refuse_unless_small_regular_file(status, limit)
        descriptor = os.open(path, _OPEN_FLAGS)
        try:
            refuse_unless_small_regular_file(os.fstat(descriptor), limit)  # swapped since the lstat?
            data = _read_at_most(descriptor, limit + 1)
        finally:
            os.close(descriptor)
    except OSError as error:  # gone, no permission, or a symlink swapped in (O_NOFOLLOW)
        raise RefusedFile(f"cannot be read: {error.strerror or error}") from None
    if len(data) > limit:  # it grew after the fstat
        raise RefusedFile(f"is over the {_megabytes(limit)} limit; keep data out of defs/")
    return data


def _read_at_most(descriptor: int, count: int) -> bytes:
    chunks = []
    while count > 0:
        chunk = os.read(descriptor, count)
        if not chunk:
            break
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB"
