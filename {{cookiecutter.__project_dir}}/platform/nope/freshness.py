"""`freshness:` in a manifest: how late an asset may be, checked without importing Dagster.

A manifest writes durations as people say them (`26h`, `90m`, `1h30m`, `2d`), and `nope check`
must refuse what Dagster's `FreshnessPolicy` would refuse when the code location loads:

- a window under a minute (Dagster: "cannot be less than 1 minute");
- `warn_after` not shorter than `max_lag` (Dagster: "warn_window must be less than fail_window");
- with `cron:`, a `max_lag` longer than the shortest gap between two deadlines (Dagster samples the
  cron's ticks for that gap, in its time zone: a daily deadline in a zone with summer time is
  23 hours apart once a year, so the limit here subtracts the zone's shift, at least as strict).

`asset_building.Publications.freshness_policy` turns the checked values into Dagster's policy.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from nope import dagster_rules

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION_PATTERN = r"^(\d+\s*[smhdw]\s*)+$"
"""A duration as a manifest writes it: `26h`, `90m`, `1h30m` (the JSON Schema holds it too, for editors)."""

_DURATION = re.compile(DURATION_PATTERN, re.ASCII)
_PART = re.compile(r"(\d+)\s*([smhdw])", re.ASCII)

MIN_SECONDS = 60
"""Dagster's shortest freshness window."""

MAX_SECONDS = 366 * 86400
"""A year and a day: an asset expected less often than yearly needs no alert."""


def duration_seconds(text: str) -> int:
    """Seconds in a duration such as `26h`, `90m`, `1h30m` or `2d`; raises ValueError saying how to write one."""
    if not isinstance(text, str) or not _DURATION.match(text.strip()):
        raise ValueError(
            f"`{text}` is not a duration: write whole numbers with a unit (s, m, h, d, w), e.g. `26h`, `90m` or `1h30m`"
        )
    seconds = sum(int(number) * _UNITS[unit] for number, unit in _PART.findall(text))
    if seconds < MIN_SECONDS:
        raise ValueError(f"`{text}` is under a minute, Dagster's shortest freshness window; write at least `1m`")
    if seconds > MAX_SECONDS:
        raise ValueError(f"`{text}` is over a year; write at most `366d`")
    return seconds


def in_words(seconds: float) -> str:
    """`93600` -> `26h`, `5400` -> `1h30m`: a duration as a manifest would write it."""
    parts, rest = [], int(seconds)
    for unit in ("d", "h", "m", "s"):
        count, rest = divmod(rest, _UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0m"


_SAMPLED_DAYS = 8 * 366


def shortest_cron_gap_seconds(cron: str, timezone: str) -> int:
    """The shortest time between two ticks of a valid `cron` in `timezone`, never more than Dagster finds.

    Ticks are worked out in minutes of the day and matching days over eight years (two leap
    days included, so `0 0 29 2 *` has two ticks); a day matches when its day of the month or its weekday does, when both are
    restricted, which finds at least the days cron runs on, so the gap is never too long. The
    zone's summer-time shift is subtracted: Dagster samples in the zone itself.
    """
    minutes, hours, days, months, weekdays = dagster_rules.cron_values(cron)
    day_field, weekday_field = cron.split()[2], cron.split()[4]
    times = sorted(hour * 60 + minute for hour in hours for minute in minutes)
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    start = date(2024, 1, 1)
    matching = [
        offset
        for offset in range(_SAMPLED_DAYS)
        if _runs_on(start + timedelta(days=offset), days, months, weekdays, both=day_field != "*" and weekday_field != "*")
    ]
    gaps += [(later - earlier) * 1440 + times[0] - times[-1] for earlier, later in zip(matching, matching[1:])]
    zone = ZoneInfo(timezone)
    offsets = [datetime(2024, month, 1, tzinfo=zone).utcoffset() or timedelta() for month in (1, 7)]
    shift = abs(offsets[0] - offsets[1]).total_seconds()
    return int(min(gaps) * 60 - shift)


def _runs_on(day: date, days: set[int], months: set[int], weekdays: set[int], *, both: bool) -> bool:
    if day.month not in months:
        return False
    weekday = (day.weekday() + 1) % 7  # cron counts from Sunday = 0 (and 7)
    on_weekday = weekday in weekdays or (weekday == 0 and 7 in weekdays)
    return (day.day in days or on_weekday) if both else (day.day in days and on_weekday)
