"""The template's version is one number, and the changelog opens with it."""

from __future__ import annotations

import re

from conftest import TEMPLATE


def test_the_changelog_describes_the_current_version_first():
    version = (TEMPLATE / "VERSION").read_text().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    headings = re.findall(r"^## (\d+\.\d+\.\d+) ", (TEMPLATE / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings[0] == version
    assert "After `cruft update`" in (TEMPLATE / "CHANGELOG.md").read_text()
