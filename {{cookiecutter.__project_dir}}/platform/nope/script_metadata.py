"""The packages a Python script declares in its inline metadata (PEP 723), and where.

    # /// script
    # dependencies = ["pandas>=2", "dagster-pipes"]
    # ///

Only some targets install them (`uv` builds an environment from the block); the others run
the script with what their interpreter already has. `nope check` reads the block so a
script does not silently run without the packages it asks for.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

# The specification's own regular expression (packaging.python.org, "Inline script metadata").
_BLOCK = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class DeclaredDependencies:
    """The requirements of a script's `dependencies = [...]`, and the line that holds them."""

    requirements: list[str]
    line: int

    def names(self) -> set[str]:
        """The distribution names, normalized as PyPI compares them (`Dagster_Pipes` is `dagster-pipes`)."""
        found = (_NAME.match(requirement) for requirement in self.requirements)
        return {normalized_name(match.group(1)) for match in found if match}


def normalized_name(name: str) -> str:
    """PEP 503's normalized form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_dependencies(script: bytes) -> DeclaredDependencies | None:
    """The script's declared dependencies; None when it declares none (or its block is not valid TOML,
    which only the tool that reads it, such as uv, can judge)."""
    if b"# /// script" not in script:  # most scripts: no decoding, no regular expression, no TOML
        return None
    source = script.decode("utf-8", errors="replace")
    block = next((match for match in _BLOCK.finditer(source) if match.group("type") == "script"), None)
    if block is None:
        return None
    lines = block.group("content").splitlines()
    try:
        metadata = tomllib.loads("\n".join(line[2:] if line.startswith("# ") else line[1:] for line in lines))
    except tomllib.TOMLDecodeError:
        return None
    requirements = metadata.get("dependencies")
    if not isinstance(requirements, list) or not requirements:
        return None
    first_line = source.count("\n", 0, block.start()) + 2  # the line after `# /// script`
    offset = next((index for index, line in enumerate(lines) if line.lstrip("# ").startswith("dependencies")), 0)
    return DeclaredDependencies([str(requirement) for requirement in requirements], first_line + offset)
