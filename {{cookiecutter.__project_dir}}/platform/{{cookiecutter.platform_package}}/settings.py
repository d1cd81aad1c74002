"""The answers given when this repository was generated, as plain data.

Edit them here; `project.py` reads them. (Rendered with `tojson`, so any text is safe.)
"""

from __future__ import annotations

import os

DEFAULT_OWNERS: list[str] = {{ cookiecutter.default_owners.split(',') | map('trim') | reject('equalto', '') | list | tojson }}
"""Owners of every asset whose manifest names none."""

DEFAULT_KIND: str = {{ cookiecutter.default_kind_tag | tojson }}
"""The kind badge every subprocess asset shows in the asset graph unless its manifest sets `kind`."""

REPOSITORY_URL: str = {{ cookiecutter.repository_url.strip().rstrip('/') | tojson }}
"""The repository on its git host; when set, every asset links to its script and manifest there."""

REPOSITORY_BRANCH: str = {{ cookiecutter.repository_branch | tojson }}
"""The branch those links point at."""

TEAM_CHANNELS: dict[str, list[str]] = {}
"""Who a `team:<name>` owner is: email addresses, and `webhook:<VARIABLE>` for a chat webhook whose
address the environment variable VARIABLE holds where Dagster runs (the address is a secret: never
here). E.g. {"team:sales-analytics": ["sales-data@acme.com", "webhook:NOPE_WEBHOOK_SALES"]}.
Owners hear of failed runs and late assets once a channel is set (docs/platform/notifications.md);
`nope check` warns about a team owner missing here."""

SCRIPT_ENV_PASSTHROUGH: list[str] = []
"""Platform variables every script sees, besides PATH, HOME, the locale variables, TZ and TMPDIR
(and what its target needs, e.g. `UV_*` for uv). Names or patterns such as "DBT_*". Anything not
listed (cloud keys, database passwords) stays with the platform."""

SCRIPT_ENV_REFERENCES: list[str] = []
"""Platform variables a manifest's `env:` may copy with `${VAR}` (names or patterns). Empty: none,
so a pull request cannot hand itself `${AWS_SECRET_ACCESS_KEY}`."""

DATA_LOCATION: str = os.environ.get("NOPE_DATA_LOCATION", "data/production")
"""Where production's scripts keep data that other steps read; each gets it as `NOPE_DATA_LOCATION`.
`data/production` (under this repository) on one machine; where every machine that runs steps reaches it in
production: {% if cookiecutter.deployment == "docker" %}compose.yaml sets `/opt/dagster/data`, a volume shared by every run container{% elif cookiecutter.deployment == "kubernetes" %}deploy/helm/values.yaml sets `/opt/dagster/data`, a volume claim mounted in every run pod{% else %}a shared volume, or an object-storage URL (`s3://bucket/prefix`){% endif %}.
The environment variable, where Dagster runs, overrides the value here. Only production (where
`NOPE_ENVIRONMENT=production` is set) writes here: see ENVIRONMENTS_DATA_LOCATION."""

ENVIRONMENTS_DATA_LOCATION: str = os.environ.get("NOPE_ENVIRONMENTS_DATA_LOCATION", "data")
"""Where every other environment (a branch, on a laptop or in CI) keeps its data instead: a folder per
environment below it, `data/feature-x`, given to its scripts as `NOPE_DATA_LOCATION`.
It must not overlap DATA_LOCATION (a run refuses to start if it does). The environment variable,
where Dagster runs, overrides the value here."""

PRODUCTION_DATA_READ_ONLY: str | None = os.environ.get("NOPE_PRODUCTION_DATA_LOCATION") or None
"""A read-only way to production's data for other environments' scripts, given to them as
`NOPE_PRODUCTION_DATA_LOCATION`, to read what their branch did not rebuild. Read-only by
construction or not at all: a read-only mount, or an object-storage URL whose credentials in
branch environments only read; a local folder the platform could write is refused. None: none."""
{%- if cookiecutter.__include_docker == "yes" %}

DOCKER_IMAGE: str | None = os.environ.get("NOPE_DOCKER_IMAGE") or os.environ.get("DAGSTER_CURRENT_IMAGE")
"""The image `target: docker` scripts run in unless their manifest names one: by default this
repository's own image (which holds every script under defs/), as the code location reports it."""

DOCKER_DATA_VOLUME: str | None = os.environ.get("NOPE_DOCKER_DATA_VOLUME")
"""The Docker volume holding DATA_LOCATION, mounted there in each `target: docker` container. None:
DATA_LOCATION is a folder of the Docker host, mounted at the same path."""
{%- endif %}
{%- if cookiecutter.__include_k8s == "yes" %}

K8S_IMAGE: str | None = os.environ.get("NOPE_K8S_IMAGE") or os.environ.get("DAGSTER_CURRENT_IMAGE")
"""The image `target: k8s` pods run unless their manifest names one: this repository's own by default."""

K8S_NAMESPACE: str = os.environ.get("NOPE_K8S_NAMESPACE", "dagster")
"""The namespace `target: k8s` pods run in unless their manifest names one."""

K8S_RESOURCES: dict[str, dict[str, str]] = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}
"""CPU and memory of each `target: k8s` pod unless its manifest sets `resources:`."""

K8S_DATA_VOLUME_CLAIM: str | None = os.environ.get("NOPE_K8S_DATA_VOLUME_CLAIM")
"""The PersistentVolumeClaim holding DATA_LOCATION, mounted there in each `target: k8s` pod. None:
no volume is mounted (DATA_LOCATION is then an object-storage URL the scripts write to)."""
{%- endif %}
