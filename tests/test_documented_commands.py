"""Every command the docs tell a person to type is run by a test exactly as written."""

from __future__ import annotations

from pathlib import Path

from documented_commands import DocumentedCommand, documented_commands, string_lines

PAGE = '''# A page

```bash
make dev            # serve the UI
nope check defs     # a '#' inside 'quotes' is kept: echo '#1'
docker build \\
  --build-arg X=1 .
```

<!-- not run by the tests: needs a Kubernetes cluster -->
```bash
kubectl apply -f - <<'YAML'
kind: Namespace   # not a comment of the shell
YAML
```

```yaml
target: subprocess
```
'''


def test_commands_are_read_from_command_blocks_with_where_they_are_written(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    assert documented_commands(page, "docs/page.md") == [
        DocumentedCommand("docs/page.md", 4, "make dev"),
        DocumentedCommand("docs/page.md", 5, "nope check defs"),
        DocumentedCommand("docs/page.md", 6, "docker build --build-arg X=1 ."),
        DocumentedCommand(
            "docs/page.md",
            12,
            "kubectl apply -f - <<'YAML'\nkind: Namespace   # not a comment of the shell\nYAML",
            "needs a Kubernetes cluster",
        ),
    ]


def test_a_test_holds_a_command_as_a_literal_alone_or_as_a_line_of_a_script(tmp_path: Path):
    source = tmp_path / "test_x.py"
    source.write_text('run("make dev")\nrun("""\n  make install\n  nope check\n""")\nrun(f"make dev PORT={1}")\n')
    lines = string_lines([source])
    assert {"make dev", "make install", "nope check"} <= lines
    assert "make dev PORT=1" not in lines and "make dev PORT=" not in lines
