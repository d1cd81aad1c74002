"""The generated README's five-minute path, typed as written in a new user's shell.

A practitioner with a fresh terminal and no Python environment of their own installs once, creates
an asset with `nope new`, fills in the manifest the README shows, checks it, serves the UI and
materializes the new asset there, then stops the server. The docs' other practitioner and platform
commands that need only the repository (`nope list`, more `nope new`, the docs build, the schema)
run on the same install. Run alone with `pytest -m webserver -k practitioner`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import bake
from dagster_dev import DagsterDev, free_port, processes_using
from user_shell import run_as_user

pytestmark = pytest.mark.webserver

NEW_ASSET = "marketing/signups"


def readme_manifest(readme: str) -> str:
    """Step 3's manifest: the README's YAML block that its editor's schema line opens."""
    [manifest] = re.findall(r"```yaml\n(# yaml-language-server:.*?)```", readme, re.DOTALL)
    return manifest


def test_the_readmes_path_takes_a_new_asset_from_nope_new_to_materialized(tmp_path: Path, user_home: Path):
    repo = bake(tmp_path / "bake")
    readme = (repo / "README.md").read_text(encoding="utf-8")

    run_as_user("make install", repo, user_home)
    created = run_as_user(".venv/bin/nope new marketing/signups", repo, user_home)
    assert "defs/marketing/signups.yaml" in created.stdout, created.stdout
    assert (repo / "defs/marketing/signups.py").is_file()

    manifest = repo / "defs/marketing/signups.yaml"
    manifest.write_text(readme_manifest(readme), encoding="utf-8")
    assert run_as_user(".venv/bin/nope check", repo, user_home).returncode == 0

    # The README's example of a misspelled key is what the practitioner reads.
    [example] = re.findall(r"```text\n(defs/marketing/signups\.yaml:.*?)\n```", readme, re.DOTALL)
    manifest.write_text(readme_manifest(readme).replace("owners:", "owner:"), encoding="utf-8")
    misspelled = run_as_user(".venv/bin/nope check", repo, user_home, check=False)
    assert misspelled.returncode == 1
    assert example.removesuffix("...") in misspelled.stdout, misspelled.stdout
    manifest.write_text(readme_manifest(readme), encoding="utf-8")

    # `make dev` as step 5 types it; PORT is the make variable the docs name for another port.
    port = free_port()
    server = DagsterDev.in_user_shell(repo, port, "make dev", user_home, tmp_path / "make-dev.log", {"PORT": str(port)})
    try:
        location = server.wait_until_ready()
        run_id = server.launch(location, [NEW_ASSET])
        assert server.wait_for_run(run_id) == "SUCCESS", server.run_text(run_id)
        assert [event["runId"] for event in server.materializations(NEW_ASSET)] == [run_id]
        stopped = run_as_user("make stop", repo, user_home)  # "from another terminal, make stop ends it"
        assert "dagster dev stopped" in stopped.stdout
        server.process.wait(timeout=120)
        assert processes_using(repo / ".dagster_home") == []
    finally:
        server.stop()


def test_the_docs_commands_for_checking_scaffolding_the_site_and_the_schema_work_from_one_install(
    tmp_path: Path, user_home: Path
):
    repo = bake(tmp_path / "bake")
    run_as_user("make install", repo, user_home)
    # Compiled as installed (nothing has imported Dagster yet): no Dagster process of the repository
    # compiles it again, even where Python may not write its cache (this machine sets
    # PYTHONDONTWRITEBYTECODE, as many CI images do).
    assert list(repo.glob(".venv/lib/python3.*/site-packages/dagster/_core/execution/__pycache__/api.*.pyc"))

    listed = run_as_user(".venv/bin/nope list", repo, user_home).stdout
    assert "sales/orders" in listed and "group_a/asset_two" in listed, listed
    run_as_user(".venv/bin/nope new reports/weekly --assets summary,detail", repo, user_home)
    run_as_user(".venv/bin/nope new ops/cleanup --script cleanup.sh", repo, user_home)
    assert (repo / "defs/ops/cleanup.sh").is_file() and (repo / "defs/reports/weekly.yaml").is_file()
    run_as_user(".venv/bin/nope check", repo, user_home)  # what nope new writes passes as it is
    listed = run_as_user(".venv/bin/nope list", repo, user_home).stdout
    assert {"reports/summary", "reports/detail", "ops/cleanup"} <= set(re.findall(r"[\w]+/[\w]+", listed)), listed

    # docs/practitioners/impact.md, on the bake's own git repository: the new files are the change.
    changed = run_as_user(".venv/bin/nope diff", repo, user_home).stdout
    assert re.findall(r"^added +(\S+)", changed, re.MULTILINE) == ["ops/cleanup", "reports/detail", "reports/summary"], changed
    comment = run_as_user(".venv/bin/nope diff --format markdown", repo, user_home).stdout
    assert "#### Added (3)" in comment and "```mermaid" in comment, comment
    launched = run_as_user('.venv/bin/dg launch --assets "$(.venv/bin/nope diff --format select)"', repo, user_home)
    # Dagster's log names each materialized asset by its key's parts: "Materialized value ops cleanup."
    materialized = {"/".join(key) for key in re.findall(r"ASSET_MATERIALIZATION - Materialized value (\w+) (\w+)\.", launched.stdout)}
    assert materialized == {"ops/cleanup", "reports/detail", "reports/summary"}, launched.stdout

    run_as_user(".venv/bin/mkdocs build --strict", repo, user_home)
    assert (repo / "site/reference/manifest/index.html").is_file()

    committed = (repo / "nope.schema.json").read_text(encoding="utf-8")
    run_as_user(".venv/bin/python -m nope schema -o nope.schema.json", repo, user_home)
    assert (repo / "nope.schema.json").read_text(encoding="utf-8") == committed  # the bake's schema is current
