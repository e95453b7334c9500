"""`text` (default) and `sync`: every stdout/stderr line collected into arrays.

`text` pushes them as one data event at end; `sync` returns them for the reply.
Each array keeps at most `maxline` lines; one more line adds a final "..." entry
and the `<stream>-overflow` flag, and the rest of that stream is discarded.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from afbspawn.encoders.base import (
    Encoder,
    EncoderFactory,
    EventSink,
    Stream,
    TaskContext,
)
from afbspawn.encoders.lines import LineSplitter
from afbspawn.encoders.options import (
    MAXLINE_DEFAULT,
    bounded_int,
    line_maxlen,
    reject_unknown,
)

STREAMS: tuple[Stream, Stream] = ("stdout", "stderr")
ELLIPSIS = "..."
MAXLINE_CAP = 100_000  # with maxlen: the memory bound of one stream


class _Collector:
    """The kept lines of one stream, bounded by `maxline`."""

    def __init__(self, maxlen: int, maxline: int) -> None:
        self.splitter = LineSplitter(maxlen)
        self.maxline = maxline
        self.lines: list[str] = []
        self.overflow = False

    def feed(self, data: bytes) -> None:
        if not self.overflow:
            self._keep(self.splitter.feed(data))

    def finish(self) -> None:
        if not self.overflow:
            self._keep(self.splitter.finish())

    def _keep(self, lines: Iterable[str]) -> None:
        for line in lines:
            if len(self.lines) == self.maxline:
                self.lines.append(ELLIPSIS)
                self.overflow = True
                return
            self.lines.append(line)


class TextEncoder(Encoder):
    """Collects both streams; pushes them at end unless the reply carries them."""

    def __init__(self, opts: Mapping[str, Any], sink: EventSink, synchronous: bool) -> None:
        self._streams = {s: _Collector(opts["maxlen"], opts["maxline"]) for s in STREAMS}
        self._sink = sink
        self._synchronous = synchronous

    def feed(self, stream: Stream, data: bytes) -> None:
        self._streams[stream].feed(data)

    def end(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for name, collector in self._streams.items():
            collector.finish()
            if collector.lines:
                fields[name] = collector.lines
        for name, collector in self._streams.items():
            if collector.overflow:
                fields[f"{name}-overflow"] = True
        if self._synchronous:
            return fields
        self._sink.push(fields)
        return {}


def check_line_options(opts: Mapping[str, Any], encoder: str) -> dict[str, Any]:
    """maxlen and maxline, each validated on its own with its default."""
    reject_unknown(opts, ("maxlen", "maxline"), encoder)
    return {
        "maxlen": line_maxlen(opts, encoder),
        "maxline": bounded_int(opts, "maxline", MAXLINE_DEFAULT, encoder, MAXLINE_CAP),
    }


class TextFactory(EncoderFactory):
    name = "text"

    def check(self, opts: Mapping[str, Any]) -> Mapping[str, Any]:
        return check_line_options(opts, self.name)

    def create(self, opts: Mapping[str, Any], sink: EventSink, task: TaskContext) -> Encoder:
        return TextEncoder(opts, sink, self.synchronous)


class SyncFactory(TextFactory):
    name = "sync"
    synchronous = True
