"""Running verb and event handlers on the asyncio loop, whichever host received them.

A handler may finish at once or return a coroutine; an exception it raises, now or
later, becomes the caller's `internal-error` (verbs) or a log line (events), never a
request left unanswered or a crash of the binder.
"""
from __future__ import annotations

import asyncio
import fnmatch
import inspect
import logging
from collections.abc import Callable, Iterable
from typing import Any

from afbspawn.afb.errors import Status
from afbspawn.afb.host import EventCallback, EventHandlerSpec, Request, VerbHandler

log = logging.getLogger("afbspawn.afb")

Failure = Callable[["BaseException | None"], None]


class HandlerRunner:
    """Runs handlers and keeps the coroutines they return referenced until they end."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[Any]] = set()

    def run(self, handler: VerbHandler, request: Request) -> None:
        self._run(lambda: handler(request), lambda error: failed(request, error))

    def run_event(self, handler: EventCallback, name: str, data: Any) -> None:
        self._run(lambda: handler(name, data),
                  lambda error: log.error("handler of event %s raised", name, exc_info=error or True))

    def run_matching(self, handlers: Iterable[EventHandlerSpec], name: str, data: Any) -> None:
        """Every handler whose glob pattern matches the event's full name."""
        for spec in handlers:
            if fnmatch.fnmatchcase(name, spec.pattern):
                self.run_event(spec.handler, name, data)

    def _run(self, call: Callable[[], Any], on_failure: Failure) -> None:
        try:
            outcome = call()
        except Exception:  # noqa: BLE001 - any handler failure is reported, not raised
            return on_failure(None)
        if outcome is not None and inspect.isawaitable(outcome):  # most verbs answer at once
            task = asyncio.ensure_future(outcome)
            self._tasks.add(task)
            task.add_done_callback(self._finished(on_failure))

    def _finished(self, on_failure: Failure) -> Callable[[asyncio.Future[Any]], None]:
        def done(task: asyncio.Future[Any]) -> None:
            self._tasks.discard(task)
            if not task.cancelled() and task.exception() is not None:
                on_failure(task.exception())
        return done


def failed(request: Request, error: BaseException | None = None) -> None:
    log.error("%s/%s raised", request.api, request.verb, exc_info=error or True)
    if not request.replied:
        request.reply(Status.INTERNAL_ERROR)
