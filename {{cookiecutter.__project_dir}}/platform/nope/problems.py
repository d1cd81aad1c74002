"""Problems found in `defs/`, and the error that carries them.

A practitioner's mistake is data, not a crash: every check appends a `Problem` and the
loader reports all of them at once, formatted as `path:line:col: message` so editors,
terminals and CI annotators can jump straight to the spot.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake in one file. `line` and `column` are 1-based; 0 means "whole file"."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.column}: {self.message}"
        return f"{self.path}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "column": self.column, "message": self.message}


class NopeManifestError(Exception):
    """Raised when `defs/` holds mistakes. Lists every problem, one per line.

    Carrying the problems (not just a string) lets the CLI print them as JSON or as
    GitHub annotations, and lets tests assert on file, line and message.
    """

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{count} {noun} in the manifests under defs/:"]
        lines += [f"  {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' Did you mean `x`?' suffix for the closest choice, or '' when nothing is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean `{matches[0]}`?" if matches else ""
