"""The template README's own commands, typed at the root of a new user's clone, in a user's shell.

`make demo` is a new user's first command; `make bake` and `make demo` bake into
`build/acme-data-platform/`, where practitioners then add assets, so baking again must never
lose that work (bake_record.py says how); `make stop` ends what `make demo` started. Each test
runs in a fresh clone (conftest.template_clone) with the session's user HOME (tests/user_shell.py),
so its first command installs `.tools/` from an empty clone, as a user's does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from conftest import TEMPLATE, template_clone
from dagster_dev import (
    ASSET_NODES_QUERY,
    MATERIALIZATIONS_QUERY,
    WORKSPACE_QUERY,
    free_port,
    processes_using,
    wait_until,
)
from user_shell import COMMAND_TIMEOUT_SECONDS, run_as_user, start_as_user, stop_group, user_env

BAKED = "build/acme-data-platform"
LEDGER_MANIFEST = "target: subprocess\nscript: ledger.py\nowners: [team:finance]\n"

# From a cold HOME `make demo` installs .tools and the baked repository, materializes the
# examples, then serves: 165 s to the UI on this project's 2-core machine under a load of 10
# (`pytest -s -k make_demo tests/test_quick_start.py` prints it).
DEMO_DEADLINE_SECONDS = 1200


def run_apart(command: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """`command` in the user's shell with stdout and stderr apart, to read what a refusal printed."""
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=user_env(home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )


