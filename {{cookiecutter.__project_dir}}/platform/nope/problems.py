"""Problems found in `defs/`, and the error that carries them.

A practitioner's mistake is data, not a crash: every check appends a `Problem` and the
loader reports all of them at once, formatted as `path:line:col: message` so editors,
terminals and CI annotators can jump straight to the spot.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake in one file. `line` and `column` are 1-based; 0 means "whole file"."""

    path: str
    line: int
    column: int
    message: str
    caused_by: str = field(default="", compare=False)
    """The file whose problems this one follows from (a dep on a broken manifest), or "".
    Such a problem is listed right after that file's: the cause is read first."""

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.column}: {self.message}"
        return f"{self.path}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "column": self.column, "message": self.message}


def reading_order(problem: Problem) -> tuple[str, int, str, int, int, str]:
    """Sort key: by file, line and column, except that a consequence follows its cause's file."""
    if problem.caused_by:
        return (problem.caused_by, 1, problem.path, problem.line, problem.column, problem.message)
    return (problem.path, 0, "", problem.line, problem.column, problem.message)


class NopeManifestError(Exception):
    """Raised when `defs/` holds mistakes. Lists every problem, one per line.

    Carrying the problems (not just a string) lets the CLI print them as JSON or as
    GitHub annotations, and lets tests assert on file, line and message.
    """

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems, key=reading_order)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{count} {noun} in the manifests under defs/:"]
        lines += [f"  {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' Did you mean `x`?' suffix for the closest choice, or '' when nothing is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean `{matches[0]}`?" if matches else ""
