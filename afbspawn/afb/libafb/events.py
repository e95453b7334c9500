"""Events over libafb: `evtnew` once the API exists, `evtpush` kept under the job queue bound.

`libafb.evtpush` queues one libafb job per push and drops the push silently when the queue
is full; a push therefore waits (briefly, on the asyncio thread) while the queue is near
its bound. libafb's own threads drain it, so the wait cannot deadlock; a queue that stays
full (a client that stopped reading) is logged, never silent.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from afbspawn.afb import host
from afbspawn.afb.host import Event
from afbspawn.afb.libafb.glue import Glue

log = logging.getLogger("afbspawn.afb")

QUEUE_HEADROOM = 0.75  # pushes wait while the pending jobs exceed this share of the bound
WAIT_STEP = 0.0005
WAIT_LIMIT = 5.0  # seconds a push waits for room before it goes out anyway, with a warning


class LibafbEvent(Event):
    def __init__(self, libafb: ModuleType, glue: Glue, api: str, name: str) -> None:
        self._libafb = libafb
        self._glue = glue
        self._name = f"{api}/{name}"
        self.short_name = name
        self.handle: Any = None  # the libafb event, once its API exists
        self._api: Any = None
        self._closed = False
        self._clients: dict[str, LibafbListener] = {}  # by session: push_to's private events

    @property
    def name(self) -> str:
        return self._name

    def create(self, api_handle: Any) -> None:
        self._api = api_handle
        self.handle = self._libafb.evtnew(api_handle, self.short_name)

    def listener(self, session: str, subscribe: Any) -> LibafbListener | None:
        """The client of `session` as a push_to target: a private event of this name (libafb
        pushes only to subscribers), subscribed through the caller's request; None for REST."""
        if self.handle is None:
            return None
        client = self._clients.get(session)
        if client is None:
            private = LibafbEvent(self._libafb, self._glue, "", self.short_name)
            private._name = self._name
            private.create(self._api)
            client = LibafbListener(private)
        try:
            subscribe(client.event.handle)
        except RuntimeError:  # REST and internal callers cannot receive events
            return None
        self._clients[session] = client
        return client

    def push_to(self, data: Any, listeners: Iterable[host.Listener]) -> int:
        """One push per client (each on its private event): libafb cannot address a client otherwise."""
        sent = 0
        for listener in set(listeners):
            if isinstance(listener, LibafbListener):
                sent += listener.event.push(data)
        return sent

    def push(self, data: Any) -> int:
        """1 once queued for the subscribers (libafb does not tell how many there are)."""
        if self._closed or self.handle is None:
            return 0
        self._wait_for_room()
        self._libafb.evtpush(self.handle, data)
        self._glue.wakeup()
        return 1

    def _wait_for_room(self) -> None:
        bound = self._glue.max_jobs() * QUEUE_HEADROOM
        if self._glue.pending_jobs() < bound:
            return
        deadline = time.monotonic() + WAIT_LIMIT
        while self._glue.pending_jobs() >= bound:
            if time.monotonic() > deadline:
                log.warning("%s: libafb job queue still full after %.0f s (a client stopped reading?): "
                            "pushing anyway, libafb may drop it", self._name, WAIT_LIMIT)
                return
            self._glue.wakeup()
            time.sleep(WAIT_STEP)

    def close(self) -> None:
        """libafb-python cannot delete an event: it stops being pushed."""
        self._closed = True


class LibafbListener(host.Listener):
    """A client of one event under libafb: its private event (same name, one subscriber)."""

    def __init__(self, event: LibafbEvent) -> None:
        self.event = event

    @property
    def alive(self) -> bool:
        return True  # libafb does not say; sets holding it end with their task
