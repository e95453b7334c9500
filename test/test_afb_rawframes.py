"""Raw-socket client speaking like afb-client: unmasked frames, exact bytes checked.

Upgrade answers, exact reply bytes, malformed frames and refused upgrades are checked on
both hosts (conftest's `demo_host`); the WebSocket limits (slow subscriber, --ws-maxlen)
are options of the embedded binder, checked in the test process.
"""
import asyncio
import os
import struct

import pytest
from afbclient import AfbClient
from afbserver import binder_running, run, ws_url
from wsraw import encode

from afbspawn.afb.embedded.websocket import WsLimits

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def frame(payload: bytes, opcode: int = 1, mask: bytes | None = None, rsv: int = 0) -> bytes:
    """A final frame, unmasked unless `mask` is given (afb-client sends unmasked frames)."""
    return encode(payload, opcode, masked=False, mask=mask, rsv=rsv)


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack(">H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack(">Q", await reader.readexactly(8))[0]
    assert not second & 0x80, "server frames are never masked"
    return first, await reader.readexactly(length)


async def upgrade(port: int, headers: str = "Sec-WebSocket-Protocol: x-afb-ws-json1\r\n", path: str = "/api",
                  version: str = "13"):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Version: {version}\r\nSec-WebSocket-Key: {KEY}\r\n"
                  f"{headers}Content-Length: 0\r\n\r\n").encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    return reader, writer, head


def header_lines(head: str) -> list[str]:
    return head.split("\r\n")


@pytest.mark.parametrize("offered", ["Sec-WebSocket-Protocol: x-afb-ws-json1\r\n", ""])
def test_upgrade_answer_satisfies_afb_client(offered, demo_host):
    async def scenario():
        _, writer, head = await upgrade(demo_host[1], offered)
        lines = header_lines(head)
        assert lines[0].startswith("HTTP/1.1 101")
        assert "Upgrade: websocket" in lines  # exact, lowercase value
        assert "Sec-WebSocket-Protocol: x-afb-ws-json1" in lines
        assert f"Sec-WebSocket-Accept: {ACCEPT}" in lines
        assert not any(line.lower().startswith(("set-cookie", "content-length: ")) and line != "Content-Length: 0"
                       for line in lines)
        writer.close()
    run(scenario())


def test_unmasked_and_masked_calls_get_exact_bytes(demo_host):
    async def scenario():
        reader, writer, _ = await upgrade(demo_host[1])
        writer.write(frame(b'[2,"999999","demo/ping",foo bar]'))
        assert await read_frame(reader) == (0x81, b'[3,"999999",{"jtype":"afb-reply","request":{"status":"success","code":0},"response":{"pong":1}}]')
        writer.write(frame(b'[2,156,"demo/echo",foo bar]', mask=os.urandom(4)))
        assert await read_frame(reader) == (0x81, b'[3,"156",{"jtype":"afb-reply","request":{"status":"success","code":0},"response":"foo bar"}]')
        writer.write(frame(b'[5,"ignored",{}]') + frame(b'[2,"2","demo/nope",null]'))
        assert await read_frame(reader) == (0x81, b'[4,"2",{"jtype":"afb-reply","request":{"status":"unknown-verb","code":-4}}]')
        writer.write(frame(b"hello", opcode=9))
        assert await read_frame(reader) == (0x8A, b"hello")
        big = b'[2,"3","demo/echo","' + b"x" * 70000 + b'"]'
        writer.write(frame(big))
        _, payload = await read_frame(reader)
        assert payload.endswith(b'"response":"' + b"x" * 70000 + b'"}]')
        writer.close()
    run(scenario())


MALFORMED = [
    (frame(b'[2,"1","noslash",null]'), 1008, b""),
    (frame(b'[2,"1","demo/",null]'), 1008, b"invalid-frame"),
    (frame(b'[3,"1",{}]'), 1008, b"unbound-call-id"),
    (frame(b'[7]'), 1008, b"invalid-frame"),
    (frame(b'garbage'), 1008, b"invalid-frame"),
    (frame(b'[2,"1","a/b",null]', opcode=2), 1003, b""),
    (frame(b'[2,"1","a/b",null]', rsv=4), 1002, None),
    (frame(b'"' + b"y" * 1048500 + b'"'), 1009, None),
]


@pytest.mark.parametrize("data, code, reason", MALFORMED, ids=[
    "no-slash", "empty-verb", "reply-from-client", "unknown-kind", "not-json", "binary", "rsv-bits", "too-big"])
def test_malformed_frame_closes_only_that_connection(data, code, reason, demo_host):
    async def scenario():
        async with await AfbClient.connect(f"ws://127.0.0.1:{demo_host[1]}/api") as other:
            reader, writer, _ = await upgrade(demo_host[1])
            writer.write(data)
            opcode, payload = await read_frame(reader)
            assert opcode == 0x88
            assert struct.unpack(">H", payload[:2])[0] == code
            if reason is not None:
                assert payload[2:] == reason
            assert (await other.call("demo", "ping"))[0] == 3
            writer.close()
    run(scenario())


def test_refused_upgrades(demo_host):
    async def scenario():
        _, writer, head = await upgrade(demo_host[1], "Sec-WebSocket-Protocol: x-other\r\n")
        assert head.startswith("HTTP/1.1 412")
        writer.close()
        _, writer, head = await upgrade(demo_host[1], version="8")
        assert head.startswith("HTTP/1.1 426") and "Sec-WebSocket-Version: 13" in header_lines(head)
        writer.close()
        _, writer, head = await upgrade(demo_host[1], path="/api/")
        assert head.startswith("HTTP/1.1 404")  # only exactly /api upgrades
        writer.close()
    run(scenario())


def test_slow_subscriber_is_disconnected_without_blocking_others(caplog):
    async def scenario():
        async with binder_running(ws_limits=WsLimits(queue_bytes=256 * 1024)) as (binder, demo), \
                await AfbClient.connect(ws_url(binder)) as fast:
            reader, writer, _ = await upgrade(binder.ports[0])
            writer.write(frame(b'[2,"1","demo/subscribe",null]'))
            await read_frame(reader)  # then never read again
            await fast.call("demo", "subscribe")
            reached, received = [], 0
            while len(reached) < 20000 and reached[-1:] != [1]:  # 80 MB at most: beyond any socket buffer
                reached.append(demo.tick.push("z" * 4000))
                await asyncio.sleep(0)
                while not fast.events.empty():
                    fast.events.get_nowait()
                    received += 1
            assert reached[0] == 2 and reached[-1] == 1  # the slow one was dropped, the fast one kept
            while received < len(reached):
                await fast.events.get()
                received += 1  # and the fast one got every event
            assert (await fast.call("demo", "ping"))[0] == 3
            writer.close()
    run(scenario())
    assert "too slow" in caplog.text


def test_ws_maxlen_raises_the_frame_limit():
    async def scenario():
        async with binder_running(ws_maxlen=2_000_000) as (binder, _):
            reader, writer, _ = await upgrade(binder.ports[0])
            writer.write(frame(b'[2,"1","demo/echo","' + b"w" * 1_500_000 + b'"]'))
            first, payload = await read_frame(reader)
            writer.close()
            return first, len(payload)
    assert run(scenario()) == (0x81, 1_500_000 + len(b'[3,"1",{"jtype":"afb-reply","request":{"status":"success","code":0},"response":""}]'))
