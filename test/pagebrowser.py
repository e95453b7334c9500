"""The web page in a real headless Chromium (Debian's `chromium`, driven by Playwright for Python)
against a real binder subprocess serving htdocs/ — the embedded binder or the libafb host (the
real AFB framework). Nothing is mocked.

Tests skip with a one-line reason when chromium or playwright is absent (`make setup` installs
both: scripts/sysdeps.sh and the `test` extra). Screenshots land in test-artifacts/page/.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from binderproc import Binder, start_binder
from conftest import REPO, free_port
from hosts import host_args

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts" / "page"
# As root in a container: no sandbox, no GPU, no network chatter of its own.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 15000

# A config made for the page: an args schema of every field kind, stdout and stderr with an
# exit code, a long task to stop, a flood to cap, and markup where text must stay text.
XSS_SCRIPT = "<script>window.__pwned = 'script'</script>"
XSS_IMG = "<img src=x onerror=\"window.__pwned = 'img'\">"
def shell(script: str) -> str:
    """A `sh -c` script as a config writes it: `$$` is a literal `$` (docs/config.md)."""
    return script.replace("$", "$$")


GREET = shell('i=0; while [ $i -lt "$2" ]; do echo "hello $1 ($3 $4)"; i=$((i+1)); done; echo done >&2; exit 3')
PAGE_CONFIG: dict[str, Any] = {
    "metadata": {"uid": "page-test", "api": "pagetest", "info": f"web page test {XSS_IMG}"},
    "sandboxes": [{
        "uid": "plain", "info": f"no namespace {XSS_SCRIPT}", "acls": {"user": "nobody"},
        "commands": [
            {"uid": "greet", "info": "greet someone (args schema form)", "encoder": "line",
             "usage": {"who": "lower-case name", "times": "1..5"},
             "sample": [{"action": "start", "args": {"who": "ada", "times": 2, "color": "green", "loud": True}},
                        {"action": "start", "args": {"who": "bob", "times": 1, "color": "red"}}],
             "args": {"type": "object", "additionalProperties": False, "required": ["who", "times"],
                      "properties": {"who": {"type": "string", "pattern": "^[a-z]+$", "description": "lower-case name"},
                                     "times": {"type": "integer", "minimum": 1, "maximum": 5},
                                     "color": {"enum": ["red", "green", "blue"]},
                                     "loud": {"type": "boolean"}}},
             "exec": {"cmdpath": "/bin/sh", "args": ["-c", GREET, "sh", "%who%", "%times%", "?color?", "?loud?"]}},
            {"uid": "long", "info": "sleeps until stopped", "encoder": "line",
             "args": {"type": "object", "properties": {"seconds": {"type": "integer", "minimum": 1}},
                      "required": ["seconds"]},
             "exec": {"cmdpath": "/bin/sh", "args": ["-c", shell('echo started; exec sleep "$1"'), "sh", "%seconds%"]}},
            {"uid": "markup", "info": f"prints markup {XSS_SCRIPT} {XSS_IMG}", "encoder": "line",
             "exec": {"cmdpath": "/bin/sh", "args": ["-c", shell('echo "$1"; echo "$2" >&2'), "sh", XSS_SCRIPT, XSS_IMG]}},
            {"uid": "flood", "info": "prints 5000 lines", "encoder": "line",
             "exec": {"cmdpath": "/usr/bin/seq", "args": ["1", "5000"]}},
            {"uid": "slow", "info": "killed by its 1 s timeout", "encoder": "line", "timeout": 1,
             "exec": {"cmdpath": "/bin/sleep", "args": ["30"]}},
            {"uid": "free", "info": "no schema (raw JSON)", "encoder": "sync",
             "exec": {"cmdpath": "/bin/echo", "args": ["free", "?word?"]}},
        ],
    }],
}

def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is absent (Debian package chromium: scripts/sysdeps.sh installs it as root)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright for Python is absent (pip install -e '.[test]')"
    return None


needs_browser = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the page config runs its commands as nobody (root binder)")


class ServedBinder:
    """A binder subprocess on a fixed port, restartable on the same port (reconnect tests)."""

    def __init__(self, configs: Sequence[Path], extra: Sequence[str] = (), host: str = "embedded") -> None:
        self.port = free_port()
        self.configs = configs
        self.extra = [*host_args(host), *extra]  # skips when the libafb host cannot run here
        self.host = host
        self.process: Binder | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        configs = [arg for path in self.configs for arg in ("--config", str(path))]
        self.process = start_binder([sys.executable, "-m", "afbspawn", *configs, "--port", str(self.port),
                                     "--roothttp", str(REPO / "htdocs"), *self.extra], cwd=REPO)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


@contextmanager
def served(tmp_path: Path, extra: Sequence[str] = (), host: str = "embedded") -> Iterator[ServedBinder]:
    config = tmp_path / "page.json"
    config.write_text(json.dumps(PAGE_CONFIG))
    binder = ServedBinder([config, REPO / "conf.d/sample-namespace.yaml"], extra, host)
    binder.start()
    try:
        yield binder
    finally:
        binder.stop()


@contextmanager
def chromium(viewport: dict[str, int] = DESKTOP) -> Iterator[Any]:
    """A fresh Chromium profile; yields a Playwright page that records console errors in `page.errors`."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="afbspawn-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=FLAGS, headless=True, viewport=viewport)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.pages[0] if context.pages else context.new_page()
            page.errors = []
            page.on("pageerror", lambda error: page.errors.append(str(error)))
            try:
                yield page
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def open_page(page: Any, binder: ServedBinder) -> None:
    page.goto(binder.url)
    page.wait_for_selector("#connection:text-is('connected')")
    page.wait_for_selector("button.verb[data-verb='pagetest/greet']")


def choose(page: Any, verb: str) -> None:
    page.click(f"button.verb[data-verb='{verb}']")
    page.wait_for_selector(f"#verb-title:text-is('{verb}')")


def task(page: Any, verb: str) -> Any:
    """The newest task pane of `verb` (api/verb)."""
    return page.locator(f"section.task[data-verb='{verb}']").first
