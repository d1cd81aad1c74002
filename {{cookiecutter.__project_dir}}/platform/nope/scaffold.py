"""The files `nope new` writes: a manifest and a script that pass `nope check` as they are.

Kept apart from the command line so a platform owner can change what new assets start
from (say, a company header in every script) without reading argument parsing.
"""

from __future__ import annotations

import os
from pathlib import Path

SCHEMA_FILE = "nope.schema.json"


def manifest_text(
    *, manifest_path: Path, repo_root: Path, target: str, script_name: str, asset_names: list[str]
) -> str:
    """A manifest with the editor's schema line, the target, the script and commented hints."""
    schema = Path(os.path.relpath(repo_root / SCHEMA_FILE, manifest_path.parent)).as_posix()
    lines = [
        f"# yaml-language-server: $schema={schema}",
        f"target: {target}",
        f"script: {script_name}",
        "# description: What this holds, in one sentence.",
        "# owners: [team:your-team]",
    ]
    if asset_names:
        lines.append("assets:  # each may set description, deps, owners, tags: `name: {deps: [group/asset]}`")
        lines += [f"  {name}: {{}}" for name in asset_names]
    else:
        lines.append("# deps: [group/asset]")
    return "\n".join(lines) + "\n"


COMMENT_MARKERS = {
    ".sh": "#", ".bash": "#", ".r": "#", ".awk": "#", ".rb": "#", ".pl": "#", ".jl": "#",
    ".js": "//", ".mjs": "//", ".ts": "//", ".scala": "//", ".go": "//",
    ".sql": "--", ".lua": "--", ".hs": "--",
}  # fmt: skip
"""How a line comment starts in each language a scaffold may be written in (by extension)."""

STARTER_STATEMENTS = {".sql": "SELECT 1;"}
"""A first statement for languages whose runners refuse a script with nothing but a comment."""


def script_text(*, suffix: str, asset_keys: list[str], single: bool, declare_dependencies: bool = False) -> str:
    """A script that runs and reports its assets; Python ones through Dagster Pipes.

    Other languages get one comment line in their own comment syntax (a `#` line is a syntax
    error in SQL) and, where their runner needs one, a harmless first statement: exiting with
    code 0 marks the assets materialized. A target may write its own (`scaffold_script`).
    `declare_dependencies`: start a Python script with the inline metadata block (PEP 723) its
    target installs packages from; a target that ignores the block gets none, so no script
    promises packages that never arrive.
    """
    if suffix.lower() != ".py":
        comment = COMMENT_MARKERS.get(suffix.lower(), "#")
        lines = [f"{comment} Makes {', '.join(asset_keys)}. Exiting with code 0 marks it materialized."]
        if suffix.lower() in STARTER_STATEMENTS:
            lines.append(STARTER_STATEMENTS[suffix.lower()])
        return "\n".join(lines) + "\n"
    if single:
        reports = ['    pipes.report_asset_materialization(metadata={"rows": 0})']
    else:
        reports = [
            f'    pipes.report_asset_materialization(asset_key="{key}", metadata={{"rows": 0}})' for key in asset_keys
        ]
    # Inline script metadata (PEP 723): the packages the target installs for this script alone.
    metadata = ["# /// script", '# dependencies = ["dagster-pipes"]', "# ///"] if declare_dependencies else []
    return "\n".join(
        [
            *metadata,
            f'"""Makes {", ".join(asset_keys)}. Runs from the repository root."""',
            "",
            "from dagster_pipes import open_dagster_pipes",
            "",
            "with open_dagster_pipes() as pipes:",
            '    pipes.log.info("starting")',
            "    # Your code here: read, transform, write.",
            *reports,
            "",
        ]
    )
