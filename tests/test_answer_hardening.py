"""Answers are plain text: template syntax, invisible characters and impossible branch names stop the bake.

Answers may come from a form (Backstage's cookiecutter action, a portal) rather than from the
person who runs Cookiecutter. Cookiecutter renders every answer as a Jinja template before the
pre-generation hook sees it, so `{{ 7*7 }}` would arrive as `49` and a sandbox-escape expression
would run a command during the bake; `local_extensions.AnswersAreText` refuses such answers before
anything is rendered and sandboxes the environment besides. Each refusal is one line naming the
answer, with no traceback, and nothing is generated.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import TEMPLATE, bake_refused, template_clone

# Classic Jinja sandbox escapes, each trying to create the marker file `{marker}`.
ESCAPES = [
    pytest.param("{{ cycler.__init__.__globals__.os.popen('touch {marker}').read() }}", id="cycler"),
    pytest.param("{{ joiner.__init__.__globals__.os.popen('touch {marker}').read() }}", id="joiner"),
    pytest.param("{{ namespace.__init__.__globals__.os.popen('touch {marker}').read() }}", id="namespace"),
    pytest.param("{{ lipsum.__globals__['os'].popen('touch {marker}').read() }}", id="lipsum"),
    pytest.param(
        "{{ self.__init__.__globals__.__builtins__.__import__('os').popen('touch {marker}').read() }}", id="self"
    ),
    pytest.param(
        "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__ == 'Popen' %}"
        "{{ c(['touch', '{marker}']) }}{% endif %}{% endfor %}",
        id="str-mro-subclasses",
    ),
    pytest.param("{{ ''|attr('__class__') }}{{ cycler|attr('__init__') }}", id="attr-filter"),
    pytest.param("{{ 7*7 }}", id="arithmetic"),
    pytest.param("Acme{# a comment #}", id="comment"),
]


def refused_line(output: str, answer: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith(f"error: {answer}: ")]
    return line


@pytest.mark.parametrize("payload", ESCAPES)
@pytest.mark.parametrize("answer", ["company_name", "project_name", "__project_dir"])
def test_template_syntax_in_an_answer_is_refused_before_anything_is_rendered(
    tmp_path: Path, answer: str, payload: str
):
    marker = tmp_path / "marker"
    output = tmp_path / "out"
    result = bake_refused(output, **{answer: payload.replace("{marker}", str(marker))})
    assert not marker.exists(), "the answer's expression ran a command"
    line = refused_line(result.stdout + result.stderr, answer)
    assert "holds template syntax" in line
    assert not output.exists() or list(output.iterdir()) == []


def test_cruft_refuses_template_syntax_in_an_answer_too(tmp_path: Path):
    """cruft renders answers through Cookiecutter's own functions, with the same extension."""
    template = template_clone(tmp_path)
    marker = tmp_path / "marker"
    payload = str(ESCAPES[0].values[0]).replace("{marker}", str(marker))
    result = subprocess.run(
        [str(TEMPLATE / ".venv/bin/cruft"), "create", "--no-input", "--output-dir", str(tmp_path / "out"),
         "--extra-context", json.dumps({"company_name": payload}), str(template)],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "400"},
    )
    assert result.returncode != 0
    assert not marker.exists(), "the answer's expression ran a command"
    assert "error: company_name: " in result.stdout + result.stderr
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_the_environment_is_sandboxed_even_for_what_the_answer_check_lets_through(tmp_path: Path):
    """Defence in depth: were an expression to reach rendering, `_`-attributes and the unsafe globals are gone."""
    from cookiecutter.utils import create_env_with_context
    from jinja2.exceptions import SecurityError, UndefinedError

    context = {"cookiecutter": json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))}
    environment = create_env_with_context(context)
    marker = tmp_path / "marker"
    for payload in [str(param.values[0]) for param in ESCAPES[:6]]:
        with pytest.raises((SecurityError, UndefinedError)):
            environment.from_string(payload.replace("{marker}", str(marker))).render(cookiecutter={})
    assert not marker.exists()
    with pytest.raises(SecurityError):  # lists and dicts cannot be changed from a template
        environment.from_string("{{ cookiecutter.update({'x': 1}) }}").render(cookiecutter={})


