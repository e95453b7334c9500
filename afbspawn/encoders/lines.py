"""Split a byte stream into text lines, the way every line-based encoder needs it.

Rules (C spawn-binding): split on LF, drop one CR right before the LF, keep empty
lines, emit a trailing partial line at end. A line longer than `maxlen - 1` bytes
is cut into chunks of `maxlen - 2` bytes followed by a backslash. Improvements:
a cut never splits a UTF-8 sequence (it moves back to the sequence start), and
bytes that are not UTF-8 become U+FFFD instead of reaching the JSON output raw.
Memory is bounded by `maxlen` plus the size of one fed chunk.
"""
from __future__ import annotations

from collections.abc import Iterator

CONTINUATION = "\\"


def _cut_position(line: bytes | bytearray, limit: int) -> int:
    """Where to cut a too-long line: `limit` bytes, backed off to a UTF-8 boundary."""
    cut = limit
    for back in range(min(4, limit)):
        if line[cut - back] & 0xC0 != 0x80:  # not a continuation byte: a sequence starts here
            return cut - back
    return cut


def _decode(raw: bytes | bytearray) -> str:
    return bytes(raw).decode("utf-8", "replace")


class LineSplitter:
    """Incremental splitter for one stream; `feed` and `finish` yield decoded lines."""

    def __init__(self, maxlen: int) -> None:
        if maxlen < 3:
            raise ValueError("maxlen must be at least 3 (one byte plus the continuation mark)")
        self._maxlen = maxlen
        self._pending = bytearray()

    def feed(self, data: bytes) -> Iterator[str] | list[str]:
        """Lines completed by `data` (long lines yield their chunks as soon as known).

        Lazy, so a caller may stop early and feed no more (text after overflow);
        otherwise iterate it fully before the next `feed`.
        """
        lines = self._split_short_lines(data)
        return lines if lines is not None else self._feed_bytes(data)

    def _split_short_lines(self, data: bytes) -> list[str] | None:
        """The common case in a few C calls per chunk instead of Python steps per line.

        It applies when no line of `data` can need a cut: every complete line is decoded and
        split at once (an LF is never inside a UTF-8 sequence, so decoding the lines together
        or one by one gives the same text). None: `_feed_bytes` handles this chunk.
        """
        last = data.rfind(b"\n")
        if last < 0 or len(data) - last - 1 > self._maxlen:
            return None
        whole = bytes(self._pending) + data[:last] if self._pending else data[:last]
        if whole.isascii():
            text = whole.decode("ascii")
            longest = self._maxlen - 1  # characters are bytes
        else:
            text = whole.decode("utf-8", "replace")
            longest = (self._maxlen - 1) // 4  # a character holds at most 4 input bytes
        lines = text.split("\n")
        if max(map(len, lines)) > longest:
            return None
        if "\r" in text:
            lines = [line.removesuffix("\r") for line in lines]
        self._pending[:] = data[last + 1:]
        return lines

    def _feed_bytes(self, data: bytes) -> Iterator[str]:
        start = 0
        while True:
            newline = data.find(b"\n", start)
            if newline < 0:
                self._pending += data[start:]
                # More than maxlen bytes without LF: the line is surely too long
                # (at most one of them is a CR that could still be dropped).
                while len(self._pending) > self._maxlen:
                    yield self._take_chunk()
                return
            self._pending += data[start:newline]
            start = newline + 1
            if self._pending.endswith(b"\r"):
                del self._pending[-1]
            yield from self._drain_line()

    def finish(self) -> Iterator[str]:
        """The trailing partial line (if any) once the stream reached end of file."""
        if self._pending:
            yield from self._drain_line()

    def _take_chunk(self) -> str:
        cut = _cut_position(self._pending, self._maxlen - 2)
        chunk = _decode(self._pending[:cut]) + CONTINUATION
        del self._pending[:cut]
        return chunk

    def _drain_line(self) -> Iterator[str]:
        while len(self._pending) > self._maxlen - 1:
            yield self._take_chunk()
        line = _decode(self._pending)
        self._pending.clear()
        yield line
