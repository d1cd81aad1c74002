"""The baked repo as its users meet it: `make dev` typed in a user's shell (no virtualenv on
PATH, an empty HOME), then the webserver's GraphQL API; `make stop`.

The module's tests share one bake: the first `make dev` installs its `.venv` from the locks,
and each test starts from the bake as generated (`as_generated`). Run alone with
`pytest -m webserver`.
"""

from __future__ import annotations

import mailbox
import os
import signal
import subprocess
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

import pytest
from conftest import bake
from dagster_dev import DagsterDev, as_generated, free_port, group_alive, processes_using, wait_until
from user_shell import run_as_user

pytestmark = pytest.mark.webserver

# The example manifests under defs/, as the UI must show them: key -> (group, deps).
EXAMPLE_GRAPH = {
    "group_a/asset_one": ("group_a", set()),
    "group_a/asset_two": ("group_a", {"group_a/asset_one"}),
    "group_a/asset_three": ("group_a", {"group_a/asset_two"}),
    "group_a/asset_four": ("group_a", {"group_a/asset_two"}),
    "sales/orders": ("sales", set()),
    "sales/daily_revenue": ("sales", {"sales/orders"}),
    "sales/customer_revenue": ("sales", {"sales/orders"}),
}

# What the scripts report through Dagster Pipes.
PIPES_METADATA = {
    "group_a/asset_two": {"metadata": "value_one"},
    "group_a/asset_three": {"metadata": "value_one"},
    "group_a/asset_four": {"metadata": "value_two"},
}


def key_of(node: dict) -> str:
    return "/".join(node["assetKey"]["path"])


@pytest.fixture(scope="module")
def shared_bake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("webserver"))


@pytest.fixture
def repo(shared_bake: Path) -> Path:
    return as_generated(shared_bake)


def test_make_dev_serves_without_running_anything_and_a_launched_run_materializes(
    repo: Path, user_home: Path, tmp_path: Path
):
    """The first hour's UI launch: `make dev` from a shell with no virtualenv, then Materialize.

    The run's process is started by the repository's run launcher, which must find Dagster
    without the virtualenv on PATH (platform/nope/run_launcher.py)."""
    server = DagsterDev.via_make(repo, user_home, tmp_path / "dagster-dev.log")
    try:
        location = server.wait_until_ready()

        graph = {key_of(node): node for node in server.asset_nodes()}
        assert set(EXAMPLE_GRAPH) <= set(graph), sorted(graph)
        for key, (group, deps) in EXAMPLE_GRAPH.items():
            assert graph[key]["groupName"] == group, key
            assert {"/".join(dep["path"]) for dep in graph[key]["dependencyKeys"]} == deps, key

        # `make dev` serves at once: no script has run, the instance has no history yet.
        assert not any(server.materializations(key) for key in EXAMPLE_GRAPH)
        assert not (repo / "data").exists()
        # Dagster's own tooling is quiet about the layout: the committed dagster.yaml is used.
        assert "will not be used" not in server.log_tail(100_000)
        assert "Use 'dg dev' instead" not in server.log_tail(100_000)

        run_id = server.launch(location, EXAMPLE_GRAPH)
        assert server.wait_for_run(run_id) == "SUCCESS", server.log_tail()

        for key in EXAMPLE_GRAPH:
            assert run_id in [event["runId"] for event in server.materializations(key)], key
        for key, metadata in PIPES_METADATA.items():
            event = next(event for event in server.materializations(key) if event["runId"] == run_id)
            assert event["metadata"].items() >= metadata.items(), (key, event)
        # The sales scripts wrote real files from the repository's root folder, in the data folder of
        # the environment of its git branch (`main`, as baked), not production's.
        assert (repo / "data/main/sales/daily_revenue.csv").is_file()

        # A run's processes read only the groups the run needs (platform/nope/run_scope.py):
        # a manifest of another group, broken after the code location loaded, cannot stop it,
        # while a run that needs that group reads it and fails saying why.
        (repo / "defs/sales/revenue.yaml").write_text("target: subprocess\nowners: [team:x\n")
        narrowed = server.launch(location, ["group_a/asset_one"])
        assert server.wait_for_run(narrowed) == "SUCCESS", server.log_tail()
        needs_sales = server.launch(location, ["sales/daily_revenue", "sales/customer_revenue"])
        assert server.wait_for_run(needs_sales) == "FAILURE"
        assert "defs/sales/revenue.yaml:3:1: is not valid YAML" in server.run_text(needs_sales)
    finally:
        server.stop()
    assert server.process.returncode is not None
    assert not group_alive(server.pgid), "a process of dagster dev outlived it"


def test_make_stop_stops_a_make_dev_started_in_the_background_with_nothing_left(
    repo: Path, user_home: Path, tmp_path: Path
):
    server = DagsterDev.via_make(repo, user_home, tmp_path / "dagster-dev.log")
    home = repo / ".dagster_home"
    try:
        server.wait_until_ready()
        assert processes_using(home), "make dev runs with the repository's DAGSTER_HOME"
        stopped = run_as_user("make stop", repo, user_home)
        assert "dagster dev stopped" in stopped.stdout
        server.process.wait(timeout=120)  # `make dev` returns once its server is gone
        assert processes_using(home) == []
        assert not (home / "dev.pid").exists()
        again = run_as_user("make stop", repo, user_home)
        assert again.stdout.strip().splitlines()[-1] == "dagster dev is not running here."
    finally:
        server.stop()


