"""The tree a branch started from, read from git into a temporary folder: what `nope diff` compares against.

The base is untrusted input as much as the working tree: a commit of any branch can hold a
FIFO-sized surprise, a 10 GB blob or a path crafted to leave the folder. So:

- every git command has a timeout and writes to a temporary file whose size is checked before
  it is read (no pipe to stall on, no output read without a bound);
- the files are listed first (`git ls-tree -r -l`, which gives each blob's size) and only
  then read, all at once (`git cat-file --batch`, one process for thousands of files), so a
  blob over `nope check`'s own limit is never read: it becomes a sparse file of the same
  size, which the loader then refuses exactly as it would in a working tree;
- only regular files, and symlinks under `defs/` (the loader follows those only inside
  `defs/`), are written, each under the folder, created anew, never through a link.

Why a folder rather than reading blobs straight into the loader: the loader, discovery and the
platform package then run unchanged on the base, with the same checks and the same problems as
`nope check` gives, and the platform package of the base (its defaults) can be imported from
it (resolved_assets.py). `platform/nope/` itself is not copied: the base is read with this
tree's loader, so the two sides are resolved by the same rules.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from nope.safe_files import MAX_SCRIPT_BYTES, MAX_YAML_BYTES

GIT_TIMEOUT_SECONDS = 120
"""Any one git command; reading 10,000 files takes well under a second."""

MAX_LISTING_BYTES = 50_000_000
"""`git ls-tree`'s listing: about 100 bytes a file, so room for hundreds of thousands of files."""

MAX_BASE_FILES = 200_000
MAX_BASE_BYTES = 300_000_000
"""All the files read from the base together (blobs over their own limit are not read)."""

MAX_LINK_BYTES = 4096
"""A symlink's target: a path, never longer than PATH_MAX."""

_REGULAR_MODES = {"100644", "100755"}
_LINK_MODE = "120000"


class RefusedBase(Exception):
    """The base cannot be read: one line saying what to do (`nope diff` exits 2)."""


class BaseFile(NamedTuple):
    """A blob of the base tree: its path (from the repository root), git object, size and mode."""

    path: str
    object_id: str
    size: int
    mode: str


