"""`target: uv`: run a Python script with `uv run --script`, in an environment of its own.

A practitioner declares what the script needs in an inline metadata block (PEP 723) at its
top; uv builds an environment with exactly that (cached between runs) and runs the script
in it. The platform's environment never changes, and two scripts may pin different versions
of the same library:

    # /// script
    # dependencies = ["pandas>=2", "dagster-pipes"]
    # ///

The script still runs through Dagster Pipes; to report metadata it lists `dagster-pipes`
among its dependencies (the platform's own copy is not visible inside uv's environment).
"""

from __future__ import annotations

import sys
from typing import ClassVar

from nope.script_environment import NETWORK_ENVIRONMENT
from nope.targets import NopeSubprocessInvocationTarget


class NopeUvInvocationTarget(NopeSubprocessInvocationTarget):
    """Runs `uv run --script <script>` through the `subprocess_client` resource."""

    installs_script_dependencies = True

    target_environment = ("UV_*", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", *NETWORK_ENVIRONMENT)
    """uv's own settings and cache (`UV_CACHE_DIR`, `UV_INDEX_URL`, `UV_OFFLINE`...; under HOME by
    default), and what it needs to reach the package index."""

    python: ClassVar[str | None] = sys.executable
    """The interpreter uv builds the script's environment on. The platform's own by default, so
    uv never downloads a Python; set to None to let uv pick one from the script's
    `requires-python`, or to a version such as "3.12"."""

    @classmethod
    def script_suffixes(cls) -> tuple[str, ...]:
        return (".py",)

    def command(self) -> list[str]:
        python = ["--python", self.python] if self.python else []
        return [uv_executable(), "run", "--script", *python, self.python_script_path]


def uv_executable() -> str:
    """The `uv` binary installed with the platform (PyPI's `uv` package), else `uv` on PATH.

    `make dev` runs Dagster from the virtualenv without activating it, so the virtualenv's
    `bin/` is not necessarily on PATH; the package knows where its binary is.
    """
    try:
        from uv import find_uv_bin
    except ImportError:
        return "uv"
    return find_uv_bin()
