"""The typed shape of a manifest file: what practitioners may write, checked by pydantic.

These models are the single source of truth for validation, for `nope check` and for the
JSON Schema editors use. A platform owner adds or narrows keys by subclassing them on a
target (`class Model(NopeAssetManifest.Model): ...`); the schema follows automatically.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from string import Template
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from nope import dagster_rules, freshness, run_limits
from nope.problems import did_you_mean

NAME_PATTERN = r"^[A-Za-z0-9_]+$"
"""Dagster's rule for group and asset names: letters, digits and underscores."""


def is_name(text: str) -> bool:
    """Whether `text` is a whole name by NAME_PATTERN. `re.fullmatch`, as `$` alone would also
    accept a name ending in a newline, which Dagster refuses (pydantic's patterns are anchored
    at the very end already)."""
    return re.fullmatch(NAME_PATTERN, text) is not None


def name_suggestion(text: str) -> str:
    """`text` made into a name that fits NAME_PATTERN (`daily-revenue` -> `daily_revenue`); may be empty.

    The one rule behind every "try `x`" and "did you mean `x`?" for group, asset and folder names.
    """
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")


def default_asset_key(group: str, asset_name: str) -> str:
    """The key of an asset that sets no `key:`: `<group>/<asset name>`.

    The one rule for it: the loader, `nope check`, `nope new`, and the guess at what a broken
    manifest would define (a dep on that key is a consequence of its problems, not a second mistake).
    """
    return f"{group}/{asset_name}"


RESERVED_GROUP = "broken_manifests"
"""Lenient mode's group and key prefix for placeholders: no folder or `key:` may use it."""

ASSET_KEY_PATTERN = r"^[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*$"
# Emails as Dagster reads them (`is_valid_email`): a letter, digit or `_` first, a top-level domain of 2-7 letters.
OWNER_PATTERN = r"^(team:[A-Za-z0-9_.\-]+|[A-Za-z0-9_][A-Za-z0-9._%+\-]*@[A-Za-z0-9.\-]+\.[A-Za-z]{2,7})$"
TAG_KEY_PATTERN = r"^([A-Za-z0-9_.\-]{1,63}/)?[A-Za-z0-9_.\-]{1,63}$"
TAG_VALUE_PATTERN = r"^[A-Za-z0-9_.\-]{0,63}$"

AssetName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
AssetKeyPath = Annotated[
    str,
    StringConstraints(pattern=ASSET_KEY_PATTERN),
    Field(description="A fully qualified asset key with slashes, e.g. `group_a/asset_one`."),
]
Owner = Annotated[
    str,
    StringConstraints(pattern=OWNER_PATTERN),
    Field(description="An email address or a team written `team:<name>`."),
]


def _not_dagsters_tag(key: str) -> str:
    if key.startswith("dagster/"):
        raise ValueError("tag keys starting with `dagster/` are Dagster's own; use another prefix")
    return key


def _dagster_metadata_fits(metadata: dict[str, Any]) -> dict[str, Any]:
    for key, value in metadata.items():
        problem = dagster_rules.metadata_key_problem(key, value)
        if problem:
            raise ValueError(problem)
    return metadata


def _each_dep_once(deps: list[str]) -> list[str]:
    twice = sorted(dep for dep, count in Counter(deps).items() if count > 1)  # one pass: `deps.count` per dep took 27 s at 48,000
    if twice:
        raise ValueError(f"lists {', '.join(f'`{dep}`' for dep in twice)} more than once; keep one")
    return deps


def _cron_dagster_reads(cron: str) -> str:
    problem = dagster_rules.cron_problem(cron)
    if problem:
        raise ValueError(problem)
    return cron


TagKey = Annotated[str, StringConstraints(pattern=TAG_KEY_PATTERN), AfterValidator(_not_dagsters_tag)]
TagValue = Annotated[str, StringConstraints(pattern=TAG_VALUE_PATTERN)]
CRON_PATTERN = r"^\S+(\s+\S+){4}$"
POOL_PATTERN = r"^[A-Za-z0-9_.\-]+$"
KIND_PATTERN = r"^[A-Za-z0-9_.\-]{1,63}$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
LOADER_VARIABLE_PREFIXES = ("LD_", "DYLD_")
"""The dynamic loader's variables (Linux, macOS): set for a script, they would load code into it and
into whatever else starts with its environment."""


