"""How a run's process finds Dagster in each deployment, with no virtualenv activated anywhere.

- `make dev` (the `local` deployment): the repository's run launcher starts each run as
  `<the code location's python> -m dagster api execute_run`, so no PATH is involved
  (platform/nope/run_launcher.py; tests/test_webserver.py launches a run from the UI of a
  `make dev` typed in a user's shell).
- Docker and Kubernetes: Dagster's own DockerRunLauncher and K8sRunLauncher start a container
  or pod of the code location's image with a bare `dagster api execute_run ...` (the entry
  point the image's code server reports). It is found because the image's PATH leads to the
  virtualenv `uv sync` filled, and nothing between the image and the run's container sets
  another PATH. tests/test_docker.py checks a real run container's command and PATH.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from conftest import bake

# Every file that configures the containers a deployment runs (the run's container included).
RUN_CONTAINER_SETTINGS = {
    "docker": ["compose.yaml", "deploy/docker/dagster.yaml"],
    "kubernetes": ["deploy/helm/values.yaml"],
}


def image_environment(dockerfile: str) -> dict[str, str]:
    """The variables the Dockerfile's `ENV KEY=value ...` instructions set."""
    variables: dict[str, str] = {}
    for instruction in dockerfile.replace("\\\n", " ").splitlines():
        if instruction.startswith("ENV "):
            for item in shlex.split(instruction.removeprefix("ENV ")):
                name, _, value = item.partition("=")
                variables[name] = value
    return variables


@pytest.mark.parametrize("deployment", ["docker", "kubernetes"])
def test_the_images_path_leads_run_workers_to_the_locked_virtualenv(tmp_path: Path, deployment: str):
    repo = bake(tmp_path, deployment=deployment, dagster_storage="postgres")
    dockerfile = (repo / "Dockerfile").read_text()
    variables = image_environment(dockerfile)
    first_on_path = variables["PATH"].split(":")[0]
    assert first_on_path == variables["UV_PROJECT_ENVIRONMENT"] + "/bin"  # where `uv sync` installs
    assert '"dagster", "code-server", "start"' in dockerfile  # the code server is found the same way
    for relative in RUN_CONTAINER_SETTINGS[deployment]:
        assert not re.search(r"\bPATH\b", (repo / relative).read_text()), f"{relative} sets a PATH of its own"
