"""The `monitor` API every binder exposes (spec §5.4): API list, verbosity, session.

Client input only ever selects among what exists: verbosity names are the registered
APIs, `""` and `"*"`; levels are the five names. Nothing a client sends creates a
logger or grows memory, and `set` (which changes state) needs SET_PERMISSION.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from afbspawn.afb.embedded.events import EmbeddedEvent
from afbspawn.afb.embedded.introspection import openapi
from afbspawn.afb.embedded.registry import Registry
from afbspawn.afb.embedded.sessions import SessionStore
from afbspawn.afb.errors import Status
from afbspawn.afb.host import ApiSpec, Request, VerbSpec

NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")
LEVELS = {"error": logging.ERROR, "warning": logging.WARNING, "notice": NOTICE,
          "info": logging.INFO, "debug": logging.DEBUG}
ROOT_LOGGER = "afbspawn"
SET_PERMISSION = "urn:AGL:permission:monitor:public:set"  # afb-binder's name for it


def api_logger(api: str) -> logging.Logger:
    """Per-API verbosity lives on this logger."""
    return logging.getLogger(f"{ROOT_LOGGER}.api.{api}")


def level_name(logger: logging.Logger) -> str:
    """The most verbose level name still shown by `logger`."""
    level = logger.getEffectiveLevel()
    for name, value in sorted(LEVELS.items(), key=lambda item: item[1]):
        if level <= value:
            return name
    return "error"


class Monitor:
    """Builds the monitor ApiSpec over the binder's registry and sessions."""

    def __init__(self, registry: Registry, sessions: SessionStore,
                 new_event: Callable[[str, str], EmbeddedEvent]) -> None:
        self.registry = registry
        self.sessions = sessions
        self.disconnected = new_event("monitor", "disconnected")

    def spec(self) -> ApiSpec:
        verbs = [
            VerbSpec("get", self.get, info="get {apis:false|true|[names]} and/or {verbosity:...}"),
            VerbSpec("set", self.set, info="set {verbosity:LEVEL|{api:LEVEL}}"),
            VerbSpec("session", self.session, info="the caller's session"),
            VerbSpec("apis", self.apis, info="space-separated API names"),
            VerbSpec("subscribe", self.subscribe, info="subscribe 'disconnected'"),
            VerbSpec("unsubscribe", self.unsubscribe, info="unsubscribe 'disconnected'"),
            VerbSpec("info", self.info, info="native description of this API"),
        ]
        return ApiSpec("monitor", verbs, info="binder monitoring")

    def get(self, request: Request) -> None:
        args = request.args if isinstance(request.args, dict) else {}
        response: dict[str, Any] = {}
        if "apis" in args:
            response["apis"] = self._apis(args["apis"])
        if "verbosity" in args:
            response["verbosity"] = self._verbosity(args["verbosity"])
        request.reply(0, response or None)

    def _apis(self, selector: Any) -> dict[str, Any]:
        if selector is True or isinstance(selector, list):
            names = self.registry.apis if selector is True else self._known(selector)
            return {name: openapi(self.registry.apis[name].spec, list(self.registry.apis[name].verbs.values()))
                    for name in names}
        return {name: True for name in self.registry.apis}

    def _verbosity(self, selector: Any) -> dict[str, str]:
        if isinstance(selector, str) and selector != "*":
            names = [selector]
        elif isinstance(selector, (list, dict)):
            names = list(selector)
        else:
            names = list(self.registry.apis)
        levels = {"": level_name(logging.getLogger(ROOT_LOGGER))}
        levels.update({name: level_name(api_logger(name)) for name in self._known(names)})
        return levels

    def _known(self, names: Any) -> list[str]:
        """The registered API names among `names` (anything else, of any type, is ignored)."""
        return [name for name in names if isinstance(name, str) and name in self.registry.apis]

    def set(self, request: Request) -> None:
        args = request.args if isinstance(request.args, dict) else {}
        wanted = args.get("verbosity")
        if isinstance(wanted, str):
            wanted = {"": wanted}
        if wanted is None:
            return request.reply(0)
        if not isinstance(wanted, dict) or any(not isinstance(level, str) or level not in LEVELS
                                               for level in wanted.values()):
            return request.reply(Status.INVALID_REQUEST, info=f"levels are {', '.join(LEVELS)}")
        unknown = [name for name in wanted if name not in ("", "*") and name not in self.registry.apis]
        if unknown:
            return request.reply(Status.INVALID_REQUEST,
                                 info=f"unknown API {unknown[0][:64]!r}: names are '', '*' or an API")
        if not self.registry.allowed(request.caller, SET_PERMISSION, internal=False):
            return request.reply(Status.INSUFFICIENT_SCOPE, info=f"changing verbosity needs {SET_PERMISSION}")
        for name, level in wanted.items():
            targets = self.registry.apis if name == "*" else [name]
            for target in targets:
                logger = logging.getLogger(ROOT_LOGGER) if target == "" else api_logger(target)
                logger.setLevel(LEVELS[level])
        request.reply(0)

    def session(self, request: Request) -> None:
        session = self.sessions.resolve(request.caller.session)
        request.reply(0, {"uuid": session.uuid, "timeout": session.timeout, "remain": session.remain()})

    def apis(self, request: Request) -> None:
        request.reply(0, " ".join(self.registry.apis))

    def subscribe(self, request: Request) -> None:
        self._subscription(request, request.subscribe)

    def unsubscribe(self, request: Request) -> None:
        self._subscription(request, request.unsubscribe)

    def _subscription(self, request: Request, action: Callable[[EmbeddedEvent], None]) -> None:
        names = request.args if isinstance(request.args, list) else [request.args]
        if any(name != "disconnected" for name in names):
            return request.reply(Status.INVALID_REQUEST, info="only 'disconnected' exists")
        action(self.disconnected)
        request.reply(0)

    def info(self, request: Request) -> None:
        verbs = [{"name": verb.name, "info": verb.info} for verb in self.spec().verbs]
        request.reply(0, {"$schema": "afb-api-info/v2", "name": "monitor", "info": "binder monitoring",
                          "verbs": verbs})
