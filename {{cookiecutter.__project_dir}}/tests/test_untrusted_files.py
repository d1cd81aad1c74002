"""Files a pull request can add under defs/ to hang or exhaust `nope check` and the code server.

FIFOs, devices, huge files and symlinks leading anywhere: each gets a problem naming the file,
never a read, a hang or a traceback. Loads that could hang if the loader regressed run in a
subprocess with a timeout, so a regression fails the test instead of stalling the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nope.safe_files import MAX_SCRIPT_BYTES, RefusedFile, read_regular_file
from test_manifest_errors import SCRIPT, write_tree

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }} as Project

from conftest import REPO_ROOT

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")

LOAD_AND_PRINT_PROBLEMS = """
import json, sys
from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }} as Project
print(json.dumps([str(problem) for problem in Project.load(sys.argv[1]).problems]))
"""


def problems_in_a_subprocess(defs: Path) -> list[str]:
    """`Project.load(defs).problems` as text, from a child process that may not hang the tests."""
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "platform")}
    try:
        done = subprocess.run(
            [sys.executable, "-c", LOAD_AND_PRINT_PROBLEMS, str(defs)],
            capture_output=True, text=True, timeout=120, env=environment, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("loading defs/ hung (a file was read that should have been refused)")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def only_problem(defs: Path) -> str:
    [problem] = [str(problem) for problem in Project.load(defs).problems]
    return problem


@needs_fifo
@pytest.mark.parametrize(
    ("fifo", "files", "expected"),
    [
        ("g/x.yaml", {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n"}, "defs/g/x.yaml: is a named pipe (FIFO), not a regular file; only regular files are read from defs/"),
        ("g/_group.yaml", {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n"}, "defs/g/_group.yaml: is a named pipe (FIFO)"),
        ("g/a.py", {"g/a.yaml": "target: subprocess\n"}, "defs/g/a.yaml:1:1: script `a.py` is a named pipe (FIFO)"),
        ("g/b.py", {"g/a.yaml": "target: subprocess\nscript: b.py\n"}, "defs/g/a.yaml:2:1: script `b.py` is a named pipe (FIFO)"),
    ],
    ids=["manifest", "group file", "sibling script", "named script"],
)
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path, fifo: str, files: dict, expected: str):
    defs = write_tree(tmp_path, files)
    os.mkfifo(defs / fifo)
    [problem] = problems_in_a_subprocess(defs)
    assert problem.startswith(expected), problem


def test_a_manifest_linked_to_dev_zero_is_refused_not_read(tmp_path: Path):
    defs = write_tree(tmp_path, {"g/a.py": SCRIPT})
    os.symlink("/dev/zero", defs / "g" / "a.yaml")
    [problem] = problems_in_a_subprocess(defs)
    assert problem == "defs/g/a.yaml: points outside defs/; keep it inside defs/"


def test_a_device_is_refused_by_its_type_before_it_is_opened():
    with pytest.raises(RefusedFile, match=r"^is a device, not a regular file"):
        read_regular_file("/dev/zero", limit=100, real_root=None)


def test_a_script_over_the_limit_is_refused_by_check_and_never_read(tmp_path: Path):
    defs = write_tree(tmp_path, {"g/a.yaml": "target: subprocess\n"})
    with open(defs / "g" / "a.py", "wb") as script:
        script.truncate(MAX_SCRIPT_BYTES + 1)  # sparse: costs no disk
    assert only_problem(defs) == f"defs/g/a.yaml:1:1: script `a.py` is {MAX_SCRIPT_BYTES + 1:,} bytes, over the 10 MB limit; keep data out of defs/"


def test_a_script_that_grows_after_the_check_is_refused_when_assets_are_built(tmp_path: Path):
    defs = write_tree(tmp_path, {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n"})
    [target] = Project.load(defs).targets
    with open(defs / "g" / "a.py", "ab") as script:
        script.truncate(MAX_SCRIPT_BYTES + 1)
    with pytest.raises(Exception, match=r"defs/g/a.yaml: script `a.py` is 10,000,001 bytes, over the 10 MB limit"):
        target.manifest.code_version  # noqa: B018  # reading the property is what fails


def test_a_manifest_linked_outside_defs_is_not_read(tmp_path: Path):
    defs = write_tree(tmp_path, {"g/a.py": SCRIPT})
    secret = tmp_path / "secret.yaml"
    secret.write_text("aws_secret_access_key: hunter2\n")
    os.symlink(secret, defs / "g" / "a.yaml")
    problem = only_problem(defs)
    # Where the link leads stays out of the message: `nope check` prints into CI logs anyone may read.
    assert problem == "defs/g/a.yaml: points outside defs/; keep it inside defs/"
    assert str(tmp_path) not in problem
    assert "aws_secret" not in problem


def test_a_group_file_linked_outside_defs_is_not_read(tmp_path: Path):
    defs = write_tree(tmp_path, {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n"})
    secret = tmp_path / "secret.yaml"
    secret.write_text("aws_secret_access_key: hunter2\n")
    os.symlink(secret, defs / "g" / "_group.yaml")
    problem = only_problem(defs)
    assert problem == "defs/g/_group.yaml: points outside defs/; keep it inside defs/"
    assert str(tmp_path) not in problem


def test_files_linked_inside_defs_are_followed(tmp_path: Path):
    defs = write_tree(
        tmp_path,
        {"_shared/a.yaml": "target: subprocess\nscript: a.py\n", "_shared/a.py": SCRIPT, "_shared/_group.yaml": "owners: [team:g]\n"},
    )
    (defs / "g").mkdir()
    for name in ("a.yaml", "a.py", "_group.yaml"):
        os.symlink(defs / "_shared" / name, defs / "g" / name)
    loaded = Project.load(defs)
    assert loaded.problems == []
    assert [(asset.key, asset.owners) for target in loaded.targets for asset in target.asset_manifests] == [("g/a", ["team:g"])]


def test_a_group_folder_linked_inside_defs_is_walked(tmp_path: Path):
    defs = write_tree(tmp_path, {"_templates/sales/orders.yaml": "target: subprocess\n", "_templates/sales/orders.py": SCRIPT})
    os.symlink(defs / "_templates" / "sales", defs / "sales")
    loaded = Project.load(defs)
    assert loaded.problems == []
    assert [asset.key for target in loaded.targets for asset in target.asset_manifests] == ["sales/orders"]


def test_a_group_folder_linked_outside_defs_is_reported_not_skipped(tmp_path: Path):
    defs = write_tree(tmp_path, {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n"})
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "sub").mkdir(parents=True)
    os.symlink(elsewhere, defs / "other")
    os.symlink(elsewhere / "sub", defs / "g" / "sub")
    problems = [str(problem) for problem in Project.load(defs).problems]
    assert problems == [
        "defs/g/sub: points outside defs/; keep it inside defs/",
        "defs/other: points outside defs/; keep it inside defs/",
    ]
    assert not any(str(tmp_path) in problem for problem in problems)


def test_folder_links_that_loop_or_repeat_a_folder_are_reported_on_the_link(tmp_path: Path):
    defs = write_tree(tmp_path, {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n"})
    os.symlink(defs, defs / "g" / "loop")
    os.symlink(defs / "g", defs / "a_copy_of_g")
    loaded = problems_in_a_subprocess(defs)
    assert loaded == [
        "defs/a_copy_of_g: leads to defs/g/, which is read already; remove the link",
        "defs/g/loop: leads to defs/, which is read already; remove the link",
    ]


def test_a_broken_folder_becomes_a_placeholder_in_lenient_mode(tmp_path: Path):
    defs = write_tree(tmp_path, {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n"})
    os.symlink(tmp_path, defs / "other")
    specs = Project.make_definitions(defs_path=defs, lenient=True).resolve_all_asset_specs()
    assert sorted(spec.key.to_user_string() for spec in specs) == ["broken_manifests/other", "g/a"]


def test_a_script_linked_outside_defs_is_named_without_where_it_leads(tmp_path: Path):
    defs = write_tree(tmp_path, {"g/a.yaml": "target: subprocess\n", "g/b.yaml": "target: subprocess\nscript: b.py\n"})
    secret = tmp_path / "id_rsa.py"
    secret.write_text(SCRIPT)
    os.symlink(secret, defs / "g" / "a.py")
    os.symlink(secret, defs / "g" / "b.py")
    problems = [str(problem) for problem in Project.load(defs).problems]
    assert problems == [
        "defs/g/a.yaml:1:1: script `a.py` points outside defs/; keep it inside defs/",
        "defs/g/b.yaml:2:1: script `b.py` points outside defs/; keep it inside defs/",
    ]
    assert not any("id_rsa" in problem for problem in problems)


@pytest.mark.parametrize("name", ["selfloop", "selfloop.yaml", "selfloop.py"])
def test_a_link_to_itself_is_a_problem_on_the_link_strict_and_lenient(tmp_path: Path, name: str):
    defs = write_tree(tmp_path, {"g/a.py": SCRIPT, "g/a.yaml": "target: subprocess\n"})
    os.symlink(name, defs / "g" / name)  # `ln -s selfloop defs/g/selfloop`
    assert problems_in_a_subprocess(defs) == [f"defs/g/{name}: cannot be read: Too many levels of symbolic links"]
    specs = Project.make_definitions(defs_path=defs, lenient=True).resolve_all_asset_specs()
    assert "g/a" in {spec.key.to_user_string() for spec in specs}


def test_a_script_linked_to_itself_is_a_problem_on_its_manifest(tmp_path: Path):
    defs = write_tree(tmp_path, {"g/a.yaml": "target: subprocess\nscript: loop.py\n"})
    os.symlink("loop.py", defs / "g" / "loop.py")
    problems = [str(problem) for problem in Project.load(defs).problems]
    assert "defs/g/a.yaml:2:1: script `loop.py` cannot be read: Too many levels of symbolic links" in problems, problems


# In a child process (an audit hook cannot be removed): just before the loader lists or walks
# the folder named in argv[2] (the `os.listdir` or `os.scandir` event), the folder is removed,
# as another process (`git checkout`, an editor) may remove it while `nope check` runs.
LOAD_WHILE_A_FOLDER_VANISHES = """
import json, os, shutil, sys
from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }} as Project
defs, doomed, event = sys.argv[1:]
removed = []
def remove_on_first_read(name, args):
    if name == event and not removed and args and os.fspath(args[0]) == doomed:
        removed.append(doomed)
        shutil.rmtree(doomed)
