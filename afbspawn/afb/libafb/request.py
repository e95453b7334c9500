"""A libafb request answered later from asyncio.

The verb callback runs on a libafb thread and returns at once; the request is kept alive
with the glue's reference count, answered from the asyncio thread, then released. The
capsule must have no Python reference left when the last reference is dropped (the glue
frees the handle behind it), so it lives in one attribute only and is cleared first.
"""
from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from afbspawn.afb import host
from afbspawn.afb.embedded.codec import dumps
from afbspawn.afb.errors import Status
from afbspawn.afb.host import Caller, Event, Request
from afbspawn.afb.libafb.events import LibafbEvent
from afbspawn.afb.libafb.glue import Glue

log = logging.getLogger("afbspawn.afb")


class LibafbRequest(Request):
    def __init__(self, libafb: ModuleType, glue: Glue, capsule: Any, api: str, verb: str,
                 args: Any, caller: Caller) -> None:
        self._libafb = libafb
        self._glue = glue
        self._handle = glue.pointer(capsule)
        glue.hold(self._handle)
        self._capsule: Any = capsule
        self.api = api
        self.verb = verb
        self.args = args
        self.caller = caller

    @property
    def replied(self) -> bool:
        return self._capsule is None

    def reply(self, status: int = 0, data: Any = None, info: str | None = None) -> None:
        if self._capsule is None:
            log.debug("%s/%s: second reply ignored (status %s)", self.api, self.verb, status)
            return
        capsule, self._capsule = self._capsule, None
        status = int(status)
        try:
            dumps(data)  # the glue would turn what JSON cannot carry into null, silently
        except (TypeError, ValueError, RecursionError) as error:
            log.error("%s/%s: reply data cannot be sent as JSON: %s", self.api, self.verb, error)
            status, data, info = Status.INTERNAL_ERROR, None, "reply data is not JSON"
        try:
            if info is not None and -1000 < status < 0:
                self._glue.reply_text(self._handle, status, info)
            else:
                self._libafb.reply(capsule, status, *reply_data(status, data))
        finally:
            del capsule
            self._glue.release(self._handle)
            self._glue.wakeup()

    def subscribe(self, event: Event) -> None:
        """A REST or internal caller has no listener: libafb refuses, and that is a no-op here."""
        try:
            self._subscription(self._libafb.evtsubscribe, event)
        except RuntimeError:
            log.debug("%s/%s: the caller cannot receive events (REST?)", self.api, self.verb)

    def unsubscribe(self, event: Event) -> None:
        try:
            self._subscription(self._libafb.evtunsubscribe, event)
        except RuntimeError:
            pass  # afb-libpython raises even when it removed the subscription

    def listener(self, event: Event) -> host.Listener | None:
        if self._capsule is None or not isinstance(event, LibafbEvent):
            return None
        capsule = self._capsule
        return event.listener(self.caller.session, lambda handle: self._libafb.evtsubscribe(capsule, handle))

    def _subscription(self, action: Any, event: Event) -> None:
        if self._capsule is None or not isinstance(event, LibafbEvent) or event.handle is None:
            return
        action(self._capsule, event.handle)


def reply_data(status: int, data: Any) -> tuple[Any, ...]:
    """The data of a libafb reply giving the same envelope as the embedded host.

    libafb turns the one datum of an error (-999..-1) into the `info` text (as JSON text);
    an error at -1000 or below carries data but no info (libafb cannot send both).
    """
    return () if data is None else (data,)
