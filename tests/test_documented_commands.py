"""Every command the docs tell a person to type is run by a test exactly as written."""

from __future__ import annotations

from pathlib import Path

from conftest import TEMPLATE, bake
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


# The answers whose docs together hold every page: the default bake, and one per production deployment.
DOC_BAKES = {
    "default": {},
    "docker": {"deployment": "docker", "dagster_storage": "postgres", "extra_targets": "docker"},
    "kubernetes": {"deployment": "kubernetes", "dagster_storage": "postgres", "extra_targets": "uv, modal, docker, k8s"},
}


def documents_and_tests(tmp_path: Path) -> tuple[list[DocumentedCommand], list[Path]]:
    """The commands of the template's README and CONTRIBUTING and of each baked repository's README
    and docs/; and every test module that could run them: the template's, and each bake's own."""
    commands = [command for name in ("README.md", "CONTRIBUTING.md") for command in documented_commands(TEMPLATE / name, name)]
    tests = sorted((TEMPLATE / "tests").glob("*.py"))
    for bake_name, answers in DOC_BAKES.items():
        repo = bake(tmp_path / bake_name, **answers)
        for page in [repo / "README.md", *sorted((repo / "docs").rglob("*.md"))]:
            commands += documented_commands(page, f"<{bake_name} bake>/{page.relative_to(repo)}")
        tests += sorted((repo / "tests").glob("*.py"))
    return commands, tests


def test_every_documented_command_is_run_by_a_test_exactly_as_written(tmp_path: Path):
    commands, tests = documents_and_tests(tmp_path)
    run_by_tests = string_lines(tests)
    assert len(commands) > 20  # the READMEs and docs were read
    untested = sorted(
        {f"{command.where()}: {command.text}" for command in commands if command.not_run_reason is None and command.text not in run_by_tests}
    )
    assert untested == [], (
        "these documented commands are run by no test: add a test that runs each exactly as written in a user's"
        " shell (tests/user_shell.py), or, if it needs what no test here can have, put its block after"
        " `<!-- not run by the tests: <reason> -->`:\n" + "\n".join(untested)
    )
    assert all(command.not_run_reason for command in commands if command.not_run_reason is not None)