def _number_as_text(value: Any) -> Any:
    """`PORT: 5432` and `args: [--days, 7]` mean text to a shell; accept numbers as text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_number_as_text)]

PassedText = Annotated[Text, AfterValidator(run_limits.refuse_unpassable_text)]
"""An argument or environment value: text a process can be given (no NUL, not too long)."""


def _not_a_file_name_with_nul(script: str) -> str:
    if "\0" in script:
        raise ValueError("holds a NUL byte (\\0), which no file name can; remove it")
    return script


def _env_references_are_well_formed(env: dict[str, str]) -> dict[str, str]:
    for name, value in env.items():
        if name.startswith(LOADER_VARIABLE_PREFIXES):
            raise ValueError(
                f"`{name}`: variables named `LD_*` or `DYLD_*` change how programs load (which libraries "
                "run inside them); a manifest may not set them. Ask the platform owner if a script needs one."
            )
        if not Template(value).is_valid():
            raise ValueError(f"`{name}`: write `${{VAR}}` to use a platform variable and `$$` for a literal `$`")
    return env


Env = Annotated[
    dict[Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)], PassedText],
    # On the type, not the model, so `_group.yaml` (whose model copies the field) is checked too.
    AfterValidator(_env_references_are_well_formed),
]

NotABoolean = BeforeValidator(run_limits.refuse_boolean)
TimeoutSeconds = Annotated[
    float,
    Field(gt=0),
    NotABoolean,
    AfterValidator(run_limits.seconds_at_most(run_limits.MAX_TIMEOUT_SECONDS, "7 days")),
]
DelaySeconds = Annotated[
    float,
    NotABoolean,
    AfterValidator(run_limits.seconds_at_most(run_limits.MAX_RETRY_DELAY_SECONDS, "1 day")),
]
# Each field of these types states its limit as `maximum` too, for editors; `nope check` words it itself.


class NopeModel(BaseModel):
    """Base of every manifest model: unknown keys are mistakes, not silently ignored."""

    # No `.inf` or `.nan`: a timeout or retry delay must be a real number of seconds.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)


def _known_time_zone(timezone: str) -> str:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        suggestion = did_you_mean(timezone, _time_zone_names())
        raise ValueError(f"`{timezone}` is not a time zone name such as `UTC` or `Europe/Paris`.{suggestion}") from None
    return timezone


@functools.cache
def _time_zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


TimeZone = Annotated[str, AfterValidator(_known_time_zone)]
Cron = Annotated[str, StringConstraints(pattern=CRON_PATTERN), AfterValidator(_cron_dagster_reads)]


class CronAutomation(NopeModel):
    """Materialize on a cron schedule (once upstream assets have updated since the tick)."""

    cron: Cron = Field(
        description="Five cron fields, e.g. `0 6 * * *` for 06:00 every day."
    )
    timezone: TimeZone = Field("UTC", description="IANA time zone of the cron, e.g. `Europe/Paris`.")


def _automation_form(value: Any) -> str:
    return "rule" if isinstance(value, str) else "cron"


# Tagged so that a wrong cron is reported as a wrong cron, not also as "not a rule name".
Automation = Annotated[
    Annotated[str, Tag("rule")] | Annotated[CronAutomation, Tag("cron")],
    Discriminator(_automation_form),
]


def _duration(text: Any) -> Any:
    freshness.duration_seconds(text)  # raises, saying how to write one
    return text


DURATION_PATTERN = freshness.DURATION_PATTERN
Duration = Annotated[
    str,
    BeforeValidator(_duration),  # says what is wrong in words; the pattern is for editors
    Field(examples=["26h", "90m", "1h30m", "2d"], json_schema_extra={"pattern": DURATION_PATTERN}),
]


class FreshnessFields(NopeModel):
    """How late the asset may be: Dagster's freshness policy, shown in the UI and evaluated by its daemon."""

    max_lag: Duration = Field(
        description="Fresh when materialized within this long, e.g. `26h`. With `cron:`, within this long before each deadline."
    )
    warn_after: Duration | None = Field(
        None, description="Shown as a warning once the last materialization is older than this (shorter than `max_lag`)."
    )
    timezone: TimeZone = Field("UTC", description="IANA time zone of `cron:`, e.g. `Europe/Berlin`.")
    cron: Cron | None = Field(
        None, description="A deadline: materialized within `max_lag` before each tick, e.g. `0 9 * * *` (by 09:00)."
    )

    @field_validator("warn_after")
    @classmethod
    def _warns_before_failing(cls, warn_after: str | None, info: ValidationInfo) -> str | None:
        max_lag = info.data.get("max_lag")
        if warn_after and max_lag and freshness.duration_seconds(warn_after) >= freshness.duration_seconds(max_lag):
            raise ValueError(f"`{warn_after}` is not shorter than `max_lag: {max_lag}`; warn earlier, or leave it out")
        return warn_after

    @field_validator("cron")
    @classmethod
    def _each_deadline_has_its_window(cls, cron: str | None, info: ValidationInfo) -> str | None:
        max_lag, timezone = info.data.get("max_lag"), info.data.get("timezone")
        if cron is None or not max_lag or not timezone:
            return cron
        if info.data.get("warn_after"):
            raise ValueError("Dagster's cron freshness has no warning: leave out `warn_after`, or `cron`")
        gap = freshness.shortest_cron_gap_seconds(cron, timezone)
        if freshness.duration_seconds(max_lag) > gap:
            raise ValueError(
                f"`max_lag: {max_lag}` is longer than the {freshness.in_words(gap)} between two ticks of `{cron}` "
                f"in {timezone}; with `cron:`, `max_lag` is the window before each deadline: write at most "
                f"`{freshness.in_words(gap)}`, or leave out `cron:` for a rolling `max_lag`"
            )
        return cron


