"""The builtin verbs every spawn API has: `ping`, `info` (spec §10.1-10.2) and `tasks` (new)."""
from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from afbspawn.afb.errors import Status
from afbspawn.afb.host import Request
from afbspawn.binding.actions import CommandVerb
from afbspawn.config.model import Api, Command

_pongs = itertools.count(1)  # process-wide, shared by every API (as the C binding)


def ping(request: Request) -> None:
    request.reply(Status.SUCCESS, f"pong={next(_pongs)}")


def describe(api: Api) -> dict[str, Any]:
    """The `info` reply, key order included: what afb-ui-devtools reads."""
    groups = []
    for sandbox in api.sandboxes:
        group: dict[str, Any] = {"uid": sandbox.uid}
        _put(group, "info", sandbox.info)
        group["verbs"] = [_verb(command) for owner, command in api.commands if owner.uid == sandbox.uid]
        groups.append(group)
    metadata: dict[str, Any] = {"uid": api.metadata.uid}
    for key in ("info", "version", "author"):
        _put(metadata, key, getattr(api.metadata, key))
    return {"groups": groups, "metadata": metadata}


def _verb(command: Command) -> dict[str, Any]:
    verb: dict[str, Any] = {"uid": command.uid, "verb": command.verb}
    _put(verb, "info", command.info)
    _put(verb, "sample", command.sample)
    usage: dict[str, Any] = {"action": ["start", "stop"]}
    _put(usage, "args", command.usage)
    verb["usage"] = usage
    return verb


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


def info_verb(api: Api) -> Callable[[Request], None]:
    """The `info` handler of `api` (its reply is computed once: the config is frozen)."""
    reply = describe(api)

    def info(request: Request) -> None:
        request.reply(Status.SUCCESS, reply)

    return info


def tasks_verb(verbs: Callable[[], Sequence[CommandVerb]]) -> Callable[[Request], None]:
    """`tasks`: the caller's own tasks of every command, by verb (this verb is open: whether the
    caller holds a command's privilege is not known here; that command's `list` shows all)."""

    def tasks(request: Request) -> None:
        viewer = request.caller.session
        request.reply(Status.SUCCESS, {verb.verb: verb.entries(viewer, everyone=False) for verb in verbs()})

    return tasks
