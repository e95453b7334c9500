"""A minimal, fast `x-afb-ws-json1` client for the benchmarks (blocking sockets, no asyncio).

The benchmarks must measure the servers, not the client: this client does one `send` per
call, parses frame headers only, and the counting readers never decode JSON (they count a
marker in the raw byte stream, which server frames carry unmasked).
"""
from __future__ import annotations

import base64
import json
import os
import socket
import struct
from collections.abc import Iterator
from typing import Any

HANDSHAKE = ("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Protocol: x-afb-ws-json1\r\n\r\n")
RECV = 1 << 18


class WsClient:
    """One WebSocket connection; `call` sends a call and returns the parsed reply."""

    def __init__(self, port: int, host: str = "127.0.0.1", path: str = "/api") -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(HANDSHAKE.format(path=path, host=host, port=port, key=key).encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            data = self.sock.recv(4096)
            if not data:
                raise ConnectionError("closed during the handshake")
            self.buffer += data
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.decode(errors="replace"))
        self.ids = 0

    def send_call(self, procedure: str, args: Any) -> str:
        self.ids += 1
        call_id = str(self.ids)
        self.send_text(f'[2,"{call_id}","{procedure}",{json.dumps(args, separators=(",", ":"))}]')
        return call_id

    def send_text(self, text: str) -> None:
        self.sock.sendall(frame(text.encode()))

    def frames(self) -> Iterator[bytes]:
        """Text payloads as they arrive."""
        while True:
            payloads, self.buffer = split_frames(self.buffer)
            yield from payloads
            data = self.sock.recv(RECV)
            if not data:
                raise ConnectionError("connection closed")
            self.buffer += data

    def reply(self, call_id: str) -> list[Any]:
        """Wait for the reply to `call_id` (events in between are skipped)."""
        prefix = f',"{call_id}",'.encode()
        for payload in self.frames():
            if payload[:1] == b"[" and payload[1:2] in (b"3", b"4") and payload[2:2 + len(prefix)] == prefix:
                return json.loads(payload)
        raise AssertionError("unreachable")

    def call(self, procedure: str, args: Any = None) -> list[Any]:
        return self.reply(self.send_call(procedure, args))

    def send_ping(self) -> None:
        """A masked empty ping: a client that only reads still shows the server it is alive
        (afb-spawn pings a connection silent for 60 s and closes it without a pong)."""
        self.sock.send(b"\x89\x80\x00\x00\x00\x00")

    def close(self) -> None:
        try:
            self.sock.sendall(b"\x88\x82\x00\x00\x00\x00\x03\xe8")  # close 1000, zero mask
        except OSError:
            pass
        self.sock.close()


def split_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The complete text payloads at the head of `buffer` and what is left (server frames are
    never masked; control frames other than close are skipped)."""
    payloads = []
    offset, size = 0, len(buffer)
    while size - offset >= 2:
        length = buffer[offset + 1] & 0x7F
        start = offset + 2
        if length == 126:
            if size - offset < 4:
                break
            length, start = struct.unpack_from("!H", buffer, offset + 2)[0], offset + 4
        elif length == 127:
            if size - offset < 10:
                break
            length, start = struct.unpack_from("!Q", buffer, offset + 2)[0], offset + 10
        if size < start + length:
            break
        opcode = buffer[offset] & 0x0F
        if opcode == 8:
            raise ConnectionError("server closed the connection")
        if opcode == 1:
            payloads.append(buffer[start:start + length])
        offset = start + length
    return payloads, buffer[offset:]


def frame(payload: bytes) -> bytes:
    """A masked client text frame; a zero mask key leaves the payload as is (RFC 6455 allows it)."""
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x81, 0x80 | length)
    elif length < 65536:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, length)
    return head + b"\x00\x00\x00\x00" + payload


class MarkerCounter:
    """Counts `marker` in a byte stream fed in arbitrary chunks (a chunk may cut a marker),
    and tells when `end` went by."""

    def __init__(self, marker: bytes, end: bytes) -> None:
        self.marker = marker
        self.end = end
        self.count = 0
        self.finished = False
        self._tail = b""  # the stream's last bytes, shorter than `marker`
        self._end_tail = b""  # and shorter than `end`

    def feed(self, data: bytes) -> None:
        counted = self._tail + data
        self.count += counted.count(self.marker)
        if not self.finished:
            window = self._end_tail + data
            self.finished = self.end in window
            self._end_tail = window[-(len(self.end) - 1):]
        self._tail = counted[-(len(self.marker) - 1):]
