"""Taking a newer template with cruft: `cruft create`, the platform owner's edits, `cruft update`.

The template is copied into a scratch git repository and given a second commit (a newer loader
in `platform/nope/` and a new file), as a template release would. The repository generated at
the first commit is customized the way platform owners and practitioners do, then updated to
the second: the update must apply without conflicts and lose nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import TEMPLATE

BIN = Path(sys.executable).parent
NOT_TEMPLATE = shutil.ignore_patterns(".git", ".venv", ".tools", "build", "node_modules", "__pycache__", ".pytest_cache")
PROJECT = "{{cookiecutter.__project_dir}}"
COMMITTER = {
    "GIT_AUTHOR_NAME": "Platform team",
    "GIT_AUTHOR_EMAIL": "platform@example.com",
    "GIT_COMMITTER_NAME": "Platform team",
    "GIT_COMMITTER_EMAIL": "platform@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def run(*command: str | Path, cwd: Path) -> str:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, env={**os.environ, **COMMITTER}, capture_output=True, text=True
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def commit_all(repo: Path, message: str) -> None:
    run("git", "add", "--all", cwd=repo)
    run("git", "commit", "--quiet", "-m", message, cwd=repo)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_cruft_update_brings_a_newer_template_and_keeps_the_owners_edits(tmp_path: Path):
    template = tmp_path / "template"
    shutil.copytree(TEMPLATE, template, ignore=NOT_TEMPLATE)
    run("git", "init", "--quiet", cwd=template)
    commit_all(template, "Template release 1")

    run(BIN / "cruft", "create", "--no-input", template, cwd=tmp_path)
    repo = tmp_path / "acme-data-platform"
    assert (repo / ".cruft.json").is_file()
    run("git", "init", "--quiet", cwd=repo)  # the hook leaves that to cruft users
    commit_all(repo, "Generated")

    # The platform owner customizes the company package; practitioners add a group.
    settings = repo / "platform/acme_platform/settings.py"
    edit(settings, 'DEFAULT_KIND: str = "python"', 'DEFAULT_KIND: str = "acme"')
    project = repo / "platform/acme_platform/project.py"
    project.write_text(project.read_text() + "\n\nCOMPANY_NOTE = 'our own code'\n")
    (repo / "defs/finance").mkdir()
    (repo / "defs/finance/ledger.py").write_text("print('ledger')\n")
    (repo / "defs/finance/ledger.yaml").write_text("target: subprocess\nowners: [team:finance]\n")
    commit_all(repo, "Our platform and our first asset")

    # Template release 2: a newer loader and a new file.
    loader = template / PROJECT / "platform/nope/scaffold.py"
    loader.write_text(loader.read_text() + '\n\nSCAFFOLD_RELEASE = "2"\n')
    (template / PROJECT / "docs").mkdir()
    (template / PROJECT / "docs/RELEASE.md").write_text("Release 2 of the platform template.\n")
    commit_all(template, "Template release 2")

    run(BIN / "cruft", "update", "--skip-apply-ask", cwd=repo)

    assert not list(repo.rglob("*.rej")), "the update left conflicts"
    assert 'SCAFFOLD_RELEASE = "2"' in (repo / "platform/nope/scaffold.py").read_text()
    assert (repo / "docs/RELEASE.md").read_text() == "Release 2 of the platform template.\n"
    assert 'DEFAULT_KIND: str = "acme"' in settings.read_text()
    assert "COMPANY_NOTE = 'our own code'" in project.read_text()
    assert (repo / "defs/finance/ledger.yaml").read_text() == "target: subprocess\nowners: [team:finance]\n"
    assert "defs/group_a/asset_one.yaml" in run("git", "ls-files", cwd=repo)
    changed = sorted(line[3:] for line in run("git", "status", "--porcelain", cwd=repo).splitlines())
    assert changed == [".cruft.json", "docs/RELEASE.md", "platform/nope/scaffold.py"], changed
    run(BIN / "cruft", "check", cwd=repo)  # up to date with the template's latest commit

    # The updated repository still checks clean with its own and the new files.
    checked = subprocess.run(
        [sys.executable, "-m", "nope", "check"],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo / "platform")},
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
