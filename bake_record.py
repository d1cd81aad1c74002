"""Keep `make bake` and `make demo` from baking over work done in the baked repository.

    python bake_record.py check build/acme-data-platform --retry "make bake FORCE=1"
    python bake_record.py save build/acme-data-platform

Why: the template's `make bake` re-bakes into `build/<slug>/` with Cookiecutter's
`--overwrite-if-exists`, so that the folder's `.venv/` and `.dagster_home/` survive. But that
overwrites every generated file and deletes the folders Cookiecutter copies without rendering
(`defs/`, `platform/nope/`, ...) before copying them again: a practitioner's new asset, or a
platform owner's edit to `settings.py`, would be gone without a word.

How: after each bake, `save` records what was baked in a private git index beside the folder
(`build/.<slug>.bake.git`; `git add --all` without a commit, so git needs no identity and the
folder's own `.git`, if any, is left alone). Before the next bake, `check` asks git what changed
since. Git reads the baked repository's own `.gitignore`, so what installing and running write
(`.venv/`, `.dagster_home/`, `data/`, caches) is not a change. A folder without a record (baked
before records were kept, or by hand) counts as changed. `make bake FORCE=1` skips the check.

`check` prints its refusal on stdout, as one line, and nothing when baking loses nothing: the
Makefile stops with it through `$(error)`, so that the refusal is the one line make prints.
Standard library only.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

SHOWN_CHANGES = 3
"""How many changed paths the refusal names; it counts the rest."""


def record_of(baked: Path) -> Path:
    """Where the record of `baked` is kept: beside it, outside anything a bake writes."""
    return baked.parent / f".{baked.name}.bake.git"


def git(baked: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    """git on the record of `baked`, with `baked` as its work tree; None when git is not installed."""
    executable = shutil.which("git")
    if executable is None:
        return None
    command = [executable, f"--git-dir={record_of(baked)}", f"--work-tree={baked}", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def refusal(baked: Path, retry: str) -> str:
    """One line saying why baking over `baked` would lose work; empty when it would lose none."""
    if not baked.exists():
        return ""
    bake_over = f"or bake over it with `{retry}`"
    if not record_of(baked).is_dir():
        return f"{baked} holds no record of its last bake (it was baked before bakes were recorded), so its changes are unknown: move it aside, {bake_over}"
    status = git(baked, "status", "--porcelain", "-z", "--untracked-files=all")
    if status is None:
        return f"git is not installed, so the changes in {baked} since it was baked are unknown: install git, move the folder aside, {bake_over}"
    if status.returncode != 0:
        said = (status.stderr.strip().splitlines() or ["no message"])[0]
        return f"the record of the last bake of {baked} cannot be read ({said}): move the folder aside, {bake_over}"
    # Each entry is `XY path`: X compares the record with the empty tree (so it is always A),
    # Y compares the folder with the record: " " unchanged, M modified, D deleted, ? untracked.
    changed = [entry[3:] for entry in status.stdout.split("\0") if entry and entry[1] != " "]
    if not changed:
        return ""
    named = ", ".join(changed[:SHOWN_CHANGES])
    if len(changed) > SHOWN_CHANGES:
        named += f" and {len(changed) - SHOWN_CHANGES} more"
    count = f"{len(changed)} change" + ("s" if len(changed) > 1 else "")
    return (
        f"{baked} holds {count} since it was baked ({named}), which baking again would overwrite or delete: "
        f"keep working there (cd {baked} && make dev), move it aside, or bake over {'them' if len(changed) > 1 else 'it'} with `{retry}`"
    )


def save(baked: Path) -> int:
    """Record what the bake that just ran wrote into `baked`, replacing the previous record."""
    shutil.rmtree(record_of(baked), ignore_errors=True)
    for args in (("init", "--quiet"), ("add", "--all")):
        result = git(baked, *args)
        if result is None:
            print("note: git is not installed, so this bake is not recorded: the next one will need FORCE=1.", file=sys.stderr)
            return 0
        if result.returncode != 0:
            print(f"error: the bake of {baked} could not be recorded: {result.stderr.strip()}", file=sys.stderr)
            return 1
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bake_record.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["check", "save"])
    parser.add_argument("baked", type=Path, help="the baked repository's folder, e.g. build/acme-data-platform")
    parser.add_argument("--retry", default="make bake FORCE=1", help="the command that bakes over changes")
    args = parser.parse_args(argv)
    if args.action == "save":
        return save(args.baked)
    print(refusal(args.baked, args.retry))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