sys.addaudithook(remove_on_first_read)
problems = [str(problem) for problem in Project.load(defs).problems]
lenient = Project.make_definitions(defs_path=defs, lenient=True)
print(json.dumps({"removed": removed, "problems": problems}))
"""


@pytest.mark.parametrize(
    ("doomed", "event"),
    [("g", "os.listdir"), ("g/sub", "os.scandir"), ("h", "os.scandir")],
    ids=["a group folder, as its manifest's script is looked up", "a subfolder, as it is walked", "a group folder, as it is walked"],
)
def test_a_folder_removed_while_it_is_read_is_never_a_traceback(tmp_path: Path, doomed: str, event: str):
    defs = write_tree(
        tmp_path,
        {
            "g/a.yaml": "target: subprocess\n", "g/a.py": SCRIPT, "g/sub/b.yaml": "target: subprocess\n", "g/sub/b.py": SCRIPT,
            "h/c.yaml": "target: subprocess\n", "h/c.py": SCRIPT,
        },
    )  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "platform")}
    done = subprocess.run(
        [sys.executable, "-c", LOAD_WHILE_A_FOLDER_VANISHES, str(defs), str(defs / doomed), event],
        capture_output=True, text=True, timeout=120, env=environment, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["removed"] == [str(defs / doomed)]  # the folder did vanish mid-read
    assert all(problem.startswith(f"defs/{doomed}") for problem in outcome["problems"]), outcome["problems"]
