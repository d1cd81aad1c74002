"""A script's stderr: copied whole to the step's stderr, and a bounded tail kept for failures.

The tail goes into the step's failure message and metadata, which Dagster stores in its
event log: one 20 MB line on stderr once grew a SQLite event log by 120 MB in a single run.
So the tail is bounded in bytes, per line and in total, and reading never holds more than
one chunk plus the tail in memory. The whole output still reaches the compute logs through
the step's own stderr.
"""

from __future__ import annotations

import codecs
import os
import sys
import threading
from collections import deque
from typing import IO

TAIL_LINES = 40
TAIL_LINE_BYTES = 1_000
TAIL_BYTES = 8_000
CHUNK_BYTES = 64 * 1024
DRAIN_SECONDS = 5.0
"""How long, after the script's tree ended, the reader may take to reach the end of the pipe."""


class OutputTail:
    """The last lines of a byte stream: at most `lines` lines, `line_bytes` each, `total_bytes` in all."""

    def __init__(self, *, lines: int = TAIL_LINES, line_bytes: int = TAIL_LINE_BYTES, total_bytes: int = TAIL_BYTES):
        self._line_bytes = line_bytes
        self._total_bytes = total_bytes
        self._lines: deque[str] = deque(maxlen=lines)
        self._current = bytearray()
        self._cut = 0  # bytes of the current line beyond `line_bytes`, not kept

    def feed(self, chunk: bytes) -> None:
        *complete, partial = chunk.split(b"\n")
        for piece in complete:
            self._add(piece)
            self._end_line()
        self._add(partial)

    def finish(self) -> None:
        """The stream ended: keep its last line even without a final newline."""
        if self._current or self._cut:
            self._end_line()

    def text(self) -> str:
        return "\n".join(self._lines)

    def _add(self, piece: bytes) -> None:
        room = self._line_bytes - len(self._current)
        self._current += piece[:room]
        self._cut += max(len(piece) - room, 0)

    def _end_line(self) -> None:
        line = self._current.decode("utf-8", errors="replace").rstrip("\r")
        if self._cut:
            line += f" [... {self._cut:,} more bytes: the whole line is in the step's logs]"
        self._lines.append(line)
        self._current, self._cut = bytearray(), 0
        while len(self._lines) > 1 and sum(len(kept.encode()) + 1 for kept in self._lines) > self._total_bytes:
            self._lines.popleft()


class StderrReader:
    """Reads a child's stderr pipe in a thread: forwards it (unless told not to) and keeps its tail."""

    def __init__(self, pipe: IO[bytes], *, forward: bool):
        self.tail = OutputTail()
        self._forward = forward
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: IO[bytes]) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            while chunk := os.read(pipe.fileno(), CHUNK_BYTES):  # what is there, without waiting for a full chunk
                self.tail.feed(chunk)
                if self._forward:
                    # Looked up each time: Dagster and test runners swap `sys.stderr` to capture it.
                    sys.stderr.write(decoder.decode(chunk))
                    sys.stderr.flush()
        finally:
            pipe.close()

    def finish(self) -> str:
        """The tail, once the pipe has ended (or after `DRAIN_SECONDS` if something still holds it)."""
        self._thread.join(timeout=DRAIN_SECONDS)
        if not self._thread.is_alive():
            self.tail.finish()
        return self.tail.text()
