"""`log`: copy the child's output, raw, to files or to the binder's own stdio.

Targets come from the `stdout`/`stderr` options, `$`-expanded with the task's
context and opened in append mode when the task starts, so a path that cannot be
opened fails the start with a clear OSError (the C binding answered an error but
kept the task running and crashed later). Without a target the binder's own
stdout/stderr receive the bytes; everything is flushed when the task ends.
No data event is pushed, except a `log-error` if writing fails.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from contextlib import ExitStack, suppress
from typing import Any, BinaryIO

from afbspawn.encoders.base import (
    Encoder,
    EncoderFactory,
    EventSink,
    Stream,
    TaskContext,
)
from afbspawn.encoders.options import optional_str, reject_unknown
from afbspawn.encoders.text import STREAMS


def _binder_stream(stream: Stream) -> BinaryIO:
    """The binder's own stdout/stderr as bytes, text layer flushed first to keep order."""
    text = sys.stdout if stream == "stdout" else sys.stderr
    binary: BinaryIO | None = getattr(text, "buffer", None)
    if binary is None:  # closed stdio (daemon) or a replaced text-only stream
        raise OSError(
            f"log encoder: the binder's {stream} has no byte stream to write to"
        )
    text.flush()
    return binary


class LogEncoder(Encoder):
    """Writes each stream to its target; a target that fails is reported once, then skipped.

    A write error (disk full, closed binder stdout) must not break the task: it is
    pushed as `{"log-error": "<stream>: <reason>"}` so the loss is never silent.
    """

    def __init__(
        self, targets: dict[Stream, BinaryIO], owned: ExitStack, sink: EventSink
    ) -> None:
        self._targets = targets
        self._owned = owned
        self._sink = sink

    def feed(self, stream: Stream, data: bytes) -> None:
        self._guarded(stream, lambda target: target.write(data))

    def end(self) -> dict[str, Any]:
        for stream in list(self._targets):
            self._guarded(stream, lambda target: target.flush())
        return {}

    def close(self) -> None:
        # end() already flushed, or reported the target that failed: closing such a
        # target retries its buffered bytes and fails again, which says nothing new
        with suppress(OSError):
            self._owned.close()

    def _guarded(self, stream: Stream, action: Callable[[BinaryIO], object]) -> None:
        target = self._targets.get(stream)
        if target is None:
            return
        try:
            action(target)
        except OSError as error:
            del self._targets[stream]
            self._sink.push({"log-error": f"{stream}: {error.strerror or error}"})


class LogFactory(EncoderFactory):
    name = "log"

    def check(self, opts: Mapping[str, Any]) -> Mapping[str, Any]:
        reject_unknown(opts, STREAMS, self.name)
        return {s: optional_str(opts, s, self.name) for s in STREAMS}

    def create(
        self, opts: Mapping[str, Any], sink: EventSink, task: TaskContext
    ) -> Encoder:
        with ExitStack() as owned:
            targets: dict[Stream, BinaryIO] = {}
            for stream in STREAMS:
                path = opts.get(stream)
                if path is None:
                    targets[stream] = _binder_stream(stream)
                    continue
                expanded = task.expand(path)
                try:
                    targets[stream] = owned.enter_context(open(expanded, "ab"))
                except OSError as error:
                    raise OSError(
                        error.errno,
                        f"log encoder: cannot open {stream} file {expanded!r}: "
                        f"{error.strerror}",
                    ) from error
            return LogEncoder(targets, owned.pop_all(), sink)
