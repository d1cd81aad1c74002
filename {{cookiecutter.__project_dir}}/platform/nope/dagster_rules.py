"""Values Dagster refuses when it builds or resolves assets, checked without importing Dagster.

What `nope check` accepts must load: otherwise a green pull request takes the whole code
location down. `nope check` runs in CI with PyYAML and pydantic only, so Dagster's rules are
restated here, each one at least as strict as Dagster's (`tests/test_dagster_rules.py`
generates manifests and holds these rules to what Dagster 1.13 accepts):

- cron strings (Dagster's vendored croniter): five fields with numbers or names in range, and
  a day of the month that some chosen month has (`0 0 31 4 *` would never run);
- metadata keys under `dagster/`, which Dagster reads itself with a type;
- output names (an asset key joined with `__`), which must not be a Python keyword or a name
  Dagster reserves;
- at most ten kinds per asset.
"""

from __future__ import annotations

import keyword
import re
from typing import Any

MAX_KINDS = 10
"""`AssetSpec` refuses more kinds than this ("Assets can have at most ten kinds currently")."""

RESERVED_NAMES = frozenset(
    ["context", "conf", "config", "meta", "arg_dict", "dict", "input_arg_dict", "output_arg_dict"]
    + ["int", "str", "float", "bool", "input", "output", "type", *keyword.kwlist]
)
"""Dagster's `DISALLOWED_NAMES` for op and output names (a test keeps the copy current)."""

_TEXT, _WHOLE_NUMBER = "text", "a whole number"
DAGSTER_METADATA = {
    "dagster/table_name": _TEXT,
    "dagster/relation_identifier": _TEXT,
    "dagster/storage_kind": _TEXT,
    "dagster/uri": _TEXT,
    "dagster/row_count": _WHOLE_NUMBER,
    "dagster/partition_row_count": _WHOLE_NUMBER,
}
"""The `dagster/` metadata keys a manifest may set, and what each must hold. Dagster validates
these when it resolves the asset graph; other `dagster/` keys hold objects YAML cannot write
(`dagster/column_schema`) or are set by the platform (`dagster/code_references`)."""


def metadata_key_problem(key: str, value: Any) -> str | None:
    """Why Dagster would refuse this metadata entry, or None."""
    if not key.startswith("dagster/"):
        return None
    wanted = DAGSTER_METADATA.get(key)
    if wanted is None:
        allowed = ", ".join(f"`{name}`" for name in DAGSTER_METADATA)
        return f"`{key}`: keys starting with `dagster/` are Dagster's own; use another prefix (allowed: {allowed})"
    fits = isinstance(value, str) if wanted == _TEXT else isinstance(value, int) and not isinstance(value, bool)
    return None if fits else f"`{key}` must be {wanted}, not `{value}`"


# (name, lowest, highest, names accepted for numbers) of the five cron fields, in order.
_CRON_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    ("weekday", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
_CRON_ITEM = re.compile(r"^(?:(\*)|(\w+)(?:-(\w+))?)(?:/(\d+))?$", re.ASCII)


def cron_problem(cron: str) -> str | None:
    """Why this is not a cron Dagster accepts, or None.

    Accepts the common subset of cron: per field a comma-separated list of `*`, `n` or `n-m`
    (numbers, or month and weekday names), each with an optional `/step`. Extensions such as
    `L`, `W`, `#`, `?` and `@daily` are refused although Dagster reads some of them.
    """
    fields = cron.split()
    if len(fields) != len(_CRON_FIELDS):
        return f"`{cron}` has {len(fields)} fields; a cron has five (minute hour day month weekday), e.g. `0 6 * * *`"
    values_by_field = []
    for text, (name, lowest, highest, names) in zip(fields, _CRON_FIELDS):
        values: set[int] = set()
        for item in text.split(","):
            match = _CRON_ITEM.match(item)
            if not match:
                return f"`{cron}`: the {name} field `{text}` is not a number, a range `a-b`, `*` or a step `/n`"
            star, start, end, step = match.groups()
            try:
                low = lowest if star else _cron_number(start, lowest, highest, names)
                high = highest if star else _cron_number(end or start, lowest, highest, names)
            except ValueError:
                spelled = f" or {names[0]}-{names[-1]}" if names else ""
                return f"`{cron}`: the {name} field `{text}` must be within {lowest}-{highest}{spelled}"
            if low > high:
                return f"`{cron}`: the {name} range `{item}` runs backwards; write the lower bound first"
            if step is not None and not 1 <= int(step) <= highest:
                return f"`{cron}`: the {name} step `/{step}` must be between 1 and {highest}"
            values.update(range(low, high + 1, int(step or 1)))
        values_by_field.append(values)
    _, _, days, months, _ = values_by_field
    if min(days) > max(_LONGEST_MONTH[month - 1] for month in months):
        # Refused whatever the weekday says: with one, cron would run on those weekdays instead,
        # which is not what a day of the month means to its reader.
        month_names = [_MONTH_NAMES[month - 1] for month in sorted(months)]
        which = month_names[0] if len(month_names) == 1 else f"{', '.join(month_names[:-1])} and {month_names[-1]}"
        return f"`{cron}` never runs: {which} {'has' if len(month_names) == 1 else 'have'} no day {' or '.join(map(str, sorted(days)))}"
    return None


# The most days each month can have (February: in leap years, when a `29 2` cron runs).
_LONGEST_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def _cron_number(text: str, lowest: int, highest: int, names: tuple[str, ...]) -> int:
    if text.lower() in names:
        return names.index(text.lower()) + (1 if lowest == 1 else 0)
    if not text.isdigit() or not lowest <= int(text) <= highest:
        raise ValueError(text)
    return int(text)


def cron_values(cron: str) -> list[set[int]]:
    """The numbers each of the five fields of a cron `cron_problem` accepts stands for (minutes, hours, ...)."""
    values_by_field = []
    for text, (_, lowest, highest, names) in zip(cron.split(), _CRON_FIELDS):
        values: set[int] = set()
        for item in text.split(","):
            star, start, end, step = _CRON_ITEM.match(item).groups()  # type: ignore[union-attr]  # checked by cron_problem
            low = lowest if star else _cron_number(start, lowest, highest, names)
            high = highest if star else _cron_number(end or start, lowest, highest, names)
            values.update(range(low, high + 1, int(step or 1)))
        values_by_field.append(values)
    return values_by_field


def output_name(key: str) -> str:
    """The name Dagster gives an asset's output in its multi-asset: the key's parts joined by `__`."""
    return key.replace("/", "__")
