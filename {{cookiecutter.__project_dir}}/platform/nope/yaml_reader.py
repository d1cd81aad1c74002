"""Safe YAML reading that remembers where every value came from.

PyYAML's safe loader never builds Python objects from tags, but on its own it forgets
line numbers, keeps the last of two duplicate keys silently, and lets a few lines of
anchors expand into billions of values once a validator walks them. This module reads
the node tree (libyaml when available, for speed), then builds plain data from it in one
walk that also refuses what a manifest never needs (object tags, duplicate keys, alias
bombs; absurd nesting is refused before composing). The map from each value's path to its
line is made only when a problem needs it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import cached_property

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from nope.problems import Problem
from nope.safe_files import MAX_YAML_BYTES, RefusedFile, read_regular_file

# libyaml's C loader is several times faster; fall back to pure Python where it is missing.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The only tags plain data needs. Anything else (`!!python/object`, `!Ref`, ...) is refused.
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("null", "bool", "int", "float", "str", "seq", "map", "merge", "timestamp")
)
_STR, _SEQ, _MAP, _MERGE = (f"tag:yaml.org,2002:{name}" for name in ("str", "seq", "map", "merge"))

# Scalars other than strings are converted by PyYAML's own safe rules (`yes`, `0x1F`, `.inf`, dates).
_SAFE_CONSTRUCTOR = SafeConstructor()
_SCALAR_VALUES = {
    f"tag:yaml.org,2002:{name}": SafeConstructor.yaml_constructors[f"tag:yaml.org,2002:{name}"]
    for name in ("null", "bool", "int", "float", "timestamp")
}

# A manifest is a few dozen values. Far more than this, through aliases, is an attack
# ("billion laughs") or an accident; either way it must not reach the validator.
MAX_EXPANDED_VALUES = 100_000

# Manifests nest a few levels (assets -> name -> metadata -> ...). Far deeper nesting would
# overflow the recursive node composer (libyaml's crashes the interpreter at ~100,000).
MAX_NESTING = 64

PathKey = tuple[str | int, ...]

# Makes the exception for a problem at (line, column) of the file being read.
Fail = Callable[[int, int, str], "YamlProblem"]


@dataclass(frozen=True)
class YamlDocument:
    """One file's text, and the (line, column) of each value in it by its path.

    Positions are worked out from `text` only when a problem asks for one: most manifests
    have none, and a platform with thousands of them then loads faster and keeps less.
    The data read from the text is not kept here: a manifest keeps its document for error
    messages, and its validated values already hold the data.
    """

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


def read_yaml(
    path: str | os.PathLike[str], display_path: str, *, real_root: str | None = None
) -> tuple[object, YamlDocument]:
    """Read `path` as plain YAML data, and the document to look positions up in.

    Only a regular file of at most `MAX_YAML_BYTES` is read; with `real_root` (the real path
    of `defs/`), a symlink must resolve inside it (see `safe_files`). Raises `YamlProblem`
    naming `display_path`.
    """

    def fail(line: int, column: int, message: str) -> YamlProblem:
        return YamlProblem(Problem(display_path, line, column, message))

    try:
        raw = read_regular_file(path, limit=MAX_YAML_BYTES, real_root=real_root)
    except RefusedFile as refused:
        raise fail(0, 0, refused.reason) from None
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
            return None, YamlDocument(text)
        data, _ = _PlainData(fail).build(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        lines = text.splitlines()
        message = " ".join(part for part in (error.context, error.problem) if part)
        line_text = lines[line - 1] if line <= len(lines) else ""
        explained = _misaligned_line(error, lines) or f"{message}{_hint(message, line_text)}"
        raise fail(line, column, f"is not valid YAML: {explained}") from None
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        raise fail(line, column, f"holds the invisible character U+{error.character:04X}, which YAML does not allow; delete it") from None
    except yaml.YAMLError as error:
        raise fail(1, 1, f"is not valid YAML: {' '.join(str(error).split())}") from None
    finally:
        loader.dispose()
    return data, YamlDocument(text)


def _refuse_deep_nesting(text: str, fail: Fail) -> None:
    """Measure nesting on the parser's flat event stream, before anything is composed.

    Each level of nesting starts on a new line or at one of `- [ { ? :`, so a file with fewer
    of those than the limit cannot be too deep and skips the extra parse (most manifests).
    libyaml has a nesting limit of its own in some builds, hit while its scanner reads ahead
    (PyYAML 6.0.4's stops near 1,000 levels); when the fast parser fails for any reason, PyYAML's
    pure-Python parser, which has no such limit, measures again, so a too-deep file gets this
    limit and this message whatever libyaml build is installed.
    """
    if text.count("\n") + sum(text.count(mark) for mark in "-[{?:") <= MAX_NESTING:
        return
    try:
        _count_nesting(text, _Loader, fail)
    except yaml.YAMLError:
        with contextlib.suppress(yaml.YAMLError):  # a mistake before the limit: the fast parser's words
            _count_nesting(text, yaml.SafeLoader, fail)
        raise


def _count_nesting(text: str, loader: type, fail: Fail) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_NESTING:
                mark = event.start_mark
                line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
                raise fail(line, column, f"nests lists and mappings more than {MAX_NESTING} levels deep")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


class _PlainData:
    """Builds plain data from a node tree, refusing what a manifest never needs on the way.

    One walk instead of PyYAML's constructor plus a separate safety walk: loading thousands
    of manifests spent as long in those two walks as libyaml spent parsing. Every node's tag
    is checked before its value is built, so an object tag never reaches any constructor.
    """

    def __init__(self, fail: Fail):
        self.fail = fail
        # Lists and mappings by node identity: an alias is the same node object, so building
        # stays linear in the file while the size still counts what the aliases expand to.
        self.built: dict[int, tuple[object, int]] = {}

    def build(self, node: yaml.Node) -> tuple[object, int]:
        """The node's value, and how many values it expands to."""
        if id(node) in self.built:
            return self.built[id(node)]
        if node.tag not in _PLAIN_TAGS:
            raise self._fail_at(node, f"uses the YAML tag `{_short_tag(node.tag)}`; manifests hold plain data only")
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR:
            return node.value, 1
        if isinstance(node, yaml.ScalarNode) and node.tag in _SCALAR_VALUES:
            try:
                return _SCALAR_VALUES[node.tag](_SAFE_CONSTRUCTOR, node), 1
            except (ValueError, KeyError, AttributeError):  # an explicit tag on a value it does not fit
                raise self._fail_at(node, f"`{node.value}` is not a valid `{_short_tag(node.tag)}`") from None
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
            items: list[object] = []
            self.built[id(node)] = (items, 0)  # a node reached again inside itself adds nothing more
            size = 1
            for item in node.value:
                value, item_size = self.build(item)
                items.append(value)
                size += item_size
            return self._done(node, items, size)
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
            return self._mapping(node)
        # A tag on the wrong kind of node (`!!str [a]`), or `<<` anywhere but as a mapping key.
        raise ConstructorError(None, None, f"could not build `{_short_tag(node.tag)}` from a {node.id}", node.start_mark)  # type: ignore[attr-defined]  # each node class sets `id`; the stubs' base class lacks it

    def _mapping(self, node: yaml.MappingNode) -> tuple[object, int]:
        mapping: dict[object, object] = {}
        self.built[id(node)] = (mapping, 0)
        size = 1
        first_keys: dict[str, yaml.Node] = {}
        merges = False
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:  # `<<: *defaults`: its keys come first, the mapping's own win
                merges = True
                size += 1 + self.build(value_node)[1]
                continue
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in first_keys:
                    first_line = first_keys[key_node.value].start_mark.line + 1
                    raise self._fail_at(key_node, f"has the key `{key_node.value}` twice (first on line {first_line}); keep one")
                first_keys[key_node.value] = key_node
            key, key_size = self.build(key_node)
            value, value_size = self.build(value_node)
            size += key_size + value_size
            self._insert(mapping, key, value, node, key_node)
        if merges:
            _SAFE_CONSTRUCTOR.flatten_mapping(node)  # PyYAML's merge rules; raises on a bad `<<`
            mapping.clear()
            for key_node, value_node in node.value:
                self._insert(mapping, self.build(key_node)[0], self.build(value_node)[0], node, key_node)
        return self._done(node, mapping, size)

    @staticmethod
    def _insert(mapping: dict, key: object, value: object, node: yaml.Node, key_node: yaml.Node) -> None:
        if not isinstance(key, Hashable):
            raise ConstructorError("while constructing a mapping", node.start_mark, "found unhashable key", key_node.start_mark)
        mapping[key] = value

    def _fail_at(self, node: yaml.Node, message: str) -> YamlProblem:
        """The problem at `node`; its line is worked out here, as only a problem needs it."""
        return self.fail(node.start_mark.line + 1, node.start_mark.column + 1, message)

    def _done(self, node: yaml.Node, value: object, size: int) -> tuple[object, int]:
        if size > MAX_EXPANDED_VALUES:
            raise self._fail_at(node, f"expands to more than {MAX_EXPANDED_VALUES:,} values through YAML anchors and aliases")
        self.built[id(node)] = (value, size)
        return value, size


# YAML parser wording (libyaml's and PyYAML's) for the mistakes people make most, and the fix.
_HINTS = {
    "mapping values are not allowed": "; a value that contains `: ` must be quoted, or a key is indented too far",
    "could not find expected ':'": "; every line needs `key: value`, or a value spanning lines must be quoted",
    "found undefined alias": "; an `*alias` needs an `&anchor` above it",
}


# The parser's words for a line indented to no level above it (libyaml's, then PyYAML's own).
_MISALIGNED = ("did not find expected key", "expected <block end>, but found")


def _misaligned_line(error: yaml.MarkedYAMLError, lines: list[str]) -> str | None:
    """Words for a key or list item indented between two levels, naming the columns it may line
    up with (the block it broke off, the line above it); None for any other mistake.

    The parser's own words ("while parsing a block mapping did not find expected key") name
    neither the cause nor the fix; a key too far right is `_HINTS`' "mapping values" case.
    """
    mark, block = error.problem_mark, error.context_mark
    if mark is None or mark.line >= len(lines) or "\t" in lines[mark.line]:
        return None  # a tab gets its own hint
    if not any(words in (error.problem or "") for words in _MISALIGNED):
        return None
    levels: dict[int, int] = {}  # column -> a line that starts there
    if block is not None:
        levels[block.column + 1] = block.line + 1
    written = [number for number in range(mark.line) if lines[number].strip() and not lines[number].lstrip().startswith("#")]
    if written:
        above = lines[written[-1]]
        levels.setdefault(len(above) - len(above.lstrip(" ")) + 1, written[-1] + 1)
    levels.pop(mark.column + 1, None)
    choices = " or ".join(f"column {column} (as on line {line})" for column, line in sorted(levels.items()))
    return (
        f"line {mark.line + 1} starts at column {mark.column + 1}, in line with nothing above it; "
        f"indent it exactly as far as the lines it belongs with{': ' + choices if choices else ''}"
    )


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
