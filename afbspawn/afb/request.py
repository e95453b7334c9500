"""The request object handed to verbs: replies exactly once, wherever the answer goes."""
from __future__ import annotations

import logging
from typing import Any, Callable

from afbspawn.afb.events import EmbeddedEvent, Listener
from afbspawn.afb.host import Caller, Event, Request

log = logging.getLogger("afbspawn.afb")

ReplySink = Callable[[int, Any, "str | None"], None]


class EmbeddedRequest(Request):
    """A call from a WebSocket, REST or internal caller.

    `sink` delivers the answer; it must never raise, so that a late reply to a
    client that has gone away is a harmless no-op for the binding.
    """

    def __init__(self, api: str, verb: str, args: Any, caller: Caller,
                 sink: ReplySink, listener: Listener | None = None) -> None:
        self.api = api
        self.verb = verb
        self.args = args
        self.caller = caller
        self._sink = sink
        self._listener = listener
        self._replied = False

    @property
    def replied(self) -> bool:
        return self._replied

    def reply(self, status: int = 0, data: Any = None, info: str | None = None) -> None:
        if self._replied:
            log.debug("%s/%s: second reply ignored (status %s)", self.api, self.verb, status)
            return
        self._replied = True
        self._sink(int(status), data, info)

    def subscribe(self, event: Event) -> None:
        """A REST or internal caller has no listener: subscribing is then a no-op."""
        if self._listener is not None and isinstance(event, EmbeddedEvent):
            event.subscribe(self._listener)

    def unsubscribe(self, event: Event) -> None:
        if self._listener is not None and isinstance(event, EmbeddedEvent):
            event.unsubscribe(self._listener)