def _freshness_form(value: Any) -> str:
    return FRESHNESS_FORMS[0] if isinstance(value, str) else FRESHNESS_FORMS[1]


FRESHNESS_FORMS = ("policy", "fields")
"""The tags of `Freshness`'s two forms: pydantic puts them in an error's path, where they are no YAML key."""

# Tagged, as `Automation` is, so a wrong duration is not also reported as "not a policy name".
Freshness = Annotated[
    Annotated[str, Tag(FRESHNESS_FORMS[0])] | Annotated[FreshnessFields, Tag(FRESHNESS_FORMS[1])],
    Discriminator(_freshness_form),
]


class Retries(NopeModel):
    """How often a failed run of the script is tried again."""

    max: Annotated[int, NotABoolean] = Field(ge=1, le=100, description="How many times to retry after a failure.")
    delay: DelaySeconds = Field(
        0,
        ge=0,
        description="Seconds to wait before each retry, at most a day.",
        json_schema_extra={"maximum": run_limits.MAX_RETRY_DELAY_SECONDS},
    )
    backoff: Literal["constant", "exponential"] = Field(
        "constant", description="`exponential` doubles the delay after each failure."
    )

    @model_validator(mode="after")
    def _last_wait_within_a_day(self) -> Retries:
        if self.backoff == "exponential":
            wait = run_limits.exponential_wait_seconds(self.delay, self.max)
            if wait > run_limits.MAX_RETRY_DELAY_SECONDS:
                raise ValueError(
                    f"the last retry would wait {wait:,.0f} seconds; at most {run_limits.MAX_RETRY_DELAY_SECONDS:,} "
                    "(1 day): lower `max` or `delay`"
                )
        return self


class CheckFields(NopeModel):
    """An asset check the script reports through Pipes (`report_asset_check`)."""

    name: AssetName = Field(description="The check's name, as the script reports it.")
    asset: AssetName | None = Field(
        None, description="The asset checked, by name in this manifest. Optional with a single asset."
    )
    description: str | None = Field(None, description="Shown in the Dagster UI with the check's result.")
    blocking: bool = Field(False, description="A failed blocking check stops downstream assets from running.")


class AssetFields(NopeModel):
    """What describes one asset. At the top level of a manifest, these are defaults for all its assets."""

    description: str | None = Field(None, description="Shown in the Dagster UI above the script's source.")
    deps: Annotated[list[AssetKeyPath], AfterValidator(_each_dep_once)] = Field(
        default_factory=list, description="Upstream assets, fully qualified: `group/asset`."
    )
    owners: list[Owner] = Field(default_factory=list, description="Emails or `team:<name>` entries.")
    tags: dict[TagKey, TagValue] = Field(
        default_factory=dict,
        description="Key-value labels. The tag `kind` becomes a Dagster kind badge.",
        # pydantic's schema only describes matching keys; editors should also flag the others.
        json_schema_extra={"propertyNames": {"pattern": TAG_KEY_PATTERN}},
    )
    kinds: list[Annotated[str, StringConstraints(pattern=KIND_PATTERN)]] = Field(
        default_factory=list, description="Kind badges shown in the asset graph, e.g. `python`, `csv`."
    )
    metadata: Annotated[dict[str, Any], AfterValidator(_dagster_metadata_fits)] = Field(
        default_factory=dict,
        description="Free-form metadata shown in the UI. Of the `dagster/` keys, only those Dagster documents "
        "as plain values (`dagster/table_name`, `dagster/row_count`, ...).",
    )
    key: AssetKeyPath | None = Field(
        None, description="An explicit asset key (advanced). Default: `<group>/<asset name>`."
    )
    automation: Automation | None = Field(
        None,
        description="When Dagster materializes the asset by itself: `{cron: ...}`, or a rule the platform "
        "publishes by name (e.g. `eager`).",
    )
    freshness: Freshness | None = Field(
        None,
        description="How late the asset may be before its owners hear of it: `{max_lag: 26h}`, or a policy "
        "the platform publishes by name.",
    )


