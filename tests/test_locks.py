"""Nothing a user installs floats: the template's environments and every baked repository install
from locks with exact versions and hashes, transitive packages included.

Each combination of the answers that add dependencies bakes a repository whose `uv.lock` holds
exactly what its pyproject.toml asks for (checked by uv itself, offline, from an empty cache),
at the versions the template's own environment holds (its tests import dagster-k8s, dagster-docker
and dagster-postgres there to check the deployments' settings; each baked suite runs in the baked
repository's own `.venv`, installed from this lock by its `make test`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import itertools
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from conftest import TEMPLATE, bake
from packaging.markers import Marker

REQUIREMENTS = TEMPLATE / "requirements"
# uv as requirements/bake.lock pins it, the one tools.lock gives every baked repository (see the last test).
UV = Path(sys.executable).with_name("uv")
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?: ; ([^\\]+?))? *\\")


def load_lock_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lock_script", REQUIREMENTS / "lock.py")
    assert spec and spec.loader, "requirements/lock.py cannot be loaded"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pinned(lock: Path, *, here_only: bool = False) -> dict[str, str]:
    """name -> version of a `uv pip compile` lock; fails on any line that is not an exact pin.

    `here_only`: only the packages whose environment markers hold on this machine.
    """
    pins: dict[str, str] = {}
    entries = re.split(r"\n(?=\S)", lock.read_text())
    for entry in entries:
        if entry.startswith("#") or not entry.strip():
            continue
        match = REQUIREMENT.match(entry)
        assert match, f"{lock.name}: not an exact pin: {entry.splitlines()[0]}"
        assert "--hash=sha256:" in entry, f"{lock.name}: {match.group(1)} has no hash"
        if not here_only or not match.group(3) or Marker(match.group(3)).evaluate():
            pins[normalized(match.group(1))] = match.group(2)
    return pins


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def uv_lock_packages(repo: Path) -> dict[str, dict]:
    return {package["name"]: package for package in tomllib.loads((repo / "uv.lock").read_text())["package"]}


def assert_uv_accepts_the_lock_offline(repo: Path, tmp_path: Path) -> None:
    """`uv lock --locked` fails when the lock does not match pyproject.toml; offline, from an
    empty cache, it can only pass on what the lock itself holds."""
    result = subprocess.run(
        [str(UV), "lock", "--locked", "--offline"],
        cwd=repo,
        env={"UV_CACHE_DIR": str(tmp_path / "empty-uv-cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("lock", sorted(REQUIREMENTS.glob("*.lock")), ids=lambda path: path.name)
def test_each_template_lock_pins_every_package_with_hashes_and_holds_its_inputs(lock: Path):
    pins = pinned(lock)
    source = lock.with_suffix(".in")
    wanted: set[str] = set()
    pending = [source]
    while pending:
        for line in pending.pop().read_text().splitlines():
            if line.startswith("-r "):
                pending.append(source.parent / line.split()[1])
            elif line.strip() and not line.startswith("#"):
                wanted.add(normalized(re.split(r"[=<>!~\[; ]", line.strip())[0]))
    assert wanted <= set(pins), sorted(wanted - set(pins))
    for line in source.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.strip().split("==")
            assert pins[normalized(name)] == version, line


def test_the_test_environment_is_the_locked_one():
    """What this run uses is what requirements/test.lock says (a stale .venv would hide a bad lock)."""
    for name, version in pinned(REQUIREMENTS / "test.lock", here_only=True).items():
        assert importlib.metadata.version(name) == version, name


FEATURE_PACKAGES = {"postgres": "dagster-postgres", "uv": "uv", "docker": "dagster-docker", "k8s": "dagster-k8s"}
COMBINATIONS = [
    pytest.param(features, id=load_lock_script().lock_key(features))
    for n in range(len(FEATURE_PACKAGES) + 1)
    for features in itertools.combinations(sorted(FEATURE_PACKAGES), n)
]


def test_the_hook_and_the_lock_script_name_the_same_features():
    hook = (TEMPLATE / "hooks/post_gen_project.py").read_text()
    in_hook = set(re.findall(r'^    "([a-z0-9_]+)": ANSWERS\[', hook, re.MULTILINE))
    assert in_hook == set(load_lock_script().FEATURES) == set(FEATURE_PACKAGES)
    assert {param.values[0] for param in COMBINATIONS} == {
        features
        for n in range(len(in_hook) + 1)
        for features in itertools.combinations(sorted(in_hook), n)
    }


@pytest.mark.parametrize("features", COMBINATIONS)
def test_each_bake_ships_the_lock_of_its_answers(tmp_path: Path, features: tuple[str, ...]):
    repo = bake(tmp_path / "bake", **load_lock_script().answers_for(features) | {"project_slug": "zeta.Data_platform"})
    assert not (repo / ".locks").exists()
    packages = uv_lock_packages(repo)
    for feature, package in FEATURE_PACKAGES.items():
        assert (package in packages) == (feature in features), package
    assert ("psycopg2-binary" in packages) == ("postgres" in features)  # a transitive package
    assert packages["zeta-data-platform"]["source"] == {"editable": "."}
    # Exact versions, and a hash for every file uv may install.
    for name, entry in packages.items():
        if entry["source"].get("registry"):
            artifacts = [entry.get("sdist"), *entry.get("wheels", [])]
            assert all(artifact["hash"].startswith("sha256:") for artifact in artifacts if artifact), name
    assert_uv_accepts_the_lock_offline(repo, tmp_path)

    # The same versions the template's own tests import.
    tested = pinned(REQUIREMENTS / "test.lock")
    differing = {
        name: (package["version"], tested[name])
        for name, package in packages.items()
        if name in tested and package["version"] != tested[name]
    }
    assert differing == {}


def test_the_lock_follows_the_slug_whatever_its_position_in_name_order(tmp_path: Path):
    """uv keeps the project among the packages in name order; the hook moves it there."""
    for slug in ("aaa-platform", "mmm-platform", "zzz-platform"):
        repo = bake(tmp_path / slug, project_slug=slug)
        names = list(uv_lock_packages(repo))
        assert names == sorted(names), slug
        assert_uv_accepts_the_lock_offline(repo, tmp_path)


def test_every_install_of_a_baked_repo_goes_through_a_lock(default_repo: Path):
    makefile = (default_repo / "Makefile").read_text()
    assert "sync --quiet --locked" in makefile
    assert "--require-hashes -r tools.lock" in makefile
    workflow = (default_repo / ".github/workflows/checks.yml").read_text()
    assert "uv sync --locked --only-group check" in workflow
    assert "--require-hashes -r tools.lock" in workflow
    assert pinned(default_repo / "tools.lock")["uv"] == pinned(REQUIREMENTS / "bake.lock")["uv"]
