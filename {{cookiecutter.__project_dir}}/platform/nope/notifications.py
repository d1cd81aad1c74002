"""The owners in the manifests hear about their assets: two Dagster sensors that tell them.

- `nope_owners_on_run_failure` (Dagster's `run_failure_sensor`): once per failed run, the owners
  of each asset whose step failed hear which assets, the run (linked to the UI when `NOPE_UI_URL`
  is set) and the step's error, which holds the bounded tail of the script's stderr
  (`script_output.py`). A run tagged `nope/quiet` (previews, backfills) is kept quiet.
- `nope_owners_on_freshness`: when an asset starts failing its `freshness:` policy, and when it
  recovers. Dagster's daemon evaluates the policies and records each asset's state on the
  instance (`get_freshness_state_records`, what its UI shows); Dagster 1.13 has no public sensor
  for a change of that state, so this sensor keeps the state it last saw per asset in its cursor
  and speaks on changes only, never on every tick.

Both are defined only when a channel is configured (`OwnerChannels.configured`), the second only
when some asset has a freshness policy: a repository that sets nothing sends nothing, and shows
no sensor that would do nothing. A channel that is
down never fails a run: each message is tried `ATTEMPTS` times, with bounded timeouts, and what
still fails is written to the sensor's log, naming the server or the webhook's variable, never
a secret.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

import dagster as dg

from nope.mail import MailError, send_email
from nope.owner_channels import OwnerChannels, Recipients
from nope.webhooks import WebhookError, post_message

QUIET_TAG = "nope/quiet"
"""A run with this tag (any value) tells nobody when it fails: previews, backfills, experiments."""

SENSOR_SECONDS = 15
"""How often each sensor looks (one query of the instance): owners hear within this of the event."""

ATTEMPTS = 3
RETRY_WAIT_SECONDS = 2.0
"""Between attempts at one message; with the channels' 10-second timeouts, a message costs at most ~34 s."""

MAX_ERROR_CHARS = 6_000
"""Of one step's error in a message: it holds at most 8 KB of stderr already (`script_output.py`)."""

FAILING, FINE = "FAIL", ("PASS", "WARN")
"""Dagster's freshness states that are news: starting to fail, and being fresh again after failing."""


def owner_sensors(
    owners_by_op: Mapping[str, Mapping[str, Sequence[str]]], channels: OwnerChannels, *, fresh_keys: Iterable[str]
) -> list[dg.SensorDefinition]:
    """The sensors that tell owners; none when nothing can be sent.

    `owners_by_op`: op name -> asset key -> owners. `fresh_keys`: the assets with a freshness
    policy, the only ones the freshness sensor asks about (none: no freshness sensor).
    """
    if not channels.configured:
        return []
    owners_by_key = {key: list(owners) for assets in owners_by_op.values() for key, owners in assets.items()}
    keys_by_op = {op: list(assets) for op, assets in owners_by_op.items()}
    sensors = [_run_failure_sensor(keys_by_op, owners_by_key, channels)]
    watched = {key: owners_by_key.get(key, []) for key in fresh_keys}
    if watched:
        sensors.append(_freshness_sensor(watched, channels))
    return sensors


def _run_failure_sensor(
    keys_by_op: Mapping[str, Sequence[str]], owners_by_key: Mapping[str, Sequence[str]], channels: OwnerChannels
) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="nope_owners_on_run_failure",
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=SENSOR_SECONDS,
        description="Tells the owners of each asset whose step failed, once per run (email, team webhooks).",
    )
    def nope_owners_on_run_failure(context: dg.RunFailureSensorContext) -> None:
        run = context.dagster_run
        if QUIET_TAG in run.tags:
            context.log.info(f"run {run.run_id} is tagged {QUIET_TAG}: nobody is told")
            return
        errors = _failed_assets(context, keys_by_op)
        owners = {key: owners_by_key.get(key, []) for key in errors}
        link = channels.run_url(run.run_id)
        for recipients, keys in _by_recipient(owners, channels, context.log.warning):
            listing = "\n\n".join(f"- {key}\n{_indented(errors[key])}" for key in keys)
            subject = f"Dagster run failed: {_names(keys)}"
            text = (
                f"A Dagster run failed in assets you own.\n\n{listing}\n\n"
                f"Run {run.run_id}" + (f": {link}" if link else "") + "\n"
            )
            _deliver(recipients, subject, text, channels, context.log)

    return nope_owners_on_run_failure


