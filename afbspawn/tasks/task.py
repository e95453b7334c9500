"""One running task: pipes pumped into its encoder, child reaped, then one final result.

The result (final event, or the sync reply) goes out only once BOTH pipes reached end of
file AND the child was reaped — the C binding reaped on the first hang-up and lost the
other pipe's tail. A grandchild keeping a pipe open cannot hang the task: `grace` seconds
after the reap its process group is killed, what is buffered is read, and the result is
flagged `"truncated": true`.

Stop is graceful: the command's stop signal (the C's SIGINT by default), then SIGKILL of the
whole task `grace` seconds later; a timeout does the same (SIGKILL at once unless the command
names a `stop` signal, as the C). The final status says why: `"info": "stop" | "timeout"`.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from afbspawn.encoders.base import Encoder, Stream
from afbspawn.tasks.ending import remove_when_empty, task_stats
from afbspawn.tasks.output import TaskOutput
from afbspawn.tasks.pipes import PipeReader
from afbspawn.tasks.reaper import ExitWatch, Reaped
from afbspawn.tasks.record import Requester, TaskRecord
from afbspawn.tasks.site import Child, CommandSite
from afbspawn.tasks.status import DEFAULT_STOP_SIGNAL, exit_status
from afbspawn.tasks.stdin import StdinWriter

log = logging.getLogger("afbspawn.tasks")

FinalCallback = Callable[[dict[str, Any]], None]


class Task:
    """Lifecycle of one launched child; created by `afbspawn.tasks.launch.start_task`."""

    def __init__(self, site: CommandSite, child: Child, encoder: Encoder, stdout_fd: int,
                 stderr_fd: int, on_final: FinalCallback | None, verbose: int, output: TaskOutput,
                 requester: Requester, stdin_fd: int | None = None, *, launched: float) -> None:
        self.site = site
        self.child = child
        self.pid = child.pid
        self.uid = f"{site.sandbox.uid}/{site.command.uid}@{child.pid}"
        self.verbose = verbose
        self.output = output
        self.record = TaskRecord(self.uid, self.pid, requester)
        self._encoder = encoder
        self._on_final = on_final  # sync encoders: the reply; None: the final event
        self._status: dict[str, Any] | None = None
        self._reason: str | None = None  # "stop" | "timeout": why the task was ended
        self._truncated = False
        self._done = False
        self._encoder_failed = False
        loop = asyncio.get_running_loop()
        self.stdin = StdinWriter(loop, stdin_fd) if stdin_fd is not None else None
        self._pipes = [self._reader(loop, stdout_fd, "stdout"), self._reader(loop, stderr_fd, "stderr")]
        self._started = launched  # loop time right before the launch: the wall time covers the child's life
        self._reaped_info: Reaped | None = None
        self._watch = ExitWatch(loop, child.pidfd, self._reaped, child.pid)
        timeout = site.command.timeout or site.sandbox.timeout
        self._timer: asyncio.TimerHandle | None = loop.call_later(timeout, self._expire) if timeout else None
        self._kill_timer: asyncio.TimerHandle | None = None
        site.task_started(self)
        if verbose >= 1:
            log.info("[taskid-created] uid='%s' pid=%d", self.uid, self.pid)

    def _reader(self, loop: asyncio.AbstractEventLoop, fd: int, stream: Stream) -> PipeReader:
        return PipeReader(loop, fd, lambda data: self._feed(stream, data), self._maybe_finish, self.output)

    def _feed(self, stream: Stream, data: bytes) -> None:
        """Hand output to the encoder; a failing (plugin) encoder loses the rest, flagged, never the binder."""
        if self._encoder_failed:
            return
        try:
            self._encoder.feed(stream, data)
        except Exception:
            log.exception("task %s: encoder failed: the rest of its output is dropped", self.uid)
            self._encoder_failed = self._truncated = True

    @property
    def running(self) -> bool:
        """Not yet reaped: signals may still reach it."""
        return self._status is None

    def signal(self, signum: int) -> None:
        """Send `signum` to the task's process group (its leader is the child); SIGKILL ends
        every process of the task, those that left the group included (its cgroup leaf)."""
        if self._done:
            return
        if self.verbose >= 2:
            log.info("task %s: signal %d", self.uid, signum)
        if signum == signal.SIGKILL:
            self.child.end()
            return
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            pass  # the group is already empty; the pipes/reaper finish the task

    def stop(self) -> None:
        """Graceful stop: the command's stop signal now, SIGKILL of the whole task after grace."""
        if self._status is not None:
            return
        self._reason = self._reason or "stop"
        self.signal(self.site.command.stop or DEFAULT_STOP_SIGNAL)
        self._arm_kill()

    def _expire(self) -> None:
        self._timer = None
        self._reason = "timeout"
        log.info("Terminating task uid=%s (timeout)", self.uid)
        if self.site.command.stop is None:
            self.signal(signal.SIGKILL)  # the C binding's timeout
        else:
            self.signal(self.site.command.stop)
            self._arm_kill()

    def _arm_kill(self) -> None:
        if self._kill_timer is None:
            self._kill_timer = asyncio.get_running_loop().call_later(self.site.task_grace, self._kill)

    def _kill(self) -> None:
        self._kill_timer = None
        self.signal(signal.SIGKILL)

    def _reaped(self, info: Reaped | None) -> None:
        self._reaped_info = info
        self._status = exit_status(info)
        if self._reason is not None and "signal" in self._status:
            self._status["info"] = self._reason
        self._cancel_timer()
        if self._kill_timer is not None:
            self._kill_timer.cancel()
            self._kill_timer = None
        if any(p.open for p in self._pipes):
            self._timer = asyncio.get_running_loop().call_later(self.site.task_grace, self._abandon_pipes)
        self._maybe_finish()

    def _abandon_pipes(self) -> None:
        """Grace is over: kill what still holds the pipes, keep what they buffered, flag it.

        A pipe paused by a slow subscriber is not held by anyone: its output is still
        coming, so grace starts again once the subscriber has taken it or was closed.
        """
        loop = asyncio.get_running_loop()
        if any(pipe.paused for pipe in self._pipes):
            self._timer = loop.call_later(self.site.grace, self._abandon_pipes)
            return
        self._timer = None
        held = [pipe for pipe in self._pipes if pipe.open]
        self._truncated = self._truncated or bool(held)  # before draining: reaching EOF may finish the task
        self.signal(signal.SIGKILL)
        for pipe in held:
            pipe.drain_available()
            pipe.close()
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        if self._done or self._status is None or any(p.open for p in self._pipes):
            return
        self._done = True
        self._cancel_timer()
        try:
            fields = {} if self._encoder_failed else self._encoder.end()
        except Exception:
            log.exception("task %s: encoder failed at end", self.uid)
            fields, self._truncated = {}, True
        finally:
            self._encoder.close()
            stats = task_stats(asyncio.get_running_loop().time() - self._started, self._reaped_info,
                               self.child.group.peak_rss_kib())
            remove_when_empty(asyncio.get_running_loop(), self.child, self.uid)
            if self.stdin is not None:
                self.stdin.abandon()
        self._deliver(fields, stats)
        self.record.state, self.record.ended = "finished", time.time()
        self.record.status, self.record.stats = self._status, stats
        self.site.task_ended(self)

    def _deliver(self, fields: dict[str, Any], stats: dict[str, Any]) -> None:
        assert self._status is not None
        if self._on_final is not None:
            result = self.site.identity(self.pid)
            result["status"] = self._status
            result.update(fields)
        else:
            result = {"type": "final-event", "pid": self.pid, "status": self._status, "stats": stats}
        if self._truncated:
            result["truncated"] = True
        if self.verbose >= 3:
            log.info("task %s: final %s", self.uid, self._status)
        if self._on_final is not None:
            self._on_final(result)
        else:
            self.output.publish(result)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
