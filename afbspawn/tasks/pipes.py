"""Reading one child pipe to end of file on the event loop, without ever blocking it.

Each wake-up reads a bounded amount (then yields to other tasks), and every chunk goes
straight to the encoder: the binder never holds more than one chunk of a child's output.
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

CHUNK = 65536
CHUNKS_PER_WAKEUP = 4  # fairness: a chatty child cannot starve the other clients


class PipeReader:
    """Feeds `on_data` with what arrives on `fd`, then calls `on_eof` once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int,
                 on_data: Callable[[bytes], None], on_eof: Callable[[], None]) -> None:
        self._loop = loop
        self._fd: int | None = fd
        self._on_data = on_data
        self._on_eof = on_eof
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._readable)

    @property
    def open(self) -> bool:
        return self._fd is not None

    def _readable(self) -> None:
        for _ in range(CHUNKS_PER_WAKEUP):
            if not self._read_once():
                return

    def _read_once(self) -> bool:
        """One read; False when there is nothing more to read right now."""
        if self._fd is None:
            return False
        try:
            data = os.read(self._fd, CHUNK)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            self.close()
            self._on_eof()
            return False
        self._on_data(data)
        return True

    def drain_available(self) -> None:
        """Take what is already buffered in the pipe (used before abandoning it)."""
        while self._read_once():
            pass

    def close(self) -> None:
        """Stop reading and close the fd (idempotent); `on_eof` is not called."""
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None
