"""Hostile client input to the embedded binder (issue 14, "Why"): every case failed on the
binder before the hardening — a traceback, a 500, an unbounded state change or a
connection held forever. A real EmbeddedBinder on a free port, real sockets.
"""
from __future__ import annotations

import asyncio
import json
import logging
import sys
import time

import aiohttp
import pytest
from afbclient import AfbClient
from afbserver import binder_running, http_url, run, ws_url
from binderproc import start_binder
from conftest import free_port
from test_afb_rawframes import frame, upgrade

from afbspawn.afb.embedded.monitor import ROOT_LOGGER, SET_PERMISSION
from afbspawn.afb.embedded.permissions import Policy
from afbspawn.afb.embedded.websocket import WsLimits

MINIMAL_CONFIG = {"metadata": {"uid": "m", "api": "m", "version": "1"},
                  "sandboxes": [{"uid": "s", "acls": {"user": "nobody"},
                                 "commands": [{"uid": "t", "exec": {"cmdpath": "/bin/true"}}]}]}


def loggers() -> int:
    return len(logging.Logger.manager.loggerDict)


def test_monitor_set_with_40000_names_creates_nothing_and_needs_permission():
    flood = {"verbosity": {f"m{n}": "debug" for n in range(40_000)}}
    policy = Policy(tokens={"admin": frozenset({SET_PERMISSION})})

    async def scenario():
        async with binder_running(policy=policy) as (binder, _), await AfbClient.connect(ws_url(binder)) as client:
            before = loggers()
            _, flooded = await client.call("monitor", "set", flood, token="admin")
            created = loggers() - before
            anonymous = await AfbClient.connect(ws_url(binder))
            _, refused = await anonymous.call("monitor", "set", {"verbosity": {"demo": "debug"}})
            _, allowed = await client.call("monitor", "set", {"verbosity": {"demo": "info"}})
            await anonymous.close()
            return flooded, created, refused, allowed
    flooded, created, refused, allowed = run(scenario())
    assert flooded["request"]["status"] == "invalid-request" and "unknown API" in flooded["request"]["info"]
    assert created == 0
    assert refused["request"]["status"] == "insufficient-scope"
    assert allowed["request"]["status"] == "success"
    assert logging.getLogger(f"{ROOT_LOGGER}.api.demo").level == logging.INFO


def test_monitor_get_and_set_with_wrong_types_answer_afb_errors_not_internal_ones(caplog):
    bodies = [("get", {"apis": [[1], {"a": 1}, None, "demo"]}), ("get", {"verbosity": [[1], {"x": 2}]}),
              ("get", {"verbosity": {"demo": [1]}}), ("set", {"verbosity": {"demo": ["debug"]}}),
              ("set", {"verbosity": [1, 2]}), ("set", {"verbosity": {"demo": {"x": 1}}}), ("get", [1, 2]),
              ("set", "debug"), ("get", {"apis": {"demo": True}})]

    async def scenario():
        async with binder_running() as (binder, _), await AfbClient.connect(ws_url(binder)) as client:
            return [(await client.call("monitor", verb, args))[1]["request"] for verb, args in bodies]
    answers = run(scenario())
    assert [a["status"] for a in answers] == ["success", "success", "success", "invalid-request",
                                              "invalid-request", "invalid-request", "success", "success", "success"]
    assert "Traceback" not in caplog.text and "raised" not in caplog.text


def test_form_post_with_invalid_utf8_is_400_not_500():
    async def scenario():
        async with binder_running() as (binder, _), aiohttp.ClientSession() as session, \
                session.post(http_url(binder, "/api/demo/echo"), data=b"a=%ff%fe&b=\xff",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}) as answer:
            return answer.status
    assert run(scenario()) == 400


async def raw_answer(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


def test_static_directory_redirect_is_never_scheme_relative(tmp_path):
    (tmp_path / "sub").mkdir()

    async def scenario():
        async with binder_running(roothttp=str(tmp_path)) as (binder, _):
            return [await raw_answer(binder.ports[0], f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                     .encode()) for target in ("//sub", "///sub", "/sub")]
    answers = run(scenario())
    locations = [line for answer in answers for line in answer.decode().split("\r\n") if line.startswith("Location")]
    assert locations == ["Location: /sub/"] * 3


BAD_HTTP = [b"GET /" + b"x" * 20000 + b" HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
            b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
            b"POST /api/x/y HTTP/1.1\r\nContent-Length: -5\r\n\r\n"]


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_malformed_http_is_one_line_at_v_and_silent_by_default(tmp_path, verbose):
    (tmp_path / "c.json").write_text(json.dumps(MINIMAL_CONFIG))
    port = free_port()
    binder = start_binder([sys.executable, "-m", "afbspawn", "--config", str(tmp_path / "c.json"),
                           "-p", str(port), *verbose], cwd=tmp_path)
    answers = [asyncio.run(raw_answer(port, request)) for request in BAD_HTTP]
    _, err = binder.stop()
    assert all(answer[:10] in (b"HTTP/1.1 4", b"HTTP/1.0 4") or answer == b"" for answer in answers), answers
    text = err.decode()
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if "Error handling request" in line]
    assert len(lines) == (len(BAD_HTTP) - 1 if verbose else 0)  # the TLS hello is logged at debug only
    assert all(line.startswith("afb-spawn: NOTICE: ") for line in lines)


def test_half_a_websocket_frame_is_closed_after_the_idle_time():
    async def scenario():
        async with binder_running(ws_limits=WsLimits(idle_seconds=0.6)) as (binder, _):
            reader, writer, _ = await upgrade(binder.ports[0])
            writer.write(frame(b'[2,"1","demo/ping",null]', mask=b"abcd")[:10])  # and nothing more
            start = time.monotonic()
            await asyncio.wait_for(reader.read(), 20)  # EOF: the binder closed the connection
            writer.close()
            return time.monotonic() - start
    assert run(scenario()) < 20


def test_half_an_http_request_is_closed_after_the_handshake_time():
    async def scenario():
        async with binder_running(handshake_seconds=0.5) as (binder, _):
            reader, writer = await asyncio.open_connection("127.0.0.1", binder.ports[0])
            writer.write(b"GET /api HTTP/1.1\r\nHost: x\r\nUpgrade: webso")
            data = await asyncio.wait_for(reader.read(), 20)  # EOF instead of waiting forever
            writer.close()
            return data
    assert run(scenario()) == b""


def test_pending_calls_per_connection_are_bounded_without_refusing_any():
    async def scenario():
        async with binder_running(ws_limits=WsLimits(max_pending=4)) as (binder, demo), \
                await AfbClient.connect(ws_url(binder)) as client:
            calls = [asyncio.ensure_future(client.call("demo", "keep")) for _ in range(10)]
            await asyncio.sleep(0.3)
            held = len(demo.requests)  # the binder read only as many as it runs at once
            while len(demo.requests) < 10:  # each answer lets one more call in
                for request in demo.requests:
                    request.reply(0, "ok")  # a second reply is ignored
                await asyncio.sleep(0.05)
            for request in demo.requests:
                request.reply(0, "ok")
            answers = await asyncio.gather(*calls)
            return held, [code for code, _ in answers]
    held, codes = run(scenario())
    assert held == 4
    assert codes == [3] * 10

