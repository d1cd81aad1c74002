"""The commands the documentation tells a person to type, read from its Markdown.

Every line of a fenced block tagged `bash`, `sh`, `shell` or `console` is a command a person
types (a trailing `# comment` is the doc's explanation, not part of it; a line ending in `\\`
continues on the next; a here-document's lines belong to the command that opens it). A block
right after a line `<!-- not run by the tests: <reason> -->` holds commands that need what no
test here can have (a Kubernetes cluster, an image registry, a cloud account); the reason is
kept, and must be given.

tests/test_documented_commands.py holds every other command to a test that runs it exactly as
written (tests/user_shell.py).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

COMMAND_LANGUAGES = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[\w+-]*)")
NOT_RUN = re.compile(r"^\s*<!--\s*not run by the tests:\s*(?P<reason>.*?)\s*-->\s*$")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)(?P<word>\w+)\1")


@dataclass(frozen=True)
class DocumentedCommand:
    """One command of the docs, where it is written, and why no test runs it (if none does)."""

    source: str
    line: int
    text: str
    not_run_reason: str | None = None

    def where(self) -> str:
        return f"{self.source}:{self.line}"


def strip_comment(line: str) -> str:
    """`line` without a trailing shell comment: a `#` that starts a word outside quotes."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


def block_commands(lines: list[str]) -> Iterator[tuple[int, str]]:
    """(offset in the block, command) for each command of one fenced block's lines."""
    index = 0
    while index < len(lines):
        start = index
        text = strip_comment(lines[index])
        while text.endswith("\\") and index + 1 < len(lines):
            index += 1
            text = text[:-1].rstrip() + " " + strip_comment(lines[index]).strip()
        heredoc = HEREDOC.search(text)
        if heredoc:
            body = []
            while index + 1 < len(lines) and lines[index + 1].strip() != heredoc["word"]:
                index += 1
                body.append(lines[index])
            index += 1  # the terminator
            text = "\n".join([text, *body, heredoc["word"]])
        if text.strip():
            yield start, text.strip()
        index += 1


def documented_commands(path: Path, shown_as: str) -> list[DocumentedCommand]:
    """Every command in the Markdown file at `path`, named `shown_as` in messages."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[DocumentedCommand] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        previous = lines[index - 1] if index else ""
        reason = NOT_RUN.match(previous)
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(opening["fence"]):
            end += 1
        if opening["info"].lower() in COMMAND_LANGUAGES:
            for offset, text in block_commands(lines[index + 1 : end]):
                found.append(DocumentedCommand(shown_as, index + 2 + offset, text, reason["reason"] if reason else None))
        index = end + 1
    return found


def string_lines(sources: Iterable[Path]) -> set[str]:
    """Every line of every plain string literal in the Python files `sources`, stripped.

    A test that runs a documented command holds it as a literal (alone, or as one line of a
    script it runs); f-strings are left out, since what they run is not written as the docs wrote it.
    """
    found: set[str] = set()
    for source in sources:
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
        formatted = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in formatted:
                found.add(node.value.strip())
                found.update(line.strip() for line in node.value.splitlines())
    return found
