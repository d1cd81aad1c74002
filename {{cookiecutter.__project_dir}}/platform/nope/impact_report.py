"""`nope diff`'s report in four forms: text for a terminal, JSON (a contract), markdown for a pull
request (tables and a Mermaid graph), and a Dagster asset selection for a run of what changed.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable

from nope.impact import Impact

FORMATS = ("text", "json", "markdown", "select")

KINDS = ("added", "modified", "removed", "downstream")

_MERMAID_CLASSES = {
    "added": "fill:#dcfce7,stroke:#15803d,color:#14532d",
    "modified": "fill:#fef3c7,stroke:#b45309,color:#78350f",
    "removed": "fill:#fee2e2,stroke:#b91c1c,color:#7f1d1d,stroke-dasharray:4 3",
    "downstream": "fill:#dbeafe,stroke:#1d4ed8,color:#1e3a8a",
}
"""Changed assets warm (green, amber, red), downstream ones blue: told apart at a glance."""


def render(impact: Impact, form: str) -> str:
    """The report as text ending in a newline, or "" (a `select` of no change)."""
    renderers: dict[str, Callable[[Impact], str]] = {
        "text": text,
        "json": as_json,
        "markdown": markdown,
        "select": selection,
    }
    return renderers[form](impact)


def kind_of(impact: Impact, key: str) -> str:
    if key in impact.added:
        return "added"
    if key in impact.modified:
        return "modified"
    return "removed" if key in impact.removed else "downstream"


def _keys(impact: Impact, kind: str) -> list[str]:
    return sorted(impact.modified) if kind == "modified" else list(getattr(impact, kind))


def text(impact: Impact) -> str:
    lines = [f"compared {impact.base[:12]} (the base) with the working tree"]
    for kind in KINDS:
        for key in _keys(impact, kind):
            aspects = f" ({', '.join(impact.modified[key])})" if kind == "modified" else ""
            lines.append(f"{kind:<10}  {key}{aspects}  {', '.join(impact.owners.get(key, [])) or '-'}")
    for problem in impact.problems:
        lines.append(f"problem ({problem['side']}): {_where(problem)}: {problem['message']}")
    counts = ", ".join(f"{len(_keys(impact, kind))} {kind}" for kind in KINDS)
    lines.append(counts if impact.selected or impact.removed else f"no asset changes ({counts})")
    return "\n".join(lines) + "\n"


def as_json(impact: Impact) -> str:
    return json.dumps(impact.as_json(), indent=2) + "\n"


def selection(impact: Impact) -> str:
    """One line for `dagster asset materialize --select` / `dg launch --assets`: keys joined by commas.

    Keys are written as the loader builds them (`AssetKey("group/asset".split("/"))`), which
    Dagster's selection reads back from `group/asset`. Removed assets cannot be run: left out.
    """
    return ",".join(impact.selected) + "\n" if impact.selected else ""


def markdown(impact: Impact) -> str:
    """A pull request comment: one table per kind of change, a Mermaid graph, then the problems."""
    parts = [f"### Assets this change touches\n\nCompared with `{impact.base[:12]}`."]
    if not (impact.selected or impact.removed):
        parts.append("No asset is added, removed or modified.")
    for kind in KINDS:
        keys = _keys(impact, kind)
        if not keys:
            continue
        rows = ["| Asset | Changed | Owners |" if kind == "modified" else "| Asset | Owners |"]
        rows.append("|---|---|---|" if kind == "modified" else "|---|---|")
        for key in keys:
            owners = ", ".join(f"`{_cell(owner)}`" for owner in impact.owners.get(key, [])) or "none"
            changed = f" {', '.join(f'`{aspect}`' for aspect in impact.modified[key])} |" if kind == "modified" else ""
            rows.append(f"| `{_cell(key)}` |{changed} {owners} |")
        parts.append(f"#### {kind.capitalize()} ({len(keys)})\n\n" + "\n".join(rows))
    if impact.selected or impact.removed:
        parts.append(mermaid(impact) + "\n\nGreen: added; amber: modified; red, dashed: removed; blue: downstream.")
    if impact.problems:
        listed = "\n".join(
            f"- {problem['side']}: `{_cell(_where(problem))}`: {_cell(problem['message'])}"
            for problem in impact.problems
        )
        parts.append(f"#### Problems ({len(impact.problems)})\n\n{listed}")
    return "\n\n".join(parts) + "\n"


def mermaid(impact: Impact) -> str:
    """A fenced Mermaid flowchart of the reported assets; node ids are `n0`, `n1`, ..., labels escaped."""
    shown = sorted({*impact.added, *impact.modified, *impact.removed, *impact.downstream})
    ids = {key: f"n{index}" for index, key in enumerate(shown)}
    lines = ["```mermaid", "flowchart LR"]
    for key in shown:
        kind = kind_of(impact, key)
        lines.append(f'  {ids[key]}["{_label(key)}"]:::{kind}')
    lines += [f"  {ids[upstream]} --> {ids[downstream]}" for upstream, downstream in impact.edges]
    lines += [f"  classDef {kind} {style}" for kind, style in _MERMAID_CLASSES.items()]
    lines.append("```")
    return "\n".join(lines)


def _label(text: str) -> str:
    """Text for inside a quoted Mermaid label: its own entity codes for quotes and markup characters."""
    return "".join(f"#{ord(char)};" if char in '"<>&#;`[]{}()|' else char for char in text)


def _cell(text: str) -> str:
    """Text for a markdown table cell or list item: no pipe, no newline, no HTML."""
    return html.escape(" ".join(str(text).split())).replace("|", "\\|").replace("`", "'")


def _where(problem: dict[str, object]) -> str:
    return f"{problem['path']}:{problem['line']}:{problem['column']}" if problem["line"] else str(problem["path"])
