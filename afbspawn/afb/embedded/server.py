"""EmbeddedBinder: the pure-Python AFB host (aiohttp) serving WebSocket, REST and files.

Request routing follows afb-binder's priorities (spec §0): the WebSocket upgrade on
exactly ROOTAPI, REST under ROOTAPI/, then aliases, then --roothttp, else 404.
Only GET and POST exist; any other method gets 400.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import stat
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from afbspawn.afb.dispatch import HandlerRunner
from afbspawn.afb.embedded import codec, rest, static
from afbspawn.afb.embedded.events import BinderListener, EmbeddedEvent
from afbspawn.afb.embedded.httplog import quiet_http_errors
from afbspawn.afb.embedded.monitor import Monitor
from afbspawn.afb.embedded.origin import cross_site_refused
from afbspawn.afb.embedded.permissions import Policy
from afbspawn.afb.embedded.registry import Registry
from afbspawn.afb.embedded.request import EmbeddedRequest
from afbspawn.afb.embedded.sessions import (
    Session,
    SessionStore,
    cookie_name,
    set_cookie_value,
    wanted_token,
    wanted_uuid,
)
from afbspawn.afb.embedded.websocket import PROTOCOL, WsConnection, WsLimits
from afbspawn.afb.host import ApiSpec, Caller, Event, Host, Reply, StartupError

log = logging.getLogger("afbspawn.afb")
trace_log = logging.getLogger("afbspawn.trace")

DEFAULT_PORT = 1234
DEFAULT_WS_MAXLEN = 1048500
STOP_SECONDS = 5.0  # on stop, how long pending HTTP requests and WebSocket closes may take
HANDSHAKE_SECONDS = 15.0  # a connection must complete a request this soon (and between requests)
SESSION_KEY = web.RequestKey("afb-session", Session)


@dataclass(frozen=True)
class Listen:
    """One listener: TCP (host, port; port 0 = any free port) or a unix socket path."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    unix: str | None = None

    @classmethod
    def parse(cls, spec: str, default_port: int = DEFAULT_PORT) -> Listen:
        """`HOST`, `tcp:HOST:PORT` or `unix:/path`."""
        if spec.startswith("unix:"):
            path = spec[len("unix:"):]
            if not path:
                raise ValueError(f"interface {spec!r}: missing socket path")
            return cls(unix=path)
        if spec.startswith("tcp:"):
            host, sep, port = spec[len("tcp:"):].rpartition(":")
            if not sep or not port.isdigit():
                raise ValueError(f"interface {spec!r}: expected tcp:HOST:PORT")
            return cls(host=_any_host(host.strip("[]")), port=int(port))
        if not spec:
            raise ValueError("empty interface")
        return cls(host=_any_host(spec), port=default_port)


@dataclass
class BinderOptions:
    listen: Sequence[Listen] = (Listen(),)
    rootapi: str = "/api"
    roothttp: str | None = None
    aliases: Sequence[tuple[str, str]] = ()  # (url prefix, directory)
    allow_origins: Sequence[str] = ()
    policy: Policy | None = None
    ws_maxlen: int = DEFAULT_WS_MAXLEN
    tracereq: bool = False
    ws_limits: WsLimits = field(default_factory=WsLimits)  # per WebSocket: queue, stall, pending calls, idle
    handshake_seconds: float = HANDSHAKE_SECONDS


