"""Every kind of mistake a practitioner can make in defs/, and what they are told.

Each case is a small defs/ tree and the problems it must produce: file, line, column and
the words that tell the practitioner what to do. The platform's own project class is used,
so these are exactly the messages `nope check` and the Dagster UI show in this repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from nope import NopeManifestError

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }} as Project

from conftest import REPO_ROOT

SCRIPT = "print('ok')\n"

# id -> (files, [(path, line, column, words the message must contain), ...]); column None: any.
CASES: dict[str, tuple[dict[str, str | bytes], list[tuple[str, int, int | None, str]]]] = {
    "invalid YAML": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nowners: [team:x\n"},
        [("defs/g/a.yaml", 3, 1, "is not valid YAML")],
    ),
    "tab indentation": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nassets:\n\ta: {}\n"},
        [("defs/g/a.yaml", 3, 1, "indent with spaces, not tabs")],
    ),
    "a key indented less than the keys beside it": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nassets:\n  x:\n    deps: [g/y]\n   y: {}\n"},
        [("defs/g/a.yaml", 5, 4, "line 5 starts at column 4, in line with nothing above it; indent it exactly as far "
          "as the lines it belongs with: column 3 (as on line 3) or column 5 (as on line 4)")],
    ),
    "a list item indented less than the items above it": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ndeps:\n  - g/x\n - g/y\n"},
        [("defs/g/a.yaml", 4, 2, "line 4 starts at column 2, in line with nothing above it; indent it exactly as far "
          "as the lines it belongs with: column 1 (as on line 1) or column 3 (as on line 3)")],
    ),
    "a value with a colon, unquoted": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ndescription: Note: refunds removed\n"},
        [("defs/g/a.yaml", 2, 18, "must be quoted")],
    ),
    "unknown top-level key with a typo": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nowner: [team:x]\n"},
        [("defs/g/a.yaml", 2, 1, "unknown key `owner`. Did you mean `owners`?")],
    ),
    "unknown key inside an asset": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nassets:\n  x:\n    dep: [g/y]\n  y: {}\n"},
        [("defs/g/a.yaml", 4, 5, "unknown key `dep`. Did you mean `deps`?")],
    ),
    "unknown target with a typo": (
        {"g/a.py": SCRIPT, "g/a.yaml": "# my asset\ntarget: subprocces\n"},
        [("defs/g/a.yaml", 2, 1, "unknown target `subprocces`. Did you mean `subprocess`?")],
    ),
    "no target": (
        {"g/a.py": SCRIPT, "g/a.yaml": "script: a.py\n"},
        [("defs/g/a.yaml", 1, 1, "add `target:`")],
    ),
    "empty target": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target:\n"},
        [("defs/g/a.yaml", 1, 1, "`target:` is empty")],
    ),
    "both target and kind": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nkind: subprocess\n"},
        [("defs/g/a.yaml", 2, 1, "has both `target:` and `kind:`")],
    ),
    "empty file": (
        {"g/a.py": SCRIPT, "g/a.yaml": "# nothing yet\n"},
        [("defs/g/a.yaml", 1, 1, "is empty")],
    ),
    "a list instead of a mapping": (
        {"g/a.py": SCRIPT, "g/a.yaml": "- target: subprocess\n"},
        [("defs/g/a.yaml", 1, 1, "must be a mapping of `key: value` lines")],
    ),
    "deps written as text, not a list": (
        {"g/a.py": SCRIPT, "g/b.py": SCRIPT, "g/b.yaml": "target: subprocess\n", "g/a.yaml": "target: subprocess\ndeps: g/b\n"},
        [("defs/g/a.yaml", 2, 1, "deps must be a list")],
    ),
    "dep written with a dot instead of a slash": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ndeps:\n  - g.b\n"},
        [("defs/g/a.yaml", 3, 5, "slashes between parts). Did you mean `g/b`?")],
    ),
    "unknown dep with a typo": (
        {
            "g/a.py": SCRIPT,
            "g/a.yaml": "target: subprocess\n",
            "g/b.py": SCRIPT,
            "g/b.yaml": "target: subprocess\ndeps: [g/aa]\n",
        },
        [("defs/g/b.yaml", 2, 8, "unknown dep `g/aa`. Did you mean `g/a`?")],
    ),
    "unknown dep in another group": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ndeps: [finance/ledger]\n"},
        [("defs/g/a.yaml", 2, 8, "unknown dep `finance/ledger`. No manifest defines it.")],
    ),
    "dep on an asset whose manifest is broken": (
        {
            "g/a.py": SCRIPT,
            "g/a.yaml": "target: subprocess\nownerz: []\n",
            "h/b.py": SCRIPT,
            "h/b.yaml": "target: subprocess\ndeps: [g/a]\n",
        },
        [
            ("defs/g/a.yaml", 2, 1, "unknown key `ownerz`"),
            ("defs/h/b.yaml", 2, 8, "dep `g/a` is defined by defs/g/a.yaml, which has problems"),
        ],
    ),
    "dependency cycle across manifests": (
        {
            "g/a.py": SCRIPT,
            "g/a.yaml": "target: subprocess\ndeps: [g/c]\n",
            "g/b.py": SCRIPT,
            "g/b.yaml": "target: subprocess\ndeps: [g/a]\n",
            "g/c.py": SCRIPT,
            "g/c.yaml": "target: subprocess\ndeps: [g/b]\n",
        },
        [("defs/g/a.yaml", 2, 8, "dependency cycle: g/a -> g/c -> g/b -> g/a")],
    ),
    "an asset depending on itself": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ndeps: [g/a]\n"},
        [("defs/g/a.yaml", 2, 8, "dependency cycle: g/a -> g/a")],
    ),
    "duplicate asset key across manifests": (
        {
            "g/a.py": SCRIPT,
            "g/a.yaml": "target: subprocess\n",
            "g/b.py": SCRIPT,
            "g/b.yaml": "target: subprocess\nassets:\n  a: {}\n",
        },
        [("defs/g/b.yaml", 3, 3, "asset `g/a` is already defined in defs/g/a.yaml:1")],
    ),
    "duplicate explicit key": (
        {
            "g/a.py": SCRIPT,
            "g/a.yaml": "target: subprocess\nkey: g/shared/thing\n",
            "g/b.py": SCRIPT,
            "g/b.yaml": "target: subprocess\nkey: g/shared/thing\n",
        },
        [("defs/g/b.yaml", 1, 1, "asset `g/shared/thing` is already defined in defs/g/a.yaml")],
    ),
    "a key claiming another group's asset": (
        {
            "aaa/a.py": SCRIPT,
            "aaa/a.yaml": "target: subprocess\nkey: sales/orders\n",
            "sales/orders.py": SCRIPT,
            "sales/orders.yaml": "target: subprocess\n",
        },
        [("defs/aaa/a.yaml", 2, 1, "`key: sales/orders` must start with this group `aaa/` (e.g. `aaa/a`)")],
    ),
    "a key of another group under assets": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nassets:\n  x:\n    key: h/x\n"},
        [("defs/g/a.yaml", 4, 5, "`key: h/x` must start with this group `g/`")],
    ),
    "a group folder named like lenient mode's placeholders": (
        {"broken_manifests/a.py": SCRIPT, "broken_manifests/a.yaml": "target: subprocess\n"},
        [("defs/broken_manifests/a.yaml", 0, 0, "the group name `broken_manifests` is reserved for lenient mode's placeholders")],
    ),
    "the same key twice in one file": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nowners: [team:a]\nowners: [team:b]\n"},
        [("defs/g/a.yaml", 3, 1, "has the key `owners` twice (first on line 2)")],
    ),
    "invalid asset name": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nassets:\n  daily-revenue: {}\n"},
        [("defs/g/a.yaml", 3, 3, "`daily-revenue` is not a name of letters, digits and underscores only. Did you mean `daily_revenue`?")],
    ),
    "invalid file name for a single asset": (
        {"g/daily revenue.py": SCRIPT, "g/daily revenue.yaml": "target: subprocess\n"},
        [("defs/g/daily revenue.yaml", 1, 1, "(try `daily_revenue`)")],
    ),
    "invalid group folder name": (
        {"sales-eu/a.py": SCRIPT, "sales-eu/a.yaml": "target: subprocess\n"},
        [("defs/sales-eu/a.yaml", 0, 0, "the folder name `sales-eu` is not made of letters, digits and underscores only (try `sales_eu`)")],
    ),
    "an uppercase extension": (
        {"g/a.py": SCRIPT, "g/a.YAML": "target: subprocess\n"},
        [("defs/g/a.YAML", 0, 0, "rename it to `a.yaml`")],
    ),
    "manifest outside any group": (
        {"a.py": SCRIPT, "a.yaml": "target: subprocess\n"},
        [("defs/a.yaml", 0, 0, "move it to defs/<group>/")],
    ),
    "missing script, with a suggestion": (
        {"g/orders.py": SCRIPT, "g/a.yaml": "target: subprocess\nscript: order.py\n"},
        [("defs/g/a.yaml", 2, 1, "script `order.py` does not exist. Did you mean `orders.py`?")],
    ),
    "script path written with backslashes": (
        {"g/sub/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nscript: sub\\a.py\n"},
        [("defs/g/a.yaml", 2, 1, "Write folders with `/`: `sub/a.py`.")],
    ),
    "no script next to the manifest": (
        {"g/a.yaml": "target: subprocess\n"},
        [("defs/g/a.yaml", 1, 1, "has no script: add `a.py`")],
    ),
    "script leaving defs/ through ..": (
        {"g/a.yaml": "target: subprocess\nscript: ../../secrets.py\n", "../secrets.py": SCRIPT},
        [("defs/g/a.yaml", 2, 1, "script `../../secrets.py` points outside defs/")],
    ),
    "script with an absolute path": (
        {"g/a.yaml": "target: subprocess\nscript: /etc/passwd\n"},
        [("defs/g/a.yaml", 2, 1, "must be a path relative to the manifest")],
    ),
    "script of a type the target cannot run": (
        {"g/a.txt": "hello\n", "g/a.yaml": "target: subprocess\nscript: a.txt\n"},
        [("defs/g/a.yaml", 2, 1, "target `subprocess` runs only `.py`, `.sh`, `.r`, `.js` scripts")],
    ),
    "script that is a folder": (
        {"g/code/x.py": SCRIPT, "g/a.yaml": "target: subprocess\nscript: code\n"},
        [("defs/g/a.yaml", 2, 1, "script `code` is a folder, not a regular file")],
    ),
    "owner that is neither email nor team": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nowners:\n  - team:x\n  - bob\n"},
        [("defs/g/a.yaml", 4, 5, "`bob` is not an owner: an email address or `team:<name>`. Did you mean `team:bob`?")],
    ),
    "tags as a list": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ntags: [pii]\n"},
        [("defs/g/a.yaml", 2, 1, "tags must be a mapping of `key: value` lines, not a list")],
    ),
    "tag value with spaces": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ntags:\n  tier: gold class\n"},
        [("defs/g/a.yaml", 3, 3, "`gold class` is not a tag value: up to 63 letters, digits, `_`, `-` or `.`. Did you mean `gold_class`?")],
    ),
    "description that YAML reads as a date": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ndescription: 2024-01-31\n"},
        [("defs/g/a.yaml", 2, 1, "description must be text")],
    ),
    "a number as a key": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n2024: yes\n"},
        [("defs/g/a.yaml", 2, 1, "the key `2024` must be text")],
    ),
    "empty assets mapping": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nassets: {}\n"},
        [("defs/g/a.yaml", 2, 1, "`assets:` lists nothing")],
    ),
    "assets left empty": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nassets:\n"},
        [("defs/g/a.yaml", 2, 1, "`assets:` has no value; write a mapping of `key: value` lines")],
    ),
    "deps left empty": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ndeps:\n"},
        [("defs/g/a.yaml", 2, 1, "`deps:` has no value; write a list")],
    ),
    "an asset left empty": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nassets:\n  x:\n"},
        [("defs/g/a.yaml", 3, 3, "`assets.x:` has no value")],
    ),
    "script left empty": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nscript: ''\n"},
        [("defs/g/a.yaml", 2, 1, "`script:` is empty")],
    ),
    "assets as a list": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nassets: [a, b]\n"},
        [("defs/g/a.yaml", 2, 1, "assets must be a mapping of `key: value` lines, not a list")],
    ),
    "the same asset key in a subfolder": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n", "g/sub/a.py": SCRIPT, "g/sub/a.yaml": "target: subprocess\n"},
        [("defs/g/sub/a.yaml", 1, 1, "asset `g/a` is already defined in defs/g/a.yaml:1")],
    ),
    "top-level key with assets": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nkey: x/y\nassets:\n  b: {}\n"},
        [("defs/g/a.yaml", 1, 1, "with `assets:`, set `key:` under each asset")],
    ),
    "a YAML tag that would build a Python object": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ndescription: !!python/object/apply:os.system [touch pwned]\n"},
        [("defs/g/a.yaml", 2, 14, "uses the YAML tag `!!python/object/apply:os.system`")],
    ),
    "a custom YAML tag": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nowners: !Ref team\n"},
        [("defs/g/a.yaml", 2, 9, "uses the YAML tag `!Ref`; manifests hold plain data only")],
    ),
    "anchors and aliases that would blow up memory": (
        {
            "g/a.py": SCRIPT,
            "g/a.yaml": "target: subprocess\n"
            + "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)),
        },
        [("defs/g/a.yaml", 6, 5, "expands to more than 100,000 values")],
    ),
    "the same key twice in a nested mapping": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nmetadata:\n  a: 1\n  a: 2\n"},
        [("defs/g/a.yaml", 4, 3, "has the key `a` twice (first on line 3)")],
    ),
    "an explicit YAML tag on a value it does not fit": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ntimeout: !!int soon\n"},
        [("defs/g/a.yaml", 2, 10, "`soon` is not a valid `!!int`")],
    ),
    "a YAML tag on the wrong kind of value": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nowners: !!str [team:a]\n"},
        [("defs/g/a.yaml", 2, 9, "is not valid YAML")],
    ),
    "a YAML merge key that merges no mapping": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n<<: 5\n"},
        [("defs/g/a.yaml", 2, 5, "expected a mapping or list of mappings for merging")],
    ),
    "nesting deep enough to crash a YAML parser": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nmetadata:\n  x: " + "[" * 200_000 + "]" * 200_000 + "\n"},
        # The column of the 65th bracket is left out: where a parser marks it is its own affair.
        [("defs/g/a.yaml", 3, None, "nests lists and mappings more than 64 levels deep")],
    ),
    "a file that is not UTF-8": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ndescription: Caf\xe9\n".encode("latin-1")},
        [("defs/g/a.yaml", 2, 1, "is not UTF-8 text (byte 0xe9)")],
    ),
    "an invisible control character": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ndescription: a\x07b\n"},
        [("defs/g/a.yaml", 2, 15, "invisible character U+0007")],
    ),
    "a manifest over the 1 MB limit": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n" + "# padding\n" * 100_001},
        [("defs/g/a.yaml", 0, 0, "is 1,000,029 bytes, over the 1 MB limit; keep data out of defs/")],
    ),
    "a _group.yaml over the 1 MB limit": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n", "g/_group.yaml": "owners: [team:a]\n" + "#\n" * 500_000},
        [("defs/g/_group.yaml", 0, 0, "over the 1 MB limit")],
    ),
    "two documents in one file": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n---\ntarget: subprocess\n"},
        [("defs/g/a.yaml", 2, 1, "expected a single document")],
    ),
    "a group folder whose name ends in a newline": (
        {"g\n/a.py": SCRIPT, "g\n/a.yaml": "target: subprocess\n"},
        [("defs/g\n/a.yaml", 0, 0, "the folder name `g\\n` is not made of letters, digits and underscores only (try `g`)")],
    ),
    "a NUL byte in the script path": (
        {"g/a.py": SCRIPT, "g/a.yaml": 'target: subprocess\nscript: "a.py\\0.sh"\n'},
        [("defs/g/a.yaml", 2, 1, "script: holds a NUL byte (\\0), which no file name can; remove it")],
    ),
    "a NUL byte in an env value": (
        {"g/a.py": SCRIPT, "g/a.yaml": 'target: subprocess\nenv:\n  A: "x\\0y"\n'},
        [("defs/g/a.yaml", 3, 3, "env.A: holds a NUL byte (\\0), which no process can be given; remove it")],
    ),
    "a NUL byte in an argument": (
        {"g/a.py": SCRIPT, "g/a.yaml": 'target: subprocess\nargs: [--x, "a\\0"]\n'},
        [("defs/g/a.yaml", 2, 13, "args[1]: holds a NUL byte (\\0), which no process can be given; remove it")],
    ),
    "an argument too long for any operating system": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nargs:\n  - --x\n  - " + "x" * 200_000 + "\n"},
        [("defs/g/a.yaml", 4, 5, "args[1]: is 200,000 bytes; an argument or env value may hold at most 100,000")],
    ),
    "arguments and env too long together": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nargs:\n" + "".join(f"  - {'x' * 90_000}\n" for _ in range(4))
         + "env:\n" + "".join(f"  V{i}: {'y' * 90_000}\n" for i in range(4))},
        [("defs/g/a.yaml", 7, 1, "env: `args` and `env` hold 720,008 bytes together; a script may be given at most 500,000")],
    ),
    "a timeout of true": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ntimeout: true\n"},
        [("defs/g/a.yaml", 2, 1, "timeout: write a number, not `true`")],
    ),
    "retries of true": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nretries: {max: true}\n"},
        [("defs/g/a.yaml", 2, 11, "retries.max: write a number, not `true`")],
    ),
    "a timeout longer than a week": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ntimeout: 1e308\n"},
        [("defs/g/a.yaml", 2, 1, "timeout: at most 604,800 seconds (7 days)")],
    ),
    "a retry delay longer than a day": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nretries: {max: 1, delay: 1e308}\n"},
        [("defs/g/a.yaml", 2, 19, "retries.delay: at most 86,400 seconds (1 day)")],
    ),
    "exponential retries that would wait longer than a day": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\nretries: {max: 30, delay: 1, backoff: exponential}\n"},
        [("defs/g/a.yaml", 2, 1, "retries: the last retry would wait 1,073,741,823 seconds; at most 86,400 (1 day): lower `max` or `delay`")],
    ),
    "a bad variable reference in _group.yaml": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n", "g/_group.yaml": "owners: [team:a]\nenv:\n  A: ${A:-b}\n"},
        [("defs/g/_group.yaml", 2, 1, "env: `A`: write `${VAR}` to use a platform variable")],
    ),
    "a NUL byte in an env value in _group.yaml": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n", "g/_group.yaml": 'env:\n  A: "\\0"\n'},
        [("defs/g/_group.yaml", 2, 3, "env.A: holds a NUL byte")],
    ),
    "a .yaml and a .yml of the same name": (
        {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n", "g/a.yml": "target: subprocess\n"},
        [
            ("defs/g/a.yml", 1, 1, "asset `g/a` is already defined in defs/g/a.yaml"),
            ("defs/g/a.yml", 1, 1, "clashes with defs/g/a.yaml"),
        ],
    ),
}


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    defs = root / "repo" / "defs"
    defs.mkdir(parents=True)
    for relative, content in files.items():
        path = defs / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return defs


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_each_mistake_names_the_file_line_and_fix(case: str, tmp_path: Path):
    files, expected = CASES[case]
    problems = Project.load(write_tree(tmp_path, files)).problems
    found = [(problem.path, problem.line, problem.column if column is not None else None) for problem, (_, _, column, _) in zip(problems, expected)]
    assert len(problems) == len(expected), [str(p) for p in problems]
    assert found == [(path, line, column) for path, line, column, _ in expected], [str(p) for p in problems]
    for problem, (_, _, _, words) in zip(problems, expected):
        assert words in problem.message, str(problem)
        assert "\n" not in problem.message  # one line each: editors and CI parse `path:line:col: message`


def test_the_cases_cover_at_least_twenty_kinds_of_mistakes():
    assert len(CASES) >= 20


def test_a_python_object_tag_never_runs(tmp_path: Path):
    marker = tmp_path / "pwned"
    files = {"g/a.py": SCRIPT, "g/a.yaml": f"target: subprocess\ndescription: !!python/object/apply:os.system [touch {marker}]\n"}
    Project.load(write_tree(tmp_path, files))
    assert not marker.exists()


def test_a_symlinked_script_leading_out_of_defs_is_refused(tmp_path: Path):
    defs = write_tree(tmp_path, {"g/a.yaml": "target: subprocess\n"})
    outside = tmp_path / "outside.py"
    outside.write_text(SCRIPT)
    os.symlink(outside, defs / "g" / "a.py")
    [problem] = Project.load(defs).problems
    assert (problem.path, problem.line) == ("defs/g/a.yaml", 1)
    assert "points outside defs/" in problem.message


def test_fifty_thousand_deps_are_checked_in_linear_time(tmp_path: Path):
    # Checking each dep against the whole list took 27.5 s at 48,000 deps; one pass takes well under a second.
    deps = [f"g/d{index}" for index in range(50_000)] + ["g/d7"]  # under the 1 MB manifest limit
    defs = write_tree(tmp_path, {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\ndeps:\n" + "".join(f"  - {dep}\n" for dep in deps)})
    code = (
        "import sys\n"
        "from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }} as Project\n"
        "print(*Project.load(sys.argv[1]).problems, sep='\\n')\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "platform")}
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(defs)], capture_output=True, text=True, timeout=20, env=environment, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail("checking one manifest of 50,000 deps took over 20 s: the duplicate check is not linear")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "defs/g/a.yaml:2:1: deps: lists `g/d7` more than once; keep one"


def test_a_manifest_symlink_to_nowhere_is_reported_not_crashed_on(tmp_path: Path):
    defs = write_tree(tmp_path, {"g/a.py": SCRIPT})
    os.symlink(defs / "g" / "gone.yaml", defs / "g" / "a.yaml")
    [problem] = Project.load(defs).problems
    assert str(problem) == "defs/g/a.yaml: cannot be read: No such file or directory"


def test_every_mistake_of_a_tree_is_reported_in_one_run(tmp_path: Path):
    defs = write_tree(
        tmp_path,
        {
            "sales/orders.py": SCRIPT,
            "sales/orders.yaml": "target: subprocess\nowner: [team:sales]\n",
            "sales/revenue.py": SCRIPT,
            "sales/revenue.yaml": "target: subprocess\nassets:\n  daily:\n    deps: [sales/order]\n  by-customer: {}\n",
            "finance/ledger.yaml": "target: subproces\n",
            "finance/report.py": SCRIPT,
            "finance/report.yaml": "target: subprocess\ndeps: [finance/report]\n",
            "marketing/spend.py": SCRIPT,
            "marketing/spend.yaml": "target: subprocess\ntags: [x\n",
        },
    )
    with pytest.raises(NopeManifestError) as raised:
        Project.make_definitions(defs_path=defs)
    text = str(raised.value)
    assert text.startswith("5 problems in the manifests under defs/:")
    for line in [
        "defs/finance/ledger.yaml:1:1: unknown target `subproces`. Did you mean `subprocess`?",
        "defs/finance/report.yaml:2:8: dependency cycle: finance/report -> finance/report",
        "defs/marketing/spend.yaml:3:1: is not valid YAML",
        "defs/sales/orders.yaml:2:1: unknown key `owner`. Did you mean `owners`?",
        "defs/sales/revenue.yaml:5:3: assets.by-customer: `by-customer` is not a name",
    ]:
        assert line in text, text
    assert "Traceback" not in text
    # The problems are data too, for the command line and for tests.
    assert len({problem.path for problem in raised.value.problems}) == 5


def test_the_loading_error_lists_a_cause_before_the_problems_it_causes(tmp_path: Path):
    defs = write_tree(
        tmp_path,
        {
            "a/zz_broken.py": SCRIPT,
            "a/zz_broken.yaml": "target: subproces\n",
            "a/aa_user.py": SCRIPT,
            "a/aa_user.yaml": "target: subprocess\ndeps: [a/zz_broken]\n",
        },
    )
    with pytest.raises(NopeManifestError) as raised:
        Project.make_definitions(defs_path=defs)
    assert [line.split(":")[0].strip() for line in str(raised.value).splitlines()[1:]] == [
        "defs/a/zz_broken.yaml",
        "defs/a/aa_user.yaml",
    ], str(raised.value)
