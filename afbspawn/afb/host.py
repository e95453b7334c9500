"""The host interface: what the spawn binding needs from an AFB binder.

Two hosts implement it: the embedded aiohttp binder (afbspawn.afb.embedded.server) and the
real AFB framework through afb-libpython's `libafb` (afbspawn.afb.libafb.host). The
binding only ever talks to these types, so it runs unchanged in both.

Everything here is called from the host's asyncio event loop thread.
"""
from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


class StartupError(Exception):
    """A host could not start: the framework refused the configuration or an on_ready failed."""


class Event(abc.ABC):
    """A named event; `push` reaches every client currently subscribed to it."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """Full name as seen by clients: "<api>/<name>"."""

    @abc.abstractmethod
    def push(self, data: Any) -> int:
        """Send `data` to the subscribers (serialised once); returns how many got it."""

    @abc.abstractmethod
    def close(self) -> None:
        """Forget the event and its subscriptions (no more pushes)."""

    def ready(self) -> bool:
        """False while a subscriber cannot take more: a producer that can wait should pause."""
        return True

    def when_ready(self, resume: Callable[[], None]) -> None:
        """Call `resume` once every subscriber can take more (at once when `ready`)."""
        resume()


@dataclass(frozen=True)
class Caller:
    """Who is calling: what permission checks and task ownership rely on."""

    session: str  # session uuid
    token: str | None = None
    uid: int | None = None  # peer uid (unix sockets only)
    gid: int | None = None
    pid: int | None = None


class Request(abc.ABC):
    """One verb call. `reply` must be called exactly once; later calls are ignored."""

    api: str
    verb: str
    args: Any  # the call's one JSON argument (None for null / absent)
    caller: Caller

    @abc.abstractmethod
    def reply(self, status: int = 0, data: Any = None, info: str | None = None) -> None:
        """Answer the call: status >= 0 success (data = response), < 0 error (info text)."""

    @property
    @abc.abstractmethod
    def replied(self) -> bool:
        """True once `reply` has been called."""

    @abc.abstractmethod
    def subscribe(self, event: Event) -> None:
        """Make the calling client (its connection) a listener of `event`."""

    @abc.abstractmethod
    def unsubscribe(self, event: Event) -> None:
        """Stop `event` reaching the calling client."""


VerbHandler = Callable[[Request], "Awaitable[None] | None"]


@dataclass(frozen=True)
class VerbSpec:
    """A verb to register: name (may contain "/"), handler and devtools metadata."""

    name: str
    handler: VerbHandler
    info: str | None = None
    usage: Any = None
    sample: Any = None
    permission: str | None = None  # required permission; None = open


@dataclass(frozen=True)
class Reply:
    """The result of an internal call (Host.call)."""

    status: int
    data: Any = None
    info: str | None = None


EventCallback = Callable[[str, Any], "Awaitable[None] | None"]


@dataclass(frozen=True)
class EventHandlerSpec:
    """Handle events of other APIs: `handler(full_name, data)` for names matching `pattern`.

    `pattern` is a glob (`*` matches anything, e.g. "monitor/*"). Only events the binder
    itself listens to arrive: those its internal calls (`Host.call`, e.g. an onload
    `api://monitor#subscribe`) subscribed to.
    """

    pattern: str
    handler: EventCallback


@dataclass(frozen=True)
class ApiSpec:
    """An API to register. `on_ready` runs once every API is registered (onload actions)."""

    name: str
    verbs: Sequence[VerbSpec] = field(default_factory=tuple)
    info: str | None = None
    on_ready: Callable[[], Awaitable[None]] | None = None
    event_handlers: Sequence[EventHandlerSpec] = field(default_factory=tuple)


class Host(abc.ABC):
    """What a binder offers to bindings."""

    @abc.abstractmethod
    def add_api(self, spec: ApiSpec) -> None:
        """Register an API and its verbs; a name already taken raises ValueError.

        An API without its own `info` verb gets the host's automatic one.
        """

    @abc.abstractmethod
    def new_event(self, api: str, name: str) -> Event:
        """Create the event "<api>/<name>"."""

    @abc.abstractmethod
    async def call(self, api: str, verb: str, args: Any = None) -> Reply:
        """Call a verb of this binder from the inside (e.g. `api://` onload actions).

        The binder is the caller: events the call subscribes to reach the APIs'
        event handlers (ApiSpec.event_handlers), not a client.
        """
