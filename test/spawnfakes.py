"""Helpers for the unit tests of tasks/actions.

- FakeHost/FakeRequest/FakeEvent: an in-memory host (a FAKE of afbspawn.afb.host) that
  records replies and pushes; the compatibility and reliability suites use the real binder.
- RecordingLauncher: the real sandbox launcher (an unconfined plan) recording its children.
- CollectFactory: a minimal encoder (every chunk kept per stream) so task tests do not
  depend on the encoders' own shapes.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from afbspawn.afb.host import Caller, Event, Request
from afbspawn.config.model import Sandbox
from afbspawn.encoders.base import (
    Encoder,
    EncoderFactory,
    EventSink,
    Stream,
    TaskContext,
)
from afbspawn.sandbox import Child, SandboxPlan, compile_plan


class FakeEvent(Event):
    def __init__(self, name: str) -> None:
        self._name = name
        self.pushed: list[Any] = []
        self.listeners: set[int] = set()
        self.received: dict[Any, list[Any]] = {}

    @property
    def name(self) -> str:
        return self._name

    def push(self, data: Any) -> int:
        self.pushed.append(data)
        return len(self.listeners)

    def push_to(self, data: Any, listeners: Iterable[Any]) -> int:
        """Recorded per client: `received[client]` is what that client got, in order."""
        targets = set(listeners)
        self.pushed.append(data)
        for client in targets:
            self.received.setdefault(client, []).append(data)
        return len(targets)

    def close(self) -> None:
        self.listeners.clear()


class FakeRequest(Request):
    def __init__(self, args: Any = None, client: int | None = 1, session: str = "s") -> None:
        self.api, self.verb, self.args = "api", "verb", args
        self.caller = Caller(session=session)
        self.client = client
        self.replies: list[tuple[int, Any, str | None]] = []
        self.done = asyncio.get_running_loop().create_future()

    def reply(self, status: int = 0, data: Any = None, info: str | None = None) -> None:
        self.replies.append((int(status), data, info))
        if not self.done.done():
            self.done.set_result((int(status), data, info))

    @property
    def replied(self) -> bool:
        return bool(self.replies)

    def subscribe(self, event: Event) -> None:
        assert isinstance(event, FakeEvent)
        event.listeners.add(self.client)

    def unsubscribe(self, event: Event) -> None:
        assert isinstance(event, FakeEvent)
        event.listeners.discard(self.client)

    def listener(self, event: Event) -> Any:
        """The client number stands for its connection (None: a REST caller)."""
        return self.client


@dataclass
class RecordingLauncher:
    """The real sandbox launcher (an unconfined plan) that remembers the children it started."""

    plan: SandboxPlan = field(default_factory=lambda: compile_plan(Sandbox(uid="unit")))
    launched: list[Child] = field(default_factory=list)

    def launch(self, cmdpath: str, argv: Sequence[str], stdout_fd: int, stderr_fd: int,
               *, verbose: int = 0, stdin_fd: int | None = None, env: Mapping[str, str] | None = None) -> Child:
        child = self.plan.launch(cmdpath, argv, stdout_fd, stderr_fd, verbose=verbose, stdin_fd=stdin_fd, env=env)
        self.launched.append(child)
        return child

    def explain_steps(self, cmdpath: str, argv: Sequence[str]) -> list[tuple[str, str]]:
        return self.plan.explain_steps(cmdpath, argv)

    def containment_gap(self) -> str | None:
        return self.plan.containment_gap()


class CollectEncoder(Encoder):
    def __init__(self, sink: EventSink, synchronous: bool) -> None:
        self.sink, self.synchronous = sink, synchronous
        self.data: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}

    def feed(self, stream: Stream, data: bytes) -> None:
        self.data[stream] += data

    def end(self) -> dict[str, Any]:
        fields = {k: v.decode(errors="replace") for k, v in self.data.items() if v}
        if self.synchronous:
            return fields
        self.sink.push(fields)
        return {}


class CollectFactory(EncoderFactory):
    name = "collect"

    def __init__(self, synchronous: bool = False) -> None:
        self.synchronous = synchronous  # type: ignore[misc]

    def check(self, opts: Mapping[str, Any]) -> Mapping[str, Any]:
        return opts

    def create(self, opts: Mapping[str, Any], sink: EventSink, task: TaskContext) -> Encoder:
        return CollectEncoder(sink, self.synchronous)
