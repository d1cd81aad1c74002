"""Which manifests a process has to build: all of them, or only those of one run.

A code server builds every manifest: it serves the whole asset graph. The processes of a
run need far less. The run worker executes the run's selected assets, a step worker one
step, and `dagster asset materialize --select <keys>` the keys it names. Building all N
manifests in each of them made a run's cost grow with the repository: a one-asset run took
three times as long at 5,000 manifests as at 50, since every process of the run loaded all
5,000 again (`benchmarks/README.md`, "Runs").

This module tells, from how Dagster started the process, which assets that process needs.
`NopeProject.make_definitions` then reads only the groups that hold them and builds only
their manifests. Anything not recognised here means "build everything", as before, so the
narrowing can only make a process do less, never break one.

- `NOPE_RUN_SCOPE` in the environment: set by a narrowed process for the step processes
  it starts (Dagster's multiprocess executor inherits the environment).
- `dagster api execute_run <args>`: a run worker, as every run launcher but Dagster's default
  one starts it (`NopeRunLauncher`, Docker, Kubernetes). The run's selection is read from
  the instance the arguments name.
- `dagster api execute_step <args>`: a step worker (the Docker and Kubernetes executors).
- `dagster asset materialize --select a/b,c/d`: plain keys only; any selection syntax beyond
  them (`*`, `+`, `group:`, ...) builds everything.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from nope.models import ASSET_KEY_PATTERN

SCOPE_VARIABLE = "NOPE_RUN_SCOPE"
_STEP_ARGS_VARIABLE = "DAGSTER_COMPRESSED_EXECUTE_STEP_ARGS"  # how Dagster may pass a step's arguments


@dataclass(frozen=True)
class RunScope:
    """The assets (`group/name`) and ops (one per manifest) a process needs; either may be empty."""

    asset_keys: frozenset[str]
    op_names: frozenset[str]

    @property
    def groups(self) -> frozenset[str]:
        """The group folders to read: an asset key starts with its group, an op name with its folder."""
        return frozenset(key.split("/")[0] for key in self.asset_keys) | frozenset(
            name.split("__")[0] for name in self.op_names
        )

    def to_environment(self) -> str:
        return json.dumps({"asset_keys": sorted(self.asset_keys), "op_names": sorted(self.op_names)})

    @classmethod
    def from_environment(cls, text: str) -> RunScope | None:
        try:
            data = json.loads(text)
            return cls(frozenset(data["asset_keys"]), frozenset(data["op_names"]))
        except (ValueError, KeyError, TypeError):
            return None


def current_scope(argv: Sequence[str] | None = None) -> RunScope | None:
    """This process's scope, or None when it must build every manifest."""
    inherited = os.environ.get(SCOPE_VARIABLE)
    if inherited:
        return RunScope.from_environment(inherited)
    argv = list(sys.argv if argv is None else argv)
    for command, scope_of in (
        (["api", "execute_run"], _run_worker_scope),
        (["api", "execute_step"], _step_worker_scope),
        (["asset", "materialize"], _materialize_command_scope),
    ):
        if _started_as_dagster(argv, command):
            try:
                return scope_of(argv[3:])
            except Exception:
                return None
    return None


def pass_to_child_processes(scope: RunScope) -> None:
    """Step processes that Dagster starts from this one build the same scope, not everything."""
    os.environ[SCOPE_VARIABLE] = scope.to_environment()


def _started_as_dagster(argv: list[str], command: list[str]) -> bool:
    program = argv[0].replace(os.sep, "/") if argv else ""
    by_dagster = program.endswith("/dagster") or program == "dagster" or program.endswith("dagster/__main__.py")
    return by_dagster and argv[1:3] == command


def _serialized_arguments(arguments: list[str]) -> str:
    """The JSON Dagster passed: as the argument, compressed after `--compressed-input-json`, or in the environment."""
    if "--compressed-input-json" in arguments:
        compressed = arguments[arguments.index("--compressed-input-json") + 1]
    elif arguments and not arguments[0].startswith("-"):
        return arguments[0]
    else:
        compressed = os.environ[_STEP_ARGS_VARIABLE]
    return zlib.decompress(base64.b64decode(compressed.encode())).decode()


def _run_worker_scope(arguments: list[str]) -> RunScope | None:
    import dagster as dg
    from dagster._grpc.types import ExecuteRunArgs  # no public API types `dagster api execute_run`'s arguments

    run_arguments = dg.deserialize_value(_serialized_arguments(arguments), as_type=ExecuteRunArgs)
    if run_arguments.instance_ref is None:  # no instance to read the run's selection from
        return None
    with dg.DagsterInstance.from_ref(run_arguments.instance_ref) as instance:
        run = instance.get_run_by_id(run_arguments.run_id)
    if run is None or run.asset_selection is None:  # an op selection, or the whole job: no narrowing
        return None
    checks = run.asset_check_selection or frozenset()
    keys = {key.to_user_string() for key in run.asset_selection} | {check.asset_key.to_user_string() for check in checks}
    return RunScope(frozenset(keys), frozenset())


def _step_worker_scope(arguments: list[str]) -> RunScope | None:
    import dagster as dg
    from dagster._grpc.types import ExecuteStepArgs  # no public API types `dagster api execute_step`'s arguments

    step_arguments = dg.deserialize_value(_serialized_arguments(arguments), as_type=ExecuteStepArgs)
    if not step_arguments.step_keys_to_execute:
        return None
    # A step key is its op's name, with a `[partition]` or mapping suffix for some steps.
    return RunScope(frozenset(), frozenset(key.split("[")[0] for key in step_arguments.step_keys_to_execute))


def _materialize_command_scope(arguments: list[str]) -> RunScope | None:
    selection = None
    for index, argument in enumerate(arguments):
        if argument == "--select" and index + 1 < len(arguments):
            selection = arguments[index + 1]
        elif argument.startswith("--select="):
            selection = argument.removeprefix("--select=")
    if not selection:
        return None
    keys = [item.strip() for item in selection.split(",")]
    if not all("/" in key and re.fullmatch(ASSET_KEY_PATTERN, key) for key in keys):
        return None  # selection syntax beyond plain keys: let Dagster resolve it on the whole graph
    return RunScope(frozenset(keys), frozenset())
