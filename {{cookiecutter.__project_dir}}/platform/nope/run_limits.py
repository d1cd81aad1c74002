"""What a script can be given and how long a run may wait, checked before anything runs.

`nope check` must refuse what would only fail when the script starts, naming the manifest
line, rather than let a run fail with "embedded null byte" or "Argument list too long" and
no file named, or wait for a retry that never comes:

- a NUL byte ends a C string: no argument or environment value can hold one;
- Linux refuses one argument or environment string over 131,072 bytes (MAX_ARG_STRLEN), and
  all of them together over about 2 MB (ARG_MAX, shared with the platform's own environment);
  the limits here stay well under both;
- a timeout or retry delay of `1e308` seconds is a run that never ends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

MAX_TEXT_BYTES = 100_000
"""One argument or environment value, in UTF-8 bytes (Linux's own limit is 131,072)."""

MAX_TOTAL_BYTES = 500_000
"""A manifest's `args` and `env` (names and values) together, in UTF-8 bytes."""

MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
"""`timeout:` at most a week: a longer step is a job for a service, not a run."""

MAX_RETRY_DELAY_SECONDS = 24 * 3600
"""The wait before any one retry, exponential backoff included, at most a day."""


def refuse_unpassable_text(text: str) -> str:
    """An argument or environment value a process can be given; raises ValueError otherwise."""
    if "\0" in text:
        raise ValueError("holds a NUL byte (\\0), which no process can be given; remove it")
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_TEXT_BYTES:
        raise ValueError(
            f"is {size:,} bytes; an argument or env value may hold at most {MAX_TEXT_BYTES:,}: keep data in files or storage"
        )
    return text


def total_problem(args: Sequence[str], env: Mapping[str, str]) -> str | None:
    """Why `args` and `env` together are too much to hand to one process, or None."""
    texts = [*args, *env, *env.values()]
    size = sum(len(text.encode("utf-8", errors="surrogatepass")) for text in texts)
    if size <= MAX_TOTAL_BYTES:
        return None
    return (
        f"`args` and `env` hold {size:,} bytes together; a script may be given at most {MAX_TOTAL_BYTES:,}: "
        "keep data in files or storage"
    )


def refuse_boolean(value: Any) -> Any:
    """`timeout: true` is a mistake, not one second: YAML's booleans are never numbers here."""
    if isinstance(value, bool):
        raise ValueError(f"write a number, not `{str(value).lower()}`")
    return value


def seconds_at_most(limit: int, in_words: str) -> Callable[[float], float]:
    """A validator refusing more than `limit` seconds, saying the limit in words too."""

    def check(seconds: float) -> float:
        if seconds > limit:
            raise ValueError(f"at most {limit:,} seconds ({in_words}), not `{seconds:g}`")
        return seconds

    return check


def exponential_wait_seconds(delay: float, retries: int) -> float:
    """The wait before the last retry of Dagster's exponential backoff: `delay * (2**retries - 1)`."""
    return delay * (2**retries - 1)
