"""Starting one task: pipes, the sandbox launch, the encoder, then the Task that runs it."""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from afbspawn.encoders.base import TaskContext
from afbspawn.tasks.expand import task_expander
from afbspawn.tasks.reaper import reap_now
from afbspawn.tasks.site import CommandSite
from afbspawn.tasks.task import FinalCallback, Task


def start_task(site: CommandSite, argv: Sequence[str], *, verbose: int = 0,
               on_final: FinalCallback | None = None) -> Task:
    """Launch `argv` in the command's sandbox and return its running Task.

    Errors of the launcher (afbspawn.sandbox.LaunchError) and of the encoder (OSError,
    e.g. a log file that cannot be opened) propagate after everything was cleaned up:
    no fd, no process and no zombie is left behind.
    """
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    try:
        child = site.launcher.launch(site.command.cmdpath, argv, out_w, err_w, verbose=verbose)
    except BaseException:
        os.close(out_r)
        os.close(err_r)
        raise
    finally:
        os.close(out_w)
        os.close(err_w)
    try:
        encoder = site.encoder.create(site.encoder_opts, _Sink(site, child.pid), _context(site, child.pid))
    except BaseException:
        os.close(out_r)
        os.close(err_r)
        child.end()
        reap_now(child.pidfd)
        child.release()
        raise
    return Task(site, child, encoder, out_r, err_r, on_final, verbose)


class _Sink:
    """Turns an encoder's fields into the command's data event `{"type":"data","pid":N,...}`."""

    def __init__(self, site: CommandSite, pid: int) -> None:
        self._event = site.event
        self._pid = pid

    def push(self, fields: dict[str, Any]) -> None:
        self._event.push({"type": "data", "pid": self._pid, **fields})


def _context(site: CommandSite, pid: int) -> TaskContext:
    return TaskContext(api=site.api, sandbox=site.sandbox.uid, command=site.command.uid, pid=pid,
                       expand=task_expander(site, pid))
