"""Nope: put practitioners' scripts into the Dagster asset graph with a small YAML manifest.

This package is vendored into the platform repository on purpose: platform owners read
and edit it. The names below are its public API.
"""

from __future__ import annotations

from nope.loading import LoadedDefs
from nope.manifests import NopeAssetManifest, NopeInvocationTargetManifest
from nope.problems import NopeManifestError, Problem
from nope.project import NopeProject
from nope.script_environment import MINIMAL_ENVIRONMENT
from nope.targets import NopeInvocationTarget, NopeSubprocessInvocationTarget

__all__ = [
    "MINIMAL_ENVIRONMENT",
    "LoadedDefs",
    "NopeAssetManifest",
    "NopeInvocationTarget",
    "NopeInvocationTargetManifest",
    "NopeManifestError",
    "NopeProject",
    "NopeSubprocessInvocationTarget",
    "Problem",
]
