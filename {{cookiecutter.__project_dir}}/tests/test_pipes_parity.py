{% raw -%}
"""Dagster's own `PipesSubprocessClient` scenarios, run against Dagster's client and ours.

Re-expressed from Dagster's `dagster_tests/execution_tests/pipes_tests/test_subprocess.py` and
`test_log_writer.py`: every test takes `client_class` and must pass with both, so the
platform's client is a drop-in replacement (what it adds is tested in test_process_tree.py
and test_targets.py). Scripts are written to files and run as real subprocesses. Where ours is
meant to do better (a bad line in the messages file), the test asserts what each client does.
"""

# No `from __future__ import annotations` here: Dagster reads the ops' annotations as types
# (a resource parameter is recognised by its annotation), and strings would not do.

import inspect
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

# The exception Dagster's client raises for a failed script: no public name exports it.
from dagster._core.errors import DagsterPipesExecutionError  # no public API: see above
from dagster_pipes import DagsterPipesError

from nope.pipes_messages import MAX_MESSAGE_BYTES
from nope.subprocess_client import NopeSubprocessClient

from conftest import REPO_ROOT, wait_for_file, wait_until_gone

CLIENTS: dict[str, type[dg.PipesSubprocessClient]] = {"dagster": dg.PipesSubprocessClient, "nope": NopeSubprocessClient}


@pytest.fixture(params=list(CLIENTS))
def client_class(request) -> type[dg.PipesSubprocessClient]:
    return CLIENTS[request.param]


@pytest.fixture
def write_script(tmp_path: Path):
    """Write a Python script; returns the command that runs it with this interpreter."""

    def write(source: str, name: str = "script.py") -> list[str]:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return [sys.executable, str(path)]

    return write


def materialize_with(assets: list, client: dg.PipesSubprocessClient, instance: dg.DagsterInstance, **kwargs):
    return dg.materialize(assets, instance=instance, resources={"client": client}, **kwargs)


def pipes_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [
        record.event_log_entry.user_message
        for record in instance.get_records_for_run(run_id).records
        if record.event_log_entry.user_message.startswith("[pipes]")
    ]


# --- the signature this copy follows --------------------------------------------------------

DAGSTER_RUN_PARAMETERS = ["self", "context", "extras", "command", "env", "cwd"]
"""`PipesSubprocessClient.run` of Dagster 1.13.27, which `NopeSubprocessClient.run` follows."""


def test_dagsters_run_signature_is_the_one_our_client_follows():
    upstream = inspect.signature(dg.PipesSubprocessClient.run).parameters
    assert list(upstream) == DAGSTER_RUN_PARAMETERS, (
        "Dagster's PipesSubprocessClient.run changed: update NopeSubprocessClient.run "
        "(platform/nope/subprocess_client.py) to match, then this list"
    )
    ours = inspect.signature(NopeSubprocessClient.run).parameters
    for name, parameter in upstream.items():
        assert (ours[name].kind, ours[name].default) == (parameter.kind, parameter.default), name
    assert [name for name in ours if name not in upstream] == ["timeout", "inherit_environment"]
    assert all(ours[name].kind is inspect.Parameter.KEYWORD_ONLY for name in ["timeout", "inherit_environment"])


# --- test_subprocess.py ----------------------------------------------------------------------

REPORTS_EVERYTHING = """
from dagster_pipes import open_dagster_pipes

with open_dagster_pipes() as context:
    context.log.info("hello world")
    context.report_asset_materialization(
        metadata={"bar": {"raw_value": context.get_extra("bar"), "type": "md"}}, data_version="alpha"
    )
    context.report_asset_check("foo_check", passed=True, severity="WARN", metadata={"meta_1": 1})
"""


