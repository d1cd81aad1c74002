"""Shape the generated repository to the answers; touches nothing outside it.

Removes the optional targets (their loader module, tests and part of `nope.schema.json`),
the files of the deployments not chosen (and the container image when nothing runs in a container),
and the example `defs/` groups (and the tests that exercise them) that were not asked for, and stray
bytecode caches copied from the template. Dependencies and README sections of optional
targets are rendered conditionally in place (jinja `if` blocks in pyproject.toml and README.md).
Installs the `uv.lock` made for the answers that add dependencies (`make lock` in the template
keeps one per combination in `.locks/`), so baking needs no network.
"""

import json
import re
import shutil
import sys
from pathlib import Path

ANSWERS = json.loads({{ cookiecutter | tojson | tojson }})
ROOT = Path.cwd()

EXAMPLE_PATHS = ["defs/group_a", "defs/sales", "tests/test_examples.py"]
TARGET_PATHS = {
    "uv": ["platform/nope/uv_target.py", "tests/test_uv_target.py"],
    "modal": ["platform/nope/modal_target.py", "tests/test_modal_target.py"],
    "docker": ["platform/nope/docker_target.py", "tests/test_docker_target.py"],
    "k8s": ["platform/nope/k8s_target.py", "tests/test_k8s_target.py"],
}
DEPLOYMENT_PATHS = {
    "docker": ["compose.yaml", "deploy/docker", "tests/test_docker_deployment.py"],
    "kubernetes": ["deploy/helm", "tests/test_kubernetes_deployment.py"],
}
IMAGE_PATHS = ["Dockerfile", ".dockerignore"]  # kept when a deployment or a container target runs it


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
        packages.sort(key=lambda package: re.match(r'name = "([^"]+)"', package).group(1))
        (ROOT / "uv.lock").write_text("\n[[package]]\n".join([head, *packages]), encoding="utf-8")
    shutil.rmtree(locks, ignore_errors=True)


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
    if (ROOT / "deploy").is_dir() and not any((ROOT / "deploy").iterdir()):
        remove("deploy")
    if ANSWERS["include_examples"] != "yes":
        for relative in EXAMPLE_PATHS:
            remove(relative)
        (ROOT / "defs").mkdir(exist_ok=True)
        (ROOT / "defs" / ".gitkeep").touch()
    install_lock()
    for cache in sorted(ROOT.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
