"""The company's customizations of the Nope loader (see project.py)."""

from __future__ import annotations

from {{ cookiecutter.platform_package }}.project import {{ cookiecutter.__project_class }}

__all__ = ["{{ cookiecutter.__project_class }}"]
