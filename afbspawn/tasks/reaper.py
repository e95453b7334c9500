"""Reaping a child through its pidfd: the loop wakes when it exits, no SIGCHLD, no blocking wait."""
from __future__ import annotations

import asyncio
import os
from collections.abc import Callable


class ExitWatch:
    """Calls `on_exit(waitid_result)` once the process behind `pidfd` has exited and is reaped
    (`None` when another waiter reaped it first: the status is then unknown)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pidfd: int,
                 on_exit: Callable[[os.waitid_result | None], None]) -> None:
        self._loop = loop
        self._pidfd: int | None = pidfd
        self._on_exit = on_exit
        loop.add_reader(pidfd, self._ready)

    def _ready(self) -> None:
        if self._pidfd is None:
            return
        try:
            info = os.waitid(os.P_PIDFD, self._pidfd, os.WEXITED | os.WNOHANG)
        except ChildProcessError:  # reaped behind our back (a stray waitpid(-1)): status unknown
            info = None
        else:
            if info is None:  # spurious wake-up: still running
                return
        self.close()
        self._on_exit(info)

    def close(self) -> None:
        """Stop watching (the pidfd itself belongs to the launcher's Child)."""
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            self._pidfd = None


def reap_now(pidfd: int) -> None:
    """Blocking reap, for the rare path where a child was killed before its task existed."""
    try:
        os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
    except ChildProcessError:
        pass