class TargetFields(NopeModel):
    """What describes the invocation: which target runs which script."""

    target: str = Field(description="How the script is run, e.g. `subprocess`.")
    script: Annotated[str, AfterValidator(_not_a_file_name_with_nul)] | None = Field(
        None,
        description="The script, relative to this manifest. Default: the sibling file named like the manifest.",
    )
    args: list[PassedText] = Field(default_factory=list, description="Extra command-line arguments for the script.")
    env: Env = Field(
        default_factory=dict,
        description="Extra environment variables; `${VAR}` in a value is replaced by the platform's `VAR`. "
        "Not `LD_*` or `DYLD_*`, which change how programs load.",
    )
    timeout: TimeoutSeconds | None = Field(
        None,
        description="Seconds the script may run, at most a week; past that it is stopped and the run fails.",
        json_schema_extra={"maximum": run_limits.MAX_TIMEOUT_SECONDS},
    )
    retries: Retries | None = Field(None, description="Retry a failed run, e.g. `{max: 3, delay: 10}`.")
    partitions: str | None = Field(None, description="A partitions definition the platform publishes, by name.")
    pool: Annotated[str, StringConstraints(pattern=POOL_PATTERN)] | None = Field(
        None, description="A Dagster concurrency pool limiting parallel runs."
    )
    checks: list[CheckFields] = Field(default_factory=list, description="Asset checks the script reports.")

    @field_validator("args", "env")
    @classmethod
    def _args_and_env_fit_one_process(cls, value: Any, info: ValidationInfo) -> Any:
        # `env` is validated after `args` and counts both, so the problem points at the line that tips it.
        args, env = (value, {}) if info.field_name == "args" else (info.data.get("args", []), value)
        problem = run_limits.total_problem(args, env)
        if problem:
            raise ValueError(problem)
        return value


class ManifestFields(TargetFields, AssetFields):
    """A whole manifest file: the target's fields, the asset fields, and `assets:` for several.

    The type of every manifest's validated `values`. The model that validates a file is built
    per target name (`manifest_model`) on top of this one, with the target's own `Model`s.
    """

    assets: dict[AssetName, AssetFields] | None = None

    @model_validator(mode="after")
    def _top_level_key_names_one_asset(self) -> ManifestFields:
        if self.assets and self.key is not None:
            raise ValueError(
                "`key:` at the top level names a single asset; with `assets:`, set `key:` under each asset"
            )
        return self


@functools.cache
def manifest_model(
    target_name: str, target_fields: type[TargetFields], asset_fields: type[AssetFields]
) -> type[ManifestFields]:
    """The full model of a manifest file for one target name.

    Top level = the target's fields + the asset fields (single-asset form, or defaults for
    every asset) + an optional `assets:` mapping of asset name to asset fields.
    """
    title = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", target_name)) or "Target"
    # Field types computed at run time: pydantic builds the model from them; type checkers
    # know the result through `ManifestFields`.
    target_type: Any = Literal[target_name]
    assets_type: Any = dict[AssetName, asset_fields]  # type: ignore[valid-type]  # a class held in a variable
    # ManifestFields last: pydantic takes an inherited field from the first base that has it, and
    # a target's own `Model`s may narrow fields ManifestFields holds too. The plain models are
    # ManifestFields' own bases already (listing them first would make no valid class).
    own_models = [model for model in (target_fields, asset_fields) if model not in ManifestFields.__mro__]
    bases: tuple[Any, ...] = (*own_models, ManifestFields)
    return create_model(
        f"{title}Manifest",
        __base__=bases,
        __doc__=f"A manifest whose script is run by the `{target_name}` target.",
        target=(target_type, Field(description="How the script is run.")),
        # No `| None`: `assets:` left empty is a mistake to report, not a single-asset manifest.
        assets=(
            assets_type,
            Field(
                None,
                min_length=1,
                description="Several assets made by one run of the script, by name.",
                json_schema_extra={"propertyNames": {"pattern": NAME_PATTERN}},  # editors flag bad names too
            ),
        ),
    )


GROUP_DEFAULT_KEYS = (
    "description", "owners", "tags", "kinds", "metadata", "automation", "freshness",
    "env", "timeout", "retries", "partitions", "pool",
)  # fmt: skip
"""Keys `_group.yaml` may set for every manifest of its group (plus `target`)."""

# `(type, Field)` per key, as `create_model` takes them (types held in values: type checkers see Any).
_group_default_fields: dict[str, Any] = {
    "target": (str | None, Field(None, description="The target of manifests that name none.")),
    **{
        name: (field.annotation, field)
        for name, field in (AssetFields.model_fields | TargetFields.model_fields).items()
        if name in GROUP_DEFAULT_KEYS
    },
}
GroupDefaults = create_model(
    "GroupDefaults",
    __base__=NopeModel,
    __doc__="`defs/<group>/_group.yaml`: defaults for every manifest in the group; a manifest's own value wins.",
    **_group_default_fields,
)
