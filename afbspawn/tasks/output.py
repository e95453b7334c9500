"""Where one task's events go: its own listeners only, and its bounded history.

The starter of a task and those who subscribe explicitly (to the task, or to the command,
which adds them to every task of it) are its listeners; nobody else receives its output
(the C binding's per-task events, issue 14). Everything runs on the event loop thread, so
a replay (history then live) can have no gap and no duplicate: nothing is published
between sending the history and joining the listeners.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from afbspawn.config.model import History
from afbspawn.tasks.history import OutputHistory


class Destination(Protocol):
    """The command's event (afbspawn.afb.host.Event): tasks send to their own listeners."""

    def push_to(self, data: Any, listeners: Iterable[Any]) -> int: ...


@dataclass(frozen=True)
class Replay:
    """What a replaying subscriber got: `events` replayed; `truncated` when older ones fell out."""

    events: int
    truncated: bool


class TaskOutput:
    def __init__(self, event: Destination, history: History, listeners: Iterable[Hashable]) -> None:
        self._event = event
        self._history = OutputHistory(history)
        self.listeners: set[Hashable] = set(listeners)

    def publish(self, data: Any) -> None:
        """Record `data` and send it to the task's listeners (dead connections forgotten)."""
        self._history.add(data)
        if self.listeners:
            self._forget_dead()
            self._event.push_to(data, self.listeners)

    def attach(self, listener: Hashable, replay: bool) -> Replay:
        """Add `listener`; with `replay`, first send it the history (also when it already listens:
        a client back on a new connection may be the same handle, e.g. one per session)."""
        sent = 0
        if replay:
            for data in self._history.events():
                self._event.push_to(data, (listener,))
                sent += 1
        self.listeners.add(listener)
        return Replay(sent, replay and self._history.truncated)

    def history(self) -> list[Any]:
        return self._history.events()

    @property
    def history_truncated(self) -> bool:
        return self._history.truncated

    # -- back-pressure: the task's pipes are read only as fast as its listeners take it --
    def ready(self) -> bool:
        return not any(getattr(listener, "congested", False) for listener in self.listeners)

    def when_ready(self, resume: Callable[[], None]) -> None:
        congested = next((listener for listener in self.listeners if getattr(listener, "congested", False)), None)
        if congested is None:
            resume()
        else:  # checked again once that one drains: others may still be congested
            congested.on_drained(lambda: self.when_ready(resume))

    def detach(self, listener: Hashable) -> None:
        self.listeners.discard(listener)

    def _forget_dead(self) -> None:
        dead = [listener for listener in self.listeners if not getattr(listener, "alive", True)]
        self.listeners.difference_update(dead)
