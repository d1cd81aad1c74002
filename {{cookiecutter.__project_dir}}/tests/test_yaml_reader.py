"""The YAML reader builds exactly what PyYAML's safe loader builds, for every plain file.

It walks libyaml's node tree itself (to refuse tags, duplicate keys and alias bombs in the
same walk), so these cases hold it to PyYAML's own results: scalar types, anchors, merge
keys, flow and block styles.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from nope.yaml_reader import MAX_NESTING, YamlProblem, read_yaml

PLAIN_FILES = {
    "a manifest": "target: subprocess\nowners: [team:a, team:b]\ndeps:\n  - g/x\n",
    "scalar types": (
        "int: 1\nhex: 0x1F\noctal: 0o17\nseparated: 1_000\nfloat: 1.5e3\ninf: .inf\nyes: yes\noff: Off\n"
        "null: ~\nempty:\ndate: 2024-01-02\ntime: 2024-01-02T03:04:05Z\nquoted: '1'\n"
    ),
    "explicit plain tags": "a: !!str 123\nb: !!int '7'\nc: !!float '1'\nd: !!bool 'true'\ne: !!seq [1]\nf: !!map {x: 1}\n",
    "non-string keys": "1: a\n2.5: b\ntrue: c\nnull: d\n",
    "an anchor used twice": "shared: &s [1, 2, {a: b}]\ncopy: *s\n",
    "a merge key": "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n",
    "merging a list of mappings": "a: &a {x: 1}\nb: &b {y: 2, x: 9}\nc:\n  <<: [*a, *b]\n  z: 3\n",
    "a merge of a merge": "a: &a {x: 1}\nb: &b\n  <<: *a\n  y: 2\nc:\n  <<: *b\n",
    "block scalars": "literal: |\n  one\n  two\nfolded: >\n  a\n  b\n",
    "nested flow and block": "- a\n- b: c\n  d: [e, {f: g}]\n- {}\n- []\n",
}


def _same(left: object, right: object) -> bool:
    """Equal, with the same types all the way down (1 is not True), and NaN equal to NaN."""
    if type(left) is not type(right):
        return False
    # `right` is of `left`'s type by now: its own isinstance only tells the type checker so.
    if isinstance(left, dict) and isinstance(right, dict):
        return list(left) == list(right) and all(_same(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right))
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    return left == right


@pytest.mark.parametrize("case", list(PLAIN_FILES), ids=list(PLAIN_FILES))
def test_plain_yaml_reads_as_pyyaml_reads_it(case: str, tmp_path: Path):
    text = PLAIN_FILES[case]
    path = tmp_path / "a.yaml"
    path.write_text(text, encoding="utf-8")
    assert _same(read_yaml(path, "a.yaml")[0], yaml.safe_load(text))


def test_an_alias_keeps_sharing_one_value(tmp_path: Path):
    path = tmp_path / "a.yaml"
    path.write_text("shared: &s [1]\ncopy: *s\n", encoding="utf-8")
    data = read_yaml(path, "a.yaml")[0]
    assert isinstance(data, dict)
    assert data["copy"] is data["shared"]


class _ParserWithANestingLimitOfTen(yaml.SafeLoader):
    """Stands in for a libyaml build whose scanner stops at a nesting limit of its own."""

    def fetch_flow_collection_start(self, TokenClass):
        if self.flow_level >= 10:
            raise yaml.scanner.ScannerError(None, None, "exceeded maximum nesting depth", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)


@pytest.mark.parametrize("levels", [12, 65, 2_000])
def test_deep_nesting_gets_our_limit_and_words_whatever_parser_build_is_installed(
    levels: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("nope.yaml_reader._Loader", _ParserWithANestingLimitOfTen)
    path = tmp_path / "a.yaml"
    path.write_text("target: subprocess\nmetadata:\n  x: " + "[" * levels + "]" * levels + "\n", encoding="utf-8")
    with pytest.raises(YamlProblem) as raised:
        read_yaml(path, "defs/g/a.yaml")
    problem = raised.value.problem
    if levels > MAX_NESTING:
        assert (problem.path, problem.line) == ("defs/g/a.yaml", 3)
        assert problem.message == f"nests lists and mappings more than {MAX_NESTING} levels deep"
    else:  # within our limit: the parser's own complaint is what the practitioner sees
        assert "exceeded maximum nesting depth" in problem.message


@pytest.mark.parametrize("loader", ["CSafeLoader", "SafeLoader"])
def test_a_key_indented_between_two_levels_gets_words_whichever_parser_reads_it(
    loader: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """libyaml says "did not find expected key", PyYAML's own parser "expected <block end>": same words."""
    monkeypatch.setattr("nope.yaml_reader._Loader", getattr(yaml, loader, yaml.SafeLoader))
    path = tmp_path / "a.yaml"
    path.write_text("target: subprocess\nassets:\n  x:\n    # the first asset\n\n    deps: [g/y]\n   y: {}\n", encoding="utf-8")
    with pytest.raises(YamlProblem) as raised:
        read_yaml(path, "defs/g/a.yaml")
    assert str(raised.value.problem) == (
        "defs/g/a.yaml:7:4: is not valid YAML: line 7 starts at column 4, in line with nothing above it; "
        "indent it exactly as far as the lines it belongs with: column 3 (as on line 3) or column 5 (as on line 6)"
    )
