"""LibafbHost: the Host interface over afb-libpython, asyncio beside libafb's own loop.

Threads (why: docs/hosts.md): asyncio owns the main thread, where the spawn binding and
its tasks live; libafb's scheduler runs `loopstart` in a thread of its own and calls verbs
on its pool. A verb callback only wraps the request (kept alive by a reference) and hands
it to asyncio with `call_soon_threadsafe`; replies, pushes and calls made from asyncio are
queued in libafb and its loop is woken. Nothing ever blocks one side waiting for the other.

libafb wants everything declared before the binder starts (the ACLs of the permissions,
then the APIs), so `add_api` only records until `start` creates the binder and the APIs;
after that (a live reload) it creates the API at once.
A verb's required permission is served only when the framework's backend enforces it
(afbspawn.afb.libafb.permissions); until that is known, and wherever it is not, such a
verb is refused to every caller.
"""
from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from afbspawn.afb.dispatch import HandlerRunner
from afbspawn.afb.embedded.introspection import with_info
from afbspawn.afb.errors import Status
from afbspawn.afb.host import (
    ApiSpec,
    Caller,
    Event,
    EventHandlerSpec,
    Host,
    Reply,
    StartupError,
    VerbSpec,
)
from afbspawn.afb.libafb.events import LibafbEvent
from afbspawn.afb.libafb.glue import Glue
from afbspawn.afb.libafb.permissions import backend_enforces, refusal
from afbspawn.afb.libafb.request import LibafbRequest

log = logging.getLogger("afbspawn.afb")

SESSION_TIMEOUT = 32000000  # seconds, afb-binder's --cntxtimeout default
STOP_SECONDS = 3.0  # how long libafb's loop may take to return on stop


@dataclass
class LibafbOptions:
    """What `libafb.binder` is given; names follow the afb-binder options."""

    name: str = "afb-spawn"
    port: int = 1234  # 0 = no HTTP
    interfaces: Sequence[str] = ()  # tcp:HOST:PORT or unix:PATH; default tcp:127.0.0.1:PORT
    rootapi: str = "/api"
    roothttp: str | None = None
    aliases: Sequence[str] = ()  # "/PREFIX:DIR"
    rootdir: str | None = None
    verbose: int = 0
    exports: Mapping[str, str] = field(default_factory=dict)  # api name -> --ws-server URI
    sessions: int = 200  # afb-binder's --session-max default; libafb-binder leaves 10
    max_jobs: int = 8192  # libafb's job queue bound (afb-binder's default is 200)