@pytest.mark.parametrize(
    "context_injector, message_reader",
    [(None, None), (dg.PipesTempFileContextInjector(), dg.PipesTempFileMessageReader()), (dg.PipesEnvContextInjector(), None)],
    ids=["default", "file", "env"],
)
def test_pipes_subprocess(client_class, write_script, instance, capfd, context_injector, message_reader):
    command = write_script(REPORTS_EVERYTHING)

    @dg.asset(check_specs=[dg.AssetCheckSpec(name="foo_check", asset="foo")])
    def foo(context: dg.AssetExecutionContext, client: dg.PipesSubprocessClient):
        return client.run(command=command, context=context, extras={"bar": "baz"}).get_results()

    client = client_class(context_injector=context_injector, message_reader=message_reader)
    materialize_with([foo], client, instance)
    mat = instance.get_latest_materialization_event(foo.key).asset_materialization
    assert isinstance(mat.metadata["bar"], dg.MarkdownMetadataValue) and mat.metadata["bar"].value == "baz"
    assert mat.tags["dagster/data_version"] == "alpha"
    assert re.search(r"dagster - INFO - [^\n]+ - hello world\n", capfd.readouterr().err)
    check = instance.event_log_storage.get_asset_check_execution_history(dg.AssetCheckKey(foo.key, "foo_check"), limit=1)
    assert check[0].status.value == "SUCCEEDED"


def test_pipes_multi_asset(client_class, write_script, instance):
    command = write_script(
        """
        from dagster_pipes import open_dagster_pipes

        with open_dagster_pipes() as context:
            context.report_asset_materialization({"foo_meta": "ok"}, data_version="alpha", asset_key="foo")
            context.report_asset_materialization(data_version="alpha", asset_key="bar")
        """
    )

    @dg.multi_asset(specs=[dg.AssetSpec("foo"), dg.AssetSpec("bar")])
    def foo_bar(context: dg.AssetExecutionContext, client: dg.PipesSubprocessClient):
        return client.run(command=command, context=context).get_results()

    materialize_with([foo_bar], client_class(), instance)
    assert instance.get_latest_materialization_event(dg.AssetKey("foo")).asset_materialization.metadata["foo_meta"].value == "ok"
    assert instance.get_latest_materialization_event(dg.AssetKey("bar")).asset_materialization.tags["dagster/data_version"] == "alpha"


def test_pipes_dynamic_partitions(client_class, write_script, instance):
    command = write_script("from dagster_pipes import open_dagster_pipes\nwith open_dagster_pipes():\n    pass\n")

    @dg.asset(partitions_def=dg.DynamicPartitionsDefinition(name="blah"))
    def foo(context: dg.AssetExecutionContext, client: dg.PipesSubprocessClient):
        return client.run(command=command, context=context).get_results()

    instance.add_dynamic_partitions("blah", ["bar"])
    materialize_with([foo], client_class(), instance, partition_key="bar")
    assert instance.get_latest_materialization_event(foo.key).asset_materialization.partition == "bar"


def test_pipes_asset_failed_raises_dagsters_exception(client_class, write_script, instance):
    command = write_script("raise Exception('foo')\n")

    @dg.asset
    def foo(context: dg.AssetExecutionContext, client: dg.PipesSubprocessClient):
        return client.run(command=command, context=context).get_results()

    with pytest.raises(DagsterPipesExecutionError):
        materialize_with([foo], client_class(), instance)


def test_code_that_catches_dagsters_exception_around_run_still_catches_it(client_class, write_script, instance):
    command = write_script("import sys\nsys.exit(3)\n")

    @dg.op
    def tolerant(context: dg.OpExecutionContext, client: dg.PipesSubprocessClient) -> str:
        try:
            client.run(command=command, context=context)
        except DagsterPipesExecutionError:
            return "caught"
        return "not raised"

    @dg.job
    def job():
        tolerant()

    result = job.execute_in_process(resources={"client": client_class()}, instance=instance)
    assert result.output_for_node("tolerant") == "caught"


def test_pipes_asset_invocation(client_class, write_script):
    command = write_script("from dagster_pipes import open_dagster_pipes\nwith open_dagster_pipes() as c:\n    c.log.info('hi')\n")

    @dg.asset
    def foo(context: dg.AssetExecutionContext, client: dg.PipesSubprocessClient):
        yield from client.run(command=command, context=context).get_results()

    results = foo(context=dg.build_asset_context(), client=client_class())  # Dagster types a direct call as object
    assert isinstance(results, Iterator)
    assert [result.asset_key for result in results] == [foo.key]


