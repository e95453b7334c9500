"""The request object handed to verbs: replies exactly once, wherever the answer goes."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from afbspawn.afb import host
from afbspawn.afb.embedded.events import EmbeddedEvent, Listener
from afbspawn.afb.errors import Status
from afbspawn.afb.host import Caller, Event, Request

log = logging.getLogger("afbspawn.afb")

ReplySink = Callable[[int, Any, "str | None"], None]


@dataclass(eq=False)
class EmbeddedRequest(Request):
    """A call from a WebSocket, REST or internal caller.

    `sink` delivers the answer; it must never raise, so that a late reply to a
    client that has gone away is a harmless no-op for the binding.
    """

    api: str
    verb: str
    args: Any
    caller: Caller
    sink: ReplySink
    connection: Listener | None = None  # the WebSocket the call came on
    _replied: bool = field(default=False, init=False)

    @property
    def replied(self) -> bool:
        return self._replied

    def reply(self, status: int = 0, data: Any = None, info: str | None = None) -> None:
        if self._replied:
            log.debug("%s/%s: second reply ignored (status %s)", self.api, self.verb, status)
            return
        self._replied = True
        try:
            self.sink(int(status), data, info)
        except (TypeError, ValueError, RecursionError) as error:  # data JSON cannot carry
            log.error("%s/%s: reply data cannot be sent as JSON: %s", self.api, self.verb, error)
            self.sink(Status.INTERNAL_ERROR, None, "reply data is not JSON")

    def subscribe(self, event: Event) -> None:
        """A REST or internal caller has no listener: subscribing is then a no-op."""
        if self.connection is not None and isinstance(event, EmbeddedEvent):
            event.subscribe(self.connection)

    def unsubscribe(self, event: Event) -> None:
        if self.connection is not None and isinstance(event, EmbeddedEvent):
            event.unsubscribe(self.connection)

    def listener(self, event: Event) -> host.Listener | None:
        """The WebSocket connection itself (REST and internal callers have none)."""
        return self.connection
