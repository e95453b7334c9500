"""afb-ui-devtools (the standard AFB web client, built by hand into the framework prefix) served
by afb-spawn with `--alias /devtools:DIR`, in real headless Chromium: it lists the sample's verbs,
runs one and shows its reply and events. Skipped when the devtools are not installed."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO
from hosts import HOSTS
from pagebrowser import ServedBinder, chromium, needs_browser, needs_root, screenshot

AFB_PREFIX = Path(os.environ.get("AFB_PREFIX", "/opt/afb"))
DEVTOOLS = AFB_PREFIX / "share" / "afb-ui-devtools"

pytestmark = [needs_browser, needs_root,
              pytest.mark.skipif(not (DEVTOOLS / "index.html").is_file(),
                                 reason=f"afb-ui-devtools is not installed in {DEVTOOLS} (set AFB_PREFIX)")]


@pytest.fixture(scope="module", params=HOSTS)
def binder(request: pytest.FixtureRequest) -> Iterator[ServedBinder]:
    served = ServedBinder([REPO / "conf.d/sample-basic.yaml"], ["--alias", f"/devtools:{DEVTOOLS}"], request.param)
    served.start()
    yield served
    served.stop()


def test_devtools_lists_the_verbs_runs_one_and_shows_its_events(binder: ServedBinder) -> None:
    with chromium() as page:
        page.goto(binder.url + "devtools/")
        page.get_by_text("BINDER WS ACTIVE").wait_for()
        page.locator("a.verbName", has_text="sleep").wait_for()
        names = page.locator("a.verbName").all_inner_texts()  # the API, the sandbox, then its verbs
        assert names == ["SPAWN-DEMO", "SANDBOX-DEMO", "uname", "list", "sleep"], names
        assert page.get_by_text("afb-spawn demo API").is_visible()
        item = page.locator("nb-accordion-item", has=page.locator("a.verbName", has_text="list")).last
        item.locator("nb-accordion-item-header").click()
        item.locator("button", has_text='"dirname"').click()  # the sample from `info`
        assert item.locator("textarea").input_value() == '{"action":"start","args":{"dirname":"/etc"}}'
        item.get_by_role("button", name="Send").click()
        page.get_by_text('"final-event"').first.wait_for()
        events = page.locator("body").inner_text()
        assert '"command": "list"' in events  # the start reply
        assert '"event": "demo/list"' in events and '"stdout": "passwd"' in events
        screenshot(page, "devtools", full_page=True)
        assert page.errors == []


def test_the_page_links_to_the_served_devtools(binder: ServedBinder) -> None:
    with chromium() as page:
        page.goto(binder.url)
        page.wait_for_selector("#devtools", state="visible")
        page.click("#devtools")
        page.get_by_text("BINDER WS ACTIVE").wait_for()
        assert page.url == binder.url + "devtools/"
