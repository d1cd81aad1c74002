"""The two READMEs stay short: the template's is a quick start, a generated repository's the
practitioner's five-minute path, whatever the answers; the rest lives in CONTRIBUTING.md and in
each generated repository's docs/ (whose own tests/test_docs.py builds it with MkDocs).
"""

from __future__ import annotations

import itertools
import re
import sys

import pytest
from conftest import TEMPLATE
from cookiecutter.environment import StrictEnvironment
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config

TEMPLATE_README_MAX_WORDS = 1500
GENERATED_README_MAX_WORDS = 1200

# Every combination of the answers the generated README's Jinja reads.
DEPLOYMENTS = [("local", "sqlite"), ("local", "postgres"), ("docker", "postgres"), ("kubernetes", "postgres")]
TARGETS = ["uv", "modal", "docker", "k8s"]
ANSWERS = [
    {
        "deployment": deployment,
        "dagster_storage": storage,
        "extra_targets": ", ".join(chosen) or "none",
        "include_examples": examples,
        "repository_url": url,
    }
    for deployment, storage in DEPLOYMENTS
    for chosen in (c for n in range(len(TARGETS) + 1) for c in itertools.combinations(TARGETS, n))
    for examples in ("yes", "no")
    for url in ("", "https://github.com/acme/data-platform")
]


def words(text: str) -> int:
    return len(text.split())


def rendered_readme(answers: dict[str, str]) -> str:
    """The generated README.md for these answers, rendered as Cookiecutter renders it at a bake."""
    context = generate_context(context_file=str(TEMPLATE / "cookiecutter.json"), extra_context=answers)
    cookiecutter = prompt_for_config(context, no_input=True)
    sys.path.insert(0, str(TEMPLATE))  # the template's own Jinja extension, as Cookiecutter loads it
    try:
        environment = StrictEnvironment(context={"cookiecutter": cookiecutter}, keep_trailing_newline=True)
    finally:
        sys.path.remove(str(TEMPLATE))
    source = (TEMPLATE / "{{cookiecutter.__project_dir}}" / "README.md").read_text(encoding="utf-8")
    return environment.from_string(source).render(cookiecutter=cookiecutter)


def test_the_template_readme_is_a_quick_start_with_two_commands():
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    assert words(readme) <= TEMPLATE_README_MAX_WORDS, f"README.md has {words(readme)} words; move the rest to CONTRIBUTING.md"
    quick_start = readme[readme.index("## Quick start") :].split("\n## ")[0]
    first_block = re.findall(r"```bash\n(.*?)```", quick_start, re.DOTALL)[0]  # later blocks: how to stop it
    assert [line.split("#")[0].strip() for line in first_block.splitlines()] == ["make demo", "make test"]


def test_the_generated_readme_is_a_five_minute_read_whatever_the_answers():
    counts = {tuple(answers.values()): words(rendered_readme(answers)) for answers in ANSWERS}
    assert len(counts) == len(ANSWERS) == 256
    longest = max(counts, key=counts.__getitem__)
    assert counts[longest] <= GENERATED_README_MAX_WORDS, f"{counts[longest]} words with {longest}: move the rest to docs/"


@pytest.mark.parametrize("name", ["README.md", "CONTRIBUTING.md"])
def test_every_relative_link_of_the_template_docs_leads_to_a_file(name: str):
    text = (TEMPLATE / name).read_text(encoding="utf-8")
    targets = [target for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text) if "://" not in target]
    assert [target for target in targets if not (TEMPLATE / target).exists()] == []
