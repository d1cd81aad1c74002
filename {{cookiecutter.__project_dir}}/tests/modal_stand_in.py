"""A stand-in for Modal's `modal` command, and a real git repository to take the branch from.

Modal is a cloud service the tests cannot reach, so the Modal tests put this small `modal`
executable first on PATH. It records every call, keeps the list of environments in a JSON
file (starting with Modal's default, `main`; `environment create` and `environment delete`, the
latter only with `--confirm` as Modal asks, change it), and runs `modal run -e <env> <script>` as a
local subprocess, so the script's Dagster Pipes messages still reach Dagster.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_STAND_IN = """\
#!PYTHON
import json, os, subprocess, sys
from pathlib import Path

here = Path(__file__).parent
args = sys.argv[1:]
with open(here / "modal_calls.jsonl", "a") as calls:
    calls.write(json.dumps(args) + "\\n")
failure = os.environ.get("MODAL_STAND_IN_FAILS")
if failure:
    print(failure, file=sys.stderr)
    sys.exit(1)
state = here / "modal_environments.json"
environments = json.loads(state.read_text()) if state.exists() else ["main"]
if args[:3] == ["environment", "list", "--json"]:
    print(json.dumps([{"name": name, "default": name == "main"} for name in environments]))
elif args[:2] == ["environment", "create"]:
    state.write_text(json.dumps(environments + [args[2]]))
elif args[:2] == ["environment", "delete"] and args[2] in environments and "--confirm" in args:
    state.write_text(json.dumps([name for name in environments if name != args[2]]))
elif args[:2] == ["run", "-e"] and args[2] in environments:
    sys.exit(subprocess.call(["PYTHON", args[3]], env={**os.environ, "MODAL_ENVIRONMENT": args[2]}))
else:
    print("the stand-in cannot do: modal " + " ".join(args), file=sys.stderr)
    sys.exit(2)
"""


class ModalStandIn:
    """The `modal` stand-in installed in `folder`, and what it was asked."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        executable = folder / "modal"
        executable.write_text(_STAND_IN.replace("PYTHON", sys.executable))
        executable.chmod(0o755)

    def calls(self) -> list[list[str]]:
        log = self.folder / "modal_calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def environments(self) -> list[str]:
        state = self.folder / "modal_environments.json"
        return json.loads(state.read_text()) if state.exists() else ["main"]


def git_repository(root: Path, branch: str) -> Path:
    """A real git repository at `root` with one commit on `branch`."""
    root.mkdir(parents=True, exist_ok=True)

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
            cwd=root,
            check=True,
            capture_output=True,
        )

    git("init", "--quiet", f"--initial-branch={branch}")
    git("commit", "--quiet", "--allow-empty", "-m", "start")
    return root
