"""`target: modal`: run a script on Modal, in the Modal environment named after the git branch.

This is the Nope tutorial's "more realistic example" shipped as a target. Practitioners keep
writing ordinary Modal apps (`modal run my_script.py` works on their laptop); Dagster runs
`modal run -e <environment> <script>` for them. Each git branch gets its own Modal
environment, created the first time it is needed, so people working on different branches
never overwrite each other's apps, logs or secrets.

Needs the `modal` command where Dagster runs, logged in (`modal token new`, or the
`MODAL_TOKEN_ID` / `MODAL_TOKEN_SECRET` environment variables). The platform does not
install it: add `modal` to the platform's dependencies when you adopt this target (it is
then found in the platform's virtualenv, activated or not), or install it on PATH.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nope.script_environment import NETWORK_ENVIRONMENT
from nope.targets import NopeSubprocessInvocationTarget

if TYPE_CHECKING:
    import dagster as dg

    from nope.deploying import DeployContext

# Modal environment names allow letters, digits, `-`, `_` and `.`, up to 64 characters.
_NOT_ALLOWED_IN_ENVIRONMENT = re.compile(r"[^A-Za-z0-9._-]")
_ENVIRONMENT_MAX_LENGTH = 64

PLATFORM_COMMANDS = Path(sysconfig.get_path("scripts"))
"""Where the platform's Python packages put their commands: the virtualenv's `bin/`, which is
not on PATH when `make dev` runs Dagster from `.venv` without activating it."""


class NopeModalInvocationTarget(NopeSubprocessInvocationTarget):
    """Runs `modal run -e <branch> <script>` through the `subprocess_client` resource."""

    target_environment = ("MODAL_*", *NETWORK_ENVIRONMENT)
    """Modal's token and settings (`MODAL_TOKEN_ID`, `MODAL_TOKEN_SECRET`, or `~/.modal.toml` under
    HOME), and what the `modal` command needs to reach Modal."""

    @classmethod
    def script_suffixes(cls) -> tuple[str, ...]:
        return (".py",)

    def command(self, environment: str | None = None) -> list[str]:
        """`modal run -e <environment> <script> <args>`; by default the environment of this branch."""
        environment = environment or modal_environment_name(current_branch(self.repo_root))
        return [modal_command(), "run", "-e", environment, self.python_script_path, *self.manifest.args]

    def invoke(self, context: dg.AssetExecutionContext, subprocess_client: dg.PipesSubprocessClient) -> Any:
        import dagster as dg

        self.require_executable("git")
        self.require_executable(modal_command())
        branch = current_branch(self.repo_root)  # once per run: the branch could change between two reads
        environment = modal_environment_name(branch)
        try:
            created = ensure_environment(environment, self.repo_root)
        except ModalCommandError as error:
            raise dg.Failure(description=str(error)) from None
        if created:
            context.log.info(f"{created} for git branch `{branch}`.")
        context.log.info(f"Running on Modal in environment `{environment}` (git branch `{branch}`).")
        return self.run_command(context, subprocess_client, self.command(environment))

    def deploy(self, context: DeployContext) -> str | None:
        """`nope deploy`: make sure the branch's Modal environment exists before anything runs."""
        environment = modal_environment_name(context.branch)
        return ensure_environment(environment, context.repo_root) or f"Modal environment `{environment}` is ready"


class ModalCommandError(Exception):
    """A `modal` command failed (e.g. not logged in); the message carries its stderr."""


def ensure_environment(environment: str, repo_root: Path) -> str | None:
    """Create the Modal environment if it is missing; says so, or returns None when it existed."""
    if environment in modal_environments(repo_root):
        return None
    _output([modal_command(), "environment", "create", environment], repo_root)
    return f"Created Modal environment `{environment}`"


def current_branch(repo_root: Path) -> str:
    """The checked-out git branch; a detached HEAD has no branch to name an environment after."""
    import dagster as dg

    result = subprocess.run(
        ["git", "symbolic-ref", "--quiet", "--short", "HEAD"], cwd=repo_root, capture_output=True, text=True
    )
    if result.returncode == 1:
        raise dg.Failure(
            description=f"`{repo_root}` has a detached HEAD: check out a branch; its name picks the Modal environment."
        )
    if result.returncode != 0:
        raise dg.Failure(
            description=f"Could not read the git branch of `{repo_root}`, which names the Modal environment: "
            f"{result.stderr.strip()}"
        )
    return result.stdout.strip()


def modal_environment_name(branch: str) -> str:
    """`feature/new-model` -> `feature-new-model`: the branch, spelled the way Modal accepts."""
    return _NOT_ALLOWED_IN_ENVIRONMENT.sub("-", branch)[:_ENVIRONMENT_MAX_LENGTH]


def modal_environments(repo_root: Path) -> set[str]:
    """Names of the Modal environments that exist, from `modal environment list --json`."""
    listed = json.loads(_output([modal_command(), "environment", "list", "--json"], repo_root))
    return {environment["name"] for environment in listed}


def modal_command() -> str:
    """`modal` as PATH finds it, else the one installed with the platform's packages.

    PATH first: a machine's own `modal`, or the tests' stand-in, wins over the platform's copy.
    """
    installed = PLATFORM_COMMANDS / "modal"
    return "modal" if shutil.which("modal") or not installed.is_file() else str(installed)


def _output(command: list[str], cwd: Path) -> str:
    """Run a short `modal` command; a failure raises with its stderr."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ModalCommandError(f"`{' '.join(command)}` exited with code {result.returncode}: {result.stderr.strip()}")
    return result.stdout
