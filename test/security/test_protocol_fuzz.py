"""Protocol fuzzing of a live spawn binder (a real subprocess) with hypothesis.

WebSocket: well-formed calls with random ids, procedures, arities and nested
arguments, sometimes fragmented with pings in between — each answered exactly once;
then arbitrary frames (invalid UTF-8, binary, reserved opcodes, lying lengths, half
frames) — the binder may close that connection but keeps serving the others. REST:
random methods, paths, queries, content types and bodies — never a 5xx. The binder's
log never shows a traceback. `make test` runs a bounded number of examples,
`make test-long` many more.
"""
from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livebinder import api_config, live_binder, scaled
from wsraw import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, RawWs, encode

API = "fz"
EXAMPLES = scaled(40, 1500)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not scaled(0, 1),
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PROCEDURES = [f"{API}/echo", f"{API}/ping", f"{API}/info", f"{API}/nope", "monitor/get", "monitor/set",
              "monitor/session", "nope/verb", f"{API}/echo/extra"]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(max_size=40),
                    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
                    max_leaves=30)
ARGS = JSON | st.fixed_dictionaries({"action": st.sampled_from(["start", "stop", "subscribe", "bogus"]),
                                     "args": st.fixed_dictionaries({"text": st.text(max_size=60)}) | JSON})
CALL = st.tuples(st.sampled_from(PROCEDURES), ARGS, st.booleans(), st.none() | st.text(max_size=20))


@pytest.fixture(scope="module")
def binder() -> Iterator[tuple[Any, int]]:
    config = api_config(API, [{"uid": "echo", "encoder": "sync",
                               "exec": {"cmdpath": "/bin/echo", "args": ["%text%"]}}])
    with live_binder(config, "--ws-idle", "5") as (process, port):
        yield process, port
        _, err = process.stop()
        assert b"Traceback" not in err, err.decode(errors="replace")[-3000:]


def fragments(payload: bytes, split: bool) -> bytes:
    """The call as one frame, or as two fragments with a ping between them (RFC 6455 §5.4)."""
    if not split or len(payload) < 2:
        return encode(payload)
    middle = len(payload) // 2
    return (encode(payload[:middle], TEXT, fin=False) + encode(b"hi", PING)
            + encode(payload[middle:], CONTINUATION))


def answers(ws: RawWs, expected: int) -> dict[str, int]:
    """Reply kinds (3/4) by call id until `expected` replies came; a reply twice fails."""
    replies: dict[str, int] = {}
    while len(replies) < expected:
        opcode, payload = ws.frame()
        assert opcode != CLOSE, f"closed before every call was answered: {payload!r}"
        if opcode == TEXT:
            message = json.loads(payload)
            if message[0] in (3, 4):
                assert message[1] not in replies, f"call {message[1]} answered twice"
                replies[message[1]] = message[0]
    return replies


@FUZZ
@given(calls=st.lists(CALL, min_size=1, max_size=6))
def test_every_well_formed_call_is_answered_exactly_once(binder: tuple[Any, int], calls: list[Any]) -> None:
    ws = RawWs(binder[1])
    try:
        for number, (procedure, args, split, token) in enumerate(calls):
            call = [2, f"c{number}", procedure, args] + ([token] if token is not None else [])
            ws.send(fragments(json.dumps(call).encode(), split))
        assert set(answers(ws, len(calls))) == {f"c{n}" for n in range(len(calls))}
    finally:
        ws.close()


def still_serving(port: int) -> None:
    ws = RawWs(port)
    try:
        ws.send(encode(json.dumps([2, "alive", f"{API}/ping", None]).encode()))
        assert answers(ws, 1) == {"alive": 3}
    finally:
        ws.close()


GARBAGE = st.one_of(
    st.binary(max_size=200).map(lambda data: encode(data, TEXT)),  # mostly invalid UTF-8 / invalid frames
    st.text(max_size=200).map(lambda text: encode(text.encode("utf-8", "surrogatepass"))),
    st.binary(max_size=64).map(lambda data: encode(data, BINARY)),
    st.tuples(st.integers(3, 15), st.binary(max_size=30)).map(lambda item: encode(item[1], item[0])),
    st.binary(min_size=1, max_size=300),  # not even a frame
    st.binary(max_size=50).map(lambda data: encode(data, PONG) + encode(data[:125], PING)),
    st.integers(126, 2**40).map(lambda size: encode(b"x" * 200)[:2] + b"\x7f" + size.to_bytes(8, "big")),
    st.lists(st.text(max_size=30), max_size=12).map(lambda parts: encode(("[" + ",".join(parts) + "]").encode())),
)


@FUZZ
@given(garbage=st.lists(GARBAGE, min_size=1, max_size=4))
def test_arbitrary_frames_never_stop_the_binder(binder: tuple[Any, int], garbage: list[bytes]) -> None:
    ws = RawWs(binder[1], timeout=0.5)
    try:
        for data in garbage:
            ws.send(data)
        while True:  # whatever comes back until the binder closes or waits for more
            ws.frame()
    except (OSError, ConnectionError, ValueError):
        pass
    finally:
        ws.close()
    still_serving(binder[1])


PATH_TEXT = st.text(st.sampled_from("abcxyz/._-~%20%2f%2e%00%ff?&=+:;@!$'()*,"), max_size=40)
REQUEST = st.tuples(
    st.sampled_from(["GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE"]),
    st.sampled_from(["/api/", f"/api/{API}/", "/api/monitor/", "/", "//", "/api"]) .flatmap(
        lambda root: PATH_TEXT.map(lambda tail: root + tail)),
    st.sampled_from(["", "application/json", "application/x-www-form-urlencoded", "text/plain",
                     "multipart/form-data; boundary=x", "application/json; charset=latin-1"]),
    st.binary(max_size=300) | JSON.map(lambda value: json.dumps(value).encode()),
)


def http_status(port: int, method: str, target: str, content_type: str, body: bytes) -> int:
    head = f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(body)}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1]) if answer else 0


@FUZZ
@given(request=REQUEST)
def test_rest_input_never_gets_a_5xx(binder: tuple[Any, int], request: tuple[str, str, str, bytes]) -> None:
    method, target, content_type, body = request
    status = http_status(binder[1], method, target, content_type, body)
    assert status < 500 or status == 501, (request, status)
