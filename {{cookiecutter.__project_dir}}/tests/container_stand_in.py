"""A stand-in for a container or pod: runs the command it is given here, as the image would.

No Docker daemon or Kubernetes cluster is reachable from this repository's tests (the template's
own tests run the Docker deployment and the `docker` target for real). The stand-in records what
a target asks its Pipes client for, maps the image's paths back to this repository, and runs the
command through Dagster's Pipes subprocess client, so what the script reports still arrives.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

IMAGE_APP = "/opt/dagster/app"


class ContainerStandIn:
    """Accepts `PipesDockerClient.run` and `PipesK8sClient.run` keyword arguments."""

    def __init__(self, repo_root: Path):
        self.repo_root = repo_root
        self.calls: list[dict[str, Any]] = []

    def run(self, *, context: dg.AssetExecutionContext, command: Sequence[str], env: Mapping[str, str], **settings: Any):
        self.calls.append({"command": list(command), "env": dict(env), **settings})
        local = [sys.executable if part == "python" else part.replace(IMAGE_APP, str(self.repo_root)) for part in command]
        return dg.PipesSubprocessClient().run(context=context, command=local, env=dict(env), cwd=str(self.repo_root))
