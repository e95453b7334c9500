"""Test helpers: a `demo` API exercising a host, on a real EmbeddedBinder in the test process
(`binder_running`, for tests that reach inside it) or on either host in a subprocess
(`demo_served`, test/demohost.py: the suites that check both hosts on the wire)."""
from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from binderproc import start_binder
from conftest import free_port

from afbspawn.afb.embedded.server import BinderOptions, EmbeddedBinder, Listen
from afbspawn.afb.host import ApiSpec, Host, Request, VerbSpec

T = TypeVar("T")
SECRET = "urn:test:secret"


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


class Demo:
    """The demo API: sync, async, late, failing, double and protected verbs, plus an event.

    `guarded=False` leaves out the protected verb (a libafb framework without a permission
    backend refuses to serve it: docs/hosts.md)."""

    def __init__(self, binder: Host, guarded: bool = True) -> None:
        self.binder = binder
        self.tick = binder.new_event("demo", "tick")
        self.requests: list[Request] = []
        self.late_done = asyncio.Event()
        binder.add_api(ApiSpec("demo", [
            VerbSpec("ping", lambda r: r.reply(0, {"pong": 1}), info="ping", sample=[{"x": 1}]),
            VerbSpec("echo", lambda r: r.reply(0, r.args)),
            VerbSpec("caller", self.caller),
            VerbSpec("fail", self.fail),
            VerbSpec("afail", self.afail),
            VerbSpec("twice", self.twice),
            VerbSpec("later", self.later),
            VerbSpec("keep", self.keep),
            VerbSpec("error", lambda r: r.reply(-1000, {"why": "user"})),
            *([VerbSpec("secret", lambda r: r.reply(0, "granted"), permission=SECRET)] if guarded else []),
            VerbSpec("subscribe", lambda r: (r.subscribe(self.tick), r.reply(0))),
            VerbSpec("unsubscribe", lambda r: (r.unsubscribe(self.tick), r.reply(0))),
            VerbSpec("push", lambda r: r.reply(0, self.tick.push(r.args))),
            VerbSpec("a/b", lambda r: r.reply(0, r.verb)),
            VerbSpec("notjson", lambda r: r.reply(0, {"x": object()})),
        ], info="test API"))

    @staticmethod
    def caller(request: Request) -> None:
        c = request.caller
        request.reply(0, {"session": c.session, "token": c.token, "uid": c.uid})

    @staticmethod
    def fail(request: Request) -> None:
        raise RuntimeError("boom")

    @staticmethod
    async def afail(request: Request) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("async boom")

    @staticmethod
    def twice(request: Request) -> None:
        request.reply(0, 1)
        request.reply(0, 2)

    @staticmethod
    async def later(request: Request) -> None:
        await asyncio.sleep(0.05)
        request.reply(0, "late")

    def keep(self, request: Request) -> None:
        """Returns without replying; the test replies later through `self.requests`."""
        self.requests.append(request)


@contextlib.asynccontextmanager
async def binder_running(**options: Any) -> AsyncIterator[tuple[EmbeddedBinder, Demo]]:
    options.setdefault("listen", [Listen(port=0)])
    binder = EmbeddedBinder(BinderOptions(**options))
    demo = Demo(binder)
    await binder.start()
    try:
        yield binder, demo
    finally:
        await binder.stop()


def ws_url(binder: EmbeddedBinder, query: str = "") -> str:
    return f"ws://127.0.0.1:{binder.ports[0]}/api{query}"


def http_url(binder: EmbeddedBinder, path: str) -> str:
    return f"http://127.0.0.1:{binder.ports[0]}{path}"


async def until(predicate: Callable[[], bool]) -> None:
    """Wait for a condition driven by the event loop (the pytest timeout bounds it)."""
    while not predicate():
        await asyncio.sleep(0.01)


@contextlib.contextmanager
def demo_served(host: str) -> Iterator[int]:
    """The demo API served by `host` in a subprocess (test/demohost.py): its port."""
    from hosts import require_host

    require_host(host)
    port = free_port()
    binder = start_binder([sys.executable, str(Path(__file__).with_name("demohost.py")), host, str(port)],
                          cwd=Path(__file__).parent)
    try:
        yield port
    finally:
        binder.stop()
