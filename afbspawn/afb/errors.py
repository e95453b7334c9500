"""AFB reply status codes and their wire texts (afb-errno.h), shared by every host.

A verb replies with an integer status: >= 0 is success, negative values are the
error codes below. Hosts turn them into the envelope's `status` text.
"""
from __future__ import annotations

from enum import IntEnum


class Status(IntEnum):
    SUCCESS = 0
    INTERNAL_ERROR = -1
    OUT_OF_MEMORY = -2
    UNKNOWN_API = -3
    UNKNOWN_VERB = -4
    NOT_AVAILABLE = -5
    UNAUTHORIZED = -6
    INVALID_TOKEN = -7
    FORBIDDEN = -8
    INSUFFICIENT_SCOPE = -9
    BAD_API_STATE = -10
    NO_REPLY = -11
    INVALID_REQUEST = -12
    NO_ITEM = -13
    BAD_STATE = -14
    DISCONNECTED = -15
    TIMEOUT = -16
    GENERIC_FAILURE = -1000


_TEXTS = {
    Status.INTERNAL_ERROR: "internal-error",
    Status.OUT_OF_MEMORY: "out-of-memory",
    Status.UNKNOWN_API: "unknown-api",
    Status.UNKNOWN_VERB: "unknown-verb",
    Status.NOT_AVAILABLE: "not-available",
    Status.UNAUTHORIZED: "unauthorized",
    Status.INVALID_TOKEN: "invalid-token",
    Status.FORBIDDEN: "forbidden",
    Status.INSUFFICIENT_SCOPE: "insufficient-scope",
    Status.BAD_API_STATE: "bad-api-state",
    Status.NO_REPLY: "no-reply",
    Status.INVALID_REQUEST: "invalid-request",
    Status.NO_ITEM: "no-item",
    Status.BAD_STATE: "bad-state",
    Status.DISCONNECTED: "disconnected",
    Status.TIMEOUT: "timeout",
}


def status_text(code: int) -> str:
    """The envelope `status` text of a reply code (spec afb-protocols §1.6)."""
    if code >= 0:
        return "success"
    if code <= -1000:
        return "error"
    return _TEXTS.get(code, "internal-error")  # type: ignore[call-overload]
