"""The documentation: the README stays a five-minute read, and docs/ builds and documents every key.

`mkdocs build --strict` fails on a broken link, a link to a heading that is gone, or a page
missing from the nav (mkdocs.yml turns those into warnings): the post-generation hook removes
the pages of answers not chosen, so this proves what is left holds together. The manifest
reference is generated from the schema at build time (docs/hooks/manifest_reference.py); these
tests read the built page, as a reader would, and find every key of both schemas in it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import REPO_ROOT

README_MAX_WORDS = 1200


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The docs, built as `mkdocs build --strict` builds them, from this Python's environment."""
    site_dir = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return site_dir


def test_the_docs_build_strict_with_every_page_of_the_nav(site: Path):
    pages = sorted(path.relative_to(REPO_ROOT / "docs") for path in (REPO_ROOT / "docs").rglob("*.md"))
    for page in pages:
        built = site / page.with_suffix("") / "index.html" if page.name != "index.md" else site / page.with_suffix(".html")
        assert built.is_file(), page


def test_the_readme_is_a_five_minute_read():
    words = len((REPO_ROOT / "README.md").read_text(encoding="utf-8").split())
    assert words <= README_MAX_WORDS, f"README.md has {words} words; move the rest to docs/"


def test_every_link_of_the_readme_leads_to_a_file_here():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    local = [target for target in targets if "://" not in target]
    assert local, "the README links to no page of docs/"
    assert [target for target in local if not (REPO_ROOT / target).is_file()] == []


class TableRows(HTMLParser):
    """The text of every table row of a page: one list of cell texts per `<tr>`."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def schema_keys(node: object, path: str = "#") -> Iterator[tuple[str, str, str]]:
    """(where, key, description) for every key of every object the schema describes."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from schema_keys(item, f"{path}/{index}")
    elif isinstance(node, dict):
        for key, spec in node.get("properties", {}).items():
            yield path, key, spec.get("description", "")
        for keyword, value in node.items():
            if keyword in ("properties", "$defs"):
                for name, schema in value.items():
                    yield from schema_keys(schema, f"{path}/{keyword}/{name}")
            elif keyword not in ("default", "const", "enum", "examples", "if"):
                yield from schema_keys(value, f"{path}/{keyword}")


@pytest.mark.parametrize("schema_file", ["nope.schema.json", "nope.group.schema.json"])
def test_every_key_of_the_schema_is_documented_in_the_manifest_reference(site: Path, schema_file: str):
    parser = TableRows()
    parser.feed((site / "reference/manifest/index.html").read_text(encoding="utf-8"))
    documented = {(row[0], row[-1]) for row in parser.rows if len(row) >= 2}
    schema = json.loads((REPO_ROOT / schema_file).read_text(encoding="utf-8"))
    keys = list(schema_keys(schema))
    assert keys
    missing = [
        f"{where}: {key}"
        for where, key, description in keys
        if not description or (key, " ".join(description.replace("`", "").split())) not in documented
    ]
    assert missing == [], "keys without a row in docs/reference/manifest.md, as built"
