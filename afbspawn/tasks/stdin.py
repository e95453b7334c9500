"""A task's stdin pipe: bounded, non-blocking writes from the event loop.

A write is accepted only when it fits in the pending buffer (`STDIN_BUFFER` bytes); what the
pipe cannot take at once is written when it becomes writable. A full buffer refuses the
write (the client retries later): the binder never blocks on a child that does not read.
"""
from __future__ import annotations

import asyncio
import os

STDIN_BUFFER = 65536


class StdinFull(Exception):
    """The pending buffer cannot take this write now."""


class StdinClosed(Exception):
    """stdin was closed (by `close`, or the child closed its end)."""


class StdinWriter:
    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, limit: int = STDIN_BUFFER) -> None:
        self._loop = loop
        self._fd: int | None = fd
        self._pending = bytearray()
        self._limit = limit
        self._closing = False
        self._watching = False
        os.set_blocking(fd, False)

    @property
    def open(self) -> bool:
        return self._fd is not None and not self._closing

    @property
    def pending(self) -> int:
        return len(self._pending)

    def write(self, data: bytes) -> None:
        """Queue `data` whole or refuse it (StdinFull / StdinClosed)."""
        if not self.open:
            raise StdinClosed
        if len(self._pending) + len(data) > self._limit:
            raise StdinFull(f"stdin buffer full ({len(self._pending)} of {self._limit} bytes pending)")
        self._pending += data
        self._flush()

    def close(self) -> None:
        """Close once what is pending was written (at once if nothing is)."""
        if self._fd is None:
            return
        self._closing = True
        self._flush()

    def abandon(self) -> None:
        """The task ended: drop what is pending and close now."""
        self._pending.clear()
        self._shut()

    def _flush(self) -> None:
        assert self._fd is not None
        while self._pending:
            try:
                written = os.write(self._fd, self._pending)
            except BlockingIOError:
                break
            except OSError:  # EPIPE: the child closed its stdin; nothing can reach it any more
                self.abandon()
                return
            del self._pending[:written]
        if self._pending and not self._watching:
            self._loop.add_writer(self._fd, self._flush)
            self._watching = True
        elif not self._pending:
            if self._watching:
                self._loop.remove_writer(self._fd)
                self._watching = False
            if self._closing:
                self._shut()

    def _shut(self) -> None:
        if self._fd is None:
            return
        if self._watching:
            self._loop.remove_writer(self._fd)
            self._watching = False
        os.close(self._fd)
        self._fd = None
