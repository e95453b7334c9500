"""One `x-afb-ws-json1` WebSocket connection: read calls, write replies and events.

aiohttp reads the RFC 6455 frames; it accepts unmasked client frames (afb-client
sends them), echoes pings and closes oversize (1009) or RSV-flagged (1002) frames.
Replies and events are framed here: what a loop turn sends to a connection goes to
the socket in one write (a burst of lines is one syscall, not one per line), and the
bytes waiting are bounded, so a stalled client never blocks the verbs or the others.
"""
from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable

from aiohttp import WSMsgType, web

from afbspawn.afb.embedded import codec
from afbspawn.afb.embedded.events import Listener
from afbspawn.afb.embedded.request import EmbeddedRequest
from afbspawn.afb.host import Caller

log = logging.getLogger("afbspawn.afb")

PROTOCOL = "x-afb-ws-json1"
QUEUE_BYTES = 16 * 1024 * 1024  # per connection: beyond this the client is too slow and is closed

Dispatch = Callable[[EmbeddedRequest], None]
_SHORT_HEADERS = [bytes((0x81, length)) for length in range(126)]  # FIN + text, unmasked


def text_header(length: int) -> bytes:
    """The header of an unmasked, final text frame carrying `length` bytes (RFC 6455 §5.2)."""
    if length < 126:
        return _SHORT_HEADERS[length]
    if length < 65536:
        return struct.pack("!BBH", 0x81, 126, length)
    return struct.pack("!BBQ", 0x81, 127, length)


class WsConnection(Listener):
    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None,
                 caller: Caller, dispatch: Dispatch, peer: str, trace: Callable[[str], None] | None = None,
                 queue_bytes: int = QUEUE_BYTES) -> None:
        super().__init__()
        self.ws = ws
        self._transport = transport
        self.caller = caller
        self.peer = peer
        self._dispatch = dispatch
        self._trace = trace
        self._pending: list[bytes] = []  # headers and payloads of this loop turn, written together
        self._queued = 0  # bytes waiting: pending here plus the transport's buffer at the last write
        self._limit = queue_bytes
        self._open = transport is not None

    def send(self, frame: bytes) -> bool:
        if not self._open:
            return False
        if self._queued + len(frame) > self._limit:
            self._too_slow()
            return False
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._queued += len(frame)
        self._pending += (text_header(len(frame)), frame)
        return True

    def _flush(self) -> None:
        """Write what this loop turn queued, in one go."""
        if not self._open or not self._pending:
            return
        assert self._transport is not None
        data = b"".join(self._pending)
        self._pending.clear()
        if self._transport.is_closing() or self.ws.closed:  # what is queued can reach no one
            self._open = False
            self.drop_subscriptions()
            return
        self._transport.write(data)
        self._queued = self._transport.get_write_buffer_size()
        if self._queued > self._limit:
            self._too_slow()

    def _too_slow(self) -> None:
        log.warning("%s: send queue over %d bytes (client too slow): closing the connection",
                    self.peer, self._limit)
        self._abort()

    def _abort(self) -> None:
        self._open = False
        self._pending.clear()
        self.drop_subscriptions()
        if self._transport is not None:
            self._transport.abort()  # a close frame could not get through the full pipe anyway

    async def run(self) -> None:
        """Serve the connection until it closes; subscriptions end with it."""
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
        self._dispatch(EmbeddedRequest(call.api, call.verb, call.args, self.caller,
                                       self._replier(call.id, f"{call.api}/{call.verb}"), self))

    def _replier(self, call_id: str, procedure: str) -> Callable[[int, object, str | None], None]:
        def sink(status: int, data: object, info: str | None) -> None:
            frame = codec.to_wire(codec.reply_frame(call_id, status, data, info))
            if self._trace:
                self._trace(f"{self.peer} reply {call_id} {procedure}: {frame.decode('utf-8')}")
            if not self.send(frame):
                log.debug("%s: reply %s to %s dropped: connection gone", self.peer, call_id, procedure)
        return sink

    async def _close(self, code: int, reason: str) -> None:
        self._flush()
        self._open = False
        await self.ws.close(code=code, message=reason.encode())
