"""A task's bounded output history: what `subscribe` with replay delivers before live events."""
from __future__ import annotations

from collections import deque
from typing import Any

from afbspawn.config.model import History


def weight(data: Any) -> int:
    """Roughly the text an event carries (its strings), without serialising it again."""
    if type(data) is dict:  # a data event: a flat dict of strings and numbers, walked in one loop
        total = 8 * len(data)
        for value in data.values():
            kind = type(value)
            total += len(value) if kind is str else 8 if kind is int else rule_weight(value)
        return total
    return rule_weight(data)


def rule_weight(data: Any) -> int:
    """The rule weight() follows: strings count their length, containers add 8 per key, 2 per item."""
    if isinstance(data, str):
        return len(data)
    if isinstance(data, dict):
        return sum(rule_weight(value) for value in data.values()) + 8 * len(data)
    if isinstance(data, list):
        return sum(rule_weight(value) for value in data) + 2 * len(data)
    return 8


class OutputHistory:
    """The last events of one task within `lines` events and `bytes` of text; older ones fall out,
    and `truncated` then says so (replay flags it as "replay-truncated")."""

    def __init__(self, limits: History) -> None:
        self._lines = limits.lines
        self._bytes = limits.bytes
        self._events: deque[tuple[Any, int]] = deque()
        self._size = 0
        self.truncated = False

    def add(self, data: Any) -> None:
        if self._lines == 0 or self._bytes == 0:
            self.truncated = True
            return
        size = weight(data)
        self._events.append((data, size))
        self._size += size
        while len(self._events) > self._lines or (self._size > self._bytes and len(self._events) > 1):
            _, dropped = self._events.popleft()
            self._size -= dropped
            self.truncated = True

    def events(self) -> list[Any]:
        return [data for data, _ in self._events]
