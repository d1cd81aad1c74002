"""Owners hear of their failed assets: a real SMTP server and a real webhook receiver on loopback.

Runs go through a real Dagster instance; the run-failure sensor is evaluated on the run's own
failure event, as the daemon would. `make dev` with its daemon is exercised end to end by the
template's tests (tests/test_webserver.py).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType

import dagster as dg
import pytest
from aiosmtpd.controller import Controller

from nope import NopeProject, notifications
from nope.platform_settings import check_settings

from conftest import REPO_ROOT, materialize

FAILING = "import sys\nprint('reading orders.csv', file=sys.stderr)\nsys.exit('orders.csv is missing')\n"


def unused_port() -> int:
    """A loopback port nobody listens on (aiosmtpd's controller needs one named in advance)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """Messages an aiosmtpd server on loopback received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        message = BytesParser(policy=default_policy).parsebytes(envelope.original_content or envelope.content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on loopback, named to the platform the way an operator names theirs."""
    received = Inbox()
    port = unused_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("NOPE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("NOPE_SMTP_PORT", str(port))
    monkeypatch.setenv("NOPE_SMTP_FROM", "dagster@acme.example")
    monkeypatch.setenv("NOPE_UI_URL", "http://dagster.acme.example/")
    yield received
    controller.stop()


class Receiver(BaseHTTPRequestHandler):
    posts: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802  # http.server's name
        Receiver.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    """A real HTTP receiver on loopback; its address is in NOPE_WEBHOOK_SALES, as a secret would be."""
    Receiver.posts = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("NOPE_WEBHOOK_SALES", f"http://127.0.0.1:{server.server_port}/hooks/T000/B000/secret-token")
    yield Receiver.posts
    server.shutdown()


class TeamProject(NopeProject):
    @classmethod
    def team_channels(cls):
        return {"team:sales": ["sales-lead@example.com", "webhook:NOPE_WEBHOOK_SALES"]}


def fail_and_tell(project: type[NopeProject], defs_path: Path, instance: dg.DagsterInstance, **tags: str) -> None:
    """Materialize everything (a script fails), then evaluate the run-failure sensor on that run."""
    defs = project.make_definitions(defs_path=defs_path)
    result = materialize(defs, instance, tags=tags)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    [failure] = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert run is not None and failure.dagster_event is not None
    context = dg.build_run_status_sensor_context(
        sensor_name="nope_owners_on_run_failure",
        dagster_event=failure.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()
    defs.resolve_sensor_def("nope_owners_on_run_failure")(context)


def test_the_owner_of_a_failed_asset_gets_one_email_naming_it_and_the_scripts_error(make_defs, instance, inbox):
    defs_path = make_defs(
        {
            "sales/orders.py": FAILING,
            "sales/orders.yaml": "target: subprocess\nowners: [alice@example.com]\n",
            "sales/fine.py": "print('ok')\n",
            "sales/fine.yaml": "target: subprocess\nowners: [bob@example.com]\n",
        }
    )
    fail_and_tell(NopeProject, defs_path, instance)
    [message] = inbox.messages
    assert message["X-Envelope-To"] == "alice@example.com"
    assert message["From"] == "dagster@acme.example"
    assert message["Subject"] == "Dagster run failed: sales/orders"
    body = message.get_content()
    assert "- sales/orders" in body and "orders.csv is missing" in body and "reading orders.csv" in body
    [run] = instance.get_runs()
    assert f"Run {run.run_id}: http://dagster.acme.example/runs/{run.run_id}" in body


def test_a_team_hears_by_its_addresses_and_its_webhook_without_the_address_in_any_log(
    make_defs, instance, inbox, webhook, capfd
):
    defs_path = make_defs({"sales/orders.py": FAILING, "sales/orders.yaml": "target: subprocess\nowners: [team:sales]\n"})
    fail_and_tell(TeamProject, defs_path, instance)
    assert [message["X-Envelope-To"] for message in inbox.messages] == ["sales-lead@example.com"]
    [post] = webhook
    assert post["text"].startswith("*Dagster run failed: sales/orders*") and "orders.csv is missing" in post["text"]
    assert "secret-token" not in "".join(capfd.readouterr())


def test_a_quiet_run_tells_nobody(make_defs, instance, inbox):
    defs_path = make_defs({"g/a.py": FAILING, "g/a.yaml": "target: subprocess\nowners: [alice@example.com]\n"})
    fail_and_tell(NopeProject, defs_path, instance, **{notifications.QUIET_TAG: "backfill"})
    assert inbox.messages == []


def test_a_channel_that_is_down_is_logged_and_retried_a_bounded_number_of_times(
    make_defs, instance, monkeypatch, capfd
):
    port = unused_port()
    monkeypatch.setenv("NOPE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("NOPE_SMTP_PORT", str(port))
    monkeypatch.setenv("NOPE_SMTP_USER", "dagster")
    monkeypatch.setenv("NOPE_SMTP_PASSWORD", "hunter2-secret")
    monkeypatch.setattr(notifications, "RETRY_WAIT_SECONDS", 0.1)
    defs_path = make_defs({"g/a.py": FAILING, "g/a.yaml": "target: subprocess\nowners: [alice@example.com]\n"})
    started = time.monotonic()
    fail_and_tell(NopeProject, defs_path, instance)  # does not raise
    assert time.monotonic() - started < 60
    logged = "".join(capfd.readouterr())  # the sensor's log, as the daemon's terminal shows it
    attempts = [line for line in logged.splitlines() if "email to alice@example.com, attempt" in line]
    assert len(attempts) == notifications.ATTEMPTS and f"127.0.0.1:{port}" in attempts[-1], logged
    assert "hunter2-secret" not in logged


def test_without_a_channel_no_owner_sensor_is_defined(make_defs, monkeypatch):
    for variable in ("NOPE_SMTP_HOST", "NOPE_WEBHOOK_SALES"):
        monkeypatch.delenv(variable, raising=False)
    defs_path = make_defs({"g/a.py": "print(1)\n", "g/a.yaml": "target: subprocess\nowners: [team:sales]\n"})
    names = [sensor.name for sensor in TeamProject.make_definitions(defs_path=defs_path).sensors or []]
    assert not [name for name in names if name.startswith("nope_owners")]
    # A team's webhook is a channel of its own; the freshness sensor watches only assets with a policy.
    monkeypatch.setenv("NOPE_WEBHOOK_SALES", "http://127.0.0.1:9/hook")
    names = [sensor.name for sensor in TeamProject.make_definitions(defs_path=defs_path).sensors or []]
    assert names == ["nope_owners_on_run_failure"]
    (defs_path / "g/a.yaml").write_text("target: subprocess\nowners: [team:sales]\nfreshness: {max_lag: 26h}\n")
    names = [sensor.name for sensor in TeamProject.make_definitions(defs_path=defs_path).sensors or []]
    assert names == ["nope_owners_on_run_failure", "nope_owners_on_freshness"]


def test_team_channels_in_settings_are_checked_with_their_line(tmp_path):
    settings = tmp_path / "settings.py"
    settings.write_text(
        "TEAM_CHANNELS = {\n"
        '    "team:sales": ["sales@example.com", "webhook:NOPE_WEBHOOK_SALES"],\n'
        '    "team:ops": ["https://hooks.slack.com/services/T0/B0/x"],\n'
        "}\n"
    )
    module = ModuleType("settings")
    module.__file__ = str(settings)
    exec(settings.read_text(), module.__dict__)
    [problem] = check_settings(module, tmp_path)
    assert (problem.path, problem.line) == ("settings.py", 3)
    assert "is not a channel: write an email address or `webhook:<VARIABLE>`" in problem.message


def test_nope_check_warns_once_per_team_no_channel_reaches(tmp_path):
    """Three assets name two teams the platform's settings do not map: two warnings, each where the team is written."""
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    files = {
        "g/a.yaml": "target: subprocess\nowners: [team:nowhere]\n",
        "g/b.yaml": "target: subprocess\nowners: [team:nowhere]\n",
        "h/_group.yaml": "owners: [alice@example.com, team:unheard]\n",
        "h/c.yaml": "target: subprocess\n",
    }
    for relative, text in files.items():
        path = tmp_path / "defs" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.with_suffix(".py").write_text("print(1)\n")
    (tmp_path / "defs/h/_group.py").unlink()
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "platform")}
    environment.pop("GITHUB_ACTIONS", None)
    checked = subprocess.run(
        [sys.executable, "-m", "nope", "check"], cwd=tmp_path, env=environment, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    warnings = [line for line in checked.stderr.splitlines() if line.startswith("warning:")]
    unheard = "is in no TEAM_CHANNELS entry of the platform's settings: it hears of no failed run or late asset"
    assert warnings == [
        f"warning: defs/g/a.yaml:2:1: `team:nowhere` {unheard}",
        f"warning: defs/h/_group.yaml:1:1: `team:unheard` {unheard}",
    ]


def test_owners_hear_when_an_asset_turns_late_and_fresh_again_never_on_every_tick(make_defs, instance, inbox):
    """The states Dagster's daemon records (reported here as it reports them), read by the sensor on each tick."""
    from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange  # no public name: the daemon's

    defs_path = make_defs(
        {"g/a.py": "print(1)\n", "g/a.yaml": "target: subprocess\nowners: [alice@example.com]\nfreshness: {max_lag: 26h}\n"}
    )
    sensor = NopeProject.make_definitions(defs_path=defs_path).resolve_sensor_def("nope_owners_on_freshness")
    key = dg.AssetKey(["g", "a"])
    cursor = None

    def becomes(before: FreshnessState, after: FreshnessState) -> None:
        instance.report_runless_asset_event(
            FreshnessStateChange(key=key, previous_state=before, new_state=after, state_change_timestamp=time.time())
        )

    def tick() -> list[str]:
        nonlocal cursor
        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        sensor(context)
        cursor = context.cursor
        return [message["Subject"] for message in inbox.messages]

    becomes(FreshnessState.UNKNOWN, FreshnessState.PASS)
    assert tick() == []
    becomes(FreshnessState.PASS, FreshnessState.FAIL)
    assert tick() == ["Asset late: g/a"]
    assert tick() == ["Asset late: g/a"]  # still late: nothing new
    becomes(FreshnessState.FAIL, FreshnessState.PASS)
    assert tick() == ["Asset late: g/a", "Asset fresh again: g/a"]
    assert "http://dagster.acme.example/assets/g/a" in inbox.messages[0].get_content()
