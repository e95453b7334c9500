"""The end of a task: what it cost (`stats` of the final event), and its cgroup leaf removed
once the kernel says it is empty, without blocking the event loop."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from afbspawn.tasks.reaper import Reaped
from afbspawn.tasks.site import Child

log = logging.getLogger("afbspawn.tasks")

REMOVE_POLL = 0.02  # seconds between two looks at cgroup.events
REMOVE_WAIT = 10.0  # a leaf still populated after this is logged and left to the exit clean-up


def task_stats(wall: float, reaped: Reaped | None, peak_rss_kib: int | None) -> dict[str, Any]:
    """Wall time, CPU times of the reaped child (and the children it waited for), peak RSS
    (memory.peak of the task's leaf where present, else the child's rusage)."""
    stats: dict[str, Any] = {"wall_s": round(wall, 3)}
    if reaped is not None:
        stats["user_s"] = round(reaped.rusage.ru_utime, 3)
        stats["system_s"] = round(reaped.rusage.ru_stime, 3)
        if peak_rss_kib is None:
            peak_rss_kib = reaped.rusage.ru_maxrss
    if peak_rss_kib is not None:
        stats["peak_rss_kib"] = peak_rss_kib
    return stats


def remove_when_empty(loop: asyncio.AbstractEventLoop, child: Child, uid: str) -> None:
    """Release the child; if its leaf is still populated, look again until it can be removed."""
    if child.release():
        return
    deadline = loop.time() + REMOVE_WAIT

    def again() -> None:
        if child.release():
            return
        if loop.time() > deadline:
            log.warning("task %s: its cgroup leaf is still populated after %.0fs", uid, REMOVE_WAIT)
            return
        loop.call_later(REMOVE_POLL, again)

    loop.call_later(REMOVE_POLL, again)