class EmbeddedBinder(Host):
    """The default host: add APIs, then `await start()`; `ports` tells where it listens."""

    def __init__(self, options: BinderOptions | None = None) -> None:
        self.options = options or BinderOptions()
        self.registry = Registry(self.options.policy)
        self.sessions = SessionStore()
        self._static = [static.make_root(prefix, directory) for prefix, directory in self.options.aliases]
        if self.options.roothttp is not None:
            self._static.append(static.make_root("", self.options.roothttp))
        self._runner: web.AppRunner | None = None
        self._connections: set[WsConnection] = set()
        self.ports: list[int] = []
        self.urls: list[str] = []
        self.monitor = Monitor(self.registry, self.sessions, self._new_event)
        self.add_api(self.monitor.spec())
        self._binder_listener = BinderListener(HandlerRunner())

    # -- Host interface ------------------------------------------------------------------
    def add_api(self, spec: ApiSpec) -> None:
        self.registry.add(spec)
        if spec.event_handlers:
            self._binder_listener.handlers.extend(spec.event_handlers)

    def new_event(self, api: str, name: str) -> Event:
        return self._new_event(api, name)

    def _new_event(self, api: str, name: str) -> EmbeddedEvent:
        return EmbeddedEvent(f"{api}/{name}", self._trace if self.options.tracereq else None)

    async def call(self, api: str, verb: str, args: Any = None) -> Reply:
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()

        def sink(status: int, data: Any, info: str | None) -> None:
            if not future.done():
                future.set_result(Reply(status, data, info))
        self.registry.dispatch(EmbeddedRequest(api, verb, args, Caller("internal"), sink, self._binder_listener),
                               internal=True)
        return await future

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Run every API's `on_ready` (onload actions), then open the listeners."""
        for api in list(self.registry.apis.values()):
            if api.spec.on_ready is not None:
                try:
                    await api.spec.on_ready()
                except Exception as error:
                    raise StartupError(f"API {api.spec.name}: start-up failed: {error}") from error
        app = web.Application(client_max_size=self.options.ws_maxlen)
        app.router.add_route("*", "/{tail:.*}", self._route)
        app.on_response_prepare.append(self._set_cookie)
        quiet_http_errors()
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=STOP_SECONDS,
                                     keepalive_timeout=self.options.handshake_seconds)
        await self._runner.setup()
        try:
            for listen in self.options.listen:
                await self._listen(self._runner, listen)
        except BaseException:
            await self.stop()  # no half-open binder: close what did start
            raise

    async def _listen(self, runner: web.AppRunner, listen: Listen) -> None:
        if listen.unix is not None:
            _refuse_live_socket(listen.unix)
            await web.UnixSite(runner, listen.unix).start()
            self.urls.append(f"unix:{listen.unix}")
            return
        site = web.TCPSite(runner, listen.host, listen.port)
        await site.start()
        host = listen.host if ":" not in listen.host else f"[{listen.host}]"
        self.ports.append(site.port)  # the bound one, also for port 0
        self.urls.append(f"http://{host}:{site.port}/")

    async def stop(self) -> None:
        closing = [connection.ws.close() for connection in list(self._connections)]
        await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), STOP_SECONDS)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- HTTP ------------------------------------------------------------------------------
    def _port(self, request: web.Request) -> int:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        if isinstance(sockname, tuple):
            return int(sockname[1])
        return self.ports[0] if self.ports else DEFAULT_PORT

    def _caller(self, request: web.Request) -> Caller:
        session = self.sessions.resolve(wanted_uuid(request.headers, request.query, request.cookies,
                                                    self._port(request)))
        request[SESSION_KEY] = session
        uid = gid = pid = None
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None and sock.family == socket.AF_UNIX:
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            pid, uid, gid = struct.unpack("3i", creds)
        return Caller(session.uuid, wanted_token(request.headers, request.query), uid, gid, pid)

    async def _set_cookie(self, request: web.Request, response: web.StreamResponse) -> None:
        session = request.get(SESSION_KEY)
        if session is not None and response.status != 101:
            response.headers.add("Set-Cookie", f"{cookie_name(self._port(request))}={set_cookie_value(session)}")

    async def _route(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            return web.Response(status=400)
        caller = self._caller(request)
        rootapi = self.options.rootapi
        upgrade = request.path == rootapi and _is_upgrade(request)
        target = rest.split_path(request.path, rootapi) if request.path.startswith(rootapi + "/") else None
        if (upgrade or target) and cross_site_refused(request.headers, self.options.allow_origins):
            log.warning("refused %s from another site (Origin %r; allow it with --allow-origin)",
                        request.path, request.headers.get("Origin"))
            return web.Response(status=403)
        if upgrade:
            return await self._websocket(request, caller)
        if target is not None:
            return await self._rest(request, caller, *target)
        if request.method == "GET":
            for root in self._static:
                if root.matches(request.path):
                    return static.serve(root, request)
        raise web.HTTPNotFound()

    async def _rest(self, request: web.Request, caller: Caller, api: str, verb: str) -> web.StreamResponse:
        args = await rest.arguments(request)
        pending = rest.PendingReply()
        if self.options.tracereq:
            self._trace(f"{request.remote} rest {api}/{verb} {codec.dumps(args)}")
        self.registry.dispatch(EmbeddedRequest(api, verb, args, caller, pending))
        response = await pending.future
        if self.options.tracereq:
            self._trace(f"{request.remote} rest reply {api}/{verb}: {response.text}")
        return response

    async def _websocket(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        if request.headers["Sec-WebSocket-Version"].strip() != "13":
            return web.Response(status=426, headers={"Sec-WebSocket-Version": "13"})
        offered = request.headers.get("Sec-WebSocket-Protocol")
        if offered is not None and PROTOCOL not in [p.strip().lower() for p in offered.split(",")]:
            return web.Response(status=412)
        ws = web.WebSocketResponse(protocols=(PROTOCOL,), max_msg_size=self.options.ws_maxlen,
                                   autoping=True, compress=False, heartbeat=self.options.ws_limits.idle_seconds)
        ws.headers["Sec-WebSocket-Protocol"] = PROTOCOL  # also when the client named none (spec §1.1)
        await ws.prepare(request)
        peername = request.transport.get_extra_info("peername") if request.transport else None
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else f"unix pid {caller.pid}"
        connection = WsConnection(ws, request.transport, caller, self.registry.dispatch, peer,
                                  self._trace if self.options.tracereq else None,
                                  self.options.ws_limits)
        self._connections.add(connection)
        try:
            await connection.run()
        finally:
            self._connections.discard(connection)
        return ws

    @staticmethod
    def _trace(line: str) -> None:
        trace_log.info("%s", line)


def _any_host(host: str) -> str:
    """afb-binder writes every IPv4 address as `*` (tcp:*:1234) or leaves it empty."""
    return "0.0.0.0" if host in ("", "*") else host


def _is_upgrade(request: web.Request) -> bool:
    """An upgrade needs Upgrade: websocket, a key and a version; else it falls to REST (404)."""
    return (request.headers.get("Upgrade", "").strip().lower() == "websocket"
            and "Sec-WebSocket-Key" in request.headers and "Sec-WebSocket-Version" in request.headers)


def _refuse_live_socket(path: str) -> None:
    """asyncio replaces any socket file at `path`; only a dead one (left by a crash) may go.

    Taking over the socket of a running binder would silently cut its clients off.
    """
    try:
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            return
    except FileNotFoundError:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            return
    raise OSError(errno.EADDRINUSE, f"{path}: another process is serving this socket")


def configure_trace() -> None:
    """--tracereq lines go to stderr whatever the verbosity."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("afb-spawn: trace: %(message)s"))
    trace_log.addHandler(handler)
    trace_log.setLevel(logging.INFO)
    trace_log.propagate = False