def contents(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` and its bytes: what "left untouched" compares."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def assert_refused(result: subprocess.CompletedProcess[str], *named: str) -> str:
    """A refusal: a non-zero exit and one line on stderr naming `named`; returns that line."""
    assert result.returncode != 0, result.stdout[-3000:]
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for text in named:
        assert text in lines[0], lines[0]
    return lines[0]


def test_make_bake_twice_keeps_a_practitioners_new_asset_until_forced(tmp_path: Path, user_home: Path):
    template = template_clone(tmp_path)
    baked = template / BAKED

    first = run_as_user("make bake", template, user_home)
    assert "cd build/acme-data-platform\n" in first.stdout  # the next steps name the folder as the shell reaches it
    assert (template / ".tools/bin/cruft").is_file()  # cruft comes with the tools (the README's `cruft create`)

    # A practitioner adds an asset in the baked repository, as its README says.
    (baked / "defs/finance").mkdir()
    (baked / "defs/finance/ledger.py").write_text("print('ledger')\n")
    (baked / "defs/finance/ledger.yaml").write_text(LEDGER_MANIFEST)
    before = contents(baked)

    refused = run_apart("make bake", template, user_home)
    line = assert_refused(refused, f"{BAKED} holds 2 changes", "defs/finance/ledger.py", "defs/finance/ledger.yaml", "`make bake FORCE=1`")
    assert contents(baked) == before, line
    refused = run_apart("make demo", template, user_home)  # the first step of `make demo` is the same bake
    assert_refused(refused, "defs/finance/ledger.yaml", "`make demo FORCE=1`")
    assert contents(baked) == before

    # A platform owner's edit is a change too.
    settings = baked / "platform/acme_platform/settings.py"
    settings.write_text(settings.read_text().replace('DEFAULT_KIND: str = "python"', 'DEFAULT_KIND: str = "acme"'))
    for moved in ("ledger.py", "ledger.yaml"):
        (baked / "defs/finance" / moved).rename(tmp_path / moved)  # the practitioner moves the asset aside
    assert_refused(run_apart("make bake", template, user_home), f"{BAKED} holds 1 change", "platform/acme_platform/settings.py")

    run_as_user("make bake FORCE=1", template, user_home)
    assert 'DEFAULT_KIND: str = "python"' in settings.read_text()
    run_as_user("make bake", template, user_home)  # a fresh bake holds no change


def test_a_folder_baked_before_bakes_were_recorded_counts_as_changed(tmp_path: Path, user_home: Path):
    template = template_clone(tmp_path)
    run_as_user("make bake", template, user_home)
    (template / "build/.acme-data-platform.bake.git").rename(tmp_path / "record")  # as an older Makefile left it

    assert_refused(run_apart("make bake", template, user_home), f"{BAKED} holds no record of its last bake", "`make bake FORCE=1`")
    run_as_user("make bake FORCE=1", template, user_home)
    run_as_user("make bake", template, user_home)


def test_make_demo_serves_the_materialized_examples_on_the_printed_url_and_make_stop_ends_it(tmp_path: Path, user_home: Path):
    template = template_clone(tmp_path)
    baked = template / BAKED
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "demo.log"

    started = time.monotonic()
    demo = start_as_user(f"make demo PORT={port}", template, user_home, log)
    try:
        wait_until(lambda: demo.poll() is not None or location_loaded(url), "the UI of `make demo`", DEMO_DEADLINE_SECONDS)
        assert demo.poll() is None, log.read_text()[-6000:]
        print(f"`make demo` to the UI answering: {time.monotonic() - started:.0f} s")
        assert f"the Dagster UI will answer on {url}" in log.read_text()

        keys = ["/".join(node["assetKey"]["path"]) for node in graphql(url, ASSET_NODES_QUERY)["assetNodes"]]
        assert {"group_a/asset_one", "group_a/asset_four", "sales/orders", "sales/daily_revenue"} <= set(keys), keys
        unmaterialized = [key for key in keys if not materialized(url, key)]
        assert unmaterialized == []

        stopped = run_as_user("make stop", template, user_home)
        assert "dagster dev stopped." in stopped.stdout, stopped.stdout
        demo.wait(timeout=60)
    finally:
        stop_group(demo)
    assert processes_using(baked.resolve() / ".dagster_home") == []
    assert not answers(url)

    # Installing and materializing wrote .venv/, .dagster_home/ and data/: none is a change.
    caches = sorted((baked / ".venv").rglob("__pycache__"))
    assert caches
    run_as_user("make bake", template, user_home)
    assert all(cache.is_dir() for cache in caches)  # else the next start compiles all of Dagster again
    assert list((baked / ".dagster_home").iterdir())


def test_plain_cookiecutter_from_the_tools_generates_beside_the_clone(tmp_path: Path, user_home: Path):
    template = template_clone(tmp_path)
    run_as_user("make bake", template, user_home)
    result = run_as_user(".tools/bin/cookiecutter --no-input --output-dir .. .", template, user_home)
    assert result.stdout.count("Next steps:") == 1, result.stdout
    assert "  cd ../acme-data-platform\n" in result.stdout, result.stdout
    assert (tmp_path / "acme-data-platform/definitions.py").is_file()


def test_make_stop_with_nothing_baked_says_so(tmp_path: Path, user_home: Path):
    result = run_as_user("make stop", template_clone(tmp_path), user_home)
    assert result.stdout.strip() == f"Nothing is baked in {BAKED}, so nothing runs from it."


# -- bake_record.py's failures, which `make bake` turns into its one-line refusal -----------------


def record_script(*args: str, baked: Path, path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TEMPLATE / "bake_record.py"), *args, str(baked)],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
    )


def test_without_git_a_bake_is_not_recorded_and_the_next_one_needs_force(tmp_path: Path):
    baked = tmp_path / "build/acme-data-platform"
    baked.mkdir(parents=True)
    no_git = str(tmp_path / "empty-bin")
    saved = record_script("save", baked=baked, path=no_git)
    assert saved.returncode == 0
    assert saved.stderr == "note: git is not installed, so this bake is not recorded: the next one will need FORCE=1.\n"
    checked = record_script("check", baked=baked, path=no_git)
    assert "holds no record of its last bake" in checked.stdout

    record_script("save", baked=baked, path=os.environ["PATH"])
    checked = record_script("check", baked=baked, path=no_git)
    assert checked.stdout.startswith("git is not installed, so the changes in "), checked.stdout
    assert checked.stdout.count("\n") == 1


def test_an_unreadable_record_refuses_the_bake(tmp_path: Path):
    baked = tmp_path / "build/acme-data-platform"
    baked.mkdir(parents=True)
    (tmp_path / "build/.acme-data-platform.bake.git").mkdir()  # not a git directory
    checked = record_script("check", baked=baked, path=os.environ["PATH"])
    assert checked.stdout.startswith(f"the record of the last bake of {baked} cannot be read ("), checked.stdout
    assert "bake over it with `make bake FORCE=1`" in checked.stdout


# -- the webserver's GraphQL API, as the UI reaches it --------------------------------------------


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{url}/graphql", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.loads(response.read())
    assert not payload.get("errors"), payload["errors"]
    return payload["data"]


def answers(url: str) -> bool:
    try:
        graphql(url, WORKSPACE_QUERY)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    return True


def location_loaded(url: str) -> bool:
    """Whether the UI at `url` answers with the code location loaded (a load error fails the test)."""
    try:
        entries = graphql(url, WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    for entry in entries:
        location = entry["locationOrLoadError"] or {}
        assert location.get("__typename") != "PythonError", location
    return any(entry["loadStatus"] == "LOADED" and entry["locationOrLoadError"] for entry in entries)


def materialized(url: str, key: str) -> bool:
    asset = graphql(url, MATERIALIZATIONS_QUERY, {"assetKey": {"path": key.split("/")}})["assetOrError"]
    return asset["__typename"] == "Asset" and bool(asset["assetMaterializations"])
