"""Jinja extensions Cookiecutter loads from this template (`_extensions` in cookiecutter.json).

`QuietHookRefusals` changes no rendering. When `hooks/pre_gen_project.py` refuses the answers
it prints one line per problem and exits 1, and Cookiecutter then logs that exit with a Python
traceback of its own hook runner, which reads like a crash. This extension, loaded into the
Cookiecutter process before any hook runs, drops the traceback from that one log record: the
refusal stays one clear line per problem, plus Cookiecutter's one-line "Stopping generation".

`AnswersAreText` keeps answers from running as code. Cookiecutter renders every answer as a Jinja
template before any hook sees it (`company_name='{{ 7*7 }}'` arrives as `49`), and a Jinja
expression can reach Python's `os` through the globals of a function (`cycler.__init__.__globals__`):
an answer typed into a form (a developer portal) would run a command on the machine that bakes.
The pre-generation hook runs too late to stop that. This extension refuses an answer that holds
template syntax before anything is rendered, one line per answer, and makes the environment a
Jinja sandbox (`jinja2.sandbox`) besides, so that no expression, the template's own included,
reaches an attribute whose name starts with `_` or changes a list or a dict.
"""

from __future__ import annotations

import inspect
import json
import logging
from pathlib import Path
from typing import Any

from cookiecutter.environment import ExtensionLoaderMixin
from cookiecutter.exceptions import FailedHookException
from jinja2 import Environment
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range

TEMPLATE_SYNTAX = ("{{", "{%", "{#")
# Globals Jinja defines that this template does not use: functions whose `__globals__` were the
# classic way out of a template. The sandbox already refuses that way; without them there is no door.
UNUSED_GLOBALS = ("cycler", "joiner", "lipsum")
# The template's own expressions are the values of its cookiecutter.json, which sits beside this file.
COOKIECUTTER_JSON = Path(__file__).resolve().parent / "cookiecutter.json"


class _NoTracebackForRefusals(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], FailedHookException):
            record.exc_info = None
            record.exc_text = None
        return True


class QuietHookRefusals(Extension):
    """Installs the filter on Cookiecutter's hook logger, once per process."""

    _filter = _NoTracebackForRefusals()

    def __init__(self, environment):
        super().__init__(environment)
        hooks_logger = logging.getLogger("cookiecutter.hooks")
        if self._filter not in hooks_logger.filters:
            hooks_logger.addFilter(self._filter)


class AnswersRefused(FailedHookException):
    """Answers that hold template syntax.

    A `FailedHookException` because Cookiecutter's command line prints one as its message alone,
    without a traceback, as it does the pre-generation hook's refusal; callers of Cookiecutter's
    Python API already expect one for refused answers.
    """


class AnswersAreText(Extension):
    """Refuses answers that hold template syntax, then sandboxes the environment."""

    def __init__(self, environment: Environment):
        super().__init__(environment)
        _sandbox(environment)
        found = [_refusal(answer, value) for answer, value in _answers_of_this_bake().items() if _holds_template_syntax(answer, value)]
        if found:
            raise AnswersRefused("\n".join([*found, "Nothing was generated. Run cookiecutter again with corrected answers."]))


def _answers_of_this_bake() -> dict[str, Any]:
    """The answers of the Cookiecutter run that is making this environment.

    While prompting they are as given (over cookiecutter.json's values); the environments made
    afterwards (files, hooks) see them rendered, and check them again.

    Cookiecutter hands an extension only the environment. The answers are the `context` that
    Cookiecutter's environment class received: a local of `ExtensionLoaderMixin.__init__`, a few
    frames up while the environment loads its extensions, before anything is rendered (Cookiecutter
    and cruft both make every environment there). A Cookiecutter that makes it elsewhere stops
    the bake rather than rendering unchecked answers.
    """
    frame = inspect.currentframe()
    try:
        while frame is not None:
            if frame.f_code is ExtensionLoaderMixin.__init__.__code__:
                return dict(frame.f_locals["context"].get("cookiecutter", {}))
            frame = frame.f_back
    finally:
        del frame
    raise AnswersRefused(
        "error: this Cookiecutter passes answers in a way the template does not know, so it cannot check them; "
        "bake with the Cookiecutter of requirements/bake.lock (`make bake`)"
    )


def _holds_template_syntax(answer: str, value: Any) -> bool:
    """Whether Cookiecutter would render `value` (an answer, not the template's own expression) as code."""
    rendered = answer.startswith("__") or not answer.startswith("_")  # `_x` settings are never rendered
    return rendered and value != _template_values().get(answer) and any(
        syntax in text for text in _texts(value) for syntax in TEMPLATE_SYNTAX
    )


def _texts(value: Any) -> list[str]:
    """Every string in an answer: Cookiecutter renders the keys and items of dicts and lists too."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for pair in value.items() for item in pair for text in _texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []


def _template_values() -> dict[str, Any]:
    """cookiecutter.json as the template ships it, read when asked: `cruft update` checks out two commits in one folder."""
    return json.loads(COOKIECUTTER_JSON.read_text(encoding="utf-8"))


def _refusal(answer: str, value: Any) -> str:
    text = "".join(character if character.isprintable() else "?" for character in str(value))
    shown = text if len(text) <= 60 else f"{text[:57]}..."
    return (
        f"error: {answer}: `{shown}` holds template syntax (`{{{{`, `{{%` or `{{#`); answers are plain text, "
        "never rendered: give the text itself"
    )


def _sandbox(environment: Environment) -> None:
    """Give `environment`, in place, the rules of Jinja's `ImmutableSandboxedEnvironment`.

    Cookiecutter makes the environment, so the extension cannot choose its class: it swaps the
    class for one that puts the sandbox before Cookiecutter's own, and sets what the sandbox's
    `__init__` would have set. Templates compiled afterwards check every attribute, call and
    item lookup; attributes whose names start with `_` and methods that change a list or a dict
    are refused. A dict's keys stay reachable (`cookiecutter.__project_dir` is an item).
    """
    if environment.sandboxed:
        return
    sandboxed = (ImmutableSandboxedEnvironment, type(environment))
    environment.__class__ = type(f"Sandboxed{type(environment).__name__}", sandboxed, {})
    environment.globals["range"] = safe_range
    environment.binop_table = ImmutableSandboxedEnvironment.default_binop_table.copy()  # type: ignore[attr-defined]  # set by the sandbox's __init__, which does not run here
    environment.unop_table = ImmutableSandboxedEnvironment.default_unop_table.copy()  # type: ignore[attr-defined]  # likewise
    for name in UNUSED_GLOBALS:
        environment.globals.pop(name, None)
