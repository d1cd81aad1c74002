"""What one step's Pipes messages may add to Dagster's event log: bounded, like its stderr tail.

Metadata a script reports, and what it logs through `pipes.log`, are stored in the event log
as they come: 100,000 metadata entries once grew it by 23 MB, and 100 log messages of 200 KB
by 20 MB, in one run. So each Pipes session (one script's run, one step) keeps at most:

- `MAX_METADATA_ENTRIES` metadata entries, across all its materializations and checks, each
  at most `MAX_METADATA_VALUE_BYTES` (key and value, as JSON), `MAX_METADATA_BYTES` in all;
- `MAX_LOG_BYTES` of `pipes.log` messages, each cut to `MAX_LOG_MESSAGE_BYTES`.

What is left out is counted, and `summary()` says what, once, when the script closes Pipes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_METADATA_ENTRIES = 1_000
MAX_METADATA_VALUE_BYTES = 10_000
MAX_METADATA_BYTES = 500_000
MAX_LOG_MESSAGE_BYTES = 10_000
MAX_LOG_BYTES = 500_000

_NAMED_KEYS = 5
"""How many dropped metadata keys the summary names."""

_REPORTS = ("report_asset_materialization", "report_asset_check")


class StepOutputLimits:
    """Applies the limits to one Pipes session's messages, in the order they arrive, and counts what it left out."""

    def __init__(self) -> None:
        self.metadata_entries = 0
        self.metadata_bytes = 0
        self.dropped_entries = 0
        self.dropped_keys: list[str] = []
        self.log_bytes = 0
        self.cut_logs = 0
        self.dropped_logs = 0

    def admit(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """`message` within the limits (metadata dropped, a log message cut), or None to leave it out.

        Messages of unexpected shape pass unchanged: Dagster's handler says what is wrong with them.
        """
        params = message.get("params")
        if not isinstance(params, dict):
            return message
        method = message.get("method")
        if method in _REPORTS and isinstance(params.get("metadata"), Mapping):
            return {**message, "params": {**params, "metadata": self._bounded_metadata(params["metadata"])}}
        if method == "log" and isinstance(params.get("message"), str):
            text = self._bounded_log(params["message"])
            return None if text is None else {**message, "params": {**params, "message": text}}
        return message

    def summary(self) -> str | None:
        """One sentence on what was left out of the event log, or None when nothing was."""
        parts = []
        if self.dropped_entries:
            keys = ", ".join(f"`{key}`" for key in self.dropped_keys)
            more = ", ..." if self.dropped_entries > len(self.dropped_keys) else ""
            parts.append(
                f"{self.dropped_entries:,} metadata entries dropped ({keys}{more}; at most {MAX_METADATA_ENTRIES:,} "
                f"entries per step, {MAX_METADATA_VALUE_BYTES:,} bytes each, {MAX_METADATA_BYTES:,} bytes in all)"
            )
        if self.cut_logs:
            parts.append(f"{self.cut_logs:,} log messages cut to {MAX_LOG_MESSAGE_BYTES:,} bytes")
        if self.dropped_logs:
            parts.append(f"{self.dropped_logs:,} log messages dropped (at most {MAX_LOG_BYTES:,} bytes of logs per step)")
        if not parts:
            return None
        return f"[pipes] The script's messages exceeded this step's limits; left out of the event log: {'; '.join(parts)}."

    def _bounded_metadata(self, metadata: Mapping[str, Any]) -> dict[str, Any]:
        kept = {}
        for key, value in metadata.items():
            size = len(json.dumps(key)) + len(json.dumps(value, default=str))
            if (
                self.metadata_entries >= MAX_METADATA_ENTRIES
                or size > MAX_METADATA_VALUE_BYTES
                or self.metadata_bytes + size > MAX_METADATA_BYTES
            ):
                self.dropped_entries += 1
                if len(self.dropped_keys) < _NAMED_KEYS:
                    self.dropped_keys.append(str(key)[:100])
                continue
            kept[key] = value
            self.metadata_entries += 1
            self.metadata_bytes += size
        return kept

    def _bounded_log(self, text: str) -> str | None:
        encoded = text.encode("utf-8", errors="replace")
        cut = len(encoded) - MAX_LOG_MESSAGE_BYTES
        if cut > 0:
            text = encoded[:MAX_LOG_MESSAGE_BYTES].decode("utf-8", errors="ignore")
            text += f" [... {cut:,} more bytes cut: at most {MAX_LOG_MESSAGE_BYTES:,} per message]"
        size = len(text.encode("utf-8", errors="replace"))
        if self.log_bytes + size > MAX_LOG_BYTES:
            self.dropped_logs += 1
            return None
        self.log_bytes += size
        self.cut_logs += cut > 0
        return text
