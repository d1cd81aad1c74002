"""The default `subprocess_client` resource: Dagster's Pipes subprocess client, made talkative and tidy.

Dagster's `PipesSubprocessClient` fails a step with "External execution process failed
with code 1" and nothing else, and only ever signals the script itself. This client keeps
Dagster's `run` (same parameters, same environment precedence, same exception type) and adds:

- the failure carries the tail of the script's stderr (bounded: `script_output.py`);
- `timeout=`: past it, the script is stopped and the step fails saying so;
- the script's whole process tree ends with the step (`process_tree.py`): on a timeout, a
  cancel, the death of the run's process, and when the script exits (what it left in the
  background is stopped, and `run` returns as soon as the script is done);
- `inherit_environment=False`: the script gets only the `env` given (targets pass the
  platform's minimal environment, `script_environment.py`), not the whole of `os.environ`;
- its default message reader skips a bad line of Pipes messages instead of losing every later
  one, and bounds what a step's messages add to the event log (`pipes_messages.py`).

It follows `PipesSubprocessClient.run` of Dagster 1.13.27; `tests/test_pipes_parity.py`
fails when the installed Dagster's signature differs, and runs Dagster's own subprocess
scenarios against both clients.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dagster as dg

# The exception Dagster's own client raises for a failed script; Dagster exports no public
# name for it, and code that catches it around `run()` must keep catching ours.
from dagster._core.errors import DagsterPipesExecutionError  # no public API: see above

from nope.pipes_messages import NopeMessageReader
from nope.process_tree import ParentProcessGone, ScriptProcess
from nope.script_output import StderrReader


class NopeScriptFailure(dg.Failure, DagsterPipesExecutionError):
    """A script failed, timed out or was orphaned: a `dg.Failure` (its description is the step's
    failure message, its metadata shown with it) that is also Dagster's `DagsterPipesExecutionError`."""


class NopeSubprocessClient(dg.PipesSubprocessClient):
    """`PipesSubprocessClient` whose failures say why, and whose scripts leave nothing running.

    `termination_timeout_seconds` (Dagster's, default 20) is the grace period between SIGTERM
    and SIGKILL whenever a script's tree is stopped. `forward_termination=False` does not
    leave the tree running: it always ends with the step. Without a `message_reader`, messages
    are read by `NopeMessageReader`.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        context_injector: dg.PipesContextInjector | None = None,
        message_reader: dg.PipesMessageReader | None = None,
        **options: Any,  # Dagster's other keyword arguments (forward_stdio, termination_timeout_seconds, ...)
    ):
        super().__init__(env, cwd, context_injector, message_reader or NopeMessageReader(), **options)

    def run(  # type: ignore[override]  # Dagster's parameters, plus two keyword-only additions
        self,
        *,
        context: dg.OpExecutionContext | dg.AssetExecutionContext,
        extras: Mapping[str, object] | None = None,
        command: str | Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        inherit_environment: bool = True,
    ) -> dg.PipesClientCompletedInvocation:
        shown = command if isinstance(command, str) else shlex.join(command)
        with (
            ScriptProcess(  # first: its supervisor's interpreter starts while the session opens
                command,
                cwd=cwd or self.cwd,
                stdout=None if self.forward_stdio else subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                grace_seconds=self.termination_timeout_seconds,
            ) as script,
            _quiet_pipes_session(context),
            dg.open_pipes_session(
                context=context,
                context_injector=self.context_injector,
                message_reader=self.message_reader,
                extras=extras,
            ) as session,
        ):
            inherited = os.environ if inherit_environment else {}
            script.launch({**inherited, **self.env, **(env or {}), **session.get_bootstrap_env_vars()})
            assert script.supervisor.stderr is not None  # a pipe, as asked above
            stderr = StderrReader(script.supervisor.stderr, forward=self.forward_stdio)
            try:
                returncode = script.wait(timeout)
            except dg.DagsterExecutionInterruptedError:
                context.log.info("[pipes] execution interrupted, stopping the script and its processes.")
                script.stop()
                raise
            except ParentProcessGone as gone:
                script.stop()
                raise _failure(f"`{shown}` was stopped: {gone}.", stderr.finish(), parent_pid=gone.parent_pid) from None
            if returncode is None:
                script.stop()
                raise _failure(
                    f"`{shown}` did not finish within {timeout:g} seconds and was stopped.",
                    stderr.finish(),
                    timeout_seconds=timeout,
                )
            if returncode < 0:  # killed by a signal: maybe with the supervisor, so clean up from here
                script.kill_group()
            tail = stderr.finish()
            if returncode != 0:
                raise _failure(f"`{shown}` {_ending(returncode)}.", tail, exit_code=returncode)
        return dg.PipesClientCompletedInvocation(session)


class _SilentScriptNote(logging.Filter):
    """Turns Dagster's "[pipes] did not receive any messages" warning into a one-line info.

    A script that never opens Pipes and exits 0 is valid here (a shell or SQL script, the
    tutorial's `print("hello")`): its assets count as materialized. Dagster warns about it on
    every run, with debugging text about message readers, which reads as a fault.
    """

    def __init__(self, context: dg.OpExecutionContext | dg.AssetExecutionContext):
        super().__init__()
        self.context = context

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(SILENT_SCRIPT_WARNING):
            self.context.log.info("The script sent no Dagster Pipes messages; its exit code decides the outcome.")
            return False
        return True


SILENT_SCRIPT_WARNING = "[pipes] did not receive any messages from external process"


@contextlib.contextmanager
def _quiet_pipes_session(context: dg.OpExecutionContext | dg.AssetExecutionContext) -> Iterator[None]:
    """A Pipes session without noise: a silent script's note (above), and no PreviewWarning from
    Dagster's own session code (it reads a preview API on every step; nothing a user can act on)."""
    note = _SilentScriptNote(context)
    context.log.addFilter(note)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.PreviewWarning)
            yield
    finally:
        context.log.removeFilter(note)


def _ending(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name} (code {returncode})"
        except ValueError:
            pass
    return f"exited with code {returncode}"


def _failure(summary: str, stderr_tail: str, **metadata: float | None) -> NopeScriptFailure:
    section = f"\n\nLast lines of its stderr:\n{stderr_tail}" if stderr_tail else " It wrote nothing to stderr."
    return NopeScriptFailure(
        description=summary + section,
        metadata={**metadata, "stderr_tail": dg.MetadataValue.text(stderr_tail)},
    )
