"""The host interface: what the spawn binding needs from an AFB binder.

Two hosts implement it: the embedded aiohttp binder (afbspawn.afb.embedded.server) and the
real AFB framework through afb-libpython's `libafb` (afbspawn.afb.libafb.host). The
binding only ever talks to these types, so it runs unchanged in both.

Everything here is called from the host's asyncio event loop thread.
"""
from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


class StartupError(Exception):
    """A host could not start: the framework refused the configuration or an on_ready failed."""


class Listener(abc.ABC):
    """One client connection that events can reach, as a handle the binding may keep.

    The spawn binding keeps per-task sets of these (the starter, explicit subscribers) and
    sends a task's events to exactly that set with `Event.push_to`: output reaches only whom
    it belongs to, and one client in several sets still gets each event once.
    """

    @property
    @abc.abstractmethod
    def alive(self) -> bool:
        """False once the connection is gone (the handle may then be forgotten)."""

    @property
    def congested(self) -> bool:
        """True while it cannot take more: producers that can wait (task pipes) pause."""
        return False

    def on_drained(self, resume: Callable[[], None]) -> None:
        """Call `resume` once no longer congested (or gone); at once when not congested."""
        resume()


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
    def push_to(self, data: Any, listeners: Iterable[Listener]) -> int:
        """Send `data` as this event to exactly `listeners` (each once, serialised once),
        subscribed or not; returns how many got it."""

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

    @abc.abstractmethod
    def listener(self, event: Event) -> Listener | None:
        """A handle through which `event.push_to` reaches the calling client later; None when
        the caller cannot receive events (REST, internal calls). Same client, equal handles."""


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

    @abc.abstractmethod
    def update_api(self, spec: ApiSpec) -> None:
        """Live reload: the registered API `spec.name` now has exactly `spec`'s verbs and info
        (new ones appear, missing ones go); calls already dispatched are unaffected."""
