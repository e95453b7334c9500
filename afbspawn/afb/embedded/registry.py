"""The API registry and the dispatch of one request: lookup, permission, handler, errors."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from afbspawn.afb.dispatch import HandlerRunner
from afbspawn.afb.embedded.introspection import with_info
from afbspawn.afb.embedded.permissions import Policy
from afbspawn.afb.embedded.request import EmbeddedRequest
from afbspawn.afb.errors import Status
from afbspawn.afb.host import ApiSpec, Caller, VerbSpec

log = logging.getLogger("afbspawn.afb")


@dataclass(frozen=True)
class RegisteredApi:
    spec: ApiSpec
    verbs: dict[str, VerbSpec]


class Registry:
    """APIs by name; a request is answered here even when its verb fails or raises."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.apis: dict[str, RegisteredApi] = {}
        self.policy = policy
        self._runner = HandlerRunner()

    def add(self, spec: ApiSpec) -> None:
        if not spec.name or "/" in spec.name:
            raise ValueError(f"invalid API name {spec.name!r}")
        if spec.name in self.apis:
            raise ValueError(f"API {spec.name!r} already exists")
        self.apis[spec.name] = self._registered(spec)

    def replace(self, spec: ApiSpec) -> None:
        """Live reload: the API keeps its name, its verbs become `spec`'s (KeyError if unknown)."""
        if spec.name not in self.apis:
            raise KeyError(spec.name)
        self.apis[spec.name] = self._registered(spec)

    def _registered(self, spec: ApiSpec) -> RegisteredApi:
        verbs: dict[str, VerbSpec] = {}
        for verb in with_info(spec):
            if verb.name in verbs:
                raise ValueError(f"API {spec.name!r}: verb {verb.name!r} registered twice")
            verbs[verb.name] = verb
            if verb.permission and self.policy is None:
                log.warning("%s/%s requires permission %r: no caller holds it until a policy grants it"
                            " (--permissions FILE with e.g. 'tokens: {YOUR-TOKEN: [%s]}', see docs/binder.md)",
                            spec.name, verb.name, verb.permission, verb.permission)
        return RegisteredApi(spec, verbs)

    def allowed(self, caller: Caller, permission: str | None, internal: bool) -> bool:
        """Open verbs are open; internal calls act as the binder itself (granted)."""
        if permission is None or internal:
            return True
        return self.policy is not None and self.policy.grants(caller, permission)

    def dispatch(self, request: EmbeddedRequest, internal: bool = False) -> None:
        """Run the verb; every failure before or inside the handler becomes an error reply."""
        api = self.apis.get(request.api)
        if api is None:
            return request.reply(Status.UNKNOWN_API)
        verb = api.verbs.get(request.verb)
        if verb is None:
            return request.reply(Status.UNKNOWN_VERB)
        if not self.allowed(request.caller, verb.permission, internal):
            return request.reply(Status.INSUFFICIENT_SCOPE)
        self._runner.run(verb.handler, request)
