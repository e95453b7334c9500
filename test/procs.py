"""What /proc says about processes: children, group members, open fds, memory."""
from __future__ import annotations

import os
import time


def _stats() -> list[tuple[int, str, int, int]]:
    """(pid, state, ppid, pgrp) of every process still visible."""
    rows = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            rows.append((int(entry), fields[0], int(fields[1]), int(fields[2])))
    return rows


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, state) of the children of `pid`, zombies included (state "Z")."""
    return [(child, state) for child, state, ppid, _ in _stats() if ppid == pid]


def live_members(pgid: int) -> list[int]:
    """Processes of group `pgid` that are not zombies (orphans are reaped by init, later)."""
    return [pid for pid, state, _, pgrp in _stats() if pgrp == pgid and state != "Z"]


def members_gone(pgid: int, seconds: float = 5.0) -> bool:
    """Whether group `pgid` empties within `seconds` (SIGKILL is delivered asynchronously)."""
    deadline = time.monotonic() + seconds
    while live_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not live_members(pgid)


def open_fds(pid: int | str = "self") -> set[str]:
    return set(os.listdir(f"/proc/{pid}/fd"))


def status_kib(pid: int, key: str) -> int:
    """A `kB` figure of /proc/PID/status, e.g. VmRSS or VmHWM."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    raise KeyError(key)
