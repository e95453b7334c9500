"""Controller actions of a config (spec §3.3): `onload`/`onstart`, `events` handlers and `extra` verbs.

`api://API#VERB` calls a verb of this binder through the host; `plugin://UID#FUNC` calls a
function of the Python module the config's `plugins` entry names (the C `.so` ABI is not
supported). A plugin function receives one `PluginCall` and may be a coroutine; for an
`extra` verb, what it returns is the reply's data unless it replied itself.
"""
from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from afbspawn.afb.errors import Status
from afbspawn.afb.host import EventHandlerSpec, Host, Request, VerbSpec
from afbspawn.config.model import Action, Api

log = logging.getLogger("afbspawn.binding.controller")


class ActionError(Exception):
    """An action that cannot be resolved (unknown plugin, missing function) or that failed."""


@dataclass(frozen=True)
class PluginCall:
    """What a plugin function gets: the host (for `call`), its API, the request if any."""

    host: Host
    api: str
    args: Any  # the action's configured `args`
    params: Any = None  # the caller's query (extra verbs)
    request: Request | None = None


def resolve_plugin(api: Api, action: Action) -> Callable[[PluginCall], Any]:
    """The function a `plugin://` action names; ActionError saying what is missing."""
    plugins = [p for p in api.plugins if p.uid.lower() == action.target.lower()]
    if not plugins:
        raise ActionError(f"action {action.uid!r}: no plugin {action.target!r} in the config's plugins")
    try:
        module = importlib.import_module(plugins[0].module)
    except ImportError as error:
        raise ActionError(f"action {action.uid!r}: cannot import {plugins[0].module!r}: {error}") from error
    function = getattr(module, action.name, None)
    if not callable(function):
        raise ActionError(f"action {action.uid!r}: module {plugins[0].module!r} has no function {action.name!r}")
    return function


async def _invoke(function: Callable[[PluginCall], Any], call: PluginCall) -> Any:
    result = function(call)
    return await result if inspect.isawaitable(result) else result


def onload_runner(host: Host, api: Api) -> Callable[[], Awaitable[None]]:
    """The `on_ready` of the API: runs its onload/onstart actions in order; the first failure raises."""
    plugin_functions = {a.uid: resolve_plugin(api, a) for a in api.onload if a.scheme == "plugin"}

    async def run() -> None:
        for action in api.onload:
            if action.scheme == "api":
                reply = await host.call(action.target, action.name, action.args)
                if reply.status < 0:
                    raise ActionError(f"onload {action.uid!r}: {action.uri} failed: {reply.info or reply.status}")
            else:
                await _invoke(plugin_functions[action.uid], PluginCall(host, api.name, action.args))

    return run


def event_handlers(host: Host, api: Api) -> list[EventHandlerSpec]:
    """The `events` actions: the action uid is the event name (glob) they handle.

    `api://A#V` calls A/V with the event data (object `args` keys added over it), its reply
    only logged when it fails; `plugin://P#F` gets the data as `params`. Events arrive when
    an internal call subscribed the binder to them (an onload `api://monitor#subscribe`).
    """
    return [EventHandlerSpec(action.uid, _event_action(host, api, action)) for action in api.events]


def _event_action(host: Host, api: Api, action: Action) -> Callable[[str, Any], Awaitable[None]]:
    if action.scheme == "api":
        async def relay(name: str, data: Any) -> None:
            reply = await host.call(action.target, action.name, _merge(data, action.args))
            if reply.status < 0:
                log.warning("event %s: %s failed: %s", name, action.uri, reply.info or reply.status)
        return relay
    function = resolve_plugin(api, action)

    async def plugin(name: str, data: Any) -> None:
        await _invoke(function, PluginCall(host, api.name, action.args, data))
    return plugin


def extra_verb(host: Host, api: Api, action: Action) -> VerbSpec:
    """The verb an `extra` action adds: a relayed sub-call or a plugin function."""
    if action.scheme == "api":
        async def relay(request: Request) -> None:
            reply = await host.call(action.target, action.name, _merge(request.args, action.args))
            request.reply(reply.status, reply.data, reply.info)
        handler = relay
    else:
        function = resolve_plugin(api, action)

        async def plugin(request: Request) -> None:
            try:
                data = await _invoke(function, PluginCall(host, api.name, action.args, request.args, request))
            except Exception as error:  # a plugin bug must not crash the binder
                log.exception("extra verb %s failed", action.uid)
                request.reply(Status.INTERNAL_ERROR, None, f"{action.uri}: {error}")
                return
            if not request.replied:
                request.reply(Status.SUCCESS, data)
        handler = plugin
    return VerbSpec(action.uid, handler, info=action.info, permission=action.privilege)


def _merge(params: Any, args: Any) -> Any:
    """The C relay rule: configured object `args` keys are added over the caller's object."""
    if isinstance(args, dict) and args:
        return {**params, **args} if isinstance(params, dict) else dict(args)
    return params
