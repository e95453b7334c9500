"""`line`: one data event per line as soon as it is complete, for both streams."""
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
from afbspawn.encoders.lines import LineSplitter
from afbspawn.encoders.text import STREAMS, check_line_options


class LineEncoder(Encoder):
    """Pushes `{"stdout": line}` / `{"stderr": line}`; holds at most one partial line."""

    def __init__(self, maxlen: int, sink: EventSink) -> None:
        self._splitters = {s: LineSplitter(maxlen) for s in STREAMS}
        self._sink = sink

    def feed(self, stream: Stream, data: bytes) -> None:
        for line in self._splitters[stream].feed(data):
            self._sink.push({stream: line})

    def end(self) -> dict[str, Any]:
        for stream, splitter in self._splitters.items():
            for line in splitter.finish():
                self._sink.push({stream: line})
        return {}


class LineFactory(EncoderFactory):
    """`maxline` is accepted for compatibility with C configs; nothing is accumulated."""

    name = "line"

    def check(self, opts: Mapping[str, Any]) -> Mapping[str, Any]:
        return check_line_options(opts, self.name)

    def create(self, opts: Mapping[str, Any], sink: EventSink, task: TaskContext) -> Encoder:
        return LineEncoder(opts["maxlen"], sink)
