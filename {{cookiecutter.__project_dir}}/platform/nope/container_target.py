"""What the container targets (`docker`, `k8s`) share: the script runs inside this repository's image.

The Dockerfile copies the repository to IMAGE_WORKING_DIRECTORY, so a script's path inside the
image is its path below the repository root, under that folder, and its interpreter is the
image's own, found by name: the platform's paths (its Python, its PATH) mean nothing there.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from nope.script_environment import CONTAINER_ENVIRONMENT
from nope.targets import NopeSubprocessInvocationTarget

IMAGE_WORKING_DIRECTORY = "/opt/dagster/app"
"""Where this repository's Dockerfile puts the repository: scripts run from there, as at home."""


class NopeContainerInvocationTarget(NopeSubprocessInvocationTarget):
    """Base of the targets whose script runs in a container of an image holding this repository."""

    interpreters: ClassVar[dict[str, list[str]]] = {".py": ["python"], ".sh": ["bash"], ".r": ["Rscript"], ".js": ["node"]}
    passed_through_environment = CONTAINER_ENVIRONMENT

    def command(self) -> list[str]:
        """The interpreter, the script's path inside the image, then the manifest's `args`."""
        interpreter = self.interpreters.get(self.script_path.suffix.lower(), [])
        inside_image = Path(IMAGE_WORKING_DIRECTORY) / self.script_path.relative_to(self.repo_root)
        return [*interpreter, str(inside_image), *self.manifest.args]
