"""The answers given when this repository was generated, as plain data.

Edit them here; `project.py` reads them. (Rendered with `tojson`, so any text is safe.)
"""

DEFAULT_OWNERS: list[str] = {{ cookiecutter.default_owners.split(',') | map('trim') | reject('equalto', '') | list | tojson }}
"""Owners of every asset whose manifest names none."""

DEFAULT_KIND: str = {{ cookiecutter.default_kind_tag | tojson }}
"""The kind badge every subprocess asset shows in the asset graph unless its manifest sets `kind`."""

REPOSITORY_URL: str = {{ cookiecutter.repository_url.strip().rstrip('/') | tojson }}
"""The repository on its git host; when set, every asset links to its script and manifest there."""

REPOSITORY_BRANCH: str = {{ cookiecutter.repository_branch | tojson }}
"""The branch those links point at."""

SCRIPT_ENV_PASSTHROUGH: list[str] = []
"""Platform variables every script sees, besides PATH, HOME, the locale variables, TZ and TMPDIR
(and what its target needs, e.g. `UV_*` for uv). Names or patterns such as "DBT_*". Anything not
listed (cloud keys, database passwords) stays with the platform."""

SCRIPT_ENV_REFERENCES: list[str] = []
"""Platform variables a manifest's `env:` may copy with `${VAR}` (names or patterns). Empty: none,
so a pull request cannot hand itself `${AWS_SECRET_ACCESS_KEY}`."""
