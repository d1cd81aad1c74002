"""The platform's own defaults, checked like a manifest: with their file, line and column.

A default owner, kind tag or repository address in the platform package's `settings.py`
applies to every asset. A mistake there used to pass `nope check` and then stop Dagster
loading with a traceback; `check_settings` reports it as `platform/<pkg>/settings.py:7:5:
...` instead. It reads the module's values and finds their place in its source with `ast`,
so nothing here imports Dagster.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from nope import models
from nope.owner_channels import channel_problem
from nope.problems import Problem

URL_PATTERN = r"^https?://[^\s/]+(/\S*)?$"


def _owner_problem(owner: Any) -> str | None:
    if isinstance(owner, str) and re.fullmatch(models.OWNER_PATTERN, owner):
        return None
    return f"`{owner}` is not an owner: write an email address or `team:<name>`"


def _kind_problem(kind: Any) -> str | None:
    if isinstance(kind, str) and re.fullmatch(models.KIND_PATTERN, kind):
        return None
    return f"`{kind}` is not a kind tag: up to 63 letters, digits, `_`, `-` or `.`, e.g. `python`"


def _url_problem(url: Any) -> str | None:
    if url == "" or (isinstance(url, str) and re.fullmatch(URL_PATTERN, url)):
        return None
    return f"`{url}` is not a web address such as `https://github.com/acme/data-platform` (or \"\" for none)"


def _branch_problem(branch: Any) -> str | None:
    if isinstance(branch, str) and branch and not re.search(r"\s", branch):
        return None
    return f"`{branch}` is not a branch name"


# Setting -> (whether it is a list of values, the rule for one value).
RULES: dict[str, tuple[bool, Callable[[Any], str | None]]] = {
    "DEFAULT_OWNERS": (True, _owner_problem),
    "DEFAULT_KIND": (False, _kind_problem),
    "REPOSITORY_URL": (False, _url_problem),
    "REPOSITORY_BRANCH": (False, _branch_problem),
}


def check_settings(settings: ModuleType, repo_root: Path) -> list[Problem]:
    """Every problem in the settings this module defines (settings it does not define are skipped)."""
    path = Path(settings.__file__ or "settings.py")
    shown = path.relative_to(repo_root).as_posix() if path.is_relative_to(repo_root) else str(path)
    places = _value_nodes(path)
    problems = _team_channel_problems(settings, shown, places)
    for name, (is_list, rule) in RULES.items():
        if not hasattr(settings, name):
            continue
        value = getattr(settings, name)
        node = places.get(name)
        if is_list and not isinstance(value, list | tuple):
            problems.append(_problem(shown, node, f"{name} must be a list, e.g. [\"team:data-platform\"]"))
            continue
        items = list(enumerate(value)) if is_list else [(None, value)]
        for index, item in items:
            message = rule(item)
            if message:
                place = node.elts[index] if isinstance(node, ast.List | ast.Tuple) and index is not None and index < len(node.elts) else node
                problems.append(_problem(shown, place, f"{name}: {message}"))
    return problems


def _team_channel_problems(settings: ModuleType, shown: str, places: dict[str, ast.expr]) -> list[Problem]:
    """TEAM_CHANNELS: `team:<name>` -> a list of email addresses and `webhook:<VARIABLE>` entries."""
    if not hasattr(settings, "TEAM_CHANNELS"):
        return []
    value, node = settings.TEAM_CHANNELS, places.get("TEAM_CHANNELS")
    example = '{"team:sales": ["sales@acme.com", "webhook:NOPE_WEBHOOK_SALES"]}'
    if not isinstance(value, dict):
        return [_problem(shown, node, f"TEAM_CHANNELS must be a mapping, e.g. {example}")]
    problems = []
    for index, (team, entries) in enumerate(value.items()):
        place = node.values[index] if isinstance(node, ast.Dict) and index < len(node.values) else node
        if not (isinstance(team, str) and team.startswith("team:") and re.fullmatch(models.OWNER_PATTERN, team)):
            problems.append(_problem(shown, place, f"TEAM_CHANNELS: `{team}` is not a team: write `team:<name>`"))
        elif not isinstance(entries, list | tuple):
            problems.append(_problem(shown, place, f"TEAM_CHANNELS[{team!r}] must be a list, e.g. {example}"))
        else:
            problems += [
                _problem(shown, place, f"TEAM_CHANNELS[{team!r}]: {message}")
                for message in map(channel_problem, entries)
                if message
            ]
    return problems


def _value_nodes(path: Path) -> dict[str, ast.expr]:
    """Top-level `NAME = value` / `NAME: type = value` of the module: name -> value node."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):  # compiled-only module: report without a line
        return {}
    found: dict[str, ast.expr] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        else:
            continue
        if isinstance(target, ast.Name):
            found[target.id] = value
    return found


def _problem(shown: str, node: ast.expr | None, message: str) -> Problem:
    if node is None:
        return Problem(shown, 0, 0, message)
    return Problem(shown, node.lineno, node.col_offset + 1, message)
