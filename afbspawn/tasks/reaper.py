"""Reaping a child through its pidfd: the loop wakes when it exits, no SIGCHLD, no blocking wait.

The reap itself is a wait4 on the (still unreaped, so not reusable) pid: it also gives the
child's resource usage, the CPU times and peak RSS of the final event's `stats`.
"""
from __future__ import annotations

import asyncio
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Reaped:
    """How a child ended, shaped like os.waitid_result (si_code, si_status), and its rusage."""

    si_code: int
    si_status: int
    rusage: resource.struct_rusage


def _reap(pid: int) -> Reaped | None:
    """None while it still runs; ChildProcessError when someone else reaped it."""
    reaped, status, rusage = os.wait4(pid, os.WNOHANG)
    if reaped == 0:
        return None
    if os.WIFSIGNALED(status):
        code = os.CLD_DUMPED if os.WCOREDUMP(status) else os.CLD_KILLED
        return Reaped(code, os.WTERMSIG(status), rusage)
    return Reaped(os.CLD_EXITED, os.WEXITSTATUS(status), rusage)


class ExitWatch:
    """Calls `on_exit(Reaped)` once the process `pid` behind `pidfd` has exited and is reaped
    (`None` when another waiter reaped it first: the status is then unknown)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pidfd: int,
                 on_exit: Callable[[Reaped | None], None], pid: int) -> None:
        self._loop = loop
        self._pidfd: int | None = pidfd
        self._pid = pid
        self._on_exit = on_exit
        loop.add_reader(pidfd, self._ready)

    def _ready(self) -> None:
        if self._pidfd is None:
            return
        try:
            info = _reap(self._pid)
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
