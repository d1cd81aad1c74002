"""`nope diff --format markdown`'s Mermaid graph, rendered by the real Mermaid CLI as GitHub would show it.

A baked repository (in git, the bake committed on `main`) gets a branch that changes a script and a
group default, and adds an asset), `nope diff --format markdown` writes the pull request's report,
and `mmdc` (@mermaid-js/mermaid-cli, pinned in tests/editor/package-lock.json, installed by
`make editor` without a browser of its own) renders its Mermaid block in Debian's chromium. A
block Mermaid cannot parse fails here. The picture is saved as `build/screenshots/impact.png`;
`make screenshots` copies it into the generated docs (docs/practitioners/impact.png).
Run alone with `pytest -m browser -k impact`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE, bake
from test_browser import CHROMIUM_FLAGS, SCREENSHOTS, chromium_path

pytestmark = pytest.mark.browser

MMDC = TEMPLATE / "tests" / "editor" / "node_modules" / ".bin" / "mmdc"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.name=A practitioner", "-c", "user.email=practitioner@example.com"]
    subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True)


def test_the_markdown_reports_mermaid_graph_renders(tmp_path: Path):
    repo = bake(tmp_path / "bake")  # a git repository with the bake committed on `main`
    git(repo, "checkout", "-q", "-b", "change")
    orders = repo / "defs" / "sales" / "orders.py"
    orders.write_text(orders.read_text() + "# a new column\n")
    (repo / "defs" / "group_a" / "asset_two.yaml").write_text("target: subprocess\ndeps: [group_a/asset_one]\nowners: [team:marketing]\n")
    (repo / "defs" / "sales" / "refunds.yaml").write_text("target: subprocess\ndeps: [sales/orders]\n")
    (repo / "defs" / "sales" / "refunds.py").write_text("print('refunds')\n")

    environment = {**os.environ, "PYTHONPATH": str(repo / "platform")}
    diff = [sys.executable, "-m", "nope", "diff", "--format"]
    report = json.loads(subprocess.run([*diff, "json"], cwd=repo, env=environment, capture_output=True, text=True, check=True).stdout)
    assert report["added"] == ["sales/refunds"] and set(report["modified"]) == {"group_a/asset_two", "sales/orders"}
    markdown = subprocess.run([*diff, "markdown"], cwd=repo, env=environment, capture_output=True, text=True, check=True).stdout
    [graph] = re.findall(r"```mermaid\n(.*?)```", markdown, re.DOTALL)

    assert MMDC.exists(), "run `make editor` first: it installs the Mermaid CLI"
    (tmp_path / "graph.mmd").write_text(graph)
    (tmp_path / "puppeteer.json").write_text(json.dumps({"executablePath": chromium_path(), "args": CHROMIUM_FLAGS}))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    picture = SCREENSHOTS / "impact.png"
    picture.unlink(missing_ok=True)
    rendered = subprocess.run(
        [str(MMDC), "-i", "graph.mmd", "-o", str(picture), "-p", "puppeteer.json", "-b", "white", "-s", "2", "-q"],
        cwd=tmp_path, env={**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"}, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    data = picture.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 400 and height > 100, (width, height)  # a graph, not an error box
