"""Sessions and tokens: who a HTTP request or WebSocket upgrade belongs to (spec §7.1-7.2)."""
from __future__ import annotations

import time
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_UUID_LEN = 36
SESSION_TIMEOUT = 32000000  # seconds: the cookie Max-Age and monitor/session "timeout"
SESSION_MAX = 10000  # least recently used sessions are forgotten beyond this: clients cannot grow memory


@dataclass
class Session:
    uuid: str
    timeout: int = SESSION_TIMEOUT
    last_used: float = field(default_factory=time.monotonic)

    def remain(self) -> int:
        """Seconds left before the session would expire."""
        return max(0, int(self.timeout - (time.monotonic() - self.last_used)))


class SessionStore:
    """Any client-chosen uuid (<= 36 chars) joins or creates that session, as in libafb."""

    def __init__(self, timeout: int = SESSION_TIMEOUT, maximum: int = SESSION_MAX) -> None:
        self._sessions: dict[str, Session] = {}  # in use order, the least recent first
        self.timeout = timeout
        self.maximum = maximum

    def resolve(self, wanted: str | None) -> Session:
        """The session named `wanted` (created when new); a fresh random one when absent/too long."""
        if not wanted or len(wanted) > MAX_UUID_LEN:
            wanted = str(uuidlib.uuid4())
        session = self._sessions.pop(wanted, None)
        if session is None or session.remain() == 0:
            session = Session(wanted, self.timeout)
        session.last_used = time.monotonic()
        self._sessions[wanted] = session
        if len(self._sessions) > self.maximum:
            del self._sessions[next(iter(self._sessions))]
        return session

    def __len__(self) -> int:
        return len(self._sessions)


def cookie_name(port: int) -> str:
    return f"x-afb-uuid-{port}"


def wanted_uuid(headers: Mapping[str, str], query: Mapping[str, str], cookies: Mapping[str, str], port: int) -> str | None:
    """First match wins: header x-afb-uuid, query x-afb-uuid, cookie x-afb-uuid-PORT, query uuid."""
    return (headers.get("x-afb-uuid") or query.get("x-afb-uuid")
            or cookies.get(cookie_name(port)) or query.get("uuid"))


def wanted_token(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """First match wins: Bearer, query access_token, header x-afb-token, query x-afb-token, query token."""
    scheme, _, value = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return (query.get("access_token") or headers.get("x-afb-token")
            or query.get("x-afb-token") or query.get("token"))


def set_cookie_value(session: Session) -> str:
    """The Set-Cookie value (without the name) sent on every HTTP answer but the 101."""
    return f"{session.uuid}; Path=/; Max-Age={session.timeout}; HttpOnly; SameSite=Lax"
