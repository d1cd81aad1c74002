"""`target: modal`: run a script on Modal, in the Modal environment named after the platform's environment.

This is the Nope tutorial's "more realistic example" shipped as a target. Practitioners keep
writing ordinary Modal apps (`modal run my_script.py` works on their laptop); Dagster runs
`modal run -e <environment> <script>` for them. The Modal environment is the run's environment
(`nope/environments.py`: `NOPE_ENVIRONMENT`, so `production` in the deployments, else the git
branch), in its safe form, created the first time it is needed, so people working on different
branches never overwrite each other's apps, logs or secrets; `nope deploy --teardown` removes a
branch's environment when the branch goes.

Needs the `modal` command where Dagster runs, logged in (`modal token new`, or the
`MODAL_TOKEN_ID` / `MODAL_TOKEN_SECRET` environment variables). The platform does not
install it: add `modal` to the platform's dependencies when you adopt this target (it is
then found in the platform's virtualenv, activated or not), or install it on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nope import environments
from nope.environments import Environment
from nope.script_environment import NETWORK_ENVIRONMENT
from nope.targets import NopeSubprocessInvocationTarget

if TYPE_CHECKING:
    import dagster as dg

    from nope.deploying import DeployContext

MODAL_DEFAULT_ENVIRONMENT = "main"
"""The environment Modal gives every workspace, which holds apps deployed without `-e`: never removed."""

PLATFORM_COMMANDS = Path(sysconfig.get_path("scripts"))
"""Where the platform's Python packages put their commands: the virtualenv's `bin/`, which is
not on PATH when `make dev` runs Dagster from `.venv` without activating it."""


class NopeModalInvocationTarget(NopeSubprocessInvocationTarget):
    """Runs `modal run -e <environment> <script>` through the `subprocess_client` resource."""

    target_environment = ("MODAL_*", *NETWORK_ENVIRONMENT)
    """Modal's token and settings (`MODAL_TOKEN_ID`, `MODAL_TOKEN_SECRET`, or `~/.modal.toml` under
    HOME), and what the `modal` command needs to reach Modal."""

    @classmethod
    def script_suffixes(cls) -> tuple[str, ...]:
        return (".py",)

    def command(self, environment: str | None = None) -> list[str]:
        """`modal run -e <environment> <script> <args>`; by default the Modal environment of this run."""
        environment = environment or self.read_environment().safe_name
        return [modal_command(), "run", "-e", environment, self.python_script_path, *self.manifest.args]

    def invoke(self, context: dg.AssetExecutionContext, subprocess_client: dg.PipesSubprocessClient) -> Any:
        import dagster as dg

        if environments.ENVIRONMENT_VARIABLE not in os.environ:  # else git names the environment
            self.require_executable("git")
        self.require_executable(modal_command())
        where = self.run_environment(context)
        environment = where.safe_name
        try:
            created = ensure_environment(environment, self.repo_root)
        except ModalCommandError as error:
            raise dg.Failure(description=str(error)) from None
        if created:
            context.log.info(f"{created} for {where.source} `{where.name}`.")
        context.log.info(f"Running on Modal in environment `{environment}` ({where.source} `{where.name}`).")
        return self.run_command(context, subprocess_client, self.command(environment))

    def read_environment(self) -> Environment:
        """The run's environment, which names the Modal environment. Unlike a subprocess script, a
        Modal app never runs as `local`: a shared, unnamed Modal environment is what this target avoids."""
        import dagster as dg

        try:
            return environments.current_environment(self.repo_root)
        except environments.DetachedHead:
            raise dg.Failure(
                description=f"`{self.repo_root}` has a detached HEAD: check out a branch (or set "
                f"{environments.ENVIRONMENT_VARIABLE}); its name picks the Modal environment."
            ) from None
        except environments.UnknownEnvironment as unknown:
            raise dg.Failure(
                description=f"Could not read the git branch, which names the Modal environment (or set "
                f"{environments.ENVIRONMENT_VARIABLE}): {unknown}"
            ) from None
        except environments.UnsafeEnvironment as unsafe:
            raise dg.Failure(description=f"`{self.manifest.relative_path}` cannot run: {unsafe}") from None

    def deploy(self, context: DeployContext) -> str | None:
        """`nope deploy`: make sure the environment's Modal environment exists before anything runs."""
        environment = context.environment
        return ensure_environment(environment, context.repo_root) or f"Modal environment `{environment}` is ready"

    def teardown(self, context: DeployContext) -> str | None:
        """`nope deploy --teardown`: remove the branch's Modal environment with its apps; None if it is gone.

        Several manifests share one environment: the first removes it, the others find nothing.
        """
        environment = context.environment
        if environment == MODAL_DEFAULT_ENVIRONMENT:
            return f"Kept Modal environment `{environment}`: it is Modal's default"
        if environment not in modal_environments(context.repo_root):
            return None
        _output([modal_command(), "environment", "delete", environment, "--confirm"], context.repo_root)
        return f"Removed Modal environment `{environment}`"


class ModalCommandError(Exception):
    """A `modal` command failed (e.g. not logged in); the message carries its stderr."""


def ensure_environment(environment: str, repo_root: Path) -> str | None:
    """Create the Modal environment if it is missing; says so, or returns None when it existed."""
    if environment in modal_environments(repo_root):
        return None
    _output([modal_command(), "environment", "create", environment], repo_root)
    return f"Created Modal environment `{environment}`"


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
