"""A command verb's request protocol (spec §8): query parsing and the four actions.

`start` refuses bad arguments and `single` conflicts BEFORE anything is launched; `stop`,
`subscribe` and `unsubscribe` address every task of the command or one `pid`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from afbspawn.afb.errors import Status
from afbspawn.afb.host import Event, Request
from afbspawn.config.model import Command
from afbspawn.tasks import (
    DEFAULT_STOP_SIGNAL,
    CommandSite,
    Task,
    parse_signal,
    start_task,
)

log = logging.getLogger("afbspawn.binding.actions")

QUERY_KEYS = frozenset({"action", "args", "verbose"})
TARGET_KEYS = frozenset({"pid", "signal"})
MAX_REQUEST_VERBOSE = 4

ArgvBuilder = Callable[[Command, Any], list[str]]


class RequestError(Exception):
    """A request refused with an AFB status and an optional info text."""

    def __init__(self, status: Status, info: str | None = None) -> None:
        super().__init__(info or status.name)
        self.status = status
        self.info = info


@dataclass(frozen=True)
class Query:
    action: str  # lower case
    args: Any
    verbose: int | None  # 0..4 when the request overrides the task verbosity


def parse_query(raw: Any) -> Query:
    """The action, args and verbose of a query, exactly as spec §8.1.

    Only an object whose keys are among action/args/verbose, with a string action and
    an integer verbose, is an envelope; anything else is the args of a `start`.
    """
    if raw is None:
        return Query("start", None, None)
    if not _is_envelope(raw):
        return Query("start", raw, None)
    verbose = raw.get("verbose")
    if verbose is not None and not 0 <= verbose <= MAX_REQUEST_VERBOSE:
        verbose = None
    return Query(raw.get("action", "start").lower(), raw.get("args"), verbose)


def _is_envelope(raw: Any) -> bool:
    return (isinstance(raw, dict) and raw.keys() <= QUERY_KEYS
            and isinstance(raw.get("action", ""), str)
            and (raw.get("verbose") is None or _is_int(raw["verbose"])))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_target(args: Any) -> tuple[int | None, int]:
    """`{"pid"?: int, "signal"?: int|str}` of stop/subscribe/unsubscribe → (pid, signal)."""
    if args is None:
        return None, DEFAULT_STOP_SIGNAL
    if not isinstance(args, dict) or not args or not args.keys() <= TARGET_KEYS:
        raise RequestError(Status.INVALID_REQUEST,
                           'invalid args: expected {"pid"?: integer, "signal"?: integer or "SIG..." name}')
    pid = args.get("pid")
    if pid is not None and not _is_int(pid):
        raise RequestError(Status.INVALID_REQUEST, "invalid pid")
    try:
        signum = parse_signal(args["signal"]) if "signal" in args else DEFAULT_STOP_SIGNAL
    except ValueError:
        raise RequestError(Status.INVALID_REQUEST, "invalid signal") from None
    return pid, signum


class CommandVerb:
    """The handler of one command verb."""

    def __init__(self, site: CommandSite, build_argv: ArgvBuilder) -> None:
        self.site = site
        self.event = cast(Event, site.event)  # tasks only push; the verb also subscribes callers
        self.build_argv = build_argv
        self._actions: dict[str, Callable[[Request, Query], None]] = {
            "start": self.start, "stop": self.stop,
            "subscribe": self.subscribe, "unsubscribe": self.unsubscribe,
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

    def start(self, request: Request, query: Query) -> None:
        site = self.site
        if site.command.single and site.tasks:
            running = ", ".join(str(pid) for pid in site.tasks)
            raise RequestError(Status.INTERNAL_ERROR,
                               f"command '{site.command.verb}' is single: it is already running (pid {running})")
        try:
            argv = self.build_argv(site.command, query.args)
        except ValueError as error:
            raise RequestError(Status.INVALID_REQUEST, str(error)) from None
        verbose = query.verbose if query.verbose is not None else (site.command.verbose or site.sandbox.verbose)
        on_final = (lambda result: request.reply(Status.SUCCESS, result)) if site.synchronous else None
        try:
            task = start_task(site, argv, verbose=verbose, on_final=on_final)
        except Exception as error:  # noqa: BLE001 (LaunchError, encoder OSError/ValueError: the text says why)
            log.warning("%s: cannot start: %s", site.command.verb, error)
            raise RequestError(Status.INTERNAL_ERROR, str(error)) from None
        request.subscribe(self.event)
        if site.synchronous:
            # Pushed now, before any output is read: clients see it before older tasks' output.
            self.event.push({"type": "initial-event", **site.identity(task.pid)})
        else:
            request.reply(Status.SUCCESS, site.identity(task.pid))

    def stop(self, request: Request, query: Query) -> None:
        pid, signum = parse_target(query.args)
        tasks = self._targets(pid)
        for task in tasks:
            task.signal(signum)
        self._reply_uids(request, pid, tasks)

    def subscribe(self, request: Request, query: Query) -> None:
        pid, _ = parse_target(query.args)
        tasks = self._targets(pid)
        request.subscribe(self.event)
        self._reply_uids(request, pid, tasks)

    def unsubscribe(self, request: Request, query: Query) -> None:
        pid, _ = parse_target(query.args)
        tasks = self._targets(pid)
        request.unsubscribe(self.event)
        self._reply_uids(request, pid, tasks)

    def _targets(self, pid: int | None) -> list[Task]:
        if pid is None:
            return list(self.site.tasks.values())
        task = self.site.tasks.get(pid)
        if task is None:
            raise RequestError(Status.INVALID_REQUEST, "invalid pid")
        return [task]

    @staticmethod
    def _reply_uids(request: Request, pid: int | None, tasks: list[Task]) -> None:
        if pid is None:
            request.reply(Status.SUCCESS, [task.uid for task in tasks])
        else:
            request.reply(Status.SUCCESS, tasks[0].uid)
