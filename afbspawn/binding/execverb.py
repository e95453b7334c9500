"""The builtin `exec` verb (spec §10.3): a command given by the caller, run in a sandbox.

It runs an arbitrary executable, so it exists only when a sandbox enables it with
`"exec-verb": true`, only in those sandboxes, and under their `privilege`. The command
is compiled exactly as a config command within the sandbox (all its restrictions apply),
then started with no args. Its event `<api>/<prefix/>uid` lives while its tasks run.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from afbspawn.afb.errors import Status
from afbspawn.afb.host import Host, Request, VerbSpec
from afbspawn.binding.actions import CommandVerb, Query, RequestError
from afbspawn.config.errors import ConfigError
from afbspawn.config.model import Api, Command, Sandbox
from afbspawn.tasks import CommandSite

COMMAND_KEYS = ("uid", "exec", "timeout", "verbose", "encoder")
CommandCompiler = Callable[[dict[str, Any], Sandbox, str], Command]
SiteFactory = Callable[[Sandbox, Command, Any], CommandSite]


class ExecVerb:
    """Handler of `exec` for the sandboxes of `api` that allow it."""

    def __init__(self, host: Host, api: Api, compile_command: CommandCompiler, make_site: SiteFactory,
                 verb_for: Callable[[CommandSite], CommandVerb]) -> None:
        self.host = host
        self.api = api
        self.sandboxes = {s.uid.lower(): s for s in api.sandboxes if s.allow_exec}
        self.compile_command = compile_command
        self.make_site = make_site
        self.verb_for = verb_for
        self.live: dict[str, CommandVerb] = {}  # dynamic verbs with running tasks, by name

    def __call__(self, request: Request) -> None:
        try:
            self._start(request)
        except RequestError as error:
            request.reply(error.status, None, error.info)

    def _start(self, request: Request) -> None:
        query = request.args if isinstance(request.args, dict) else {}
        sandbox = self.sandboxes.get(str(query.get("sandbox", "")).lower())
        if sandbox is None:
            raise RequestError(Status.INVALID_REQUEST, "invalid sandbox uid")
        node = {key: query[key] for key in COMMAND_KEYS if key in query}
        node.setdefault("uid", "dynamic")
        node["exec"] = literal_args(node.get("exec"))
        try:
            command = self.compile_command(node, sandbox, self.api.name)
        except ConfigError as error:  # its text names what is wrong
            raise RequestError(Status.INVALID_REQUEST, str(error)) from None
        verb = self.live.get(command.verb)
        if verb is None:
            verb = self._new_verb(sandbox, command)
        elif verb.site.command != command:
            raise RequestError(Status.BAD_STATE, f"another command named '{command.verb}' is running: "
                                                 "give this one another uid")
        verbose = query.get("verbose") if isinstance(query.get("verbose"), int) else None
        verb.start(request, Query("start", None, verbose))

    def _new_verb(self, sandbox: Sandbox, command: Command) -> CommandVerb:
        event = self.host.new_event(self.api.name, command.verb)

        def idle() -> None:
            if self.live.get(command.verb) is verb:
                del self.live[command.verb]
            event.close()

        try:
            site = self.make_site(sandbox, command, event)
        except (LookupError, ValueError) as error:  # unknown encoder, bad encoder options
            event.close()
            raise RequestError(Status.INVALID_REQUEST, str(error)) from None
        site.on_idle = idle
        verb = self.verb_for(site)
        self.live[command.verb] = verb
        return verb


def _escape_expansion(text: Any) -> Any:
    """`$` doubled: no `$NAME` of the binder's environment is ever read for a caller."""
    return text.replace("$", "$$") if isinstance(text, str) else text


def _escape_template(text: Any) -> Any:
    """`$`, `%` and `?` doubled: the caller's text is final, neither expanded nor a template."""
    return _escape_expansion(text).replace("%", "%%").replace("?", "??") if isinstance(text, str) else text


def literal_args(spec: Any) -> Any:
    """The caller's `exec` made literal: `cmdpath` and `args` are taken as given, never expanded
    (expanding them from the binder's environment would answer its secrets, and an unknown name
    would tell which variables exist)."""
    if not isinstance(spec, dict):
        return spec
    literal = dict(spec)
    if "cmdpath" in spec:
        literal["cmdpath"] = _escape_expansion(spec["cmdpath"])
    if "args" in spec:
        args = spec["args"]
        literal["args"] = [_escape_template(a) for a in args] if isinstance(args, list) else _escape_template(args)
    return literal


def exec_permission(api: Api) -> str | None:
    """The permission of `exec`: the privilege its sandboxes share (ValueError if they differ)."""
    privileges = {s.privilege for s in api.sandboxes if s.allow_exec}
    if len(privileges) > 1:
        raise ValueError(f"api {api.name}: the sandboxes enabling exec-verb must share one privilege "
                         f"(found {sorted(map(str, privileges))}): the exec verb has one permission")
    return privileges.pop() if privileges else None


def exec_verb_spec(handler: ExecVerb, api: Api) -> VerbSpec:
    return VerbSpec("exec", handler, info="run a command given by the caller in an exec-verb sandbox",
                    permission=exec_permission(api))
