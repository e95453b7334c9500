"""The web page (htdocs/) in real headless Chromium against a real binder: verbs, the args form,
tasks and their badges, stop, reconnect, text-only rendering, the sandbox explanation, phone width."""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from hosts import HOSTS
from pagebrowser import (
    PHONE,
    XSS_IMG,
    XSS_SCRIPT,
    choose,
    chromium,
    needs_browser,
    needs_root,
    open_page,
    screenshot,
    served,
    task,
)

pytestmark = [needs_browser, needs_root]


def focused(page: Any, selector: str) -> bool:
    return page.locator(selector).evaluate("element => element === document.activeElement")


@pytest.fixture(scope="module", params=HOSTS)
def binder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The same page and config served by each host: it uses only ws-json1 and standard verbs."""
    with served(tmp_path_factory.mktemp("page"), host=request.param) as running:
        yield running


@pytest.fixture
def page(binder: Any) -> Any:
    with chromium() as browser_page:
        open_page(browser_page, binder)
        yield browser_page
        assert browser_page.errors == []


def test_loads_with_viewport_favicon_and_the_sample_verbs(page: Any, binder: Any) -> None:
    assert page.title() == "afb-spawn"
    assert page.locator("meta[name=viewport]").get_attribute("content") == "width=device-width, initial-scale=1"
    icon = page.request.get(binder.url + page.locator("link[rel=icon]").get_attribute("href"))
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    verbs = page.locator("button.verb").evaluate_all("buttons => buttons.map(b => b.dataset.verb)")
    assert verbs[:5] == ["nsdemo/show", "nsdemo/net", "pagetest/greet", "pagetest/long", "pagetest/markup"]
    assert page.locator("details.api[data-api=nsdemo] .group h3").inner_text() == "box"
    assert "monitor" not in [name for name in page.locator("details.api").evaluate_all("a => a.map(d => d.dataset.api)")]


def test_info_usage_and_every_sample_are_shown(page: Any) -> None:
    choose(page, "pagetest/greet")
    assert "greet someone (args schema form)" in page.inner_text("#verb-info")
    assert page.inner_text("#usage dl") == "who\nlower-case name\ntimes\n1..5"
    assert page.locator("#samples button.sample").count() == 2
    page.locator("#samples button.sample").nth(1).click()
    assert page.input_value("label:text('who') + input") == "bob"
    assert page.locator("#samples code").nth(1).inner_text() == '{"action":"start","args":{"who":"bob","times":1,"color":"red"}}'


def test_form_from_the_args_schema_runs_the_command_and_shows_output_and_exit(page: Any) -> None:
    choose(page, "pagetest/greet")
    assert page.is_checked("#mode-form")
    who = page.get_by_label("who")
    assert who.get_attribute("pattern") == "^[a-z]+$" and who.get_attribute("required") is not None
    assert page.get_by_label("times").get_attribute("type") == "number"
    assert page.get_by_label("color").evaluate("s => [...s.options].map(o => o.text)") == ["(not given)", "red", "green", "blue"]
    assert page.get_by_label("loud").get_attribute("type") == "checkbox"
    who.fill("ada")
    page.get_by_label("times").fill("2")
    page.get_by_label("color").select_option(label="blue")
    page.get_by_label("loud").check()
    page.click("#send")
    pane = task(page, "pagetest/greet")
    pane.locator(".badge:text('exit 3')").wait_for()
    assert pane.locator(".line.stdout").all_inner_texts() == ["out\nhello ada (blue true)"] * 2
    assert pane.locator(".line.stderr").all_inner_texts() == ["err\ndone"]
    assert "bad" in pane.locator("header .badge").get_attribute("class")
    assert re.fullmatch(r"\d+ ms|\d+\.\d s", pane.locator(".duration").inner_text())
    assert page.locator("#task-list li", has_text="pagetest/greet").locator(".badge").inner_text() == "exit 3"
    stats = pane.locator(".stats dt").all_inner_texts()  # the final event's stats, in words
    assert stats == ["wall time", "user CPU", "system CPU", "peak memory"], stats
    assert re.fullmatch(r"\d+(\.\d+)? s", pane.locator(".stats dd").first.inner_text())
    screenshot(page, "desktop-task", full_page=True)


def test_the_form_is_validated_before_anything_is_sent(page: Any) -> None:
    choose(page, "pagetest/greet")
    page.get_by_label("who").fill("Ada!")
    page.get_by_label("times").fill("9")
    page.click("#send")
    assert page.get_by_label("who").get_attribute("aria-invalid") == "true"
    assert focused(page, "label:text('who') + input")
    assert "who must match ^[a-z]+$" in page.inner_text("#call-result")
    assert "times must be ≤ 5" in page.inner_text("#call-result")
    assert page.locator("section.task").count() == 0


def test_raw_json_fallback_and_a_sync_reply(page: Any) -> None:
    choose(page, "pagetest/free")
    assert page.is_checked("#mode-json") and page.is_disabled("#mode-form")
    page.fill("#query", '{"action": "start", "args": {"word": "raw"}}')
    page.click("#send")
    pane = task(page, "pagetest/free")
    pane.locator(".badge:text('exit 0')").wait_for()
    assert pane.locator(".line.stdout").all_inner_texts() == ["out\nfree raw"]
    page.fill("#query", "{not json")
    page.click("#send")
    assert "not sent: the query is not JSON" in page.inner_text("#call-result")
    choose(page, "pagetest/greet")
    page.check("#mode-json")
    page.fill("#query", '{"action": "start", "args": {"who": "x", "times": 0}}')
    page.click("#send")
    assert "times must be ≥ 1" in page.inner_text("#call-result")


def start_long_task(page: Any) -> Any:
    """Start `pagetest/long` for 60 s from the form; its pane once the task has started."""
    choose(page, "pagetest/long")
    page.get_by_label("seconds").fill("60")
    page.click("#send")
    pane = task(page, "pagetest/long")
    pane.locator(".line.stdout:text('started')").wait_for()
    return pane


def test_stop_a_long_task_with_a_chosen_signal(page: Any) -> None:
    pane = start_long_task(page)
    assert pane.locator(".badge").first.inner_text() == "running"
    choices = pane.get_by_label("signal to send").evaluate("s => [...s.options].map(o => o.text)")
    assert choices[:3] == ["default stop", "SIGINT", "SIGTERM"] and "SIGKILL" in choices
    pane.get_by_label("signal to send").select_option("SIGTERM")
    pane.get_by_role("button", name="Stop").click()
    pane.locator(".badge:text('signal Terminated')").wait_for()
    assert pane.get_by_role("button", name="Stop").is_disabled()
    assert "SIGTERM sent" in pane.locator(".notes").inner_text()


def test_default_stop_leaves_the_signal_to_the_binder(page: Any) -> None:
    pane = start_long_task(page)
    pane.get_by_role("button", name="Stop").click()  # "default stop": no signal in the query
    pane.locator("header .badge:text-matches('^signal ')").wait_for()
    assert "stop sent (the binder's default signal)" in pane.locator(".notes").inner_text()


def test_a_timeout_has_its_own_badge(page: Any) -> None:
    choose(page, "pagetest/slow")
    page.click("#send")
    pane = task(page, "pagetest/slow")
    pane.locator(".badge:text('timeout (Killed)')").wait_for()
    assert "bad" in pane.locator("header .badge").get_attribute("class")


def test_large_output_is_capped_with_a_visible_marker(page: Any) -> None:
    choose(page, "pagetest/flood")
    page.click("#send")
    pane = task(page, "pagetest/flood")
    pane.locator(".badge:text('exit 0')").wait_for()
    assert pane.locator(".line").count() == 2000
    assert pane.locator(".cap-marker").inner_text() == "3000 earlier lines not shown (a pane keeps the last 2000)"
    assert pane.locator(".line").last.inner_text() == "out\n5000"


def test_markup_in_stdout_stderr_and_info_is_shown_as_text(page: Any) -> None:
    assert XSS_SCRIPT in page.inner_text("details.api[data-api=pagetest] .group")
    assert XSS_IMG in page.inner_text("details.api[data-api=pagetest] summary")
    choose(page, "pagetest/markup")
    assert XSS_SCRIPT in page.inner_text("#verb-info") and XSS_IMG in page.inner_text("#verb-info")
    page.click("#send")
    pane = task(page, "pagetest/markup")
    pane.locator(".badge:text('exit 0')").wait_for()
    assert pane.locator(".line.stdout").inner_text() == f"out\n{XSS_SCRIPT}"
    assert pane.locator(".line.stderr").inner_text() == f"err\n{XSS_IMG}"
    page.click("#frames summary")
    page.locator("#frame-log li", has_text=XSS_SCRIPT).first.wait_for()  # the raw frames, as text too
    page.wait_for_timeout(300)  # an injected <img onerror> would have fired by now
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img, nav img, main script, nav script").count() == 0


def test_what_this_sandbox_does_side_by_side(page: Any) -> None:
    choose(page, "nsdemo/show")
    page.click("#explain-button")
    page.locator(".explain-column").first.wait_for()
    assert focused(page, "#explain-title")
    page.select_option("#compare", label="pagetest/greet")
    page.locator(".explain-grid.two").wait_for()
    boxed, plain = page.locator(".explain-column").all()
    assert boxed.locator("h3").inner_text() == "nsdemo/show" and plain.locator("h3").inner_text() == "pagetest/greet"
    boxed_namespaces = boxed.locator(".concern-namespaces li").all_inner_texts()
    assert boxed_namespaces[0].startswith("new namespaces (clone flags): user, mount, pid, net, uts, ipc")
    assert "only here" in boxed_namespaces[0]
    assert plain.locator(".concern-namespaces li").inner_text().startswith("shares the binder's")
    assert "seccomp filter" in boxed.locator(".concern-seccomp").inner_text()
    assert "no filter: every system call is allowed" in plain.locator(".concern-seccomp").inner_text()
    assert "uid 65534 'nobody'" in plain.locator(".concern-identity").inner_text()
    assert plain.locator(".concern-exec li").inner_text().startswith("execve /bin/sh argv=['greet'")
    screenshot(page, "desktop-explain", full_page=True)


def test_keyboard_reaches_and_runs_a_verb_with_visible_focus(page: Any) -> None:
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.verb") == "pagetest/free":
            break
    else:
        pytest.fail("Tab never reached the pagetest/free verb button")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    assert page.inner_text("#verb-title") == "pagetest/free"
    page.focus("#query")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "send"
    page.keyboard.press("Enter")
    task(page, "pagetest/free").locator(".badge:text('exit 0')").wait_for()
    unlabeled = page.evaluate("""[...document.querySelectorAll('input, select, textarea')]
        .filter(e => !e.labels.length && !e.getAttribute('aria-label')).map(e => e.id)""")
    assert unlabeled == []


def test_phone_width_has_no_horizontal_scroll(binder: Any) -> None:
    with chromium(PHONE) as phone:
        open_page(phone, binder)
        choose(phone, "pagetest/greet")
        phone.get_by_label("who").fill("ada")
        phone.get_by_label("times").fill("1")
        phone.click("#send")
        task(phone, "pagetest/greet").locator(".badge:text('exit 3')").wait_for()
        phone.click("#explain-button")
        phone.locator(".explain-column").wait_for()
        phone.select_option("#compare", label="nsdemo/show")
        phone.locator(".explain-grid.two").wait_for()
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        wide = phone.evaluate("""[...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > innerWidth + 1).map(e => e.tagName + '.' + e.className)""")
        assert wide == []
        phone.locator("#call-panel").scroll_into_view_if_needed()
        screenshot(phone, "phone-form")
        assert phone.errors == []


@pytest.mark.parametrize("host", HOSTS)
def test_reconnects_after_a_binder_restart(tmp_path: Path, host: str) -> None:
    with served(tmp_path, host=host) as restartable, chromium() as page:
        open_page(page, restartable)
        choose(page, "pagetest/long")
        page.get_by_label("seconds").fill("60")
        page.click("#send")
        pane = task(page, "pagetest/long")
        pane.locator(".line.stdout:text('started')").wait_for()
        restartable.stop()
        page.wait_for_selector("#connection:text-matches('disconnected — reconnecting in \\\\d+ s')")
        assert page.is_visible("#retry")
        page.click("#send")
        assert "not connected to the binder" in page.inner_text("#call-result")
        assert pane.locator(".badge").first.inner_text() == "unknown (disconnected)"
        screenshot(page, "disconnected")
        restartable.start()
        page.wait_for_selector("#connection:text-is('connected')", timeout=30000)
        page.wait_for_selector("button.verb[data-verb='pagetest/free']")
        choose(page, "pagetest/free")
        page.click("#send")
        task(page, "pagetest/free").locator(".badge:text('exit 0')").wait_for()
        assert page.errors == []


def test_devtools_link_only_when_devtools_is_served(tmp_path: Path, binder: Any) -> None:
    if binder.host != "embedded":
        pytest.skip("afb-binder serves its own /devtools/ whenever it was built with the devtools")
    devtools = tmp_path / "devtools"
    devtools.mkdir()
    (devtools / "index.html").write_text("<!DOCTYPE html><title>a folder served at /devtools/</title>\n")
    with served(tmp_path, ["--alias", f"/devtools:{devtools}"]) as with_devtools, chromium() as page:
        open_page(page, binder)
        page.wait_for_load_state("networkidle")
        assert page.is_hidden("#devtools")
        open_page(page, with_devtools)
        page.wait_for_selector("#devtools", state="visible")
        assert page.get_attribute("#devtools", "href") == "/devtools/"


def binder_lists_tasks(binder: Any) -> bool:
    """Whether this binder has the `list` action (detected by trying, as the page does)."""
    request = urllib.request.Request(binder.url + "api/pagetest/free", data=json.dumps({"action": "list"}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)["request"]["status"] == "success"
    except urllib.error.HTTPError:
        return False


def test_after_a_reload_listed_tasks_come_back_with_their_output(page: Any, binder: Any) -> None:
    if not binder_lists_tasks(binder):
        pytest.skip("this binder has no list action: the page keeps only the tasks it saw start")
    choose(page, "pagetest/greet")
    page.get_by_label("who").fill("ada")
    page.get_by_label("times").fill("2")
    page.click("#send")
    task(page, "pagetest/greet").locator(".badge:text('exit 3')").wait_for()
    choose(page, "pagetest/long")
    page.get_by_label("seconds").fill("60")
    page.click("#send")
    task(page, "pagetest/long").locator(".line.stdout:text('started')").wait_for()
    keys = [task(page, verb).get_attribute("data-task") for verb in ("pagetest/greet", "pagetest/long")]
    page.reload()
    open_page(page, binder)
    finished, running = (page.locator(f"section.task[data-task='{key}']") for key in keys)
    finished.locator(".notes li:text-matches('started before this page loaded: \\\\d+ earlier events replayed')").wait_for()
    assert finished.locator(".line.stdout").all_inner_texts() == ["out\nhello ada (green true)"] * 2
    assert finished.locator("header .badge").inner_text() == "exit 3"
    running.locator(".line.stdout:text('started')").wait_for()
    assert running.locator("header .badge").inner_text() == "running"
    running.get_by_label("signal to send").select_option("SIGINT")
    running.get_by_role("button", name="Stop").click()
    running.locator(".badge:text('signal Interrupt')").wait_for()