def test_subprocess_env_precedence(client_class, write_script, instance, monkeypatch):
    command = write_script(
        """
        import os
        from dagster_pipes import open_dagster_pipes

        with open_dagster_pipes() as context:
            context.report_asset_materialization(metadata={name: os.getenv(name) for name in "ABC"})
        """
    )

    @dg.asset
    def env_test(context, client: dg.PipesSubprocessClient):
        return client.run(env={"C": "callsite"}, command=command, context=context).get_results()

    # The call site overrides the client, which overrides the inherited parent environment.
    for name in "ABC":
        monkeypatch.setenv(name, "parent")
    result = materialize_with([env_test], client_class(env={"B": "client", "C": "client"}), instance)
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert {name: metadata[name].value for name in "ABC"} == {"A": "parent", "B": "client", "C": "callsite"}


@pytest.mark.parametrize(
    "script, expected",
    [
        ("context = open_dagster_pipes()\ncontext.report_asset_materialization(data_version='alpha')\n", "did not receive closed message"),
        ("with open_dagster_pipes():\n    raise Exception('oops')\n", "external process pipes closed with exception"),
    ],
    ids=["no_close", "exception"],
)
def test_pipes_messages_about_how_the_script_ended(client_class, write_script, instance, script, expected):
    command = write_script("from dagster_pipes import open_dagster_pipes\n" + script)

    @dg.asset
    def foo(context: dg.AssetExecutionContext, client: dg.PipesSubprocessClient):
        return client.run(command=command, context=context).get_results()

    result = materialize_with([foo], client_class(), instance, raise_on_error=False)
    messages = pipes_messages(instance, result.run_id)
    assert len(messages) == 2 and "successfully opened" in messages[0] and expected in messages[1]


def test_run_in_op(client_class, write_script, instance):
    command = write_script("from dagster_pipes import open_dagster_pipes\nwith open_dagster_pipes() as p:\n    p.log.info('hello there')\n")

    @dg.op
    def just_run(context: dg.OpExecutionContext, client: dg.PipesSubprocessClient):
        client.run(command=command, context=context)

    @dg.job
    def sample_job():
        just_run()

    assert sample_job.execute_in_process(resources={"client": client_class()}, instance=instance).success


def test_pipes_expected_materialization(client_class, write_script, instance):
    command = write_script("pass\n")

    @dg.asset
    def missing_mat_result(context: dg.AssetExecutionContext, client: dg.PipesSubprocessClient):
        return client.run(command=command, context=context).get_materialize_result(implicit_materialization=False)

    with pytest.raises(DagsterPipesError, match="No materialization results received from external process"):
        materialize_with([missing_mat_result], client_class(), instance)


def test_user_messages(client_class, write_script, instance):
    command = write_script(
        """
        from dagster_pipes import open_dagster_pipes

        with open_dagster_pipes() as pipes:
            pipes.report_custom_message({"some": "junk"})
            pipes.report_custom_message("cool message")
            pipes.report_custom_message(2)
        """
    )

    @dg.asset
    def extra_msg(context: dg.AssetExecutionContext, client: dg.PipesSubprocessClient):
        response = client.run(command=command, context=context)
        messages = response.get_custom_messages()
        assert len(messages) == 3
        assert (messages[0]["some"], messages[1], messages[2]) == ("junk", "cool message", 2)
        return response.get_materialize_result()

    assert materialize_with([extra_msg], client_class(), instance).success


def test_pipes_cli_args_params_loader(client_class, write_script, instance):
    command = write_script(
        """
        from dagster_pipes import PipesCliArgsParamsLoader, open_dagster_pipes

        with open_dagster_pipes(params_loader=PipesCliArgsParamsLoader()) as pipes:
            assert pipes.asset_key == "with_cli_args"
        """
    )

    @dg.asset
    def with_cli_args(context: dg.AssetExecutionContext, client: dg.PipesSubprocessClient):
        with dg.open_pipes_session(
            context=context,
            context_injector=dg.PipesTempFileContextInjector(),
            message_reader=dg.PipesTempFileMessageReader(),
        ) as session:
            arguments = [part for pair in session.get_bootstrap_cli_arguments().items() for part in pair]
            return client.run(command=[*command, *arguments], context=context).get_materialize_result()

    assert materialize_with([with_cli_args], client_class(), instance).success


