"""Pydantic's validation errors, reworded for people who write manifests, not Python.

"String should match pattern '^(team:...)$'" helps nobody; "owner `bob` must be an email
address or `team:<name>`" does. Each rule below turns one kind of pydantic error into a
sentence that names the key and says how to fix it.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from nope import models
from nope.problems import did_you_mean

PATTERN_MEANING = {
    models.NAME_PATTERN: "a name of letters, digits and underscores only",
    models.ASSET_KEY_PATTERN: "an asset key written `group/asset` (letters, digits, underscores; slashes between parts)",
    models.OWNER_PATTERN: "an owner: an email address or `team:<name>`",
    models.TAG_KEY_PATTERN: "a tag key: up to 63 letters, digits, `_`, `-` or `.` (one optional `prefix/`)",
    models.TAG_VALUE_PATTERN: "a tag value: up to 63 letters, digits, `_`, `-` or `.`",
    models.CRON_PATTERN: "a cron of five fields, e.g. `0 6 * * *` (minute hour day month weekday)",
    models.ENV_NAME_PATTERN: "an environment variable name (letters, digits, underscores; not starting with a digit)",
    models.POOL_PATTERN: "a pool name: letters, digits, `_`, `-` or `.`",
    models.KIND_PATTERN: "a kind: up to 63 letters, digits, `_`, `-` or `.`",
    models.DURATION_PATTERN: "a duration: whole numbers with a unit (s, m, h, d, w), e.g. `26h`, `90m` or `1h30m`",
}
"""What each pattern of the models means, in words: `nope check`'s messages and the editor's
(`errorMessage` in nope.schema.json) both say it. A target module adds the patterns of its own keys."""

TYPE_MEANING = {
    "list_type": "a list, e.g. `[a, b]` or one `- item` per line",
    "dict_type": "a mapping of `key: value` lines",
    "model_type": "a mapping of `key: value` lines",
    "model_attributes_type": "a mapping of `key: value` lines",
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}
"""What a pydantic type error asked for, in words (the editor says the list and mapping ones too)."""


def dotted(loc: tuple[str | int, ...]) -> str:
    """`('assets', 'a', 'deps', 0)` -> `assets.a.deps[0]`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe(error: ErrorDetails, model: type[BaseModel]) -> tuple[tuple[str | int, ...], str]:
    """The YAML path an error points at, and a message a practitioner can act on."""
    loc = tuple(
        part
        for index, part in enumerate(error["loc"])
        if part != "[key]" and not (part in models.FRESHNESS_FORMS and error["loc"][index - 1] == "freshness")
    )
    kind = error["type"]
    value = error.get("input")
    where = dotted(loc)
    if kind == "invalid_key" or (kind == "string_type" and error["loc"][-1] == "[key]"):
        inside = f" under `{dotted(loc[:-1])}`" if loc[:-1] else ""
        return loc, f"the key `{value}`{inside} must be text: write a name, or put it in quotes"
    if kind == "too_short" and isinstance(value, dict):
        return loc, f"`{where}:` lists nothing; add at least one entry, or remove `{where}:`"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        key = str(loc[-1])
        return loc, f"unknown key `{key}`.{did_you_mean(key, allowed)} Allowed here: {', '.join(sorted(allowed))}"
    if kind == "missing":
        return loc, f"`{where}` is required"
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        meaning = PATTERN_MEANING.get(pattern, "the expected format")
        return loc, f"{where}: `{value}` is not {meaning}.{_fixed_spelling(pattern, str(value))}"
    if kind in TYPE_MEANING and value is None:
        return loc, f"`{where}:` has no value; write {TYPE_MEANING[kind]}, or remove the line"
    if kind in TYPE_MEANING:
        return loc, f"{where} must be {TYPE_MEANING[kind]}, not {_describe_value(value)}"
    if kind == "value_error":
        return loc, (f"{where}: " if where else "") + str(error["ctx"]["error"])
    return loc, f"{where}: {error['msg']}" if where else error["msg"]


def _fixed_spelling(pattern: str, value: str) -> str:
    """' Did you mean `x`?' with the value rewritten to fit the pattern, when that is a sure guess."""
    if pattern == models.OWNER_PATTERN and "@" not in value:
        guess = "team:" + re.sub(r"[^A-Za-z0-9_.\-]+", "-", value.removeprefix("team").strip(":- ")).strip("-")
    elif pattern == models.ASSET_KEY_PATTERN:
        guess = value.replace(".", "/") if "/" not in value else value
        guess = "/".join(models.name_suggestion(part) for part in guess.strip("/").split("/"))
    elif pattern == models.NAME_PATTERN:
        guess = models.name_suggestion(value)
    elif pattern in (models.TAG_KEY_PATTERN, models.TAG_VALUE_PATTERN, models.POOL_PATTERN, models.KIND_PATTERN):
        guess = re.sub(r"[^A-Za-z0-9_.\-]+", "_", value).strip("_")[:63]
    else:
        return ""
    return f" Did you mean `{guess}`?" if re.fullmatch(pattern, guess) and guess != value else ""


def _describe_value(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, str):
        return f"the text `{value}`"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"`{value}`"


def _allowed_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys the model accepts at `loc`, following nested models through `assets.<name>`."""
    for part in loc:
        if isinstance(part, int) or part not in model.model_fields:
            continue  # a dict key such as the asset name: stay on the value model
        annotation = model.model_fields[part].annotation
        nested = _nested_model(annotation)
        if nested is None:
            break
        model = nested
    return [name for name in model.model_fields]


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside `Model`, `dict[str, Model]` or `dict[str, Model] | None`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _nested_model(argument)
        if found is not None:
            return found
    return None
