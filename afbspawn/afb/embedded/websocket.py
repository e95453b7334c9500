"""One `x-afb-ws-json1` WebSocket connection: read calls, write replies and events.

aiohttp reads the RFC 6455 frames; it accepts unmasked client frames (afb-client
sends them), echoes pings and closes oversize (1009) or RSV-flagged (1002) frames.
Everything sent goes through one queue drained by a writer task, so a slow client
never blocks the verbs or the other clients; the writer frames what is queued itself
and hands each slice to the socket in one write (a burst of lines is one syscall, not
one per line). Its limits (docs/security.md):

- beyond `pause_bytes` queued the connection is *congested*: producers that honour
  back-pressure (task pipes) pause until it drains, so a client that reads, however
  slowly, loses nothing;
- a client that takes nothing for `stall_seconds` while frames wait, or whose queue
  passes `queue_bytes` (producers that cannot pause), is closed with a close frame
  and the loss is logged;
- at most `max_pending` calls of one connection run at once: beyond, the connection
  is not read until one is answered (TCP back-pressure, no call refused).
"""
from __future__ import annotations

import asyncio
import collections
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from afbspawn.afb.embedded import codec
from afbspawn.afb.embedded.events import Listener
from afbspawn.afb.embedded.request import EmbeddedRequest
from afbspawn.afb.host import Caller

log = logging.getLogger("afbspawn.afb")

PROTOCOL = "x-afb-ws-json1"
CLOSE_TOO_SLOW = 1008  # policy violation: the client took nothing for too long / overflowed
WRITE_SLICE = 16 * 1024  # bytes the writer sends (in one write) before letting the loop serve others

Dispatch = Callable[[EmbeddedRequest], None]
_SHORT_HEADERS = [bytes((0x81, length)) for length in range(126)]  # FIN + text, unmasked


def text_header(length: int) -> bytes:
    """The header of an unmasked, final text frame carrying `length` bytes (RFC 6455 §5.2)."""
    if length < 126:
        return _SHORT_HEADERS[length]
    if length < 65536:
        return struct.pack("!BBH", 0x81, 126, length)
    return struct.pack("!BBQ", 0x81, 127, length)


@dataclass(frozen=True)
class WsLimits:
    """Per-connection bounds; the defaults are those of docs/security.md."""

    pause_bytes: int = 1024 * 1024  # queued bytes that pause back-pressured producers
    queue_bytes: int = 64 * 1024 * 1024  # queued bytes that close the connection
    stall_seconds: float = 30.0  # nothing taken for this long with frames waiting: closed
    max_pending: int = 64  # calls of one connection running at once
    idle_seconds: float = 60.0  # nothing received for this long: ping; no pong in half as long: closed