CANCELLED_RUNNER = """
import sys
import dagster as dg
from nope.subprocess_client import NopeSubprocessClient

client = {"dagster": dg.PipesSubprocessClient, "nope": NopeSubprocessClient}[sys.argv[1]]()

@dg.op
def stalling(context):
    client.run(command=[sys.executable, sys.argv[2]], context=context)

@dg.job
def job():
    stalling()

with dg.instance_for_test() as instance:
    job.execute_in_process(instance=instance, raise_on_error=False)
"""


def test_cancellation_stops_the_script(client_class, write_script, tmp_path, leftovers):
    pid_file = tmp_path / "pid"
    script = write_script(f"import os, time\nopen({str(pid_file)!r}, 'w').write(f'{{os.getpid()}}\\n')\nwhile True:\n    time.sleep(0.01)\n")
    name = next(key for key, value in CLIENTS.items() if value is client_class)
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "platform")}
    run = subprocess.Popen([sys.executable, "-c", CANCELLED_RUNNER, name, script[1]], env=environment)
    leftovers.append(run.pid)
    try:
        script_pid = int(wait_for_file(pid_file))
        leftovers.append(script_pid)
        run.send_signal(signal.SIGINT)  # what a cancel does to the step's process
        run.wait(timeout=60)
        assert wait_until_gone([script_pid]) == []
    finally:
        run.kill()
        run.wait()


# --- test_log_writer.py, and forward_stdio=False --------------------------------------------

PRINTS_INSIDE_AND_OUTSIDE_PIPES = """
import sys
from dagster_pipes import open_dagster_pipes

with open_dagster_pipes():
    print("Writing this to stdout")
    print("And this to stderr", file=sys.stderr)
print("this stdout should not be captured")
print("this stderr should not be captured", file=sys.stderr)
"""


def test_pipes_default_log_writer_with_forward_stdio_off(client_class, write_script, instance, capfd):
    command = write_script(PRINTS_INSIDE_AND_OUTSIDE_PIPES)

    @dg.asset
    def foo(context: dg.AssetExecutionContext, client: dg.PipesSubprocessClient):
        return client.run(command=command, context=context).get_results()

    reader = dg.PipesTempFileMessageReader(include_stdio_in_messages=True)
    result = materialize_with([foo], client_class(message_reader=reader, forward_stdio=False), instance)
    assert result.success
    captured = capfd.readouterr()
    # Inside the Pipes session, output travels as Pipes messages; outside it, nowhere.
    assert "Writing this to stdout" in captured.out and "And this to stderr" in captured.err
    assert "this stdout should not be captured" not in captured.out + captured.err
    assert "this stderr should not be captured" not in captured.out + captured.err


@pytest.mark.parametrize("forward_stdio", [True, False])
def test_forward_stdio_decides_whether_output_reaches_the_processs_stdio(client_class, write_script, instance, capfd, forward_stdio):
    command = write_script("import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\n")

    @dg.asset
    def foo(context: dg.AssetExecutionContext, client: dg.PipesSubprocessClient):
        return client.run(command=command, context=context).get_results()

    assert materialize_with([foo], client_class(forward_stdio=forward_stdio), instance).success
    captured = capfd.readouterr()
    assert ("to stdout" in captured.out) is forward_stdio
    assert ("to stderr" in captured.err) is forward_stdio


# --- one bad line in the messages file ------------------------------------------------------

