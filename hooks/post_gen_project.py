"""Shape the generated repository to the answers; touches nothing outside it.

Removes the optional targets (their loader module, tests, docs page and part of `nope.schema.json`),
the files and docs pages of the deployments not chosen (and the container image when nothing runs
in a container), the example `defs/` groups (and the tests that exercise them) that were not asked
for, and stray bytecode caches copied from the template. Dependencies, and what the README,
mkdocs.yml and the other docs pages say of optional targets, are rendered conditionally in place
(jinja `if` blocks).
Installs the `uv.lock` made for the answers that add dependencies (`make lock` in the template
keeps one per combination in `.locks/`), so baking needs no network. Then makes the folder a git
repository with a first commit when it can (see `start_git_repository`) and prints the next steps,
with the folder's path as the user's shell reaches it (see `shown_folder`), except in `cruft update`'s
scratch generations (see `is_cruft_scratch`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Jinja writes the answers here as one JSON string literal before the hook runs; unrendered, the
# expression reads as a set of undefined names, so mypy checks everything but this line.
ANSWERS = json.loads({{ cookiecutter | tojson | tojson }})  # type: ignore[arg-type, name-defined]  # noqa: F821  # unrendered Jinja: see above
ROOT = Path.cwd()

EXAMPLE_PATHS = ["defs/group_a", "defs/sales", "tests/test_examples.py"]
TARGET_PATHS = {
    "uv": ["platform/nope/uv_target.py", "tests/test_uv_target.py", "docs/targets/uv.md"],
    "modal": ["platform/nope/modal_target.py", "tests/test_modal_target.py", "docs/targets/modal.md"],
    "docker": ["platform/nope/docker_target.py", "tests/test_docker_target.py", "docs/targets/docker.md"],
    "k8s": ["platform/nope/k8s_target.py", "tests/test_k8s_target.py", "docs/targets/k8s.md"],
}
DEPLOYMENT_PATHS = {
    "local": ["docs/operators/local.md"],
    "docker": ["compose.yaml", "deploy/docker", "docs/operators/docker.md"],
    "kubernetes": ["deploy/helm", "docs/operators/kubernetes.md"],
}
# Kept when a deployment or a container target runs it.
IMAGE_PATHS = ["Dockerfile", ".dockerignore", "docs/operators/image.md"]
CONTAINER_TARGET_PATHS = ["platform/nope/container_target.py"]  # the docker and k8s targets' shared base


def drop_from_schema(target: str) -> None:
    """Take a target out of the committed `nope.schema.json` (made with every target).

    Plain JSON editing, since this hook cannot count on pydantic being installed; it follows
    the layout `nope/schema.py` writes, and the generated repo's test_schema.py proves the
    result equals what `nope schema` produces for the targets that were kept.
    """
    path = ROOT / "nope.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"]["target"]["enum"].remove(target)
    schema["allOf"] = [rule for rule in schema["allOf"] if rule["if"]["properties"]["target"]["const"] != target]
    del schema["$defs"][target]
    path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# The answers that add dependencies, by the feature names `requirements/lock.py` locks for.
LOCK_FEATURES = {
    "postgres": ANSWERS["dagster_storage"] == "postgres",
    "uv": ANSWERS["__include_uv"] == "yes",
    # dagster-docker: the Docker deployment's run launcher, or the `docker` target's Pipes client.
    "docker": ANSWERS["deployment"] == "docker" or ANSWERS["__include_docker"] == "yes",
    # dagster-k8s: the Kubernetes deployment (its executor), or the `k8s` target's Pipes client.
    "k8s": ANSWERS["deployment"] == "kubernetes" or ANSWERS["__include_k8s"] == "yes",
}
LOCK_PLACEHOLDER = "nope-project-placeholder"


def package_name(package: str) -> str:
    """The name a `[[package]]` entry of a uv lock starts with."""
    found = re.match(r'name = "([^"]+)"', package)
    assert found, f"a locked package that does not start with its name: {package[:60]!r}"
    return found.group(1)


def install_lock() -> None:
    """Put the lock for these answers at `uv.lock`, naming its project after this repository.

    uv writes the project among the locked packages in name order, so it is moved to its place:
    the file is then exactly what `uv lock` would write here.
    """
    locks = ROOT / ".locks"
    key = "+".join(sorted(feature for feature, chosen in LOCK_FEATURES.items() if chosen)) or "base"
    source = locks / f"{key}.uv.lock"
    if not source.is_file():
        print(f"note: this template has no lock for {key}; run `make lock` in the new repository (it needs network).", file=sys.stderr)
    else:
        name = re.sub(r"[-_.]+", "-", ANSWERS["project_slug"]).lower()  # how uv spells project names
        head, *packages = source.read_text(encoding="utf-8").split("\n[[package]]\n")
        packages = [
            f'name = "{name}"' + package.removeprefix(f'name = "{LOCK_PLACEHOLDER}"')
            if package.startswith(f'name = "{LOCK_PLACEHOLDER}"\n')
            else package
            for package in packages
        ]
        packages.sort(key=package_name)
        (ROOT / "uv.lock").write_text("\n[[package]]\n".join([head, *packages]), encoding="utf-8")
    shutil.rmtree(locks, ignore_errors=True)


def start_git_repository() -> str:
    """`git init` and a first commit, so the platform owner's first change shows as a diff.

    Skipped, never failed: without git; inside another git work tree (a monorepo, the template's
    own `build/`); under cruft (`_commit` in the answers), which generates into scratch folders
    and diffs them, so a `.git` there would break `cruft update`; and, for the commit only, when
    git refuses it (no author known). Offline and local: nothing is pushed or fetched. Returns
    what was done.
    """
    git = shutil.which("git")
    if git is None:
        return "git is not installed: run `git init` yourself."
    if "_commit" in ANSWERS:
        return "cruft: commit the new repository yourself (`git init && git add -A && git commit`)."

    def run_git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([git, *args], capture_output=True, text=True, cwd=ROOT, timeout=60)

    try:
        inside = run_git("-C", str(ROOT.parent), "rev-parse", "--is-inside-work-tree")
        if inside.stdout.strip() == "true":
            return "inside another git repository: left for you to add."
        if run_git("init", "--quiet").returncode != 0:
            return "`git init` failed: run it yourself."
        branch = ANSWERS["repository_branch"]  # a git branch name: the pre-generation hook checked it
        run_git("symbolic-ref", "HEAD", f"refs/heads/{branch}")
        run_git("add", "--all")
        message = "Generate the data platform from the Nope platform template"
        commit = run_git("commit", "--quiet", "--no-verify", "-m", message)
        if commit.returncode != 0:  # most often: git knows no author here
            return "git repository created, files staged; set `git config user.email` and run `git commit`."
    except (OSError, subprocess.SubprocessError):
        return "git could not be run: run `git init` yourself."
    return f"git repository created on branch `{branch}`, with a first commit."


# dagster.yaml reads a PostgreSQL bake's server from these; without them `make dev` stops at once.
POSTGRES_STEP = (
    "  export DAGSTER_PG_HOST=db.internal DAGSTER_PG_PORT=5432 DAGSTER_PG_DB=dagster DAGSTER_PG_USER=dagster "
    "DAGSTER_PG_PASSWORD=...   # your PostgreSQL server: make dev stops without these"
)


def shown_folder() -> str:
    """The generated folder's path as the user's shell reaches it: what `cd` needs.

    Relative to the folder the bake was started from when it is inside it or beside it
    (`acme-data-platform`, `build/acme-data-platform` under the template's `make bake`,
    `../acme-data-platform`), else absolute. Cookiecutter runs this hook from the generated
    folder, so the starting folder is the shell's `PWD`, which Cookiecutter, cruft and make
    pass on unchanged; without a usable one, the path is absolute.
    """
    started = os.environ.get("PWD", "")
    if not os.path.isabs(started) or not os.path.isdir(started):
        return str(ROOT)
    relative = Path(os.path.relpath(ROOT, Path(started).resolve()))
    return str(relative) if relative.parts and relative.parts.count("..") <= 1 else str(ROOT)


def is_cruft_scratch() -> bool:
    """Whether this is one of `cruft update`'s scratch generations, where next steps are noise.

    `cruft update` generates the template twice (at the recorded commit and at the newest) to
    diff them, each time into a fresh temporary folder of Python's `tempfile`, and then deletes
    both (`cruft/_commands/utils/generate.py`, `_generate_output`): the repository exists already,
    and its owner would read the steps twice with paths that are gone.
    """
    scratch = ROOT.parent
    return "_commit" in ANSWERS and scratch.name.startswith("tmp") and scratch.parent == Path(tempfile.gettempdir()).resolve()


def next_steps(git_outcome: str) -> str:
    """What to type next, printed after generation."""
    return "\n".join(
        [
            f"Generated {ROOT.name}/ ({ANSWERS['project_name']}).",
            f"  git: {git_outcome}",
            "Next steps:",
            f"  cd {shown_folder()}",
            *([POSTGRES_STEP] if ANSWERS["dagster_storage"] == "postgres" else []),
            "  make dev     # install, then serve the Dagster UI on http://127.0.0.1:3000 (make dev PORT=3001 for another port; make stop ends it)",
            "  make demo    # the same, after materializing every asset once on a new instance",
            "  make test    # this repository's tests",
            "Practitioners add assets under defs/: README.md is the five-minute path, docs/ the rest.",
        ]
    )


def remove_bytecode_caches() -> None:
    """Remove the `__pycache__` folders copied from the template, and only those.

    The template's `make bake` re-bakes over an installed folder: the caches under its dot-folders
    (`.venv/`, `.tools/`) are the environment's, and without them the next start would compile
    all of Dagster again.
    """
    for top in ROOT.iterdir():
        if top.name == "__pycache__":
            shutil.rmtree(top, ignore_errors=True)
        elif top.is_dir() and not top.name.startswith("."):
            for cache in sorted(top.rglob("__pycache__")):
                shutil.rmtree(cache, ignore_errors=True)


def remove(relative: str) -> None:
    path = ROOT / relative
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


if __name__ == "__main__":
    for target, paths in TARGET_PATHS.items():
        if ANSWERS[f"__include_{target}"] != "yes":
            for relative in paths:
                remove(relative)
            drop_from_schema(target)
    for deployment, paths in DEPLOYMENT_PATHS.items():
        if ANSWERS["deployment"] != deployment:
            for relative in paths:
                remove(relative)
    if ANSWERS["__include_image"] != "yes":
        for relative in IMAGE_PATHS:
            remove(relative)
    if "yes" not in (ANSWERS["__include_docker"], ANSWERS["__include_k8s"]):
        for relative in CONTAINER_TARGET_PATHS:
            remove(relative)
    if (ROOT / "deploy").is_dir() and not any((ROOT / "deploy").iterdir()):
        remove("deploy")
    if ANSWERS["include_examples"] != "yes":
        for relative in EXAMPLE_PATHS:
            remove(relative)
        (ROOT / "defs").mkdir(exist_ok=True)
        (ROOT / "defs" / ".gitkeep").touch()
    install_lock()
    remove_bytecode_caches()
    outcome = start_git_repository()
    if not is_cruft_scratch():
        print(next_steps(outcome))
