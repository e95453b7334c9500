"""Sans-I/O codec of the `x-afb-ws-json1` protocol (spec afb-protocols §1.3-1.7).

Text in, messages out; messages in, bytes out. No sockets here, so every rule
(id echo, verb split, raw-text arguments, close codes) is tested by vectors.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from afbspawn.afb.errors import status_text

CALL, RETOK, RETERR, EVENT = 2, 3, 4, 5
CLOSE_POLICY = 1008  # invalid frame, unknown call id, no "/" in the procedure
CLOSE_UNACCEPTABLE = 1003  # binary frame on a json1 connection
CLOSE_TOO_BIG = 1009


@dataclass(frozen=True)
class Call:
    """A client call `[2, ID, "api/verb", ARGS(, TOKEN)]`; `id` is already echo text."""

    id: str
    api: str
    verb: str
    args: Any
    token: str | None = None


class FrameError(Exception):
    """The frame breaks the protocol: the connection must close with `code`/`reason`."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"{code} {reason}".strip())
        self.code = code
        self.reason = reason


_stdlib_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode  # built once, not per call
_ORJSON_SAFE = (str, int, bool, type(None))  # types orjson writes byte for byte as the stdlib does


def dumps(value: Any) -> str:
    """Compact JSON, never a raw newline (C peers reject them), UTF-8 kept readable.

    orjson is ten times faster, but it writes floats differently (1e16 vs 1e+16) and refuses
    what the stdlib accepts (non-string keys, integers over 64 bits, unpaired surrogates):
    it is used only for values made of strings, integers, booleans and null, and whatever it
    refuses goes to the stdlib. The text is the stdlib's either way.
    """
    fast = _orjson(value)
    return fast.decode("utf-8") if fast is not None else _stdlib_encode(value)


def _orjson(value: Any) -> bytes | None:
    if _orjson_safe(value):
        try:
            return orjson.dumps(value)
        except TypeError:  # orjson.JSONEncodeError: a big integer, a surrogate, a non-string key
            pass
    return None


def _orjson_safe(value: Any) -> bool:
    kind = type(value)
    if kind is dict:
        items: Any = value.values()
    elif kind is list:
        items = value
    else:
        return kind in _ORJSON_SAFE
    for item in items:  # a plain loop: this runs for every event, a generator costs twice as much
        if type(item) not in _ORJSON_SAFE and not _orjson_safe(item):
            return False
    return True


def to_wire(text: str) -> bytes:
    """UTF-8 bytes of a frame; unpaired surrogates fall back to an ASCII-escaped form."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(json.loads(text), separators=(",", ":")).encode("ascii")


def parse(text: str) -> Call | None:
    """Decode one client text frame: a Call, or None for frames to ignore (`[5,...]`).

    Raises FrameError for anything the server must answer by closing the connection.
    """
    try:
        items = json.loads(text)
    except RecursionError:
        raise FrameError(CLOSE_POLICY, "invalid-frame") from None  # nested too deep to decode
    except ValueError:
        items = _scan(text)  # afb-client sends raw, non-JSON argument text
    if not isinstance(items, list) or not items:
        raise FrameError(CLOSE_POLICY, "invalid-frame")
    kind = items[0]
    if type(kind) is not int:
        raise FrameError(CLOSE_POLICY, "invalid-frame")
    if kind == CALL and len(items) in (4, 5):
        return _call(items)
    if kind in (RETOK, RETERR) and len(items) in (3, 4):
        raise FrameError(CLOSE_POLICY, "unbound-call-id")  # a server never has pending calls
    if kind == EVENT and len(items) == 3:
        return None
    raise FrameError(CLOSE_POLICY, "invalid-frame")


def _call(items: list[Any]) -> Call:
    call_id, procedure, args = items[1], items[2], items[3]
    if not isinstance(procedure, str):
        raise FrameError(CLOSE_POLICY, "invalid-frame")
    api, slash, verb = procedure.partition("/")
    if not slash:
        raise FrameError(CLOSE_POLICY)
    if not verb or verb.startswith("/"):
        raise FrameError(CLOSE_POLICY, "invalid-frame")
    token = None
    if len(items) == 5:
        token = items[4] if isinstance(items[4], str) else dumps(items[4])
    echo = call_id if isinstance(call_id, str) else dumps(call_id)
    return Call(echo, api, verb, args, token)


def _scan(text: str) -> list[Any]:
    """The C server's tolerant split: top-level commas, quotes honoured, only spaces skipped.

    Every element is decoded as JSON when it can be; otherwise it stays its raw
    text, so `[2,"1","a/b",foo bar]` carries the argument string "foo bar".
    """
    body = text.strip(" ")
    if len(body) < 2 or body[0] != "[" or body[-1] != "]":
        raise FrameError(CLOSE_POLICY, "invalid-frame")
    parts, depth, start, quoted, escaped = [], 0, 1, False, False
    for index, char in enumerate(body[1:-1], start=1):
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
            continue
        if char == '"':
            quoted = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(body[start:index])
            start = index + 1
    if quoted or depth:
        raise FrameError(CLOSE_POLICY, "invalid-frame")
    parts.append(body[start:-1])
    if len(parts) > 10:
        raise FrameError(CLOSE_POLICY, "invalid-frame")
    return [_element(part.strip(" ")) for part in parts]


def _element(raw: str) -> Any:
    if not raw:
        raise FrameError(CLOSE_POLICY, "invalid-frame")
    try:
        return json.loads(raw)
    except RecursionError:
        raise FrameError(CLOSE_POLICY, "invalid-frame") from None
    except ValueError:
        return raw  # not JSON: the raw text becomes a string


def envelope(status: int, data: Any = None, info: str | None = None) -> str:
    """The reply object of §1.5 (key order included), also the REST body."""
    request: dict[str, Any] = {"status": status_text(status)}
    response = data
    if -1000 < status < 0:
        if info is None and data is not None:
            info = data if isinstance(data, str) else dumps(data)
        response = None
    if info is not None:
        request["info"] = info
    request["code"] = status
    reply: dict[str, Any] = {"jtype": "afb-reply", "request": request}
    if response is not None:
        reply["response"] = response
    return dumps(reply)


def reply_frame(call_id: str, status: int, data: Any = None, info: str | None = None) -> str:
    """`[3|4,"ID",envelope]`: 3 for a status >= 0, 4 for an error."""
    kind = RETOK if status >= 0 else RETERR
    return f"[{kind},{dumps(call_id)},{envelope(status, data, info)}]"


def event_head(name: str) -> bytes | None:
    """The wire bytes of an event frame before its data (None: the name needs the slow path)."""
    quoted = dumps(name)
    try:
        return f'[{EVENT},{quoted},{{"jtype":"afb-event","event":{quoted},"data":'.encode()
    except UnicodeEncodeError:
        return None


def event_wire(name: str, head: bytes | None, data: Any) -> bytes:
    """`to_wire(event_frame(name, data))`, with the head (`event_head(name)`) computed once per event."""
    if head is not None:
        body = _orjson(data)
        if body is not None:
            return head + body + b"}]"
    return to_wire(event_frame(name, data))


def event_frame(name: str, data: Any = None) -> str:
    """`[5,"api/name",{"jtype":"afb-event","event":..,"data":..}]`, data always present."""
    quoted = dumps(name)
    return f'[{EVENT},{quoted},{{"jtype":"afb-event","event":{quoted},"data":{dumps(data)}}}]'