def _failed_assets(context: dg.RunFailureSensorContext, keys_by_op: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Asset key -> the error of its failed step; every asset of the run when it failed before any step did."""
    selected = {key.to_user_string() for key in context.dagster_run.asset_selection or ()}
    errors: dict[str, str] = {}
    for event in context.get_step_failure_events():
        for key in keys_by_op.get(event.step_key or "", ()):
            if not selected or key in selected:
                errors[key] = _error_text(event)
    if not errors:
        message = context.failure_event.message or "the run failed before any of its steps did"
        for key in sorted(selected):
            errors[key] = message[:MAX_ERROR_CHARS]
    return errors


def _error_text(event: dg.DagsterEvent) -> str:
    """The step's own words: a `Failure`'s description (the script's stderr tail), else the error and its cause."""
    data = event.step_failure_data
    if data.user_failure_data is not None and data.user_failure_data.description:
        text = data.user_failure_data.description
    elif data.error is not None:
        text = data.error.to_string()
    else:
        text = event.message or "the step failed"
    return text[:MAX_ERROR_CHARS]


def _freshness_sensor(owners_by_key: Mapping[str, Sequence[str]], channels: OwnerChannels) -> dg.SensorDefinition:
    keys = [dg.AssetKey.from_user_string(key) for key in owners_by_key]

    @dg.sensor(
        name="nope_owners_on_freshness",
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=SENSOR_SECONDS,
        description="Tells the owners when an asset starts failing its `freshness:` policy, and when it recovers.",
    )
    def nope_owners_on_freshness(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        now = {
            key.to_user_string(): record.freshness_state.value
            for key, record in context.instance.get_freshness_state_records(keys).items()
        }
        news = {key: state for key, state in now.items() if _is_news(seen.get(key), state)}
        for recipients, changed in _by_recipient({key: owners_by_key[key] for key in news}, channels, context.log.warning):
            failing = [key for key in changed if news[key] == FAILING]
            lines = [
                f"- {key}: "
                + ("is late: it failed its freshness policy" if news[key] == FAILING else "is fresh again")
                + (f" ({channels.asset_url(key)})" if channels.asset_url(key) else "")
                for key in changed
            ]
            subject = (f"Asset late: {_names(failing)}" if failing else f"Asset fresh again: {_names(changed)}")
            _deliver(recipients, subject, "Freshness of assets you own:\n\n" + "\n".join(lines) + "\n", channels, context.log)
        context.update_cursor(json.dumps({**seen, **now}, sort_keys=True))
        return dg.SkipReason(f"{len(news)} freshness change(s) told" if news else "no freshness change")

    return nope_owners_on_freshness


def _is_news(before: str | None, now: str) -> bool:
    """Starting to fail (from anything else, first sight included), or fine again after failing."""
    return (now == FAILING and before != FAILING) or (before == FAILING and now in FINE)


def _by_recipient(
    owners_by_key: Mapping[str, Sequence[str]], channels: OwnerChannels, warn: Callable[[str], None]
) -> list[tuple[Recipients, list[str]]]:
    """One message per address or webhook, listing only the assets its owners own."""
    keys_by_email: dict[str, list[str]] = defaultdict(list)
    keys_by_webhook: dict[str, list[str]] = defaultdict(list)
    webhooks = {}
    for key, owners in sorted(owners_by_key.items()):
        recipients = channels.recipients(owners)
        for problem in recipients.unreachable:
            warn(f"{key}: {problem}")
        for email in recipients.emails:
            keys_by_email[email].append(key)
        for webhook in recipients.webhooks:
            webhooks[webhook.variable] = webhook
            keys_by_webhook[webhook.variable].append(key)
    messages = [(Recipients(emails=(email,)), keys) for email, keys in keys_by_email.items()]
    messages += [(Recipients(webhooks=(webhooks[name],)), keys) for name, keys in keys_by_webhook.items()]
    return messages


def _deliver(recipients: Recipients, subject: str, text: str, channels: OwnerChannels, log: logging.Logger) -> None:
    """Send, trying each channel `ATTEMPTS` times; what still fails is logged, never raised."""
    sends: list[tuple[str, Callable[[], None]]] = []
    if recipients.emails and channels.smtp is not None:
        smtp = channels.smtp
        sends.append(
            (f"email to {', '.join(recipients.emails)}", lambda: send_email(smtp, to=list(recipients.emails), subject=subject, body=text))
        )
    for webhook in recipients.webhooks:
        sends.append((f"webhook {webhook.variable}", functools.partial(post_message, webhook, f"*{subject}*\n{text}")))
    for what, send in sends:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                send()
                log.info(f"sent {what}: {subject}")
                break
            except (MailError, WebhookError) as error:
                log.warning(f"{what}, attempt {attempt} of {ATTEMPTS}: {error}")
                if attempt < ATTEMPTS:
                    time.sleep(RETRY_WAIT_SECONDS)


def _names(keys: Sequence[str]) -> str:
    return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def _indented(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())
