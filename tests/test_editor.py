"""What a practitioner's editor says about a manifest: the baked schema in yaml-language-server.

The language server behind VS Code's YAML extension (and other editors' YAML support) is run
over stdio with the baked repository's `nope.schema.json` mapped to `defs/**/*.yaml`, as
`.vscode/settings.json` maps it; each test opens a manifest and reads the diagnostics the
editor would underline. `make editor` installs the pinned server (tests/editor/).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import bake
from editor_client import SERVER, YamlLanguageServer

pytestmark = pytest.mark.editor


@pytest.fixture(scope="module")
def editor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[YamlLanguageServer]:
    """A server on a repository baked with the default targets and `docker` (a target adding a key)."""
    assert SERVER.is_file(), f"{SERVER} is missing: run `make editor` (npm ci in tests/editor/)"
    repo = bake(tmp_path_factory.mktemp("editor"), extra_targets="uv, modal, docker")
    settings = json.loads((repo / ".vscode/settings.json").read_text())
    schemas = {(repo / file).resolve(): globs for file, globs in settings["yaml.schemas"].items()}
    with YamlLanguageServer(repo, schemas) as server:
        yield server


def messages(editor: YamlLanguageServer, text: str, name: str = "a.yaml") -> list[tuple[int, str]]:
    """(line, message) of each diagnostic the editor shows for a manifest `name` holding `text`."""
    return [(found["range"]["start"]["line"], found["message"]) for found in editor.diagnostics(new_path(name), text)]


def new_path(name: str) -> str:
    """`defs/<a group of its own>/<name>`: the server shows each file's diagnostics once."""
    return f"defs/group_{next(_GROUP_NUMBERS)}/{name}"


_GROUP_NUMBERS = itertools.count(1)


@pytest.mark.parametrize("target", ["subprocess", "uv", "modal", "docker"])
def test_a_valid_manifest_gets_no_diagnostics(editor: YamlLanguageServer, target: str):
    text = (
        f"target: {target}\n"
        "description: Orders, refunds removed.\n"
        "owners: [ana@example.com, team:sales]\n"
        "deps: [sales/orders]\n"
        "tags: {tier: gold}\n"
        "retries: {max: 2, delay: 5}\n"
        "automation: {cron: '0 6 * * *'}\n"
        "assets:\n"
        "  daily_revenue: {kinds: [csv]}\n"
    )
    assert messages(editor, text) == []


def test_a_mistyped_key_names_the_keys_allowed_and_offers_the_right_one(editor: YamlLanguageServer):
    [(line, message)] = messages(editor, "target: subprocess\nowner: [team:sales]\n")
    assert line == 1
    assert message.startswith("Unknown key for `target: subprocess`. Allowed here: args, assets, automation,")
    assert "owners" in message
    path = new_path("a.yaml")
    [diagnostic] = editor.diagnostics(path, "target: subprocess\nowner: [team:sales]\n")
    assert "owners" in editor.quick_fixes(path, diagnostic)


def test_a_mistyped_key_of_an_asset_names_the_asset_keys(editor: YamlLanguageServer):
    [(line, message)] = messages(editor, "target: uv\nassets:\n  a: {dep: [g/b]}\n")
    assert line == 2 and message.startswith("Unknown key. Allowed here: automation, deps, description,")


def test_a_bad_owner_is_a_sentence_not_a_pattern(editor: YamlLanguageServer):
    [(line, message)] = messages(editor, "target: modal\nowners: [bob]\n")
    assert (line, message) == (1, "This is not an owner: an email address or `team:<name>`.")


def test_a_dep_written_with_a_dot_says_how_keys_are_written(editor: YamlLanguageServer):
    [(line, message)] = messages(editor, "target: subprocess\ndeps: [g.b]\n")
    assert line == 1 and message.startswith("This is not an asset key written `group/asset`")


def test_an_asset_name_with_a_dash_says_what_names_may_hold(editor: YamlLanguageServer):
    [(line, message)] = messages(editor, "target: subprocess\nassets:\n  daily-revenue: {}\n")
    assert (line, message) == (2, "This is not a name of letters, digits and underscores only.")


def test_an_unknown_target_lists_the_targets(editor: YamlLanguageServer):
    [(line, message)] = messages(editor, "target: subprocces\n")
    assert line == 0 and message == 'Value is not accepted. Valid values: "docker", "modal", "subprocess", "uv".'


def test_deps_written_as_text_asks_for_a_list(editor: YamlLanguageServer):
    [(line, message)] = messages(editor, "target: subprocess\ndeps: g/a\n")
    assert (line, message) == (1, "Write a list: `[a, b]`, or one `- item` per line.")


def test_a_key_a_target_adds_is_allowed_there_only(editor: YamlLanguageServer):
    assert messages(editor, "target: docker\nimage: python:3.12-slim\n") == []
    [(line, message)] = messages(editor, "target: uv\nimage: python:3.12-slim\n")
    assert line == 1 and message.startswith("Unknown key for `target: uv`.") and "image" not in message


def test_group_defaults_get_the_same_messages(editor: YamlLanguageServer):
    assert messages(editor, "owners: [team:sales]\nretries: {max: 2}\n", "_group.yaml") == []
    found = dict(messages(editor, "owners: [bob]\nscript: a.py\n", "_group.yaml"))
    assert found[0] == "This is not an owner: an email address or `team:<name>`."
    assert found[1].startswith("Unknown key. Allowed here: automation, description, env,")


def test_the_server_is_the_pinned_one():
    lock = json.loads((Path(__file__).parent / "editor/package-lock.json").read_text())
    installed = json.loads((SERVER.parent.parent / "package.json").read_text())["version"]
    assert installed == lock["packages"]["node_modules/yaml-language-server"]["version"], "run `make editor`"
