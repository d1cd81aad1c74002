"""Posting one message to a chat webhook, with the standard library only.

Slack's incoming webhooks take `{"text": ...}` as JSON, and so do the chat tools that copy
them (Mattermost, Rocket.Chat, Microsoft Teams' Office 365 connectors): one small POST, which
`urllib` does, so no client library is added. The webhook's address is its key, so an error
names the environment variable that holds it, never the address.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from nope.owner_channels import Webhook

TIMEOUT_SECONDS = 10
"""For the whole request: a webhook that does not answer is reported, never waited on."""


class WebhookError(Exception):
    """The webhook did not take the message; the text names its variable, never its address."""


def post_message(webhook: Webhook, text: str) -> None:
    """POST `{"text": text}` to the webhook; raises WebhookError unless it answers 2xx."""
    request = urllib.request.Request(
        webhook.url,
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310  # the platform's own address
            response.read(1024)
    except urllib.error.HTTPError as error:
        raise WebhookError(f"the webhook in {webhook.variable} answered HTTP {error.code}") from None
    except (OSError, ValueError) as error:  # URLError is an OSError; ValueError: not a URL at all
        reason = getattr(error, "reason", None) or type(error).__name__
        raise WebhookError(f"the webhook in {webhook.variable} could not be reached: {reason}") from None
