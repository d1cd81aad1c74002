"""Taking a newer template with cruft, as the README says: `cruft create`, the owners' edits, `cruft update`.

Typed in a user's shell (tests/user_shell.py) at the root of a new user's clone of the template,
with the cruft that `make bake` installs in `.tools/` from `requirements/bake.lock`. The clone
then gets a second commit (a newer loader in `platform/nope/` and a new file), as a template
release pulled into it would. The repository generated at the first commit is customized the
way platform owners and practitioners do, then updated to the second: the update must apply
without conflicts, lose nothing, and print no next steps (cruft's scratch generations are not
the user's repository).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import template_clone
from user_shell import run_as_user

PROJECT = "{{cookiecutter.__project_dir}}"
# A user who commits has told git who they are; the README's `git commit` step says so.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Platform team",
    "GIT_AUTHOR_EMAIL": "platform@example.com",
    "GIT_COMMITTER_NAME": "Platform team",
    "GIT_COMMITTER_EMAIL": "platform@example.com",
}


def git(repo: Path, *args: str) -> str:
    """git as the people editing `repo` run it (not a documented command)."""
    env = {**os.environ, **GIT_IDENTITY, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    result = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"git {args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_cruft_update_brings_a_newer_template_and_keeps_the_owners_edits(tmp_path: Path, user_home: Path):
    template = template_clone(tmp_path)  # tmp_path/nope-template
    run_as_user("make bake", template, user_home)  # installs .tools/, cruft included

    created = run_as_user(".tools/bin/cruft create --no-input --output-dir .. .", template, user_home)
    assert created.stdout.count("Next steps:") == 1, created.stdout
    assert "  cd ../acme-data-platform\n" in created.stdout, created.stdout
    repo = tmp_path / "acme-data-platform"
    assert (repo / ".cruft.json").is_file()
    command = 'cd ../acme-data-platform && git init && git add -A && git commit -m "Generate from the Nope template"'
    run_as_user(command, template, user_home, extra=GIT_IDENTITY)  # the hook leaves that to cruft users

    # The platform owner customizes the company package; practitioners add a group.
    settings = repo / "platform/acme_platform/settings.py"
    edit(settings, 'DEFAULT_KIND: str = "python"', 'DEFAULT_KIND: str = "acme"')
    project = repo / "platform/acme_platform/project.py"
    project.write_text(project.read_text() + "\n\nCOMPANY_NOTE = 'our own code'\n")
    (repo / "defs/finance").mkdir()
    (repo / "defs/finance/ledger.py").write_text("print('ledger')\n")
    (repo / "defs/finance/ledger.yaml").write_text("target: subprocess\nowners: [team:finance]\n")
    commit_all(repo, "Our platform and our first asset")

    # Template release 2, pulled into the clone: a newer loader and a new file.
    loader = template / PROJECT / "platform/nope/scaffold.py"
    loader.write_text(loader.read_text() + '\n\nSCAFFOLD_RELEASE = "2"\n')
    (template / PROJECT / "docs").mkdir(exist_ok=True)
    (template / PROJECT / "docs/RELEASE.md").write_text("Release 2 of the platform template.\n")
    commit_all(template, "Template release 2")

    updated = run_as_user("../nope-template/.tools/bin/cruft update --skip-apply-ask", repo, user_home)
    assert "Next steps:" not in updated.stdout, updated.stdout  # cruft's two scratch generations print nothing

    assert not list(repo.rglob("*.rej")), "the update left conflicts"
    assert 'SCAFFOLD_RELEASE = "2"' in (repo / "platform/nope/scaffold.py").read_text()
    assert (repo / "docs/RELEASE.md").read_text() == "Release 2 of the platform template.\n"
    assert 'DEFAULT_KIND: str = "acme"' in settings.read_text()
    assert "COMPANY_NOTE = 'our own code'" in project.read_text()
    assert (repo / "defs/finance/ledger.yaml").read_text() == "target: subprocess\nowners: [team:finance]\n"
    assert "defs/group_a/asset_one.yaml" in git(repo, "ls-files")
    changed = sorted(line[3:] for line in git(repo, "status", "--porcelain").splitlines())
    assert changed == [".cruft.json", "docs/RELEASE.md", "platform/nope/scaffold.py"], changed
    run_as_user("../nope-template/.tools/bin/cruft check", repo, user_home)  # up to date with the template's latest commit

    # The updated repository still checks clean with its own and the new files.
    run_as_user("make check", repo, user_home)