BAD_LINES = {  # case: (what the script writes to the messages file, why ours says it skipped the line)
    "not_json": ("messages.write('this is not JSON\\n')", "it is not JSON"),
    "partial": ("messages.write('{\"__dagster_pipes_version\": \"0.1\", \"method\": \"log\", \"par\\n')", "it is not JSON"),
    # 50 MB of metadata takes a while to write: the reader sees its first half before the rest.
    "huge": (
        """line = json.dumps({"__dagster_pipes_version": "0.1", "method": "report_asset_materialization",
        "params": {"asset_key": "foo", "data_version": None, "metadata": {"huge": "x" * 50_000_000}}}) + "\\n"
    messages.write(line[:25_000_000]); messages.flush(); time.sleep(0.5); messages.write(line[25_000_000:])""",
        f"it is longer than {MAX_MESSAGE_BYTES:,} bytes",
    ),
    "refused": (
        "messages.write('{\"__dagster_pipes_version\": \"0.1\", \"method\": \"no_such_method\", \"params\": {}}\\n')",
        "Dagster refused its `no_such_method` message",
    ),
}

WRITES_A_BAD_LINE_THEN_REPORTS = """
import json, os, time
from dagster_pipes import decode_param, open_dagster_pipes

with open_dagster_pipes() as pipes:  # line 1 of the messages file: `opened`
    with open(decode_param(os.environ["DAGSTER_PIPES_MESSAGES"])["path"], "a") as messages:
    {bad_line}
    pipes.log.info("after the bad line")
    pipes.report_asset_check("rows", passed=True)
    pipes.report_asset_materialization(metadata={{"after": "kept"}})
"""


@pytest.mark.parametrize("case", list(BAD_LINES))
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # Dagster's reader thread dying
def test_one_bad_line_loses_every_later_message_with_dagsters_client_and_only_itself_with_ours(
    client_class, write_script, instance, case
):
    bad_line, reason = BAD_LINES[case]
    bad_line = textwrap.indent(bad_line, " " * 4)
    command = write_script(WRITES_A_BAD_LINE_THEN_REPORTS.format(bad_line=bad_line))

    @dg.asset(check_specs=[dg.AssetCheckSpec("rows", asset="foo")])
    def foo(context: dg.AssetExecutionContext, client: dg.PipesSubprocessClient):
        return client.run(command=command, context=context).get_results()

    result = materialize_with([foo], client_class(), instance, raise_on_error=False)
    messages = [record.event_log_entry.user_message for record in instance.get_records_for_run(result.run_id).records]
    materialization = instance.get_latest_materialization_event(foo.key)
    if client_class is dg.PipesSubprocessClient:
        # Dagster's reader thread dies on the line: the log, the check and the metadata after it are lost.
        assert any("framework exception occurred in PipesFileMessageReader" in message for message in messages)
        assert not any("after the bad line" in message for message in messages)
        assert not result.success
        assert materialization is None or "after" not in materialization.asset_materialization.metadata
        return
    assert result.success
    assert any("after the bad line" in message for message in messages)
    assert materialization is not None
    assert materialization.asset_materialization.metadata["after"] == dg.TextMetadataValue("kept")
    assert "huge" not in materialization.asset_materialization.metadata
    check = instance.event_log_storage.get_asset_check_execution_history(dg.AssetCheckKey(foo.key, "rows"), limit=1)
    assert check[0].status.value == "SUCCEEDED"
    skipped = [message for message in messages if "line 2 of the script's Pipes messages" in message]
    assert len(skipped) == 1, messages
    assert reason in skipped[0]


# --- a background child that keeps stderr open ------------------------------------------------


def test_run_returns_when_the_script_exits_not_when_its_background_child_does(
    client_class, write_script, instance, tmp_path, leftovers
):
    finished = tmp_path / "finished"
    child_pid = tmp_path / "child_pid"
    command = write_script(
        f"""
        import subprocess
        # Inherits the script's stdout and stderr, and outlives the script.
        child = subprocess.Popen(["sh", "-c", "sleep 30; touch {finished}"])
        open({str(child_pid)!r}, "w").write(f"{{child.pid}}\\n")
        """
    )

    @dg.asset
    def foo(context: dg.AssetExecutionContext, client: dg.PipesSubprocessClient):
        return client.run(command=command, context=context).get_results()

    result = materialize_with([foo], client_class(), instance)
    leftovers.append(int(wait_for_file(child_pid)))
    assert result.success
    assert not finished.exists()  # run() did not wait for the child's 30 seconds
{% endraw %}
