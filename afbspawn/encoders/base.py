"""The encoder contract between a running task and the shape of its output.

A task creates one Encoder per launch. It feeds it the bytes read from the child's
stdout and stderr as they arrive, then calls `end` once both pipes reached end of
file and the child was reaped. The encoder emits data events through its sink;
a synchronous encoder's `end` result is merged into the final reply instead.
"""
from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

Stream = Literal["stdout", "stderr"]


class EventSink(Protocol):
    """Where an encoder sends data events; the task prefixes {"type":"data","pid":N}."""

    def push(self, fields: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class TaskContext:
    """What an encoder may know about its task (for log file names, plugins)."""

    api: str
    sandbox: str
    command: str
    pid: int
    expand: Callable[[str], str]  # `$NAME` expansion with the task's context


class Encoder(abc.ABC):
    """One task's output shaper."""

    @abc.abstractmethod
    def feed(self, stream: Stream, data: bytes) -> None:
        """Consume bytes read from `stream` (any chunking; may split UTF-8 sequences)."""

    @abc.abstractmethod
    def end(self) -> dict[str, Any]:
        """Flush what is pending; return the fields merged into a sync reply ({} if none)."""

    def close(self) -> None:
        """Release resources (files); called exactly once, after `end` or on failure."""


class EncoderFactory(abc.ABC):
    """A named encoder kind: validates options at load, creates one Encoder per task."""

    name: ClassVar[str]
    synchronous: ClassVar[bool] = False  # True: output goes in the reply, initial-event at start
    plugin: ClassVar[str | None] = None  # uid of the providing plugin (entry-point encoders)

    @abc.abstractmethod
    def check(self, opts: Mapping[str, Any]) -> Mapping[str, Any]:
        """Validate options at config load; return them normalised. Raise ValueError."""

    @abc.abstractmethod
    def create(self, opts: Mapping[str, Any], sink: EventSink, task: TaskContext) -> Encoder:
        """A fresh encoder for one task (options already checked). May raise OSError."""
