"""The Dagster UI in headless Chromium, as a new user meets it after `make demo`.

Run alone with `pytest -m browser`. The browser is Debian's `chromium` (`make test` and
`.ci/run` install it); Playwright's Python package drives it through `executable_path`, so no
browser is ever downloaded. Screenshots are saved in `build/screenshots/`; `make screenshots`
copies the asset graph into `docs/` for the README.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TEMPLATE, bake
from dagster_dev import DagsterDev
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

pytestmark = pytest.mark.browser

SCREENSHOTS = TEMPLATE / "build" / "screenshots"
GROUPS = {
    "group_a": ["asset_one", "asset_two", "asset_three", "asset_four"],
    "sales": ["orders", "daily_revenue", "customer_revenue"],
}
# Flags for a machine without a display or outside network: no GPU, no sandbox (CI runs as
# root), and none of Chromium's background calls home, which a closed network refuses.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UI_TIMEOUT_MS = 60_000  # a generous readiness deadline on a busy machine, not a timing assertion
expect.set_options(timeout=UI_TIMEOUT_MS)


def chromium_path() -> str:
    found = os.environ.get("NOPE_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail(
            "the browser test needs Debian's chromium: `apt-get install -y chromium` "
            "(make test installs it when run as root), or set NOPE_CHROMIUM to a Chromium binary"
        )
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, user_home: Path) -> Iterator[DagsterDev]:
    """`make demo` on the default bake, from a user's shell: the examples are materialized before serving."""
    workdir = tmp_path_factory.mktemp("browser")
    server = DagsterDev.via_make(bake(workdir / "bake"), user_home, workdir / "dagster-dev.log", target="demo")
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # Large enough for the whole example graph at the zoom where nodes show their details.
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.set_default_timeout(UI_TIMEOUT_MS)
    yield page
    page.close()


def open_page(page: Page, url: str) -> None:
    """Open `url`, dismissing the first-visit "Join the community" dialog if it shows."""
    page.goto(url)
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.click(timeout=5_000)
    except PlaywrightTimeoutError:  # no dialog this time: the instance remembers it was seen
        pass


def save(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000, f"{path} is nearly empty"
    return path


def test_the_asset_graph_shows_every_group_and_asset(served: DagsterDev, page: Page):
    open_page(page, served.url + "/asset-groups")
    graph = page.locator("foreignObject")  # the graph's nodes; the side panel lists groups too
    for group in GROUPS:
        expect(graph.get_by_text(group, exact=True)).to_be_visible()

    # Groups start collapsed; a double click opens one. The UI remembers it across a reload,
    # which lays the whole graph out afresh in view.
    for group in GROUPS:
        graph.get_by_text(group, exact=True).dblclick()
    page.reload()
    page.get_by_role("button", name="panel_show_right", exact=True).click()  # hide the side panel
    for names in GROUPS.values():
        for name in names:
            expect(graph.get_by_text(name, exact=True)).to_be_visible()
    # `make demo` materialized every example before serving, so every node says so.
    expect(graph.get_by_text("Materialized", exact=True)).to_have_count(sum(map(len, GROUPS.values())))
    # The orders check ran with the orders script and passed.
    expect(graph.get_by_text("1 / 1 Passed")).to_be_visible()
    page.wait_for_timeout(1_000)  # let the edges finish animating before the picture
    save(page, "asset-graph.png")


def test_an_asset_page_shows_its_script_owner_and_pipes_metadata(served: DagsterDev, page: Page):
    open_page(page, served.url + "/assets/group_a/asset_two")
    expect(page.get_by_role("button", name="Description")).to_be_visible()
    # The description is the script itself, as committed under defs/.
    script = (served.repo / "defs/group_a/asset_two.py").read_text()
    source = page.get_by_role("code").filter(has_text="open_dagster_pipes")
    expect(source).to_be_visible()
    assert source.inner_text().split() == script.split()

    expect(page.get_by_text("data-platform", exact=True)).to_be_visible()  # the default owner
    # Code references open the script and its manifest at line 1 in an editor.
    script_link = page.get_by_role("link", name="Open script")
    expect(script_link).to_have_attribute("href", re.compile(r"defs/group_a/asset_two\.py:1$"))
    expect(page.get_by_role("link", name="Open manifest")).to_have_attribute(
        "href", re.compile(r"defs/group_a/asset_two\.yaml:1$")
    )
    # The metadata the script reported through Pipes in `make demo`'s materialization.
    expect(page.get_by_role("cell", name="value_one", exact=True)).to_be_visible()
    save(page, "asset-page.png")
