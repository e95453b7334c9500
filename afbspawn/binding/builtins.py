"""The builtin verbs every spawn API has: `ping` and `info` (spec §10.1-10.2), and `explain`
(new): the steps a command's sandbox applies, what `afb-spawn run --explain` prints."""
from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from afbspawn.afb.errors import Status
from afbspawn.afb.host import Request
from afbspawn.config.argv import ArgumentError, build_argv, written_argv
from afbspawn.config.model import Api, Command, Sandbox
from afbspawn.tasks.site import Launcher

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
    _put(verb, "args", command.args_schema)  # new, only when the config declares one: C transcripts unchanged
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


EXPLAIN = "explain"


def explain_verb(api: Api, plans: Mapping[str, Launcher]) -> Callable[[Request], None]:
    """The `explain` handler: `{"verb": V, "args"?: {...}}` -> the steps V's sandbox applies.

    Without `args` the command line shows its placeholders as written (`%dirname%`); with
    them it is the argv a start would run, or the argument error a start would get. A
    command guarded by a privilege is not explained (its sandbox details stay as guarded
    as the command itself): `afb-spawn run --explain` on the binder's machine shows it.
    """
    commands = {command.verb: (sandbox, command) for sandbox, command in api.commands}

    def explain(request: Request) -> None:
        query = request.args
        if not isinstance(query, Mapping) or not isinstance(query.get("verb"), str) or set(query) - {"verb", "args"}:
            request.reply(Status.INVALID_REQUEST, info='expected {"verb": "<command verb>", "args"?: {...}}')
            return
        found = commands.get(query["verb"])
        if found is None:
            known = ", ".join(commands) or "none"
            request.reply(Status.INVALID_REQUEST, info=f"no command verb '{query['verb']}' (known: {known})")
            return
        sandbox, command = found
        if command.privilege is not None:
            request.reply(Status.INSUFFICIENT_SCOPE,
                          info=f"'{command.verb}' requires permission {command.privilege}; explain shows open "
                               f"commands only (use afb-spawn run --explain on the binder's machine)")
            return
        try:
            argv = build_argv(command, query["args"]) if "args" in query else written_argv(command)
        except ArgumentError as error:
            request.reply(Status.INVALID_REQUEST, info=str(error))
            return
        request.reply(Status.SUCCESS, _explanation(api, sandbox, command, plans[sandbox.uid], argv))

    return explain


def _explanation(api: Api, sandbox: Sandbox, command: Command, plan: Launcher, argv: list[str]) -> dict[str, Any]:
    steps = [{"concern": concern, "text": text} for concern, text in plan.explain_steps(command.cmdpath, argv)]
    reply: dict[str, Any] = {"api": api.name, "sandbox": sandbox.uid, "command": command.uid, "verb": command.verb}
    _put(reply, "info", sandbox.info)
    reply["steps"] = steps
    return reply
