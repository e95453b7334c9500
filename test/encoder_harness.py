"""Drive an encoder the way a task does: feed chunks per stream, then `end`."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from afbspawn.config.model import EncoderSpec
from afbspawn.encoders.base import Stream, TaskContext
from afbspawn.encoders.registry import find_factory


@dataclass
class ListSink:
    """Keeps every pushed event, as the task would forward them."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def push(self, fields: dict[str, Any]) -> None:
        self.events.append(fields)


@dataclass
class CountingSink:
    """Counts event keys without keeping events (memory tests measure the encoder only)."""

    keys: Counter[str] = field(default_factory=Counter)

    def push(self, fields: dict[str, Any]) -> None:
        self.keys.update(fields.keys())


def task_context(variables: Mapping[str, str] | None = None) -> TaskContext:
    """A task context whose `expand` substitutes `$NAME` from `variables`.

    The real expansion belongs to the config/task code; this stand-in only has to
    show that the encoder routes its paths through `expand`.
    """
    values = dict(variables or {})

    def expand(text: str) -> str:
        for name, value in values.items():
            text = text.replace(f"${name}", value)
        return text

    return TaskContext(api="api", sandbox="sandbox", command="cmd", pid=42, expand=expand)


def run(
    name: str,
    feeds: Iterable[tuple[Stream, bytes]],
    opts: Mapping[str, Any] | None = None,
    plugin: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Events pushed and fields returned by `end` for these feeds."""
    factory = find_factory(EncoderSpec(name, plugin))
    checked = factory.check(opts or {})
    sink = ListSink()
    encoder = factory.create(checked, sink, task_context())
    try:
        for stream, data in feeds:
            encoder.feed(stream, data)
        result = encoder.end()
    finally:
        encoder.close()
    return sink.events, result


def chunked(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """`data` split at the given offsets (any order, duplicates allowed)."""
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in pairwise(points)]
