"""What one script adds to the code location's snapshot: its source, bounded, as asset descriptions.

Every asset shows its script's source as its description, and Dagster copies each description
into the repository snapshot the code server sends to the webserver and daemon: one 5 MB script
with 30 assets made a 150 MB snapshot. The source is cut per asset and per manifest, saying so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nope import NopeProject
from nope.cli import main as nope_main
from nope.descriptions import MAX_ASSET_DESCRIPTION_CHARS, MAX_MANIFEST_DESCRIPTION_CHARS

from conftest import REPO_ROOT, description_of, specs_by_key

BIG_SCRIPT = "".join(f"value_{number} = {number}  # {'x' * 80}\n" for number in range(50_000))  # 5 MB
THIRTY_ASSETS = "target: subprocess\nscript: big.py\nassets:\n" + "".join(
    f"  asset_{number}:\n    deps: []\n" for number in range(30)
)


def test_a_big_script_with_thirty_assets_adds_a_bounded_description_and_says_so(make_defs, monkeypatch):
    defs_path = make_defs({"g/big.py": BIG_SCRIPT, "g/thirty.yaml": THIRTY_ASSETS})
    specs = specs_by_key(NopeProject.make_definitions(defs_path=defs_path))
    descriptions = [description_of(spec) for spec in specs.values()]
    assert len(descriptions) == 30
    assert sum(len(description) for description in descriptions) <= MAX_MANIFEST_DESCRIPTION_CHARS  # 150 MB before
    for description in descriptions:
        assert description.startswith("```python\nvalue_0 = 0  #")  # the start of the source, still a code block
        assert "The script's source is cut here" in description and "of 50,000 lines shown" in description
        assert "the whole file opens from the asset's `script` source link" in description
    references = next(iter(specs.values())).metadata["dagster/code_references"].code_references
    assert any(Path(reference.file_path) == defs_path / "g" / "big.py" for reference in references)

    monkeypatch.chdir(REPO_ROOT)
    assert nope_main(["check", str(defs_path)]) == 0  # what loads is what `nope check` accepts


def test_one_asset_shows_at_most_its_own_share_of_a_long_script(make_defs):
    defs_path = make_defs({"g/long.py": BIG_SCRIPT, "g/long.yaml": "target: subprocess\ndescription: Sales per day.\n"})
    description = description_of(specs_by_key(NopeProject.make_definitions(defs_path=defs_path))["g/long"])
    assert len(description) <= MAX_ASSET_DESCRIPTION_CHARS
    assert description.startswith("Sales per day.\n\n```python\nvalue_0 = 0")
    assert "The script's source is cut here" in description


@pytest.mark.parametrize("written", ["short", "w" * 200_000])
def test_a_long_written_description_is_cut_too(make_defs, written):
    defs_path = make_defs({"g/a.py": "print(1)\n", "g/a.yaml": f"target: subprocess\ndescription: {written}\n"})
    description = description_of(specs_by_key(NopeProject.make_definitions(defs_path=defs_path))["g/a"])
    assert len(description) <= MAX_ASSET_DESCRIPTION_CHARS
    assert description.startswith(written[:1_000])
    assert ("print(1)" in description) is (written == "short")
