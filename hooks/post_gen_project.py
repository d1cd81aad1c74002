"""Shape the generated repository to the answers; touches nothing outside it.

Removes the example `defs/` groups (and the tests that exercise them) when they were not
asked for, and stray bytecode caches copied from the template.
"""

import json
import shutil
from pathlib import Path

ANSWERS = json.loads({{ cookiecutter | tojson | tojson }})
ROOT = Path.cwd()

EXAMPLE_PATHS = ["defs/group_a", "defs/sales", "tests/test_examples.py"]


def remove(relative: str) -> None:
    path = ROOT / relative
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


if __name__ == "__main__":
    if ANSWERS["include_examples"] != "yes":
        for relative in EXAMPLE_PATHS:
            remove(relative)
        (ROOT / "defs").mkdir(exist_ok=True)
        (ROOT / "defs" / ".gitkeep").touch()
    for cache in sorted(ROOT.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
