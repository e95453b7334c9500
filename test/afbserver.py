"""Test helpers: a real EmbeddedBinder on a free port with a `demo` API exercising the host."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from afbspawn.afb.embedded.server import BinderOptions, EmbeddedBinder, Listen
from afbspawn.afb.host import ApiSpec, Request, VerbSpec

T = TypeVar("T")
SECRET = "urn:test:secret"


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


class Demo:
    """The demo API: sync, async, late, failing, double and protected verbs, plus an event."""

    def __init__(self, binder: EmbeddedBinder) -> None:
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
            VerbSpec("secret", lambda r: r.reply(0, "granted"), permission=SECRET),
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
