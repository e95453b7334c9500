"""Sample plugin encoder `my-custom-encoder` (plugin `encoder_sample`), after the C sample.

It shows what a plugin needs: a factory with `name`, `plugin`, `check` and
`create`, and an encoder pushing its own event shapes. stdout lines are grouped
in blocks of `blkcount` lines pushed as `{"data": [lines]}`; each stderr line is
pushed as `{"err": n, "data": line}` (n counts stderr lines from 1); at end the
last partial block, then `{"errcount": E, "linecount": L}`.
Registered in the `afbspawn.encoders` entry point group (pyproject.toml) and
listed in `ENCODERS` so a config `plugins` entry can name this module too.
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
    bounded_int,
    line_maxlen,
    reject_unknown,
)

BLKCOUNT_DEFAULT = 10
BLKCOUNT_CAP = 10_000  # with maxlen: the memory bound of one pending block


class BlockEncoder(Encoder):
    def __init__(self, opts: Mapping[str, Any], sink: EventSink) -> None:
        self._sink = sink
        self._blkcount = opts["blkcount"]
        self._block: list[str] = []
        self._linecount = 0
        self._errcount = 0
        self._splitters: dict[Stream, LineSplitter] = {
            "stdout": LineSplitter(opts["maxlen"]),
            "stderr": LineSplitter(opts["maxlen"]),
        }

    def feed(self, stream: Stream, data: bytes) -> None:
        self._take(stream, self._splitters[stream].feed(data))

    def end(self) -> dict[str, Any]:
        for stream, splitter in self._splitters.items():
            self._take(stream, splitter.finish())
        if self._block:
            self._sink.push({"data": self._block})
        self._sink.push({"errcount": self._errcount, "linecount": self._linecount})
        return {}

    def _take(self, stream: Stream, lines: Iterable[str]) -> None:
        for line in lines:
            if stream == "stderr":
                self._errcount += 1
                self._sink.push({"err": self._errcount, "data": line})
                continue
            self._linecount += 1
            self._block.append(line)
            if len(self._block) == self._blkcount:
                self._sink.push({"data": self._block})
                self._block = []


class MyCustomEncoderFactory(EncoderFactory):
    """Options `blkcount` (default 10) and `maxlen` (default 512); both optional here."""

    name = "my-custom-encoder"
    plugin = "encoder_sample"

    def check(self, opts: Mapping[str, Any]) -> Mapping[str, Any]:
        reject_unknown(opts, ("blkcount", "maxlen"), self.name)
        return {
            "blkcount": bounded_int(opts, "blkcount", BLKCOUNT_DEFAULT, self.name, BLKCOUNT_CAP),
            "maxlen": line_maxlen(opts, self.name),
        }

    def create(self, opts: Mapping[str, Any], sink: EventSink, task: TaskContext) -> Encoder:
        return BlockEncoder(opts, sink)


ENCODERS: list[EncoderFactory] = [MyCustomEncoderFactory()]
