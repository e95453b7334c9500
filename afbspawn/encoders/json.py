"""`json`: stdout is a stream of JSON values, each pushed as `{"stdout": value}`.

Parsing is lenient like json-c (see `jsonstream`). A syntax error pushes
`{"json-error": "<json-c message>"}`; stderr lines are pushed as `{"stderr": line}`.
At end of stream one `{"json-error": "unexpected end of data"}` is always pushed:
the C binding does so even for valid output and its reference transcripts expect
it, so it is kept for compatibility (clients can ignore it).
"""
from __future__ import annotations

import codecs
from collections.abc import Mapping
from typing import Any

from afbspawn.encoders.base import (
    Encoder,
    EncoderFactory,
    EventSink,
    Stream,
    TaskContext,
)
from afbspawn.encoders.jsonstream import JsonStream
from afbspawn.encoders.lines import LineSplitter
from afbspawn.encoders.options import (
    MAXLEN_CAP,
    bounded_int,
    line_maxlen,
    reject_unknown,
)

MAXDEPTH_DEFAULT = 32  # json-c's default tokener depth
MAXDEPTH_CAP = 500  # deeper values could not be serialised back by Python's json
MAXSIZE_DEFAULT = 1 << 20  # characters of one value: the parser's memory bound


class JsonEncoder(Encoder):
    def __init__(self, opts: Mapping[str, Any], sink: EventSink) -> None:
        self._sink = sink
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._parser = JsonStream(
            lambda value: sink.push({"stdout": value}),
            lambda message: sink.push({"json-error": message}),
            opts["maxdepth"],
            opts["maxsize"],
        )
        self._stderr = LineSplitter(opts["maxlen"])

    def feed(self, stream: Stream, data: bytes) -> None:
        if stream == "stdout":
            self._parser.feed(self._decoder.decode(data))
            return
        for line in self._stderr.feed(data):
            self._sink.push({"stderr": line})

    def end(self) -> dict[str, Any]:
        self._parser.feed(self._decoder.decode(b"", final=True))
        self._parser.finish()
        for line in self._stderr.finish():
            self._sink.push({"stderr": line})
        return {}


class JsonFactory(EncoderFactory):
    """Options: `maxlen` (stderr line buffer), `maxdepth`, `maxsize` (new)."""

    name = "json"

    def check(self, opts: Mapping[str, Any]) -> Mapping[str, Any]:
        reject_unknown(opts, ("maxlen", "maxdepth", "maxsize"), self.name)
        return {
            "maxlen": line_maxlen(opts, self.name),
            "maxdepth": bounded_int(opts, "maxdepth", MAXDEPTH_DEFAULT, self.name, MAXDEPTH_CAP),
            "maxsize": bounded_int(opts, "maxsize", MAXSIZE_DEFAULT, self.name, MAXLEN_CAP),
        }

    def create(self, opts: Mapping[str, Any], sink: EventSink, task: TaskContext) -> Encoder:
        return JsonEncoder(opts, sink)
