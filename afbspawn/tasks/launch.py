"""Starting one task: pipes, the sandbox launch, the encoder, then the Task that runs it."""
from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from typing import Any

from afbspawn.encoders.base import TaskContext
from afbspawn.tasks.expand import task_expander
from afbspawn.tasks.output import TaskOutput
from afbspawn.tasks.reaper import reap_now
from afbspawn.tasks.record import Requester
from afbspawn.tasks.site import CommandSite
from afbspawn.tasks.task import FinalCallback, Task


def start_task(site: CommandSite, argv: Sequence[str], *, verbose: int = 0,
               on_final: FinalCallback | None = None, requester: Requester | None = None,
               env: Mapping[str, str] | None = None) -> Task:
    """Launch `argv` in the command's sandbox and return its running Task.

    Its events reach the requester's connection and the command's subscribers only.
    Errors of the launcher (afbspawn.sandbox.LaunchError) and of the encoder (OSError,
    e.g. a log file that cannot be opened) propagate after everything was cleaned up:
    no fd, no process and no zombie is left behind.
    """
    requester = requester or Requester("internal")
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    in_r, in_w = os.pipe2(os.O_CLOEXEC) if site.command.stdin else (None, None)
    launched = asyncio.get_running_loop().time()
    try:
        child = site.launcher.launch(site.command.cmdpath, argv, out_w, err_w, verbose=verbose,
                                     stdin_fd=in_r, env=env)
    except BaseException:
        _close(out_r, err_r, in_w)
        raise
    finally:
        _close(out_w, err_w, in_r)
    listeners = set(site.subscribers)
    if requester.listener is not None:
        listeners.add(requester.listener)
    output = TaskOutput(site.event, site.command.history, listeners)
    try:
        encoder = site.encoder.create(site.encoder_opts, _Sink(output, child.pid), _context(site, child.pid))
    except BaseException:
        _close(out_r, err_r, in_w)
        child.end()
        reap_now(child.pidfd)
        child.release()
        raise
    return Task(site, child, encoder, out_r, err_r, on_final, verbose, output, requester, in_w, launched=launched)


def _close(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            os.close(fd)


class _Sink:
    """Turns an encoder's fields into the task's data event `{"type":"data","pid":N,...}`."""

    def __init__(self, output: TaskOutput, pid: int) -> None:
        self._output = output
        self._pid = pid

    def push(self, fields: dict[str, Any]) -> None:
        self._output.publish({"type": "data", "pid": self._pid, **fields})


def _context(site: CommandSite, pid: int) -> TaskContext:
    return TaskContext(api=site.api, sandbox=site.sandbox.uid, command=site.command.uid, pid=pid,
                       expand=task_expander(site, pid))
