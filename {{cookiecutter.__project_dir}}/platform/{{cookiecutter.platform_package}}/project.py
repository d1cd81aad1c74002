{%- set company = cookiecutter.__project_class.removesuffix('Project') -%}
"""The company platform: the targets practitioners may name, and their defaults.

This is the platform owner's file. It follows the Nope tutorial's pattern: a target's nested
`InvocationTargetManifest` / `AssetManifest` classes override properties, and `super()` gives
what the manifest file says. The default owners and kind tag come from `settings.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from nope import (
    MINIMAL_ENVIRONMENT,
    NopeAssetManifest,
    NopeInvocationTarget,
    NopeInvocationTargetManifest,
    NopeProject,
    NopeSubprocessInvocationTarget,
    Problem,
)
{%- if cookiecutter.__include_modal == "yes" %}
from nope.modal_target import NopeModalInvocationTarget
{%- endif %}
{%- if cookiecutter.__include_uv == "yes" %}
from nope.uv_target import NopeUvInvocationTarget
{%- endif %}

from nope.platform_settings import check_settings

from {{ cookiecutter.platform_package }} import settings
from {{ cookiecutter.platform_package }}.settings import (
    DEFAULT_KIND,
    DEFAULT_OWNERS,
    REPOSITORY_BRANCH,
    REPOSITORY_URL,
    SCRIPT_ENV_PASSTHROUGH,
    SCRIPT_ENV_REFERENCES,
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
{%- if cookiecutter.__include_uv == "yes" %}


class {{ company }}UvInvocationTarget(NopeUvInvocationTarget):
    """`target: uv`: the script runs with `uv run --script`, with the dependencies it declares."""

    InvocationTargetManifest = {{ company }}InvocationTargetManifest
    AssetManifest = {{ company }}AssetManifest
    passed_through_environment = (*MINIMAL_ENVIRONMENT, *SCRIPT_ENV_PASSTHROUGH)
    env_references = tuple(SCRIPT_ENV_REFERENCES)
{%- endif %}
{%- if cookiecutter.__include_modal == "yes" %}


class {{ company }}ModalInvocationTarget(NopeModalInvocationTarget):
    """`target: modal`: the script runs on Modal, in the environment named after the git branch."""

    class InvocationTargetManifest({{ company }}InvocationTargetManifest):
        kind = "modal"

    AssetManifest = {{ company }}AssetManifest
    passed_through_environment = (*MINIMAL_ENVIRONMENT, *SCRIPT_ENV_PASSTHROUGH)
    env_references = tuple(SCRIPT_ENV_REFERENCES)
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
        }

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
    def git_repository(cls) -> tuple[str, str] | None:
        return (REPOSITORY_URL, REPOSITORY_BRANCH) if REPOSITORY_URL else None
