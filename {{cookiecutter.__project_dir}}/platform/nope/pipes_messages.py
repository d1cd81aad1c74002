"""A script's Dagster Pipes messages, read so that one bad line costs that line only.

Dagster's `PipesTempFileMessageReader` reads the messages file in a thread that dies on the
first line it cannot take: a line that is not JSON, a line it reads while the script is still
writing it (a 50 MB metadata value takes long enough to write), or a message its handler
refuses. Every later message is lost: a check the script reported as passing shows as failed,
its metadata is gone. `NopeMessageReader`, the default of `NopeSubprocessClient`:

- hands over whole lines only (the last one also without its newline, when the session ends);
- skips a line that is not a Pipes message, or that Dagster's handler refuses, with a warning
  naming its line number, and keeps reading (the first `MAX_LINE_WARNINGS` are named, the
  rest counted);
- skips a line longer than `MAX_MESSAGE_BYTES` without holding it: the file is read in
  chunks, so memory stays bounded whatever a script writes;
- keeps what a step adds to the event log within `pipes_limits.py`.

Its warnings reach the step's log as a script's own `pipes.log.warning` would: as a Pipes
`log` message given to the handler's public `handle_message`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import dagster as dg
from dagster_pipes import (
    PIPES_PROTOCOL_VERSION,
    PIPES_PROTOCOL_VERSION_FIELD,
    PipesDefaultMessageWriter,
    PipesMessage,
    PipesParams,
)

from nope.pipes_limits import StepOutputLimits

MAX_MESSAGE_BYTES = 10_000_000
"""One message (one line): far above any metadata or log a step keeps (`pipes_limits.py`)."""

MAX_LINE_WARNINGS = 10
"""Skipped lines named one by one; beyond these, a count (a script writing garbage in a loop
would otherwise flood the event log with warnings)."""

CHUNK_BYTES = 1024 * 1024
POLL_SECONDS = 0.01
"""How often the file is read while the script runs (as Dagster's reader does). The end of the
session wakes the reader at once: every step waits for its last read."""

Line = tuple[int, bytes | int]
"""A line's number, and its bytes, or its length when it was longer than `MAX_MESSAGE_BYTES`."""


class NopeMessageReader(dg.PipesMessageReader):
    """Reads messages from a temporary file, as `PipesTempFileMessageReader`, skipping bad lines."""

    def __init__(self, *, include_stdio_in_messages: bool = False):
        self.include_stdio_in_messages = include_stdio_in_messages

    @contextmanager
    def read_messages(self, handler: dg.PipesMessageHandler) -> Iterator[PipesParams]:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "messages"
            path.touch()
            session_ended = threading.Event()
            session = _SessionMessages(handler)
            thread = threading.Thread(target=session.read, args=(path, session_ended), daemon=True)
            thread.start()
            try:
                yield {
                    PipesDefaultMessageWriter.FILE_PATH_KEY: str(path),
                    PipesDefaultMessageWriter.INCLUDE_STDIO_IN_MESSAGES_KEY: self.include_stdio_in_messages,
                }
            finally:
                session_ended.set()
                thread.join()

    def no_messages_debug_text(self) -> str:
        return "Attempted to read messages from a local temporary file."


class _SessionMessages:
    """One session's messages: each line parsed, bounded and handed to Dagster's handler on its own."""

    def __init__(self, handler: dg.PipesMessageHandler):
        self.handler = handler
        self.limits = StepOutputLimits()
        self.skipped_lines = 0
        self.summarized = False

    def read(self, path: Path, session_ended: threading.Event) -> None:
        try:
            for number, line in _lines_of(path, session_ended):
                self._take(number, line)
            self._summarize()
        except Exception:  # a fault of the reader itself, not of a line: reported as Dagster's reader does
            self.handler.report_pipes_framework_exception(f"{NopeMessageReader.__name__} reader thread", sys.exc_info())

    def _take(self, number: int, line: bytes | int) -> None:
        if isinstance(line, int):
            self._skip(number, f"it is longer than {MAX_MESSAGE_BYTES:,} bytes ({line:,})")
            return
        if not line.strip():
            return
        try:
            message = json.loads(line)
        except json.JSONDecodeError as error:
            self._skip(number, f"it is not JSON ({error.msg} at character {error.pos + 1:,})")
            return
        except ValueError as error:  # not UTF-8
            self._skip(number, f"it is not JSON ({_shortened(error)})")
            return
        if not isinstance(message, dict) or not isinstance(message.get("method"), str):
            self._skip(number, "it is not a Pipes message (a JSON object with a `method`)")
            return
        if message["method"] == "closed":  # said before it: after `closed`, Dagster frowns on any message
            self._summarize()
        admitted = self.limits.admit(message)
        if admitted is None:
            return
        try:
            self.handler.handle_message(cast(PipesMessage, admitted))  # its parameters are the handler's to check
        except Exception as error:  # a message Dagster refuses (unknown method, wrong parameters)
            self._skip(number, f"Dagster refused its `{message['method']}` message: {type(error).__name__}: {_shortened(error)}")

    def _skip(self, number: int, reason: str) -> None:
        self.skipped_lines += 1
        if self.skipped_lines <= MAX_LINE_WARNINGS:
            self._warn(f"[pipes] line {number:,} of the script's Pipes messages was skipped: {reason}.")

    def _summarize(self) -> None:
        """Say, once, what was left out."""
        if self.summarized:
            return
        self.summarized = True
        if self.skipped_lines > MAX_LINE_WARNINGS:
            more = self.skipped_lines - MAX_LINE_WARNINGS
            self._warn(f"[pipes] {more:,} more lines of the script's Pipes messages were skipped.")
        summary = self.limits.summary()
        if summary:
            self._warn(summary)

    def _warn(self, text: str) -> None:
        message = {PIPES_PROTOCOL_VERSION_FIELD: PIPES_PROTOCOL_VERSION, "method": "log", "params": {"message": text, "level": "WARNING"}}
        self.handler.handle_message(cast(PipesMessage, message))  # its keys: a dunder TypedDict key cannot be written as one


def _lines_of(path: Path, session_ended: threading.Event) -> Iterator[Line]:
    """The file's lines as the script writes them, until the session has ended and all is read."""
    lines = _LineSplitter()
    with path.open("rb", buffering=0) as file:
        while True:
            ended = session_ended.is_set()  # asked before reading: whatever was written before the end is read next
            chunk = file.read(CHUNK_BYTES)
            if chunk:
                yield from lines.feed(chunk)
            elif ended:
                yield from lines.finish()
                return
            else:
                session_ended.wait(POLL_SECONDS)


class _LineSplitter:
    """Numbered lines of a byte stream, holding at most `MAX_MESSAGE_BYTES` of one line."""

    def __init__(self) -> None:
        self._number = 0
        self._current = bytearray()
        self._length = 0  # of the current line, what was not kept included

    def feed(self, chunk: bytes) -> list[Line]:
        *complete, rest = chunk.split(b"\n")
        lines = []
        for piece in complete:
            self._add(piece)
            lines.append(self._end_line())
        self._add(rest)
        return lines

    def finish(self) -> list[Line]:
        """The last line, when the stream did not end with a newline."""
        return [self._end_line()] if self._length else []

    def _add(self, piece: bytes) -> None:
        self._length += len(piece)
        if self._length <= MAX_MESSAGE_BYTES:
            self._current += piece
        elif self._current:
            self._current = bytearray()  # too long: only its length is kept from here on

    def _end_line(self) -> Line:
        self._number += 1
        line: bytes | int = bytes(self._current) if self._length <= MAX_MESSAGE_BYTES else self._length
        self._current, self._length = bytearray(), 0
        return self._number, line


def _shortened(error: Exception, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit] + " ..."
