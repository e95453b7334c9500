"""Events over libafb: `evtnew` once the API exists, `evtpush` kept under the job queue bound.

`libafb.evtpush` queues one libafb job per push and drops the push silently when the queue
is full; a push therefore waits (briefly, on the asyncio thread) while the queue is near
its bound. libafb's own threads drain it, so the wait cannot deadlock; a queue that stays
full (a client that stopped reading) is logged, never silent.
"""
from __future__ import annotations

import logging
import time
from types import ModuleType
from typing import Any

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
        self._closed = False

    @property
    def name(self) -> str:
        return self._name

    def create(self, api_handle: Any) -> None:
        self.handle = self._libafb.evtnew(api_handle, self.short_name)

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
