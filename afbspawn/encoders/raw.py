"""`raw` (synchronous): each stream kept verbatim, newlines included, in the reply.

Each stream keeps at most `maxlen` bytes (default 512 like C, at most 16 MiB);
what comes after is discarded and flagged `<stream>-overflow`. Both keys are
always present, possibly "". Bytes that are not UTF-8 become U+FFFD; a cut at
`maxlen` never splits a UTF-8 sequence.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from afbspawn.encoders.base import (
    Encoder,
    EncoderFactory,
    EventSink,
    Stream,
    TaskContext,
)
from afbspawn.encoders.text import STREAMS, check_line_options


class _Buffer:
    def __init__(self, maxlen: int) -> None:
        self.data = bytearray()
        self.room = maxlen
        self.overflow = False

    def feed(self, chunk: bytes) -> None:
        if len(chunk) > self.room:
            self.overflow = True
            chunk = chunk[: self.room]
        self.data += chunk
        self.room -= len(chunk)

    def text(self) -> str:
        data = bytes(self.data)
        if self.overflow:  # the cut may have split a UTF-8 sequence: drop its head
            data = _trim_partial_sequence(data)
        return data.decode("utf-8", "replace")


def _trim_partial_sequence(data: bytes) -> bytes:
    """`data` without an incomplete UTF-8 sequence at its very end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:
            continue  # continuation byte: look further back for the lead
        needed = 2 if byte >= 0xC0 else 1
        needed = 3 if byte >= 0xE0 else needed
        needed = 4 if byte >= 0xF0 else needed
        return data[:-back] if needed > back else data
    return data


class RawEncoder(Encoder):
    def __init__(self, maxlen: int) -> None:
        self._buffers = {s: _Buffer(maxlen) for s in STREAMS}

    def feed(self, stream: Stream, data: bytes) -> None:
        self._buffers[stream].feed(data)

    def end(self) -> dict[str, Any]:
        fields: dict[str, Any] = {s: b.text() for s, b in self._buffers.items()}
        for stream, buffer in self._buffers.items():
            if buffer.overflow:
                fields[f"{stream}-overflow"] = True
        return fields


class RawFactory(EncoderFactory):
    """`maxline` is accepted for compatibility with C configs and otherwise unused."""

    name = "raw"
    synchronous = True

    def check(self, opts: Mapping[str, Any]) -> Mapping[str, Any]:
        return check_line_options(opts, self.name)

    def create(self, opts: Mapping[str, Any], sink: EventSink, task: TaskContext) -> Encoder:
        return RawEncoder(opts["maxlen"])