def test_sigterm_to_the_server_of_make_dev_stops_every_process_it_started(repo: Path, user_home: Path, tmp_path: Path):
    """What a script's `kill`, a CI timeout or a service manager sends: SIGTERM to the server only."""
    server = DagsterDev.via_make(repo, user_home, tmp_path / "dagster-dev.log")
    home = repo / ".dagster_home"
    try:
        server.wait_until_ready()
        os.kill(int((home / "dev.pid").read_text()), signal.SIGTERM)
        wait_until(lambda: not processes_using(home), "every process of make dev to end")
        server.process.wait(timeout=120)
    finally:
        server.stop()


def test_make_demo_materializes_an_empty_instance_once_then_serves(repo: Path, user_home: Path, tmp_path: Path):
    first = DagsterDev.via_make(repo, user_home, tmp_path / "demo.log", target="demo")
    try:
        first.wait_until_ready()
        assert all(first.materializations(key) for key in EXAMPLE_GRAPH)
        runs_after_first = {event["runId"] for event in first.materializations("group_a/asset_one")}
    finally:
        first.stop()
    second = DagsterDev.via_make(repo, user_home, tmp_path / "demo-again.log", target="demo")
    try:
        second.wait_until_ready()
        assert {event["runId"] for event in second.materializations("group_a/asset_one")} == runs_after_first
        assert "materializations already" in second.log_tail()
    finally:
        second.stop()


OWNED = {
    # Fails, writing to stderr first: its owner must read both.
    "defs/alerts/broken.py": "import sys\nprint('reading orders.csv', file=sys.stderr)\nsys.exit('orders.csv is missing')\n",
    "defs/alerts/broken.yaml": "target: subprocess\nowners: [alice@example.com]\n",
    # Late a minute after each materialization (Dagster's shortest freshness window).
    "defs/alerts/ticker.py": "print('tick')\n",
    "defs/alerts/ticker.yaml": "target: subprocess\nowners: [alice@example.com]\nfreshness: {max_lag: 1m}\n",
}


def test_under_make_dev_the_owner_hears_of_a_failed_run_and_of_a_late_asset_by_email(
    repo: Path, user_home: Path, tmp_path: Path
):
    """docs/platform/notifications.md end to end: `make dev` with its daemon, SMTP named by the environment.

    The mail server is aiosmtpd, a real one, from the repository's own locked dev dependencies."""
    for relative, text in OWNED.items():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_text(text)
    smtp_port = free_port()
    server = DagsterDev.via_make(
        repo,
        user_home,
        tmp_path / "dagster-dev.log",
        NOPE_SMTP_HOST="127.0.0.1",
        NOPE_SMTP_PORT=str(smtp_port),
        FRESHNESS_DAEMON_INTERVAL_SECONDS="5",  # Dagster's own setting (30 s by default), as the docs say
    )
    maildir = tmp_path / "maildir"
    smtp = None
    try:
        location = server.wait_until_ready()
        smtp = subprocess.Popen(  # the `.venv` exists once `make dev` serves
            [str(repo / ".venv/bin/python"), "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}",
             "-c", "aiosmtpd.handlers.Mailbox", str(maildir)],
        )  # fmt: skip
        fresh = server.launch(location, ["alerts/ticker"])
        assert server.wait_for_run(fresh) == "SUCCESS", server.log_tail()
        # A run-failure sensor reports runs that fail after its first tick.
        wait_until(lambda: server.sensor_ticks(location, "nope_owners_on_run_failure") > 0, "the sensor's first tick")
        failed = server.launch(location, ["alerts/broken"])
        assert server.wait_for_run(failed) == "FAILURE"

        def mail() -> list[EmailMessage]:
            if not maildir.exists():
                return []
            parse = BytesParser(EmailMessage, policy=default_policy).parsebytes
            return [parse(message.as_bytes()) for message in mailbox.Maildir(maildir, create=False)]

        wait_until(lambda: any("run failed" in message["Subject"] for message in mail()), "the failure email", 120)
        [failure] = [message for message in mail() if "run failed" in message["Subject"]]
        assert failure["To"] == "alice@example.com" and failure["Subject"] == "Dagster run failed: alerts/broken"
        body = failure.get_content()
        assert "- alerts/broken" in body and "orders.csv is missing" in body and "reading orders.csv" in body
        assert failed in body

        # A minute after its materialization the ticker is late: told once, then once more when fresh again.
        wait_until(lambda: any(message["Subject"] == "Asset late: alerts/ticker" for message in mail()), "the late email", 150)
        again = server.launch(location, ["alerts/ticker"])
        assert server.wait_for_run(again) == "SUCCESS"
        wait_until(lambda: any("fresh again" in message["Subject"] for message in mail()), "the fresh-again email", 90)
        subjects = sorted(message["Subject"] for message in mail())
        assert subjects == [
            "Asset fresh again: alerts/ticker",
            "Asset late: alerts/ticker",
            "Dagster run failed: alerts/broken",
        ], subjects
    finally:
        server.stop()
        if smtp is not None:
            smtp.terminate()
            smtp.wait(timeout=30)