def base_commit(repo_root: Path, ref: str | None, branch: str) -> str:
    """The commit to compare against: `ref`, or the merge base of HEAD with the repository's branch."""
    _git_ok(
        repo_root,
        "rev-parse",
        "--git-dir",
        refusal="this folder is not in a git repository; `nope diff` compares git commits",
    )
    shallow = _git(repo_root, "rev-parse", "--is-shallow-repository").stdout.strip() == b"true"
    if ref is not None:
        found = _git(repo_root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
        if found.returncode == 0:
            return found.stdout.decode().strip()
        if shallow:
            raise RefusedBase(
                f"`{ref}` is not in this shallow clone: fetch it with `git fetch origin {ref} --depth=1`, "
                "or the whole history with `git fetch --unshallow`"
            )
        raise RefusedBase(
            f"`{ref}` is not a commit here: fetch it with `git fetch origin {ref}`, or pass another --base"
        )
    for candidate in (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}"):
        if _git(repo_root, "rev-parse", "--verify", "--quiet", candidate).returncode == 0:
            merge_base = _git(repo_root, "merge-base", "HEAD", candidate)
            if merge_base.returncode == 0:
                return merge_base.stdout.decode().strip()
            if shallow:
                raise RefusedBase(
                    f"this shallow clone does not reach where it left `{branch}`: "
                    "fetch the history with `git fetch --unshallow` (or `git fetch --deepen=100`), or pass --base"
                )
            raise RefusedBase(f"HEAD and `{branch}` have no commit in common; pass --base REF")
    raise RefusedBase(
        f"the branch `{branch}` is not here: fetch it with `git fetch origin {branch}`, or pass --base REF"
    )


def changed_paths(repo_root: Path, commit: str, paths: list[str]) -> list[str]:
    """Repository-relative paths under `paths` that differ between `commit` and the working tree:
    changed, added, deleted or untracked (ignored files included: the loader reads those too,
    except Python's `__pycache__`, which importing the platform package writes)."""
    changed = _git_ok(
        repo_root, "diff", "--name-only", "--relative", "--no-renames", "-z", "--end-of-options", commit, "--", *paths,
        limit=MAX_LISTING_BYTES,
    )  # fmt: skip
    untracked = _git_ok(repo_root, "ls-files", "--others", "-z", "--", *paths, limit=MAX_LISTING_BYTES)
    listed = (path.decode("utf-8", errors="replace") for path in (changed + b"\0" + untracked).split(b"\0") if path)
    return [path for path in listed if "__pycache__" not in path.split("/")]  # Python's own, never read as code here


@contextmanager
def materialized(repo_root: Path, commit: str, paths: list[str]) -> Iterator[tuple[Path, list[tuple[str, str]]]]:
    """A temporary copy of `paths` (repository-relative) at `commit`, and the files left out, with why.

    `platform/nope/` is never copied (see the module's docstring). Removed on exit.
    """
    with tempfile.TemporaryDirectory(prefix="nope-diff-base-") as folder:
        into = Path(folder)
        files, skipped = _listing(repo_root, commit, paths) if paths else ([], [])
        _write(repo_root, files, into)
        yield into, skipped


def _listing(repo_root: Path, commit: str, paths: list[str]) -> tuple[list[BaseFile], list[tuple[str, str]]]:
    """The blobs to write, and the paths left out: not a regular file or link, a link under platform/, or unsafe."""
    listed = _git_ok(
        repo_root, "ls-tree", "-r", "-l", "-z", "--end-of-options", commit, "--", *paths, limit=MAX_LISTING_BYTES
    )
    files: list[BaseFile] = []
    skipped: list[tuple[str, str]] = []
    for entry in listed.split(b"\0"):
        if not entry:
            continue
        info, _, raw_path = entry.partition(b"\t")
        mode, kind, object_id, size = info.decode().split()
        path = raw_path.decode("utf-8", errors="replace")
        if not _safe_relative(path):
            skipped.append((path, "is not a plain path inside the repository; not read from the base"))
        elif path.startswith("platform/nope/"):
            continue
        elif kind == "blob" and (mode in _REGULAR_MODES or (mode == _LINK_MODE and not path.startswith("platform/"))):
            files.append(BaseFile(path, object_id, int(size), mode))
        else:
            skipped.append((path, f"is a git {kind} of mode {mode}; only files are read from the base"))
    if len(files) > MAX_BASE_FILES:
        raise RefusedBase(
            f"the base holds {len(files):,} files under {', '.join(paths)}; `nope diff` reads at most {MAX_BASE_FILES:,}"
        )
    return files, skipped


def _safe_relative(path: str) -> bool:
    parts = path.split("/")
    return all(part not in ("", ".", "..", ".git") for part in parts) and "\0" not in path and "\\" not in path


def _limit(file: BaseFile) -> int:
    if file.mode == _LINK_MODE:
        return MAX_LINK_BYTES
    return MAX_YAML_BYTES if file.path.lower().endswith((".yaml", ".yml", ".toml")) else MAX_SCRIPT_BYTES


def _write(repo_root: Path, files: list[BaseFile], into: Path) -> None:
    """Read the blobs within their limits in one `git cat-file --batch`, and write them below `into`."""
    try:
        _write_files(repo_root, files, into)
    except OSError as error:  # a crafted tree: a file where a folder is, the same path twice
        raise RefusedBase(f"the base cannot be written out: {error.strerror or error}") from None


def _write_files(repo_root: Path, files: list[BaseFile], into: Path) -> None:
    wanted = [file for file in files if file.size <= _limit(file)]
    made: dict[str, str] = {}
    total = sum(file.size for file in wanted)
    if total > MAX_BASE_BYTES:
        raise RefusedBase(f"the base's files hold {total:,} bytes; `nope diff` reads at most {MAX_BASE_BYTES:,}")
    for file in files:
        if file.size > _limit(file):
            _create(
                into, file.path, b"", made, size=file.size
            )  # sparse: the loader refuses it by its size, as in a working tree
    if not wanted:
        return
    request = "".join(f"{file.object_id}\n" for file in wanted).encode()
    output = _git_ok(
        repo_root, "cat-file", "--batch", stdin=request, limit=total + len(wanted) * 128
    )  # each answer is "<id> blob <size>\n<bytes>\n"
    position = 0
    for file in wanted:
        header_end = output.index(b"\n", position)
        header = output[position:header_end].split()
        size = int(header[2]) if len(header) == 3 and header[1] == b"blob" else -1
        if size != file.size:
            raise RefusedBase(f"git answered `{b' '.join(header).decode(errors='replace')}` for {file.path}")
        content = output[header_end + 1 : header_end + 1 + size]
        position = header_end + 1 + size + 1
        if file.mode == _LINK_MODE:
            _link(into, file.path, content, made)
        else:
            _create(into, file.path, content, made)


def _parent(into: Path, path: str, made: dict[str, str]) -> str:
    """The real folder of `path` below `into`, created; refused if a link made earlier would lead it elsewhere.

    `made` remembers the folders already made and checked: thousands of files share a few hundred.
    """
    folder = path.rpartition("/")[0]
    if folder in made:
        return made[folder]
    real_into = os.path.realpath(into)
    parent = os.path.join(real_into, *folder.split("/")) if folder else real_into
    os.makedirs(parent, exist_ok=True)
    real = os.path.realpath(parent)
    if real != real_into and not real.startswith(real_into + os.sep):
        raise RefusedBase(f"{path} of the base lies below a link; it is not read")
    made[folder] = real
    return real


def _create(into: Path, path: str, content: bytes, made: dict[str, str], *, size: int | None = None) -> None:
    target = os.path.join(_parent(into, path, made), path.rsplit("/", 1)[-1])
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        if size is not None:
            os.ftruncate(descriptor, size)
        rest = memoryview(content)
        while rest:
            rest = rest[os.write(descriptor, rest) :]
    finally:
        os.close(descriptor)


def _link(into: Path, path: str, content: bytes, made: dict[str, str]) -> None:
    """A symlink as the base has it; the loader follows it only if it stays inside defs/."""
    text = content.decode("utf-8", errors="replace")
    if "\0" not in text:
        os.symlink(text, os.path.join(_parent(into, path, made), path.rsplit("/", 1)[-1]))


class _Answer(NamedTuple):
    returncode: int
    stdout: bytes
    stderr: str


def _git(repo_root: Path, *args: str, stdin: bytes = b"", limit: int = 1_000_000) -> _Answer:
    """Run git with a timeout, its output through temporary files, refused over `limit` bytes."""
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    with tempfile.TemporaryFile() as given, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        given.write(stdin)
        given.seek(0)
        try:
            completed = subprocess.run(
                ["git", *args], cwd=repo_root, stdin=given, stdout=out, stderr=err, env=environment,
                timeout=GIT_TIMEOUT_SECONDS, check=False,
            )  # fmt: skip
        except FileNotFoundError:
            raise RefusedBase("git is not installed; `nope diff` reads the base from git") from None
        except subprocess.TimeoutExpired:
            raise RefusedBase(
                f"`git {args[0]}` took over {GIT_TIMEOUT_SECONDS} s; try again, or pass another --base"
            ) from None
        size = out.tell()
        if size > limit:
            raise RefusedBase(f"`git {args[0]}` answered {size:,} bytes, over the {limit:,} `nope diff` reads")
        out.seek(0)
        err.seek(0)
        return _Answer(completed.returncode, out.read(), err.read(2000).decode("utf-8", errors="replace"))


def _git_ok(repo_root: Path, *args: str, refusal: str = "", stdin: bytes = b"", limit: int = 1_000_000) -> bytes:
    answer = _git(repo_root, *args, stdin=stdin, limit=limit)
    if answer.returncode != 0:
        last_line = (answer.stderr.strip().splitlines() or [""])[-1]
        raise RefusedBase(refusal or f"`git {args[0]}` failed: {_one_line(last_line)}")
    return answer.stdout


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:300]
