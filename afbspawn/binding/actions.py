"""A command verb's request protocol (spec §8) and its new actions (issue 10).

`start` refuses bad arguments, environment and limit conflicts BEFORE anything is launched;
`stop`, `subscribe` and `unsubscribe` address every task of the command or one `pid`;
`list`, `write` and `close` are new. A task's events reach its starter and those who
subscribe to it or to the command (issue 14): never every caller of the command.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, cast

from afbspawn.afb.errors import Status
from afbspawn.afb.host import Event, Request
from afbspawn.binding.queries import (
    Query,
    RequestError,
    checked_env,
    explicit_signal,
    parse_close,
    parse_query,
    parse_subscribe,
    parse_target,
    parse_write,
)
from afbspawn.config.model import Command
from afbspawn.tasks import CommandSite, Task, start_task
from afbspawn.tasks.output import TaskOutput
from afbspawn.tasks.record import Requester, TaskRecord
from afbspawn.tasks.site import PendingStart
from afbspawn.tasks.stdin import StdinClosed, StdinFull

__all__ = ["ArgvBuilder", "CommandVerb", "Query", "RequestError", "parse_query", "parse_target"]

log = logging.getLogger("afbspawn.binding.actions")

ArgvBuilder = Callable[[Command, Any], list[str]]
ACTIONS = ("start", "stop", "subscribe", "unsubscribe", "list", "write", "close")


class CommandVerb:
    """The handler of one command verb; live reload swaps its site, running tasks stay reachable."""

    def __init__(self, site: CommandSite, build_argv: ArgvBuilder) -> None:
        self.site: CommandSite | None = site  # None: removed by a reload, starts are refused
        self.retired: list[CommandSite] = []  # replaced sites whose tasks still run
        self.verb = site.command.verb
        self.event = cast(Event, site.event)  # the same event across reloads
        self.build_argv = build_argv
        self._actions: dict[str, Callable[[Request, Query], None]] = {
            "start": self.start, "stop": self.stop, "subscribe": self.subscribe,
            "unsubscribe": self.unsubscribe, "list": self.list, "write": self.write, "close": self.close,
        }

    def __call__(self, request: Request) -> None:
        try:
            query = parse_query(request.args)
            action = self._actions.get(query.action)
            if action is None:
                raise RequestError(Status.INVALID_REQUEST, "invalid action")
            action(request, query)
        except RequestError as error:
            request.reply(error.status, None, error.info)

    # -- live reload -------------------------------------------------------------------------
    def replace(self, site: CommandSite | None) -> None:
        """The command changed (`site`) or was removed (None); subscribers and history carry over."""
        old = self.site
        if old is None or old is site:
            self.site = site
            return
        if site is not None:
            site.subscribers = old.subscribers
            site.finished.extend(old.finished)
        old.retire()
        if old.tasks or old.waiting:
            self.retired.append(old)
            old.on_idle = lambda: self.retired.remove(old) if old in self.retired else None
        self.site = site

    @property
    def sites(self) -> list[CommandSite]:
        return ([self.site] if self.site is not None else []) + self.retired

    # -- start ---------------------------------------------------------------------------
    def start(self, request: Request, query: Query) -> None:
        site = self.site
        if site is None:
            raise RequestError(Status.BAD_STATE, f"command '{self.verb}' was removed from the config")
        try:
            argv = self.build_argv(site.command, query.args)
        except ValueError as error:
            raise RequestError(Status.INVALID_REQUEST, str(error)) from None
        env = checked_env(site.command.env, query.env)
        verbose = query.verbose if query.verbose is not None else (site.command.verbose or site.sandbox.verbose)
        requester = Requester(request.caller.session, request.listener(self.event), query.args)

        def run() -> None:
            self._launch(site, request, argv, env, verbose, requester)

        if site.has_slot:
            run()
            return
        record = TaskRecord(f"{site.sandbox.uid}/{site.command.uid}", None, requester, state="queued")
        if not site.enqueue(PendingStart(record, run)):
            raise RequestError(Status.INTERNAL_ERROR, site.refusal())

    def _launch(self, site: CommandSite, request: Request, argv: list[str], env: dict[str, str],
                verbose: int, requester: Requester) -> None:
        on_final = (lambda result: request.reply(Status.SUCCESS, result)) if site.synchronous else None
        try:
            task = start_task(site, argv, verbose=verbose, on_final=on_final, requester=requester, env=env)
        except Exception as error:  # noqa: BLE001 (LaunchError, encoder OSError/ValueError: the text says why)
            log.warning("%s: cannot start: %s", site.command.verb, error)
            request.reply(Status.INTERNAL_ERROR, None, str(error))
            return
        if site.synchronous:
            # Sent now, before any output is read: clients see it before older tasks' output.
            task.output.publish({"type": "initial-event", **site.identity(task.pid)})
        else:
            request.reply(Status.SUCCESS, site.identity(task.pid))

    # -- stop, subscribe, unsubscribe ------------------------------------------------------
    def stop(self, request: Request, query: Query) -> None:
        pid, signum = parse_target(query.args)
        tasks = self._targets(pid)
        for task in tasks:
            if explicit_signal(query.args):
                task.signal(signum)
            else:
                task.stop()
        self._reply_uids(request, pid, tasks)

    def subscribe(self, request: Request, query: Query) -> None:
        pid, replay = parse_subscribe(query.args)
        listener = request.listener(self.event)
        if pid is None:
            tasks = self._targets(None)
            if listener is not None:
                for site in self.sites:
                    site.subscribers.add(listener)
                for task in tasks:
                    task.output.attach(listener, replay=False)
            return self._reply_uids(request, None, tasks)
        uid, output = self._output_of(pid)
        if not replay:
            if listener is not None:
                output.attach(listener, replay=False)
            return request.reply(Status.SUCCESS, uid)
        if listener is None:  # REST: the history comes in the reply
            events = output.history()
            reply: dict[str, Any] = {"uid": uid, "replayed": len(events), "events": events}
            truncated = output.history_truncated
        else:
            replayed = output.attach(listener, replay=True)
            reply, truncated = {"uid": uid, "replayed": replayed.events}, replayed.truncated
        if truncated:
            reply["replay-truncated"] = True
        request.reply(Status.SUCCESS, reply)

    def unsubscribe(self, request: Request, query: Query) -> None:
        pid, _ = parse_target(query.args)
        tasks = self._targets(pid)
        listener = request.listener(self.event)
        if listener is not None:
            if pid is None:
                for site in self.sites:
                    site.subscribers.discard(listener)
            for task in tasks:
                task.output.detach(listener)
        self._reply_uids(request, pid, tasks)

    # -- list, write, close ----------------------------------------------------------------
    def list(self, request: Request, query: Query) -> None:
        if query.args is not None:
            raise RequestError(Status.INVALID_REQUEST, "invalid args: list takes none")
        request.reply(Status.SUCCESS, self.entries(request.caller.session))

    def entries(self, viewer: str, everyone: bool | None = None) -> list[dict[str, Any]]:
        """Running, then queued, then finished (newest first) tasks `viewer` may see."""
        everyone = self._open_to_all() if everyone is None else everyone
        return [record.entry(viewer) for record in self._records()
                if everyone or record.requester.session == viewer]

    def _records(self) -> Iterator[TaskRecord]:
        for site in self.sites:
            yield from (task.record for task in site.tasks.values())
        for site in self.sites:
            yield from (pending.record for pending in site.waiting)
        if self.site is not None:
            yield from (finished.record for finished in reversed(self.site.finished))

    def _open_to_all(self) -> bool:
        """Privileged verbs show every task (the caller holds the privilege); open ones only its own."""
        sites = self.sites
        return bool(sites) and sites[0].command.privilege is not None

    def write(self, request: Request, query: Query) -> None:
        pid, data = parse_write(query.args)
        task = self._stdin_task(request, pid)
        assert task.stdin is not None
        try:
            task.stdin.write(data)
        except StdinFull as full:
            raise RequestError(Status.BAD_STATE, f"{full}: retry when the task has read it") from None
        except StdinClosed:
            raise RequestError(Status.BAD_STATE, "stdin is closed") from None
        request.reply(Status.SUCCESS, {"uid": task.uid, "written": len(data), "pending": task.stdin.pending})

    def close(self, request: Request, query: Query) -> None:
        task = self._stdin_task(request, parse_close(query.args))
        assert task.stdin is not None
        task.stdin.close()
        request.reply(Status.SUCCESS, task.uid)

    def _stdin_task(self, request: Request, pid: int) -> Task:
        task = cast(Task, self._targets(pid)[0])
        if not (self._open_to_all() or task.record.requester.session == request.caller.session):
            raise RequestError(Status.INVALID_REQUEST, "invalid pid")  # not its own: as if absent
        if task.stdin is None:
            raise RequestError(Status.BAD_STATE, f"command '{self.verb}' has no stdin (\"stdin\": true)")
        return task

    # -- targets ---------------------------------------------------------------------------
    def _targets(self, pid: int | None) -> list[Task]:
        running = [cast(Task, task) for site in self.sites for task in site.tasks.values()]
        if pid is None:
            return running
        for task in running:
            if task.pid == pid:
                return [task]
        raise RequestError(Status.INVALID_REQUEST, "invalid pid")

    def _output_of(self, pid: int) -> tuple[str, TaskOutput]:
        """A running task's output, or a finished one's (replay after the end)."""
        for site in self.sites:
            task = site.tasks.get(pid)
            if task is not None:
                return task.uid, task.output
            for finished in site.finished:
                if finished.record.pid == pid:
                    return finished.record.uid, finished.output
        raise RequestError(Status.INVALID_REQUEST, "invalid pid")

    @staticmethod
    def _reply_uids(request: Request, pid: int | None, tasks: list[Task]) -> None:
        if pid is None:
            request.reply(Status.SUCCESS, [task.uid for task in tasks])
        else:
            request.reply(Status.SUCCESS, tasks[0].uid)
