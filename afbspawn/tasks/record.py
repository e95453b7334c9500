"""What `list` and `tasks` say about a task: who started it, with what, when, how it ended.

Session ids are credentials in AFB (presenting one joins the session), so a listing shows a
digest of the requester's session, and `own` tells the caller which tasks are its own.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Requester:
    """Who asked for a task: its session, its connection (None for REST), its query args."""

    session: str
    listener: Hashable | None = None
    args: Any = None


def session_digest(session: str) -> str:
    return hashlib.sha256(session.encode()).hexdigest()[:12]


def timestamp(seconds: float) -> str:
    """UTC, ISO 8601 with milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds * 1000) % 1000:03d}Z"


@dataclass
class TaskRecord:
    """One task as listed: filled at start, completed at the end."""

    uid: str
    pid: int | None
    requester: Requester
    state: str = "running"  # queued | running | finished
    started: float = field(default_factory=time.time)
    ended: float | None = None
    status: dict[str, Any] | None = None
    stats: Any = None

    def entry(self, viewer: str) -> dict[str, Any]:
        """The listing entry as `viewer` (a session id) sees it."""
        entry: dict[str, Any] = {"uid": self.uid}
        if self.pid is not None:
            entry["pid"] = self.pid
        entry["state"] = self.state
        entry["started" if self.state != "queued" else "queued"] = timestamp(self.started)
        entry["session"] = session_digest(self.requester.session)
        entry["own"] = self.requester.session == viewer
        entry["args"] = self.requester.args
        if self.ended is not None:
            entry["ended"] = timestamp(self.ended)
        if self.status is not None:
            entry["status"] = self.status
        if self.stats is not None:
            entry["stats"] = self.stats
        return entry
