"""Safe YAML reading that remembers where every value came from.

PyYAML's safe loader never builds Python objects from tags, but on its own it forgets
line numbers, keeps the last of two duplicate keys silently, and lets a few lines of
anchors expand into billions of values once a validator walks them. This module reads
the node tree first (libyaml when available, for speed), refuses what a manifest never
needs (object tags, duplicate keys, alias bombs, absurd nesting), and only then builds plain
data; the map from each value's path to its line is made when a problem needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from nope.problems import Problem

# libyaml's C loader is several times faster; fall back to pure Python where it is missing.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The only tags plain data needs. Anything else (`!!python/object`, `!Ref`, ...) is refused.
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("null", "bool", "int", "float", "str", "seq", "map", "merge", "timestamp")
)

# A manifest is a few dozen values. Far more than this, through aliases, is an attack
# ("billion laughs") or an accident; either way it must not reach the validator.
MAX_EXPANDED_VALUES = 100_000

# Manifests nest a few levels (assets -> name -> metadata -> ...). Far deeper nesting would
# overflow the recursive node composer (libyaml's crashes the interpreter at ~100,000).
MAX_NESTING = 64

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDocument:
    """Plain data from one file, and the (line, column) of each value by its path.

    Positions are worked out from `text` only when a problem asks for one: most manifests
    have none, and a platform with thousands of them then loads faster and keeps less.
    """

    data: object
    text: str

    @cached_property
    def positions(self) -> dict[PathKey, tuple[int, int]]:
        loader = _Loader(self.text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        return _positions(node) if node is not None else {}

    def position(self, path: PathKey) -> tuple[int, int]:
        """The closest recorded position: the path itself, else its nearest parent.

        Mapping keys are recorded as written (text), so a key YAML read as a number (`1:`)
        is also looked up by its text.
        """
        while path and path not in self.positions and tuple(map(str, path)) not in self.positions:
            path = path[:-1]
        return self.positions.get(path) or self.positions.get(tuple(map(str, path)), (1, 1))


class YamlProblem(Exception):
    """The file cannot be read as a manifest; carries the problem to report."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


def read_yaml(path: Path, display_path: str) -> YamlDocument:
    """Read `path` as plain YAML data. Raises `YamlProblem` naming `display_path`."""

    def fail(line: int, column: int, message: str) -> YamlProblem:
        return YamlProblem(Problem(display_path, line, column, message))

    try:
        raw = path.read_bytes()
    except OSError as error:  # e.g. a symlink whose target is gone, or no permission
        raise fail(0, 0, f"cannot be read: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise fail(line, 1, f"is not UTF-8 text (byte 0x{raw[error.start]:02x}); save it as UTF-8") from None

    loader = _Loader(text)
    try:
        _refuse_deep_nesting(text, fail)
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(None, text)
        _refuse_what_plain_data_never_needs(node, fail)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(part for part in (error.context, error.problem) if part)
        line_text = text.splitlines()[line - 1] if line <= len(text.splitlines()) else ""
        raise fail(line, column, f"is not valid YAML: {message}{_hint(message, line_text)}") from None
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        raise fail(line, column, f"holds the invisible character U+{error.character:04X}, which YAML does not allow; delete it") from None
    except yaml.YAMLError as error:
        raise fail(1, 1, f"is not valid YAML: {' '.join(str(error).split())}") from None
    finally:
        loader.dispose()
    return YamlDocument(data, text)


def _refuse_deep_nesting(text: str, fail) -> None:
    """Measure nesting on the parser's flat event stream, before anything is composed.

    Each level of nesting starts on a new line or at one of `- [ { ? :`, so a file with fewer
    of those than the limit cannot be too deep and skips the extra parse (most manifests).
    """
    if text.count("\n") + sum(text.count(mark) for mark in "-[{?:") <= MAX_NESTING:
        return
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_NESTING:
                mark = event.start_mark
                raise fail(mark.line + 1, mark.column + 1, f"nests lists and mappings more than {MAX_NESTING} levels deep")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def _refuse_what_plain_data_never_needs(root: yaml.Node, fail) -> None:
    """Reject object-building tags, duplicate keys and alias bombs before construction."""
    expanded_size: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        # Memoized by node identity: an alias is the same node object, so this stays linear
        # in the file while still counting what the aliases would expand to.
        if id(node) in expanded_size:
            return expanded_size[id(node)]
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        if node.tag not in _PLAIN_TAGS:
            raise fail(line, column, f"uses the YAML tag `{_short_tag(node.tag)}`; manifests hold plain data only")
        expanded_size[id(node)] = 0  # a node reached again inside itself adds nothing more
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[object, int] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    key_line = key_node.start_mark.line + 1
                    if key_node.value in seen:
                        raise fail(
                            key_line,
                            key_node.start_mark.column + 1,
                            f"has the key `{key_node.value}` twice (first on line {seen[key_node.value]}); keep one",
                        )
                    seen[key_node.value] = key_line
                total += size(key_node) + size(value_node)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        if total > MAX_EXPANDED_VALUES:
            raise fail(
                line,
                column,
                f"expands to more than {MAX_EXPANDED_VALUES:,} values through YAML anchors and aliases",
            )
        expanded_size[id(node)] = total
        return total

    size(root)


# YAML parser wording (libyaml's and PyYAML's) for the mistakes people make most, and the fix.
_HINTS = {
    "mapping values are not allowed": "; a value that contains `: ` must be quoted, or a key is indented too far",
    "could not find expected ':'": "; every line needs `key: value`, or a value spanning lines must be quoted",
    "found undefined alias": "; an `*alias` needs an `&anchor` above it",
}


def _hint(message: str, line_text: str) -> str:
    """What to do about the parser's complaint, when the cause is a common one."""
    if "\t" in line_text:
        return "; indent with spaces, not tabs"
    return next((hint for cause, hint in _HINTS.items() if cause in message), "")


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def _positions(root: yaml.Node) -> dict[PathKey, tuple[int, int]]:
    """Map each value's path to its 1-based (line, column); a mapping entry points at its key."""
    positions: dict[PathKey, tuple[int, int]] = {(): (root.start_mark.line + 1, root.start_mark.column + 1)}
    stack: list[tuple[yaml.Node, PathKey]] = [(root, ())]
    visited: set[int] = set()
    while stack:
        node, path = stack.pop()
        if id(node) in visited:  # an alias: its values were placed where the anchor stands
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    child = (*path, key_node.value)
                    positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                    stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = (*path, index)
                positions[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
                stack.append((item, child))
    return positions
