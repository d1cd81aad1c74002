"""The default `subprocess_client` resource: Dagster's Pipes subprocess client, made talkative.

Dagster's `PipesSubprocessClient` fails a step with "External execution process failed
with code 1" and nothing else; the practitioner then has to dig through raw logs. This
subclass still forwards the script's output live, but keeps the tail of its stderr and
puts it in the failure, and can stop a script that runs past a timeout.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import IO

import dagster as dg

STDERR_TAIL_LINES = 40
TIMEOUT_GRACE_SECONDS = 10


class NopeSubprocessClient(dg.PipesSubprocessClient):
    """`PipesSubprocessClient` whose failures carry the script's last stderr lines."""

    def run(  # type: ignore[override]
        self,
        *,
        context: dg.OpExecutionContext | dg.AssetExecutionContext,
        command: str | Sequence[str],
        extras: Mapping[str, object] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> dg.PipesClientCompletedInvocation:
        shown = command if isinstance(command, str) else shlex.join(command)
        with dg.open_pipes_session(
            context=context,
            context_injector=self.context_injector,
            message_reader=self.message_reader,
            extras=extras,
        ) as session:
            process = subprocess.Popen(
                command,
                cwd=cwd or self.cwd,
                env={**os.environ, **self.env, **(env or {}), **session.get_bootstrap_env_vars()},
                stderr=subprocess.PIPE,
            )
            stderr = _StderrTail(process.stderr)  # type: ignore[arg-type]
            try:
                returncode = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _stop(process)
                stderr.join()
                raise dg.Failure(
                    description=f"`{shown}` did not finish within {timeout:g} seconds and was stopped."
                    + stderr.as_section(),
                    metadata={"timeout_seconds": timeout, "stderr_tail": dg.MetadataValue.text(stderr.text())},
                ) from None
            except dg.DagsterExecutionInterruptedError:
                if self.forward_termination:
                    context.log.info("[pipes] execution interrupted, sending SIGINT to the script.")
                    process.send_signal(signal.SIGINT)
                    process.wait(timeout=self.termination_timeout_seconds)
                raise
            stderr.join()
            if returncode != 0:
                raise dg.Failure(
                    description=f"`{shown}` exited with code {returncode}." + stderr.as_section(),
                    metadata={"exit_code": returncode, "stderr_tail": dg.MetadataValue.text(stderr.text())},
                )
        return dg.PipesClientCompletedInvocation(session)


def _stop(process: subprocess.Popen) -> None:
    """Ask politely (SIGTERM), then insist (SIGKILL) after a grace period."""
    process.terminate()
    try:
        process.wait(timeout=TIMEOUT_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class _StderrTail:
    """Copies a child's stderr to ours as it arrives and remembers the last lines."""

    def __init__(self, stream: IO[bytes]):
        self._lines: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            sys.stderr.write(line)
            sys.stderr.flush()
            self._lines.append(line.rstrip("\n"))
        stream.close()

    def join(self) -> None:
        self._thread.join()

    def text(self) -> str:
        return "\n".join(self._lines)

    def as_section(self) -> str:
        if not self._lines:
            return " It wrote nothing to stderr."
        return f"\n\nLast lines of its stderr:\n{self.text()}"
