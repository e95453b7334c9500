"""What clients learn about APIs: the automatic `info` verb and the OpenAPI-ish summary.

Shapes follow what afb-ui-devtools reads (spec §5.2a and §5.3 item 4).
"""
from __future__ import annotations

from typing import Any

from afbspawn.afb.host import ApiSpec, Request, VerbSpec


def verb_description(verb: VerbSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {"uid": verb.name, "verb": verb.name}
    for key in ("info", "usage", "sample"):
        value = getattr(verb, key)
        if value is not None:
            entry[key] = value
    return entry


def devtools_info(spec: ApiSpec) -> dict[str, Any]:
    """`{"metadata":{uid,info},"groups":[{"verbs":[...]}]}`; the info verb itself is not listed."""
    metadata: dict[str, Any] = {"uid": spec.name}
    if spec.info is not None:
        metadata["info"] = spec.info
    verbs = [verb_description(verb) for verb in spec.verbs if verb.name != "info"]
    return {"metadata": metadata, "groups": [{"verbs": verbs}]}


def info_verb(spec: ApiSpec) -> VerbSpec:
    """The `info` verb the binder adds to an API that has none."""
    def handler(request: Request) -> None:
        request.reply(0, devtools_info(spec))
    return VerbSpec("info", handler, info="API introspection (devtools format)")


def with_info(spec: ApiSpec) -> list[VerbSpec]:
    """The API's verbs, with the automatic `info` (devtools shape) when it has none of its own:
    both hosts serve the same one (libafb's implicit `info` has another shape)."""
    if any(verb.name == "info" for verb in spec.verbs):
        return list(spec.verbs)
    return [*spec.verbs, info_verb(spec)]


def openapi(spec: ApiSpec, verbs: list[VerbSpec]) -> dict[str, Any]:
    """The summary devtools' Advanced view reads from `monitor/get {"apis":true}`."""
    return {
        "openapi": "3.0.0",
        "info": {"title": spec.name, "version": "", "description": spec.info or ""},
        "paths": {f"/{verb.name}": {"get": {"responses": {"200": {"description": verb.info or verb.name}}}}
                  for verb in verbs},
    }
