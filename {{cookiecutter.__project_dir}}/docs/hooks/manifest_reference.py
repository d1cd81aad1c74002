"""Writes the manifest reference into docs/reference/manifest.md on every docs build.

The tables come from `nope.schema.json` and `nope.group.schema.json`, the files editors and
`nope check` already follow: the schema is generated from the targets' models (`nope schema`),
and both the template's post-generation hook (which removes the targets a repository did not
choose) and a platform owner (who adds keys or targets) change it. Rendered from it at build
time, the reference cannot drift from what a manifest may hold; `tests/test_docs.py` proves that
every key of both schemas reaches the built page with its description.

MkDocs runs this file as a hook (`hooks:` in mkdocs.yml). It needs the standard library only, so
Backstage TechDocs' builder runs it as `mkdocs build` does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PAGE = "reference/manifest.md"
MANIFEST_MARKER = "<!-- manifest keys -->"
GROUP_MARKER = "<!-- group keys -->"


def on_page_markdown(markdown: str, *, page: Any, config: Any, files: Any) -> str:
    """MkDocs' hook: fill the markers of the reference page; every other page is left alone."""
    if page.file.src_uri != PAGE:
        return markdown
    root = Path(config.config_file_path).parent
    manifest = json.loads((root / "nope.schema.json").read_text(encoding="utf-8"))
    group = json.loads((root / "nope.group.schema.json").read_text(encoding="utf-8"))
    for marker in (MANIFEST_MARKER, GROUP_MARKER):
        if marker not in markdown:
            raise ValueError(f"docs/{PAGE} lost its `{marker}` line: the generated tables go there")
    shown: set[str] = set()  # nested tables already rendered, so each appears once
    markdown = markdown.replace(MANIFEST_MARKER, manifest_reference(manifest, shown))
    return markdown.replace(GROUP_MARKER, group_reference(group, shown))


def manifest_reference(schema: dict[str, Any], shown: set[str]) -> str:
    """The keys every target accepts, then each target's own, then the keys inside them."""
    targets = {name: schema["$defs"][name] for name in schema["properties"]["target"]["enum"]}
    common = [
        key
        for key, spec in next(iter(targets.values()))["properties"].items()
        if key != "target" and all(same_key(model, key, spec) for model in targets.values())
    ]
    first = next(iter(targets.values()))
    # `target` itself, with every target's name, then the keys they all accept.
    every = {"properties": {"target": schema["properties"]["target"]}, "required": schema["required"]}
    every["properties"].update((key, first["properties"][key]) for key in common)
    lines = ["## Keys of every manifest", ""]
    nested: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    lines += key_table(every, list(every["properties"]), schema, nested, where=True)
    plain = []
    for name, model in targets.items():
        own = [key for key in model["properties"] if key != "target" and key not in common]
        if not own:
            plain.append(f"`{name}`")
            continue
        lines += ["", f"## Keys of `target: {name}` only", ""]
        lines += key_table(model, own, schema, nested, where=True)
    if plain:
        lines += ["", f"Targets with no keys of their own: {', '.join(plain)}."]
    lines += nested_tables(nested, shown)
    return "\n".join(lines)


def group_reference(schema: dict[str, Any], shown: set[str]) -> str:
    """The keys of `defs/<group>/_group.yaml`."""
    nested: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    lines = key_table(schema, list(schema["properties"]), schema, nested, where=False)
    return "\n".join(lines + nested_tables(nested, shown))


def same_key(model: dict[str, Any], key: str, spec: dict[str, Any]) -> bool:
    """Whether `model` accepts `key` with the same meaning as `spec` (then one row serves both)."""
    return key in model["properties"] and model["properties"][key].get("description") == spec.get("description")


def key_table(
    model: dict[str, Any],
    keys: list[str],
    root: dict[str, Any],
    nested: list[tuple[str, dict[str, Any], dict[str, Any]]],
    *,
    where: bool,
) -> list[str]:
    """One row per key: its name, where it may sit, the value it takes, and its description."""
    one_asset = asset_model(model, root)
    asset_keys = set(one_asset.get("properties", {})) if where else set()
    required = set(model.get("required", []))
    header = ["key", *(["where"] if where else []), "value", "meaning"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in keys:
        spec = model["properties"][key]
        if one_asset and key == "assets":  # its entries hold the keys marked "under an asset"
            value = "mapping: asset name to its keys (those marked *under an asset*)"
        else:
            nested += [(key, resolve(root, ref), root) for ref in references(spec)]
            value = value_text(spec, root)
        if key in required:
            value += ", required"
        elif spec.get("default") not in (None, [], {}):
            value += f", default `{json.dumps(spec['default'])}`"
        place = ["top level or under an asset" if key in asset_keys else "top level"] if where else []
        rows.append("| " + " | ".join([f"`{key}`", *place, value, cell(spec.get("description", ""))]) + " |")
    return rows


def asset_model(model: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """The schema of one entry under `assets:` (whose keys may also sit at the top level)."""
    assets = model.get("properties", {}).get("assets", {})
    for ref in references(assets):
        return resolve(root, ref)
    return {}


def nested_tables(nested: list[tuple[str, dict[str, Any], dict[str, Any]]], shown: set[str]) -> list[str]:
    """A table for each mapping a key holds (`retries:`, each entry of `checks:`), once each."""
    lines: list[str] = []
    while nested:
        key, model, root = nested.pop(0)
        fingerprint = json.dumps(model, sort_keys=True)
        if fingerprint in shown or "properties" not in model:
            continue
        shown.add(fingerprint)
        # Keys holding the same mapping (`requests` and `limits`) share one table.
        same = [other for other, other_model, _ in nested if json.dumps(other_model, sort_keys=True) == fingerprint]
        names = ", ".join(f"`{name}`" for name in dict.fromkeys([key, *same]))
        lines += ["", f"### Inside {names}", "", cell(model.get("description", "")), ""]
        lines += key_table(model, list(model["properties"]), root, nested, where=False)
    return lines


def references(spec: Any) -> list[str]:
    """Every `$ref` inside a key's schema, in order."""
    if isinstance(spec, list):
        return [ref for item in spec for ref in references(item)]
    if not isinstance(spec, dict):
        return []
    found = [spec["$ref"]] if "$ref" in spec else []
    return found + [ref for key, value in spec.items() if key != "$ref" for ref in references(value)]


def resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    """The schema a local `$ref` (`#/$defs/...`) points at."""
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return dict(node)


def value_text(spec: dict[str, Any], root: dict[str, Any]) -> str:
    """What a value looks like, in words: `text`, `list of text`, `mapping`, ..."""
    if "$ref" in spec:
        return "mapping (below)"
    if "const" in spec:
        return f"`{spec['const']}`"
    if "enum" in spec:
        return "one of " + ", ".join(f"`{value}`" for value in spec["enum"])
    for combinator in ("anyOf", "oneOf"):
        if combinator in spec:
            options = [value_text(option, root) for option in spec[combinator] if option.get("type") != "null"]
            return " or ".join(dict.fromkeys(options))
    kind = str(spec.get("type"))
    if kind == "array":
        return "list of " + value_text(spec.get("items", {}), root)
    if kind == "object":
        return "mapping"
    return {"string": "text", "integer": "whole number", "number": "number", "boolean": "`true` or `false`"}.get(
        kind, "any value"
    )


def cell(text: str) -> str:
    """Text that stays inside one table cell."""
    return " ".join(text.split()).replace("|", "\\|")