# Invisible characters: bidirectional overrides and isolates reorder what a reader sees (a README
# or pyproject.toml that reads differently from what it holds); zero-width ones hide differences.
@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"company_name": "Acme\u202eInc"}, "company_name: holds the invisible character U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ({"project_name": "Data \u2066Platform\u2069"}, "project_name: holds the invisible character U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ({"project_name": "Data\u2067 Platform"}, "project_name: holds the invisible character U+2067 (RIGHT-TO-LEFT ISOLATE)"),
        ({"company_name": "Ac\u200bme"}, "company_name: holds the invisible character U+200B (ZERO WIDTH SPACE)"),
        ({"company_name": "Ac\u200dme"}, "company_name: holds the invisible character U+200D (ZERO WIDTH JOINER)"),
        ({"project_name": "\ufeffData Platform"}, "project_name: holds the invisible character U+FEFF (ZERO WIDTH NO-BREAK SPACE)"),
        ({"company_name": "Acme\u00adCorp"}, "company_name: holds the invisible character U+00AD (SOFT HYPHEN)"),
        ({"repository_branch": "ma\u200cin"}, "repository_branch: holds the invisible character U+200C (ZERO WIDTH NON-JOINER)"),
        # C1 controls and Unicode's own line separators are line breaks to many readers (str.splitlines).
        ({"project_name": "Data\u0085Platform"}, "project_name: must be one line of text"),
        ({"company_name": "Acme\u2028Inc"}, "company_name: must be one line of text"),
    ],
)
def test_invisible_characters_in_an_answer_are_refused(tmp_path: Path, answers: dict, message: str):
    result = bake_refused(tmp_path, **answers)
    assert f"error: {message}" in result.stderr
    assert list(tmp_path.iterdir()) == []


# git check-ref-format --branch, rule by rule (git-check-ref-format(1)); the hook does not need git.
@pytest.mark.parametrize(
    ("branch", "reason"),
    [
        pytest.param("b" * 10_000, "is 10,000 characters long; at most 200", id="10000-characters"),
        pytest.param("", "must not be empty", id="empty"),
        pytest.param("feature..x", "holds `..`", id="two-dots"),
        pytest.param("-x", "starts with `-`", id="leading-dash"),
        pytest.param("HEAD", "is `HEAD`", id="HEAD"),
        pytest.param("@", "is `@`", id="at"),
        pytest.param("a@{1}", "holds `@{`", id="at-brace"),
        pytest.param("my branch", "holds a space", id="space"),
        pytest.param("a~1", "holds `~`", id="tilde"),
        pytest.param("a^2", "holds `^`", id="caret"),
        pytest.param("a:b", "holds `:`", id="colon"),
        pytest.param("a?", "holds `?`", id="question-mark"),
        pytest.param("a*", "holds `*`", id="star"),
        pytest.param("a[b", "holds `[`", id="bracket"),
        pytest.param("a\\b", "holds `\\`", id="backslash"),
        pytest.param("/main", "starts or ends with `/`", id="leading-slash"),
        pytest.param("main/", "starts or ends with `/`", id="trailing-slash"),
        pytest.param("a//b", "holds `//`", id="double-slash"),
        pytest.param("main.", "ends with `.`", id="trailing-dot"),
        pytest.param("team/.hidden", "has a part that starts with `.`", id="dot-part"),
        pytest.param("team/x.lock", "has a part that ends with `.lock`", id="lock-part"),
        pytest.param("feature/" + "数" * 90, "has a part longer than 250 bytes", id="long-part"),
    ],
)
def test_a_branch_git_would_refuse_is_refused_in_the_hook(tmp_path: Path, branch: str, reason: str):
    result = bake_refused(tmp_path, repository_branch=branch)
    line = refused_line(result.stderr, "repository_branch")
    assert reason in line, line
    assert len(line) < 300
    assert list(tmp_path.iterdir()) == []


def test_the_hook_s_branch_rule_agrees_with_git(tmp_path: Path):
    """The hook's rule, checked against `git check-ref-format --branch` itself on names it must take and refuse.

    One deliberate difference: git takes a branch named `@`, which its own commands read as HEAD.
    """
    import importlib.util

    hook = (TEMPLATE / "hooks" / "pre_gen_project.py").read_text(encoding="utf-8")
    rendered = tmp_path / "pre_gen_project.py"
    rendered.write_text(hook.replace("{{ cookiecutter | tojson | tojson }}", json.dumps("{}")), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("pre_gen_project", rendered)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names = [
        "main", "trunk", "release/2.0", "feature/x-y_z", "a.b", "données", "u@v", "x.lock/y", "a/.b", "a..b",
        "-x", "HEAD", "a@{b", "a b", "a~", "a^", "a:", "a?", "a*", "a[", "a\\b", "/a", "a/", "a//b", "a.",
        ".a", "a.lock", "a\x7f", "a\tb", "refs/heads/x", "@x", "x@",
    ]
    for name in names:
        git = subprocess.run(["git", "check-ref-format", "--branch", name], cwd=tmp_path, capture_output=True, text=True)
        assert (module.branch_problem(name) is None) == (git.returncode == 0), name
    assert module.branch_problem("@") is not None