class LibafbHost(Host):
    def __init__(self, libafb: ModuleType, options: LibafbOptions | None = None) -> None:
        self.options = options or LibafbOptions()
        self._libafb = libafb
        self._glue = Glue(libafb)
        self._specs: dict[str, ApiSpec] = {}
        self._verbs: dict[tuple[str, str], VerbSpec] = {}  # what each registered verb runs now (reload)
        self._registered: dict[tuple[str, str], str | None] = {}  # verbs libafb knows: the permission it checks
        self._added: dict[str, dict[str, Any]] = {}  # by API: verbs added by reloads (static table)
        self._auths: dict[str, int] = {}  # permission -> libafb's compiled auth of a verb requiring it
        self._handles: dict[str, Any] = {}
        self._events: dict[str, list[LibafbEvent]] = {}
        self._handlers: dict[str, list[EventHandlerSpec]] = {}
        self._kept: list[Any] = []  # every dict given to libafb: the glue borrows them
        self._runner = HandlerRunner()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._binder: Any = None
        self._thread: threading.Thread | None = None
        self._empty_root: str | None = None
        self._permissions_enforced = False  # known once started: the backend denied the probe
        self.urls: list[str] = []

    @property
    def api_names(self) -> list[str]:
        return list(self._specs)

    @property
    def binder(self) -> Any:
        """libafb's binder handle (None before start): logging and calls go through it."""
        return self._binder

    # -- Host interface ------------------------------------------------------------------
    def add_api(self, spec: ApiSpec) -> None:
        if not spec.name or "/" in spec.name:
            raise ValueError(f"invalid API name {spec.name!r}")
        if spec.name in self._specs or spec.name in ("monitor", self.options.name):
            raise ValueError(f"API {spec.name!r} already exists")
        names = [verb.name for verb in spec.verbs]
        twice = {name for name in names if names.count(name) > 1}
        if twice:
            raise ValueError(f"API {spec.name!r}: verb {min(twice)!r} registered twice")
        self._specs[spec.name] = spec
        fresh = [pattern for pattern in dict.fromkeys(h.pattern for h in spec.event_handlers)
                 if pattern not in self._handlers]
        for handler in spec.event_handlers:
            self._handlers.setdefault(handler.pattern, []).append(handler)
        if self._binder is not None:  # a config added by a live reload
            self._create_api(spec)
            for pattern in fresh:
                self._add_event_handler(pattern)

    def update_api(self, spec: ApiSpec) -> None:
        """Live reload: registered verbs run their new handlers, missing ones answer unknown-verb,
        new ones join the API's static verb table (libafb sealed the API: glue.py)."""
        if spec.name not in self._specs:
            raise KeyError(spec.name)
        if self._binder is None:
            self._specs[spec.name] = spec
            return
        verbs = with_info(spec)
        added = self._added.setdefault(spec.name, {})
        fresh = {verb.name: verb for verb in verbs if (spec.name, verb.name) not in self._registered}
        auths = {name: self._auth(spec.name, verb) for name, verb in fresh.items()}
        for key in [key for key in self._verbs if key[0] == spec.name]:
            del self._verbs[key]
        for verb in verbs:
            key = (spec.name, verb.name)
            self._verbs[key] = verb
            if key not in fresh and verb.permission and verb.permission != self._registered.get(key):
                log.warning("%s/%s: its new permission %s takes effect at restart; refused to every caller "
                            "until then", spec.name, verb.name, verb.permission)
        if fresh:
            for name, verb in fresh.items():
                added[name] = (name, self._callback(spec.name, verb), verb.info, auths[name])
                self._registered[(spec.name, name)] = verb.permission if auths[name] else None  # None: unchecked
            self._glue.set_static_verbs(self._handles[spec.name], list(added.values()))
        self._specs[spec.name] = spec

    def _auth(self, api: str, verb: VerbSpec) -> int | None:
        """The libafb auth guarding an added verb: one of a verb registered with the same
        permission. A permission the binder did not declare at start has none (libafb declares
        ACLs when the binder is created): the verb is then refused to every caller until a restart."""
        if not verb.permission:
            return None
        auth = self._auths.get(verb.permission)
        if auth is None:
            log.warning("%s/%s: its permission %s is new: the verb is refused to every caller until a restart",
                        api, verb.name, verb.permission)
        return auth

    def new_event(self, api: str, name: str) -> Event:
        event = LibafbEvent(self._libafb, self._glue, api, name)
        if api in self._handles:
            event.create(self._handles[api])
        else:
            self._events.setdefault(api, []).append(event)
        return event

    async def call(self, api: str, verb: str, args: Any = None) -> Reply:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()

        def resolve(reply: Reply) -> None:
            if not future.done():
                future.set_result(reply)

        def done(status: int, replies: list[Any]) -> None:  # a libafb thread
            loop.call_soon_threadsafe(resolve, call_reply(status, tuple(replies)))

        self._glue.call(self._binder, api, verb, args, done)
        self._glue.wakeup()
        return await future

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Create the binder and the APIs, start libafb's loop, then run every on_ready."""
        self._loop = asyncio.get_running_loop()
        try:
            self._binder = self._libafb.binder(self._keep(self._binder_config()))
            self._glue.set_sessions(self.options.sessions, SESSION_TIMEOUT)
            for spec in self._specs.values():
                self._create_api(spec)
            for pattern in self._handlers:  # one libafb handler per pattern (it refuses a second one)
                self._add_event_handler(pattern)
        except (RuntimeError, SystemError) as error:  # the framework's reason is on stderr
            raise StartupError(f"the AFB framework refused the configuration: {error}") from None
        ready: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="libafb", daemon=True)
        self._thread.start()
        await ready
        self._glue.set_max_jobs(self.options.max_jobs)  # after the scheduler set its own bound
        self._permissions_enforced = await backend_enforces(self._glue)
        required = self._required_permissions()
        if required and not self._permissions_enforced:
            raise StartupError(refusal(required))
        for spec in self._specs.values():
            if spec.on_ready is not None:
                try:
                    await spec.on_ready()
                except Exception as error:
                    raise StartupError(f"API {spec.name}: start-up failed: {error}") from error

    def _serve(self, ready: asyncio.Future[None]) -> None:
        """The libafb thread: its loop until `libafb.exit`."""
        assert self._loop is not None
        loop = self._loop

        def started(_binder: Any, _userdata: Any) -> int:
            loop.call_soon_threadsafe(_settle, ready, None)
            return 0

        status = self._libafb.loopstart(self._binder, started)
        if not ready.done():
            loop.call_soon_threadsafe(_settle, ready, StartupError(f"libafb's loop ended at start ({status})"))

    async def stop(self) -> None:
        """End libafb's loop; after client churn it may never return, so the wait is bounded."""
        if self._binder is not None and self._thread is not None:
            self._libafb.exit(self._binder, 0)
            self._glue.wakeup()
            await asyncio.to_thread(self._thread.join, STOP_SECONDS)
            if self._thread.is_alive():
                log.info("libafb's loop did not return within %.0f s (threads stuck in libafb)", STOP_SECONDS)
        if self._empty_root is not None:
            shutil.rmtree(self._empty_root, ignore_errors=True)

    # -- building ------------------------------------------------------------------------
    def _keep(self, value: dict[str, Any]) -> dict[str, Any]:
        self._kept.append(value)
        return value

    def _required_permissions(self) -> set[str]:
        return {verb.permission for spec in self._specs.values() for verb in spec.verbs if verb.permission}

    def _binder_config(self) -> dict[str, Any]:
        options = self.options
        permissions = self._required_permissions()
        config: dict[str, Any] = {"uid": options.name, "verbose": max(0, options.verbose),
                                  "port": options.port, "rootapi": options.rootapi,
                                  "roothttp": options.roothttp or self._no_static_root()}
        if options.port:
            config["intf"] = list(options.interfaces) or [f"tcp:127.0.0.1:{options.port}"]
            self.urls = [_url(intf) for intf in config["intf"]]
        if options.aliases:
            config["alias"] = list(options.aliases)
        if options.rootdir:
            config["rootdir"] = options.rootdir
        if permissions:
            config["acls"] = {permission: permission for permission in sorted(permissions)}
        return config

    def _add_event_handler(self, pattern: str) -> None:
        self._libafb.evthandler(self._binder, self._keep({"pattern": pattern, "callback": self._event_callback}),
                                pattern)

    def _no_static_root(self) -> str:
        """libafb always serves a root (default: the working directory); give it an empty one."""
        self._empty_root = tempfile.mkdtemp(prefix="afb-spawn-noroot-")
        return self._empty_root

    def _create_api(self, spec: ApiSpec) -> None:
        verbs = with_info(spec)
        for verb in verbs:
            self._verbs[(spec.name, verb.name)] = verb
            self._registered[(spec.name, verb.name)] = verb.permission
        # noconcurrency: libafb runs the API's verb callbacks one at a time, in the order the calls
        # arrived (they only hand the request to asyncio); otherwise its threads race and
        # starts sent in order reach a command's queue in any order
        config: dict[str, Any] = {"uid": spec.name, "api": spec.name, "export": "public", "noconcurrency": True,
                                  "verbs": [self._verb_config(spec.name, verb) for verb in verbs if verb.name != "info"]}
        if spec.info is not None:
            config["info"] = spec.info
        if spec.name in self.options.exports:
            config["uri"] = self.options.exports[spec.name]
        handle = self._libafb.apicreate(self._keep(config))
        self._glue.locate_verb_tables(handle)
        for verb in verbs:
            if verb.permission and verb.permission not in self._auths:
                auth = self._glue.auth_of(handle, verb.name)
                if auth:
                    self._auths[verb.permission] = auth
        info = next(verb for verb in verbs if verb.name == "info")
        self._glue.replace_info_verb(handle, self._callback(spec.name, info), info.info)
        self._handles[spec.name] = handle
        for event in self._events.pop(spec.name, []):
            event.create(handle)

    def _verb_config(self, api: str, verb: VerbSpec) -> dict[str, Any]:
        config: dict[str, Any] = {"uid": verb.name, "verb": verb.name, "callback": self._callback(api, verb)}
        for key in ("info", "usage", "sample"):
            if getattr(verb, key) is not None:
                config[key] = getattr(verb, key)
        if verb.permission:
            config["auth"] = verb.permission  # the ACL named after it (binder config `acls`)
        return config

    # -- libafb threads --------------------------------------------------------------------
    def _callback(self, api: str, verb: VerbSpec) -> Any:
        """The verb callback libafb calls on its threads: hand the request to asyncio."""
        def callback(capsule: Any, *_glue_args: Any) -> Any:  # lossy for scalars: read from the request
            current = self._verbs.get((api, verb.name))
            if current is None:  # removed by a reload
                return (Status.UNKNOWN_VERB,)
            if current.permission and not self._checks(api, current):
                return (Status.INSUFFICIENT_SCOPE,)
            try:
                request = LibafbRequest(self._libafb, self._glue, capsule, api, verb.name,
                                        _one(tuple(self._glue.arguments(capsule))), self._caller(capsule))
            except Exception:  # answered by the glue, never left hanging
                log.exception("%s/%s: cannot take the request", api, verb.name)
                return (Status.INTERNAL_ERROR,)
            try:
                self._loop.call_soon_threadsafe(self._runner.run, current.handler, request)  # type: ignore[union-attr]
            except RuntimeError:  # the asyncio loop is closed: stopping
                request.reply(Status.NOT_AVAILABLE, None, "afb-spawn is stopping")
            return None
        return callback

    def _checks(self, api: str, verb: VerbSpec) -> bool:
        """Whether libafb checked `verb`'s permission before calling it: its backend enforces
        permissions and the verb was registered with this one (a reload cannot change it)."""
        return self._permissions_enforced and self._registered.get((api, verb.name)) == verb.permission

    def _caller(self, capsule: Any) -> Caller:
        """The session only: `clientinfo(rqt)` without a key fails in afb-libpython 2.3, and a
        missing key (uid/gid/pid exist only for unix peers) logs an error; tokens are not exposed."""
        return Caller(str(self._libafb.clientinfo(capsule, "uuid")))

    def _event_callback(self, _handle: Any, name: str, pattern: str, *data: Any) -> None:
        """An event the binder listens to (libafb thread): run that pattern's handlers in asyncio."""
        assert self._loop is not None
        for spec in self._handlers[pattern]:
            self._loop.call_soon_threadsafe(self._runner.run_event, spec.handler, name, _one(data))


def call_reply(status: int, replies: tuple[Any, ...]) -> Reply:
    """An internal call's answer as the embedded host gives it (error datum = info text)."""
    data = _one(replies)
    if -1000 < status < 0:
        return Reply(status, None, data if isinstance(data, str) or data is None else str(data))
    return Reply(status, data)


def _one(values: tuple[Any, ...]) -> Any:
    """libafb passes one datum per value: none → None, one → itself, several → a list."""
    if not values:
        return None
    return values[0] if len(values) == 1 else list(values)


def _settle(future: asyncio.Future[None], outcome: BaseException | None) -> None:
    if future.done():
        return
    if outcome is None:
        future.set_result(None)
    else:
        future.set_exception(outcome)


def _url(interface: str) -> str:
    if interface.startswith("tcp:"):
        host, _, port = interface[len("tcp:"):].rpartition(":")
        return f"http://{'0.0.0.0' if host in ('', '*') else host}:{port}/"
    return interface