class WsConnection(Listener):
    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None,
                 caller: Caller, dispatch: Dispatch, peer: str, trace: Callable[[str], None] | None = None,
                 limits: WsLimits | None = None) -> None:
        super().__init__()
        self.ws = ws
        self._transport = transport
        self.caller = caller
        self.peer = peer
        self._dispatch = dispatch
        self._trace = trace
        self._limits = limits or WsLimits()
        self._queue: collections.deque[bytes] = collections.deque()
        self._wakeup = asyncio.Event()
        self._queued = 0
        self._taken = 0  # frames handed to the socket so far: the stall watchdog's clock
        self._open = True
        self._drained: list[Callable[[], None]] = []
        self._pending = 0
        self._slot = asyncio.Event()

    # -- sending -------------------------------------------------------------------------
    @property
    def congested(self) -> bool:
        return self._open and self._queued > self._limits.pause_bytes

    def on_drained(self, resume: Callable[[], None]) -> None:
        if self.congested:
            self._drained.append(resume)
        else:
            resume()

    @property
    def alive(self) -> bool:
        return self._open

    def send(self, frame: bytes) -> bool:
        if not self._open:
            return False
        if self._queued + len(frame) > self._limits.queue_bytes:
            self._give_up(f"send queue over {self._limits.queue_bytes} bytes (client too slow)")
            return False
        self._queued += len(frame)
        self._queue.append(frame)
        self._wakeup.set()
        return True

    def send_reply(self, frame: bytes) -> bool:
        """A reply with nothing queued before it and an empty socket buffer is written at once:
        it saves waking the writer a loop turn later (a ping is then one read and one write).
        Otherwise it queues as any frame; either way it follows every frame sent before it."""
        transport = self._transport
        if (self._open and not self._queue and transport is not None and not transport.is_closing()
                and not self.ws.closed and transport.get_write_buffer_size() == 0):
            transport.write(text_header(len(frame)) + frame)
            self._taken += 1
            return True
        return self.send(frame)

    def _resume_producers(self) -> None:
        waiting, self._drained = self._drained, []
        for resume in waiting:
            resume()

    def _give_up(self, why: str) -> None:
        """Close a client that cannot keep up: close frame, then the socket; the loss is logged."""
        if not self._open:
            return
        log.warning("%s: %s: closing with code %d; %d queued frame(s), %d bytes, lost",
                    self.peer, why, CLOSE_TOO_SLOW, len(self._queue), self._queued)
        self._open = False
        self._queue.clear()
        self._queued = 0
        self.drop_subscriptions()
        self._resume_producers()  # they must not wait for a connection that is gone
        self._wakeup.set()
        asyncio.ensure_future(self._close_then_abort())

    async def _close_then_abort(self) -> None:
        """The close frame follows what the client already has; it gets one more stall period."""
        deadline = asyncio.get_running_loop().time() + self._limits.stall_seconds
        try:
            await asyncio.wait_for(self.ws.close(code=CLOSE_TOO_SLOW, message=b"too-slow"),
                                   self._limits.stall_seconds)
        except (TimeoutError, ConnectionError):
            pass
        while self._unsent() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        if self._transport is not None:
            self._transport.abort()

    async def _writer(self) -> None:
        try:
            while self._open:
                if not self._queue:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                await self._write_slice()
                if self._drained and self._queued <= self._limits.pause_bytes:
                    self._resume_producers()
                await asyncio.sleep(0)  # a fast client does not monopolise the loop
        except ConnectionError:  # the peer is gone: what is queued can reach no one
            self._open = False
            self.drop_subscriptions()
            self._resume_producers()

    async def _write_slice(self) -> None:
        """Frame up to WRITE_SLICE bytes of the queue and write them at once, then wait while the
        socket's buffer is full (as aiohttp's own send does)."""
        parts: list[bytes] = []
        sent = 0
        while self._queue and sent < WRITE_SLICE:
            frame = self._queue.popleft()
            self._queued -= len(frame)
            sent += len(frame)
            parts += (text_header(len(frame)), frame)
        transport = self._transport
        if transport is None or transport.is_closing() or self.ws.closed:
            raise ConnectionResetError("connection closed")
        transport.write(b"".join(parts))
        self._taken += len(parts) // 2
        if transport.get_write_buffer_size() > WRITE_SLICE:
            await _drain(transport)

    async def _watchdog(self) -> None:
        """Close the connection when frames wait and none was taken for `stall_seconds`."""
        period = self._limits.stall_seconds / 2
        idle_ticks, seen = 0, self._taken
        while self._open:
            await asyncio.sleep(period)
            waiting = bool(self._queue) or self._unsent() > 0
            idle_ticks = idle_ticks + 1 if waiting and self._taken == seen else 0
            seen = self._taken
            if idle_ticks >= 2:
                self._give_up(f"took nothing for {self._limits.stall_seconds:g} s")

    def _unsent(self) -> int:
        """Bytes written to the socket's transport but not yet taken by the kernel."""
        return self._transport.get_write_buffer_size() if self._transport is not None else 0

    # -- receiving -----------------------------------------------------------------------
    async def run(self) -> None:
        """Serve the connection until it closes; subscriptions end with it."""
        helpers = [asyncio.create_task(self._writer()), asyncio.create_task(self._watchdog())]
        try:
            async for message in self.ws:
                if message.type == WSMsgType.BINARY:
                    await self._close(codec.CLOSE_UNACCEPTABLE, "")
                elif message.type == WSMsgType.TEXT:
                    await self._receive(message.data)
        except ConnectionError:
            pass
        finally:
            self._open = False
            self.drop_subscriptions()
            self._resume_producers()
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _receive(self, text: str) -> None:
        try:
            call = codec.parse(text)
        except codec.FrameError as error:
            log.info("%s: closing on bad frame (%s)", self.peer, error)
            await self._close(error.code, error.reason)
            return
        if call is None:
            return  # client-sent events are ignored, as by afb-binder
        if call.token is not None:
            self.caller = Caller(self.caller.session, call.token, self.caller.uid,
                                 self.caller.gid, self.caller.pid)
        if self._trace:
            self._trace(f"{self.peer} call {call.id} {call.api}/{call.verb} {codec.dumps(call.args)}")
        while self._pending >= self._limits.max_pending:  # stop reading: the client waits, loses nothing
            self._slot.clear()
            await self._slot.wait()
        self._pending += 1
        self._dispatch(EmbeddedRequest(call.api, call.verb, call.args, self.caller,
                                       self._replier(call.id, f"{call.api}/{call.verb}"), self))

    def _replier(self, call_id: str, procedure: str) -> Callable[[int, object, str | None], None]:
        def sink(status: int, data: object, info: str | None) -> None:
            frame = codec.to_wire(codec.reply_frame(call_id, status, data, info))  # may raise: sink called again
            self._pending -= 1
            self._slot.set()
            if self._trace:
                self._trace(f"{self.peer} reply {call_id} {procedure}: {frame.decode('utf-8')}")
            if not self.send_reply(frame):
                log.debug("%s: reply %s to %s dropped: connection gone", self.peer, call_id, procedure)
        return sink

    async def _close(self, code: int, reason: str) -> None:
        self._open = False
        await self.ws.close(code=code, message=reason.encode())


async def _drain(transport: asyncio.Transport) -> None:
    """Wait until the transport takes writes again (aiohttp's protocol knows; else poll)."""
    drain = getattr(transport.get_protocol(), "_drain_helper", None)
    if drain is not None:
        await drain()
        return
    while transport.get_write_buffer_size() > WRITE_SLICE and not transport.is_closing():
        await asyncio.sleep(0.001)
