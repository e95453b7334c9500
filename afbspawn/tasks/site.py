"""What the tasks of one command share, fixed once at load: launcher, encoder, event."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from afbspawn.config.model import Command, Sandbox
from afbspawn.encoders.base import EncoderFactory

DEFAULT_GRACE = 2.0  # seconds a pipe may stay open after its child was reaped


class TaskGroup(Protocol):
    """What contains every process of a task (afbspawn.sandbox.containment)."""

    def peak_rss_kib(self) -> int | None: ...


class Child(Protocol):
    """A launched process (afbspawn.sandbox.Child)."""

    pid: int
    pidfd: int
    group: TaskGroup

    def end(self) -> None: ...

    def release(self) -> bool: ...


class Launcher(Protocol):
    """A compiled sandbox (afbspawn.sandbox.SandboxPlan): the only way tasks start processes,
    and what the `explain` verb describes."""

    def launch(self, cmdpath: str, argv: Sequence[str], stdout_fd: int, stderr_fd: int,
               *, verbose: int = 0) -> Child: ...

    def containment_gap(self) -> str | None: ...

    def explain_steps(self, cmdpath: str, argv: Sequence[str]) -> list[tuple[str, str]]: ...


class RunningTask(Protocol):
    """A task as its command sees it (afbspawn.tasks.task.Task), without importing it."""

    pid: int
    uid: str

    def signal(self, signum: int) -> None: ...


class Publisher(Protocol):
    """The command's event (afbspawn.afb.host.Event): tasks push to it and pace their pipes by it."""

    def push(self, data: Any) -> int: ...

    def ready(self) -> bool: ...

    def when_ready(self, resume: Callable[[], None]) -> None: ...


@dataclass
class CommandSite:
    """One command of one API, ready to run: everything per-launch work needs."""

    api: str
    sandbox: Sandbox
    command: Command
    launcher: Launcher
    encoder: EncoderFactory
    encoder_opts: Mapping[str, Any]
    event: Publisher
    grace: float = DEFAULT_GRACE
    tasks: dict[int, RunningTask] = field(default_factory=dict)  # running tasks by pid
    on_idle: Callable[[], None] | None = None  # called when its last task has finished

    @property
    def synchronous(self) -> bool:
        return self.encoder.synchronous

    def identity(self, pid: int) -> dict[str, Any]:
        """`{api, sandbox, command, pid}`: the head of start replies and initial events."""
        return {"api": self.api, "sandbox": self.sandbox.uid, "command": self.command.uid, "pid": pid}
