"""Events and listeners: one serialisation per push, a bounded send queue per client.

A Listener is one client connection able to receive events (a WebSocket). A slow
listener never blocks the others: when its queue is past its pause mark it is
*congested*, and an event is `ready` only while none of its listeners is, so
producers that honour back-pressure (task pipes) pause instead of piling frames
up. A listener that takes nothing is closed by its own connection (websocket.py).
"""
from __future__ import annotations

import abc
import functools
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from afbspawn.afb import host
from afbspawn.afb.dispatch import HandlerRunner
from afbspawn.afb.embedded import codec
from afbspawn.afb.host import Event, EventHandlerSpec

log = logging.getLogger("afbspawn.afb")


@functools.cache
def _is_listener(kind: type) -> bool:
    """isinstance(x, Listener) by type, cached: the ABC's instance check ran once per event."""
    return issubclass(kind, Listener)


class Listener(host.Listener):
    """A client connection that events can reach."""

    def __init__(self) -> None:
        self.events: set[EmbeddedEvent] = set()

    @property
    def alive(self) -> bool:
        return True

    @abc.abstractmethod
    def send(self, frame: bytes) -> bool:
        """Queue one frame without blocking; False when the listener is gone or overflowed."""

    @property
    def congested(self) -> bool:
        """True while the client has more queued than it should: producers should pause."""
        return False

    def on_drained(self, resume: Callable[[], None]) -> None:
        """Call `resume` once no longer congested (or gone); at once when not congested."""
        resume()

    def drop_subscriptions(self) -> None:
        """The connection ended: no event may reach it any more."""
        for event in list(self.events):
            event.unsubscribe(self)


class BinderListener(Listener):
    """The binder itself as a listener: what its internal calls subscribe to (an onload
    `api://monitor#subscribe`) reaches the APIs' event handlers (ApiSpec.event_handlers)."""

    def __init__(self, runner: HandlerRunner) -> None:
        super().__init__()
        self.handlers: list[EventHandlerSpec] = []
        self._runner = runner

    def send(self, frame: bytes) -> bool:
        _, name, event = json.loads(frame)
        self._runner.run_matching(self.handlers, name, event.get("data"))
        return True


class EmbeddedEvent(Event):
    def __init__(self, name: str, trace: Callable[[str], None] | None = None) -> None:
        self._name = name
        self._head = codec.event_head(name)  # the frame up to its data, serialised once per event
        self._listeners: set[Listener] = set()
        self._closed = False
        self._trace = trace

    @property
    def name(self) -> str:
        return self._name

    def subscribe(self, listener: Listener) -> None:
        if not self._closed:
            self._listeners.add(listener)
            listener.events.add(self)

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.discard(listener)
        listener.events.discard(self)

    def push(self, data: Any) -> int:
        if self._closed or not self._listeners:
            return 0
        frame = codec.event_wire(self._name, self._head, data)
        if self._trace:
            self._trace(f"event {self._name} -> {len(self._listeners)} listener(s): {frame.decode('utf-8')}")
        reached = 0
        for listener in tuple(self._listeners):  # a listener may drop out while sent to
            if listener.send(frame):
                reached += 1
        return reached

    def push_to(self, data: Any, listeners: Iterable[host.Listener]) -> int:
        targets = [listener for listener in set(listeners) if _is_listener(type(listener))]
        if self._closed or not targets:
            return 0
        frame = codec.event_wire(self._name, self._head, data)
        if self._trace:
            self._trace(f"event {self._name} -> {len(targets)} listener(s): {frame.decode('utf-8')}")
        reached = 0
        for listener in targets:
            if listener.send(frame):
                reached += 1
        return reached

    def ready(self) -> bool:
        return not any(listener.congested for listener in self._listeners)

    def when_ready(self, resume: Callable[[], None]) -> None:
        congested = next((listener for listener in self._listeners if listener.congested), None)
        if congested is None:
            resume()
        else:  # checked again once that one drains: others may still be congested
            congested.on_drained(lambda: self.when_ready(resume))

    def close(self) -> None:
        self._closed = True
        for listener in list(self._listeners):
            self.unsubscribe(listener)
