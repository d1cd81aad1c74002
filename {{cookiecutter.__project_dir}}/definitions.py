"""The Dagster code location: every manifest under defs/ becomes assets.

Served by `dagster dev` (see workspace.yaml) or `dagster dev -f definitions.py`.

A mistake in defs/ stops loading with every problem listed. Production deployments set
NOPE_LENIENT=1 instead: valid manifests load, and each broken one shows in the UI's
`broken_manifests` group with its problems (see docs/platform/loading.md).
"""

from __future__ import annotations

import os
from pathlib import Path

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }}

defs = {{ cookiecutter.__project_class }}.make_definitions(
    defs_path=Path(__file__).resolve().parent / "defs",
    lenient=os.environ.get("NOPE_LENIENT") == "1",
)
