{%- set company = cookiecutter.__project_class.removesuffix('Project') -%}
"""The company platform: the targets practitioners may name, and their defaults.

This is the platform owner's file. It follows the Nope tutorial's pattern: a target's nested
`InvocationTargetManifest` / `AssetManifest` classes override properties, and `super()` gives
what the manifest file says. The default owners and kind tag come from `settings.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, {% if cookiecutter.__include_docker == "yes" or cookiecutter.__include_k8s == "yes" %}Any, {% endif %}ClassVar

from nope import (
    MINIMAL_ENVIRONMENT,
    NopeAssetManifest,
    NopeInvocationTarget,
    NopeInvocationTargetManifest,
    NopeProject,
    NopeSubprocessInvocationTarget,
    Problem,
)
{%- if cookiecutter.__include_docker == "yes" %}
from nope.docker_target import NopeDockerInvocationTarget, NopeDockerInvocationTargetManifest
{%- endif %}
{%- if cookiecutter.__include_k8s == "yes" %}
from nope.k8s_target import NopeK8sInvocationTarget, NopeK8sInvocationTargetManifest
{%- endif %}
{%- if cookiecutter.__include_modal == "yes" %}
from nope.modal_target import NopeModalInvocationTarget
{%- endif %}
from nope.platform_settings import check_settings
{%- if cookiecutter.__include_docker == "yes" or cookiecutter.__include_k8s == "yes" %}
from nope.script_environment import CONTAINER_ENVIRONMENT
{%- endif %}
{%- if cookiecutter.__include_uv == "yes" %}
from nope.uv_target import NopeUvInvocationTarget
{%- endif %}

from {{ cookiecutter.platform_package }} import settings
from {{ cookiecutter.platform_package }}.settings import (
    DATA_LOCATION,
    DEFAULT_KIND,
    DEFAULT_OWNERS,
{%- if cookiecutter.__include_docker == "yes" %}
    DOCKER_DATA_VOLUME,
    DOCKER_IMAGE,
{%- endif %}
    ENVIRONMENTS_DATA_LOCATION,
{%- if cookiecutter.__include_k8s == "yes" %}
    K8S_DATA_VOLUME_CLAIM,
    K8S_IMAGE,
    K8S_NAMESPACE,
    K8S_RESOURCES,
{%- endif %}
    PRODUCTION_DATA_READ_ONLY,
    REPOSITORY_BRANCH,
    REPOSITORY_URL,
    SCRIPT_ENV_PASSTHROUGH,
    SCRIPT_ENV_REFERENCES,
    TEAM_CHANNELS,
)

if TYPE_CHECKING:
    import dagster as dg


class {{ company }}InvocationTargetManifest(NopeInvocationTargetManifest):
    """Every manifest shows a kind badge in the asset graph."""

    kind: ClassVar[str] = DEFAULT_KIND

    @property
    def tags(self) -> dict[str, str]:
        # The manifest's own `kind` tag, if any, wins over the platform default.
        return {"kind": self.kind, **super().tags}


class {{ company }}AssetManifest(NopeAssetManifest):
    """Every asset has an owner."""

    @property
    def owners(self) -> list[str]:
        # Owners in the manifest replace the default entirely; they are not merged.
        return super().owners or list(DEFAULT_OWNERS)


class {{ company }}SubprocessInvocationTarget(NopeSubprocessInvocationTarget):
    """`target: subprocess`: the script runs on the platform's machine through Dagster Pipes."""

    InvocationTargetManifest = {{ company }}InvocationTargetManifest
    AssetManifest = {{ company }}AssetManifest
    passed_through_environment = (*MINIMAL_ENVIRONMENT, *SCRIPT_ENV_PASSTHROUGH)
    env_references = tuple(SCRIPT_ENV_REFERENCES)
    data_location = DATA_LOCATION
    environments_data_location = ENVIRONMENTS_DATA_LOCATION
    production_data_read_only = PRODUCTION_DATA_READ_ONLY
{%- if cookiecutter.__include_uv == "yes" %}


class {{ company }}UvInvocationTarget(NopeUvInvocationTarget):
    """`target: uv`: the script runs with `uv run --script`, with the dependencies it declares."""

    InvocationTargetManifest = {{ company }}InvocationTargetManifest
    AssetManifest = {{ company }}AssetManifest
    passed_through_environment = (*MINIMAL_ENVIRONMENT, *SCRIPT_ENV_PASSTHROUGH)
    env_references = tuple(SCRIPT_ENV_REFERENCES)
    data_location = DATA_LOCATION
    environments_data_location = ENVIRONMENTS_DATA_LOCATION
    production_data_read_only = PRODUCTION_DATA_READ_ONLY
{%- endif %}
{%- if cookiecutter.__include_modal == "yes" %}


