"""Regenerate every lock: the template's own, and the one each kind of baked repository ships.

    make lock            keep every pinned version the inputs still allow; add what is new
    make lock-upgrade    move every package to the newest version the inputs allow

The template's environments (`requirements/*.in`) are compiled by `uv pip compile` into
`requirements/*.lock`: exact versions with hashes, for every platform and Python 3.11+.

A baked repository's `uv.lock` depends on the answers that add dependencies (its storage, its
extra targets and its deployment), keyed on the packages they add. For each combination of those
features, this bakes the template, runs `uv lock` there, and keeps the result in
`{{cookiecutter.__project_dir}}/.locks/<features>.uv.lock`, with the project's name left as a
placeholder; the post-generation hook picks the one that matches a bake's answers and names it
after the project, so baking needs no network.
Run it with the `.tools` environment (`make lock` does): it needs Cookiecutter and uv.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent
REQUIREMENTS = TEMPLATE / "requirements"
BAKED_LOCKS = TEMPLATE / "{{cookiecutter.__project_dir}}" / ".locks"
TOOLS_LOCK = TEMPLATE / "{{cookiecutter.__project_dir}}" / "tools.lock"
PLACEHOLDER = "nope-project-placeholder"
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"

# Lock features: the answer each one sets when chosen. `extra_targets` values are joined.
# The post-generation hook (hooks/post_gen_project.py, LOCK_FEATURES) names the same features;
# tests/test_locks.py bakes every combination and checks each lock holds what it should.
FEATURES = {
    "postgres": {"dagster_storage": "postgres"},
    "uv": {"extra_targets": "uv"},
    # Keyed on the package, not the answer: deployment=docker and the `docker` target both add
    # dagster-docker, so one lock serves both; the same for kubernetes / `k8s` and dagster-k8s.
    "docker": {"extra_targets": "docker"},
    "k8s": {"extra_targets": "k8s"},
}

UV_COMPILE = [
    UV, "pip", "compile", "--quiet", "--universal", "--python-version", "3.11", "--generate-hashes",
    "--custom-compile-command", "make lock",
]  # fmt: skip


def compile_template_locks(upgrade: bool) -> None:
    """`requirements/<name>.in` -> `requirements/<name>.lock`, and the baked repo's `tools.lock`."""
    extra = ["--upgrade"] if upgrade else []
    for source in sorted(REQUIREMENTS.glob("*.in")):
        lock = source.with_suffix(".lock")
        subprocess.run([*UV_COMPILE, *extra, str(source), "-o", str(lock)], check=True, cwd=REQUIREMENTS)
        print(f"locked {lock.relative_to(TEMPLATE)}")
    # The baked repository bootstraps uv with pip from this: the same uv as the template's.
    uv_pin = next(line for line in (REQUIREMENTS / "bake.in").read_text().splitlines() if line.startswith("uv=="))
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "tools.in"
        source.write_text(uv_pin + "\n")
        subprocess.run([*UV_COMPILE, str(source), "-o", str(TOOLS_LOCK)], check=True, cwd=scratch)
    print(f"locked {TOOLS_LOCK.relative_to(TEMPLATE)}")


def lock_key(features: tuple[str, ...]) -> str:
    return "+".join(sorted(features)) or "base"


def answers_for(features: tuple[str, ...]) -> dict[str, str]:
    answers = {"dagster_storage": "sqlite", "include_examples": "no", "project_slug": PLACEHOLDER}
    targets = []
    for feature in features:
        for answer, value in FEATURES[feature].items():
            if answer == "extra_targets":
                targets.append(value)
            else:
                answers[answer] = value
    answers["extra_targets"] = ", ".join(targets) or "none"
    return answers


def lock_baked_repositories(upgrade: bool) -> None:
    """One `uv lock` per combination of features, starting from the lock it had (so pins hold)."""
    BAKED_LOCKS.mkdir(exist_ok=True)
    combinations = [c for n in range(len(FEATURES) + 1) for c in itertools.combinations(sorted(FEATURES), n)]
    for features in combinations:
        key = lock_key(features)
        kept = BAKED_LOCKS / f"{key}.uv.lock"
        with tempfile.TemporaryDirectory() as scratch:
            repo = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=scratch, extra_context=answers_for(features)))
            lock = repo / "uv.lock"
            if kept.exists():
                shutil.copyfile(kept, lock)
            elif lock.exists():
                lock.unlink()
            subprocess.run([UV, "lock", "--quiet", *(["--upgrade"] if upgrade else [])], check=True, cwd=repo)
            text = lock.read_text(encoding="utf-8")
        if f'\nname = "{PLACEHOLDER}"\n' not in text:
            raise SystemExit(f"{key}: the locked project is not named {PLACEHOLDER}")
        kept.write_text(text, encoding="utf-8")
        print(f"locked {kept.relative_to(TEMPLATE)}")
    known = {f"{lock_key(c)}.uv.lock" for c in combinations}
    for stale in BAKED_LOCKS.glob("*.uv.lock"):
        if stale.name not in known:
            stale.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upgrade", action="store_true", help="newest allowed versions, not the pinned ones")
    args = parser.parse_args()
    compile_template_locks(args.upgrade)
    lock_baked_repositories(args.upgrade)


if __name__ == "__main__":
    main()
