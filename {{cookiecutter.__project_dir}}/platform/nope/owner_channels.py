"""Who hears about an asset, and how: its owners turned into email addresses and chat webhooks.

An email owner gets email; a `team:<name>` owner gets what the platform maps the team to in its
settings (`TEAM_CHANNELS`): email addresses, and `webhook:<VARIABLE>` entries naming the
environment variable that holds a chat webhook's address. The address itself is a secret (a
Slack incoming webhook's path is its key), so it lives where Dagster runs, never in the
repository. The SMTP server is named by the environment too (`NOPE_SMTP_*`).

Nothing is configured by default, and then nothing is sent: `notifications.py` defines no
sensor. Nothing here imports Dagster: `nope check` uses `unmapped_teams`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from nope.models import OWNER_PATTERN

T = TypeVar("T")

WEBHOOK_PREFIX = "webhook:"
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def channel_problem(entry: object) -> str | None:
    """Why `entry` of a team's channels is neither an email address nor `webhook:<VARIABLE>`, or None."""
    if isinstance(entry, str) and entry.startswith(WEBHOOK_PREFIX):
        if re.fullmatch(ENV_NAME, entry.removeprefix(WEBHOOK_PREFIX)):
            return None
        return f"`{entry}`: write `webhook:` and the name of the environment variable holding the webhook's address"
    if isinstance(entry, str) and re.fullmatch(OWNER_PATTERN, entry) and not entry.startswith("team:"):
        return None
    return f"`{entry}` is not a channel: write an email address or `webhook:<VARIABLE>`"


@dataclass(frozen=True)
class SmtpServer:
    """The mail server the platform names in the environment where Dagster runs."""

    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log or a message

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> SmtpServer | None:
        """`NOPE_SMTP_HOST` (None when unset), `NOPE_SMTP_PORT` (587), `NOPE_SMTP_FROM`, `NOPE_SMTP_USER`/`_PASSWORD`."""
        host = environ.get("NOPE_SMTP_HOST", "").strip()
        if not host:
            return None
        port = environ.get("NOPE_SMTP_PORT", "").strip() or "587"
        if not port.isdigit():
            raise ValueError(f"NOPE_SMTP_PORT must be a port number, not `{port}`")
        return cls(
            host=host,
            port=int(port),
            sender=environ.get("NOPE_SMTP_FROM", "").strip() or f"dagster@{host}",
            user=environ.get("NOPE_SMTP_USER") or None,
            password=environ.get("NOPE_SMTP_PASSWORD") or None,
        )


@dataclass(frozen=True)
class Webhook:
    """A chat webhook by the variable that holds its address: the name is safe to log, the address is not."""

    variable: str
    url: str = field(repr=False)


@dataclass(frozen=True)
class Recipients:
    """Where one message goes: email addresses and webhooks, plus what could not be reached, in words."""

    emails: tuple[str, ...] = ()
    webhooks: tuple[Webhook, ...] = ()
    unreachable: tuple[str, ...] = ()


@dataclass(frozen=True)
class OwnerChannels:
    """The platform's channels: its SMTP server (if any), its teams' mapping, the UI's address."""

    smtp: SmtpServer | None
    team_channels: Mapping[str, tuple[str, ...]]
    environ: Mapping[str, str] = field(repr=False)
    ui_url: str = ""

    @classmethod
    def from_environment(cls, team_channels: Mapping[str, Iterable[str]], environ: Mapping[str, str]) -> OwnerChannels:
        return cls(
            smtp=SmtpServer.from_environment(environ),
            team_channels={team: tuple(entries) for team, entries in team_channels.items()},
            environ=dict(environ),
            ui_url=environ.get("NOPE_UI_URL", "").strip().rstrip("/"),
        )

    @property
    def configured(self) -> bool:
        """Whether anything can be sent at all: an SMTP server, or a team webhook whose variable is set."""
        return self.smtp is not None or any(
            self.environ.get(entry.removeprefix(WEBHOOK_PREFIX))
            for entries in self.team_channels.values()
            for entry in entries
            if entry.startswith(WEBHOOK_PREFIX)
        )

    def recipients(self, owners: Iterable[str]) -> Recipients:
        """The addresses and webhooks of these owners (each once), and why any owner cannot be reached."""
        emails: dict[str, None] = {}
        webhooks: dict[str, Webhook] = {}
        unreachable: list[str] = []
        for owner in owners:
            entries = self.team_channels.get(owner, ()) if owner.startswith("team:") else (owner,)
            if not entries:
                unreachable.append(f"{owner} is not mapped in TEAM_CHANNELS")
            for entry in entries:
                if entry.startswith(WEBHOOK_PREFIX):
                    variable = entry.removeprefix(WEBHOOK_PREFIX)
                    if self.environ.get(variable):
                        webhooks[variable] = Webhook(variable, self.environ[variable])
                    else:
                        unreachable.append(f"{owner}: {variable} is not set")
                elif self.smtp is None:
                    unreachable.append(f"{entry}: no SMTP server (NOPE_SMTP_HOST is not set)")
                else:
                    emails[entry] = None
        return Recipients(tuple(emails), tuple(webhooks.values()), tuple(unreachable))

    def run_url(self, run_id: str) -> str | None:
        return f"{self.ui_url}/runs/{run_id}" if self.ui_url else None

    def asset_url(self, key: str) -> str | None:
        return f"{self.ui_url}/assets/{key}" if self.ui_url else None


def unmapped_teams(owners_by_place: Iterable[tuple[str, T]], team_channels: Mapping[str, object]) -> dict[str, T]:
    """Team owners the platform maps to no channel, each with the first place naming it."""
    found: dict[str, T] = {}
    for owner, place in owners_by_place:
        if owner.startswith("team:") and owner not in team_channels and owner not in found:
            found[owner] = place
    return found
