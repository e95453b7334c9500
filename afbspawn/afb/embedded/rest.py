"""REST calls `GET|POST /api/<api>/<verb>` (spec §2.1): same envelope as WebSocket replies."""
from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web

from afbspawn.afb.embedded import codec
from afbspawn.afb.errors import Status

HTTP_STATUS = {
    Status.INTERNAL_ERROR: 500, Status.OUT_OF_MEMORY: 500,
    Status.UNKNOWN_API: 404, Status.UNKNOWN_VERB: 404, Status.NOT_AVAILABLE: 501,
    Status.UNAUTHORIZED: 401, Status.INVALID_TOKEN: 401,
    Status.FORBIDDEN: 403, Status.INSUFFICIENT_SCOPE: 403, Status.BAD_API_STATE: 403,
}
AUTHENTICATE = {401: 'error="invalid_token"', 403: 'error="insufficient_scope"'}


def split_path(path: str, rootapi: str) -> tuple[str, str] | None:
    """`/api//demo/a/b` -> ("demo", "a/b"); None when the API or verb is missing."""
    rest = path[len(rootapi):].lstrip("/")
    api, _, verb = rest.partition("/")
    return (api, verb) if api and verb else None


def query_object(query_string: str) -> dict[str, Any]:
    """`?a=1&flag` -> {"a": "1", "flag": None}: values stay strings, as afb-binder passes them."""
    result: dict[str, Any] = {}
    for part in query_string.split("&"):
        if part:
            name, sep, value = part.partition("=")
            result[unquote_plus(name)] = unquote_plus(value) if sep else None
    return result


async def arguments(request: web.Request) -> Any:
    """GET query -> object of strings; POST JSON body as is; form POST merged; else 415/400."""
    query = query_object(request.query_string)
    if request.method == "GET" or not request.content_type or "Content-Type" not in request.headers:
        return query
    if "json" in request.content_type:
        body = await request.read()
        try:
            return json.loads(body) if body.strip() else None
        except (ValueError, RecursionError):
            raise web.HTTPBadRequest(text="") from None
    if request.content_type == "application/x-www-form-urlencoded":
        try:
            form = await request.post()
        except ValueError:  # invalid UTF-8 or percent-encoding: the client's fault, not a 500
            raise web.HTTPBadRequest(text="") from None
        query.update({key: str(value) for key, value in form.items()})
        return query
    raise web.HTTPUnsupportedMediaType()


def reply_response(status: int, data: Any, info: str | None) -> web.Response:
    http = HTTP_STATUS.get(status, 200)  # type: ignore[call-overload]
    headers = {"WWW-Authenticate": AUTHENTICATE[http]} if http in AUTHENTICATE else {}
    return web.Response(status=http, text=codec.envelope(status, data, info),
                        content_type="application/json", headers=headers)


class PendingReply:
    """Turns a verb's reply into the HTTP answer; the request waits as long as the verb does."""

    def __init__(self) -> None:
        self.future: asyncio.Future[web.Response] = asyncio.get_running_loop().create_future()

    def __call__(self, status: int, data: Any, info: str | None) -> None:
        if not self.future.done():  # the HTTP client may have gone: nothing to do
            self.future.set_result(reply_response(status, data, info))