class {{ company }}ModalInvocationTarget(NopeModalInvocationTarget):
    """`target: modal`: the script runs on Modal, in the Modal environment of the run's environment."""

    class InvocationTargetManifest({{ company }}InvocationTargetManifest):
        kind = "modal"

    AssetManifest = {{ company }}AssetManifest
    passed_through_environment = (*MINIMAL_ENVIRONMENT, *SCRIPT_ENV_PASSTHROUGH)
    env_references = tuple(SCRIPT_ENV_REFERENCES)
    data_location = DATA_LOCATION
    environments_data_location = ENVIRONMENTS_DATA_LOCATION
    production_data_read_only = PRODUCTION_DATA_READ_ONLY
{%- endif %}
{%- if cookiecutter.__include_docker == "yes" %}


class {{ company }}DockerInvocationTarget(NopeDockerInvocationTarget):
    """`target: docker`: the script runs in a container of its own (this repository's image by default)."""

    class InvocationTargetManifest(NopeDockerInvocationTargetManifest, {{ company }}InvocationTargetManifest):
        kind = "docker"

    AssetManifest = {{ company }}AssetManifest
    passed_through_environment = (*CONTAINER_ENVIRONMENT, *SCRIPT_ENV_PASSTHROUGH)
    env_references = tuple(SCRIPT_ENV_REFERENCES)
    data_location = DATA_LOCATION
    environments_data_location = ENVIRONMENTS_DATA_LOCATION
    production_data_read_only = PRODUCTION_DATA_READ_ONLY
    image = DOCKER_IMAGE
    data_volume = DOCKER_DATA_VOLUME
{%- endif %}
{%- if cookiecutter.__include_k8s == "yes" %}


class {{ company }}K8sInvocationTarget(NopeK8sInvocationTarget):
    """`target: k8s`: the script runs in a Kubernetes pod of its own (this repository's image by default)."""

    class InvocationTargetManifest(NopeK8sInvocationTargetManifest, {{ company }}InvocationTargetManifest):
        kind = "kubernetes"

    AssetManifest = {{ company }}AssetManifest
    passed_through_environment = (*CONTAINER_ENVIRONMENT, *SCRIPT_ENV_PASSTHROUGH)
    env_references = tuple(SCRIPT_ENV_REFERENCES)
    data_location = DATA_LOCATION
    environments_data_location = ENVIRONMENTS_DATA_LOCATION
    production_data_read_only = PRODUCTION_DATA_READ_ONLY
    image = K8S_IMAGE
    namespace = K8S_NAMESPACE
    resources = K8S_RESOURCES
    data_volume_claim = K8S_DATA_VOLUME_CLAIM
{%- endif %}


class {{ cookiecutter.__project_class }}(NopeProject):
    """The project `definitions.py` builds; `invocation_target_map` names every target."""

    @classmethod
    def invocation_target_map(cls) -> dict[str, type[NopeInvocationTarget]]:
        return {
            "subprocess": {{ company }}SubprocessInvocationTarget,
{%- if cookiecutter.__include_uv == "yes" %}
            "uv": {{ company }}UvInvocationTarget,
{%- endif %}
{%- if cookiecutter.__include_modal == "yes" %}
            "modal": {{ company }}ModalInvocationTarget,
{%- endif %}
{%- if cookiecutter.__include_docker == "yes" %}
            "docker": {{ company }}DockerInvocationTarget,
{%- endif %}
{%- if cookiecutter.__include_k8s == "yes" %}
            "k8s": {{ company }}K8sInvocationTarget,
{%- endif %}
        }
{%- if cookiecutter.__include_docker == "yes" or cookiecutter.__include_k8s == "yes" %}

    @classmethod
    def default_resources(cls) -> dict[str, Any]:
        """The subprocess client, plus the Pipes clients of the container targets."""
{%- if cookiecutter.__include_docker == "yes" %}
        from dagster_docker import PipesDockerClient
{%- endif %}
{%- if cookiecutter.__include_k8s == "yes" %}
        from dagster_k8s import PipesK8sClient
{%- endif %}

        return {
            **super().default_resources(),
{%- if cookiecutter.__include_docker == "yes" %}
            "docker_client": PipesDockerClient(),
{%- endif %}
{%- if cookiecutter.__include_k8s == "yes" %}
            "k8s_client": PipesK8sClient(),
{%- endif %}
        }
{%- endif %}

    @classmethod
    def platform_problems(cls, repo_root: Path) -> list[Problem]:
        """`nope check` reports a bad default owner, kind tag or address in settings.py, with its line."""
        return check_settings(settings, repo_root)

    @classmethod
    def partitions(cls) -> dict[str, dg.PartitionsDefinition]:
        """Partitions practitioners may name in a manifest's `partitions:`; publish yours here."""
        import dagster as dg  # here, not at the top: `nope check` must not import Dagster

        return {
            "daily": dg.DailyPartitionsDefinition(start_date="2024-01-01"),
            "weekly": dg.WeeklyPartitionsDefinition(start_date="2024-01-01"),
            "monthly": dg.MonthlyPartitionsDefinition(start_date="2024-01-01"),
        }

    @classmethod
    def team_channels(cls) -> dict[str, list[str]]:
        """Where `team:<name>` owners hear of failed runs and late assets: settings.TEAM_CHANNELS."""
        return TEAM_CHANNELS

    @classmethod
    def git_repository(cls) -> tuple[str, str] | None:
        return (REPOSITORY_URL, REPOSITORY_BRANCH) if REPOSITORY_URL else None
