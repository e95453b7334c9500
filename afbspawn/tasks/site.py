"""What the tasks of one command share: launcher, encoder, event, and its task bookkeeping
(running tasks, the last finished ones, command-wide subscribers, the start queue)."""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from afbspawn.config.model import Command, Sandbox
from afbspawn.encoders.base import EncoderFactory
from afbspawn.tasks.output import TaskOutput
from afbspawn.tasks.record import TaskRecord

DEFAULT_GRACE = 2.0  # seconds from a stop signal to SIGKILL, and a pipe may stay open after the reap


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
               *, verbose: int = 0, stdin_fd: int | None = None,
               env: Mapping[str, str] | None = None) -> Child: ...

    def containment_gap(self) -> str | None: ...

    def explain_steps(self, cmdpath: str, argv: Sequence[str]) -> list[tuple[str, str]]: ...


class RunningTask(Protocol):
    """A task as its command sees it (afbspawn.tasks.task.Task), without importing it."""

    pid: int
    uid: str
    record: TaskRecord
    output: TaskOutput

    def signal(self, signum: int) -> None: ...


class Publisher(Protocol):
    """The command's event (afbspawn.afb.host.Event): tasks send to their own listeners."""

    def push_to(self, data: Any, listeners: Iterable[Any]) -> int: ...


@dataclass
class Finished:
    """A finished task kept for `list` and replay."""

    record: TaskRecord
    output: TaskOutput


@dataclass
class PendingStart:
    """A start waiting in the command's queue: `run` launches it and replies."""

    record: TaskRecord
    run: Callable[[], None]


class Budget:
    """The binder-wide `--max-tasks`: running tasks of every command; a freed slot wakes queues."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.running = 0
        self.sites: list[CommandSite] = []

    @property
    def full(self) -> bool:
        return self.limit is not None and self.running >= self.limit

    def released(self) -> None:
        self.running -= 1
        for site in list(self.sites):
            if self.full:
                return
            site.drain()


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
    grace: float = DEFAULT_GRACE  # the binder's default; the command's own `grace` wins
    budget: Budget = field(default_factory=Budget)
    tasks: dict[int, RunningTask] = field(default_factory=dict)  # running tasks by pid
    on_idle: Callable[[], None] | None = None  # called when its last task has finished
    subscribers: set[Hashable] = field(default_factory=set)  # command-wide: later tasks too
    finished: deque[Finished] = field(default_factory=deque)
    waiting: deque[PendingStart] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.finished = deque(self.finished, maxlen=self.command.history.tasks)
        self.budget.sites.append(self)

    @property
    def synchronous(self) -> bool:
        return self.encoder.synchronous

    @property
    def task_grace(self) -> float:
        return self.command.grace if self.command.grace is not None else self.grace

    def identity(self, pid: int) -> dict[str, Any]:
        """`{api, sandbox, command, pid}`: the head of start replies and initial events."""
        return {"api": self.api, "sandbox": self.sandbox.uid, "command": self.command.uid, "pid": pid}

    # -- admission: maxtasks, queue, --max-tasks ------------------------------------------
    @property
    def task_limit(self) -> int | None:
        """`maxtasks`; `single`/`once` is 1."""
        return self.command.maxtasks or (1 if self.command.single else None)

    @property
    def has_slot(self) -> bool:
        limit = self.task_limit
        return (limit is None or len(self.tasks) < limit) and not self.budget.full and not self.waiting

    def refusal(self) -> str:
        """Why a start can neither run nor wait (when `has_slot` is false and the queue is full)."""
        limit = self.task_limit
        pids = ", ".join(str(pid) for pid in self.tasks)
        if limit is not None and len(self.tasks) >= limit:
            if self.command.single and not self.command.queue:
                return f"command '{self.command.verb}' is single: it is already running (pid {pids})"
            text = f"command '{self.command.verb}' runs its maximum of {limit} task(s) (pid {pids})"
        else:
            text = f"the binder runs its maximum of {self.budget.limit} task(s) (--max-tasks)"
        if self.command.queue:
            text += f" and its queue of {self.command.queue} start(s) is full"
        return text

    def enqueue(self, pending: PendingStart) -> bool:
        """Wait for a slot; False when the queue is full."""
        if len(self.waiting) >= self.command.queue:
            return False
        self.waiting.append(pending)
        return True

    def drain(self) -> None:
        """Start what waits, in order, while slots are free."""
        while self.waiting and self._slot_for_waiting():
            self.waiting.popleft().run()

    def _slot_for_waiting(self) -> bool:
        limit = self.task_limit
        return (limit is None or len(self.tasks) < limit) and not self.budget.full

    # -- bookkeeping, called by the task ----------------------------------------------------
    def task_started(self, task: RunningTask) -> None:
        self.tasks[task.pid] = task
        self.budget.running += 1

    def task_ended(self, task: RunningTask) -> None:
        del self.tasks[task.pid]
        self.finished.append(Finished(task.record, task.output))
        self.budget.released()
        self.drain()
        if not self.tasks and not self.waiting and self.on_idle is not None:
            self.on_idle()

    def retire(self) -> None:
        """Live reload removed or replaced this command: forget its queue slot in the budget."""
        if self in self.budget.sites:
            self.budget.sites.remove(self)
