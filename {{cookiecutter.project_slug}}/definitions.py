"""The Dagster code location: every manifest under defs/ becomes assets.

Served by `dagster dev` (see workspace.yaml) or `dagster dev -f definitions.py`.
"""

from pathlib import Path

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }}

defs = {{ cookiecutter.__project_class }}.make_definitions(defs_path=Path(__file__).resolve().parent / "defs")
