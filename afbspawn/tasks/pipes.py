"""Reading one child pipe to end of file on the event loop, without ever blocking it.

Each wake-up reads at most one CHUNK (then yields to other tasks and clients), and
every chunk goes straight to the encoder: the binder never holds more than one chunk
of a child's output. Reading is paced by a `Gate` (the task's event): while one of its
subscribers cannot take more, the pipe is not read, so the child blocks on write as
on a slow terminal and no output is dropped or piled up.
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Protocol

CHUNK = 2048  # bytes per wake-up: bounds one task's share of a loop pass (docs/security.md)


class Gate(Protocol):
    """Back-pressure from where the output goes (afbspawn.afb.host.Event)."""

    def ready(self) -> bool: ...

    def when_ready(self, resume: Callable[[], None]) -> None: ...


class PipeReader:
    """Feeds `on_data` with what arrives on `fd`, then calls `on_eof` once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int,
                 on_data: Callable[[bytes], None], on_eof: Callable[[], None], gate: Gate | None = None) -> None:
        self._loop = loop
        self._fd: int | None = fd
        self._on_data = on_data
        self._on_eof = on_eof
        self._gate = gate
        self.paused = False  # waiting for the gate: the pipe is full of unread output
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._readable)

    @property
    def open(self) -> bool:
        return self._fd is not None

    def _readable(self) -> None:
        if self._gate is not None and not self._gate.ready():
            self._pause(self._gate)
            return
        self._read_once()

    def _pause(self, gate: Gate) -> None:
        if self._fd is not None and not self.paused:
            self.paused = True
            self._loop.remove_reader(self._fd)
            gate.when_ready(self._resume)

    def _resume(self) -> None:
        if self._fd is not None and self.paused:
            self.paused = False
            self._loop.add_reader(self._fd, self._readable)

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
            self.paused = False
