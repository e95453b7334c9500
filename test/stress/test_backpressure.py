"""Back-pressure and fairness (issue 14): output flows as fast as its slowest reader takes it.

A reading client is never cut off; a client that reads nothing is closed with a close
frame after `--ws-stall`, the loss logged; a loop pass handles a bounded amount of one
task's output. The binder is a real subprocess; clients use real sockets.
"""
from __future__ import annotations

import asyncio
import json
import os
import struct
from typing import Any

from afbclient import AfbClient
from livebinder import api_config, live_binder, scaled, wait_for_log
from test_afb_rawframes import frame, read_frame, upgrade

from afbspawn.tasks.pipes import CHUNK, PipeReader

API = "bp"
SEQ = scaled(40_000, 200_000)
WIDE = 400  # characters per line of `wide` (one event each): megabytes of events from few lines
WIDE_LINES = scaled(20_000, 200_000)  # 5 x 20,000 x 400 B: past the old 16 MiB cap
LONG_LINES = scaled(50_000, 500_000)  # 20 MB for one slow reader


def seq_config(lines: int = SEQ) -> dict[str, Any]:
    return api_config(API, [
        {"uid": "seq", "encoder": "line", "exec": {"cmdpath": "/usr/bin/seq", "args": [str(lines)]}},
        {"uid": "wide", "encoder": "line", "exec": {"cmdpath": "/bin/sh", "args": [
            "-c", f"yes {'x' * WIDE} | head -n {WIDE_LINES}"]}},
        {"uid": "long", "encoder": "line", "exec": {"cmdpath": "/bin/sh", "args": [
            "-c", f"yes {'x' * WIDE} | head -n {LONG_LINES}"]}},
    ])


def run(coro: Any, timeout: float = 240) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def drain(client: AfbClient, finals: int) -> tuple[int, int]:
    """Take events until `finals` final events arrived; (data events, final events)."""
    data = done = 0
    while done < finals:
        kind = (await client.events.get())[2]["data"]["type"]
        data += kind == "data"
        done += kind == "final-event"
    return data, done


class RawClient:
    """A WebSocket client that reads only when told to (AfbClient always reads at full speed)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.data = self.done = 0  # events seen so far, also while waiting for a reply

    async def _next(self) -> list[Any]:
        message = json.loads((await read_frame(self.reader))[1])
        if message[0] == 5:
            kind = message[2]["data"]["type"]
            self.data += kind == "data"
            self.done += kind == "final-event"
        return message

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer, _ = await upgrade(port)
        return cls(reader, writer)

    async def call(self, verb: str, args: Any) -> list[Any]:
        self.writer.write(frame(json.dumps([2, "1", f"{API}/{verb}", args]).encode(), mask=b"abcd"))
        while True:
            message = await self._next()
            if message[0] != 5:
                return message

    async def drain(self, finals: int, pace: float = 0.0, pause: float = 0.0) -> tuple[int, int]:
        """Like `drain`, reading the socket only as fast as told: `pace` seconds of sleep every
        500 events; `pause` seconds once after 1000 (busy elsewhere, well under the stall time)."""
        paused = False
        while self.done < finals:
            await self._next()
            if pace and self.data % 500 == 0:
                await asyncio.sleep(pace)
            if pause and not paused and self.data >= 1000:
                paused = True
                await asyncio.sleep(pause)
        return self.data, self.done

    def close(self) -> None:
        self.writer.close()


def test_five_concurrent_streams_reach_a_reading_client_whole():
    """Five streams to a client reading slower than they write: beyond 16 MiB it was reset, output lost."""
    async def scenario(port: int) -> tuple[int, int, int]:
        client = await RawClient.connect(port)
        for _ in range(5):
            assert (await client.call("wide", {"action": "start"}))[0] == 3
        data, finals = await client.drain(5, pause=4)
        code = (await client.call("ping", None))[0]
        client.close()
        return data, finals, code
    with live_binder(seq_config()) as (_, port):
        assert run(scenario(port)) == (5 * WIDE_LINES, 5, 3)


def test_a_slow_reader_loses_nothing_and_paces_the_task():
    async def scenario(port: int) -> tuple[tuple[int, int], tuple[int, int]]:
        url = f"ws://127.0.0.1:{port}/api"
        slow = await RawClient.connect(port)
        async with await AfbClient.connect(url) as fast:
            await slow.call("long", {"action": "subscribe"})
            await fast.call(API, "long", {"action": "start"})
            result = tuple(await asyncio.gather(slow.drain(1, pace=0.05), drain(fast, 1)))
        slow.close()
        return result
    with live_binder(seq_config(), "--ws-stall", "2") as (binder, port):
        assert run(scenario(port)) == ((LONG_LINES, 1), (LONG_LINES, 1))
        _, err = binder.stop()
        assert b"took nothing" not in err


def test_a_stalled_subscriber_is_closed_with_a_close_frame_and_the_others_get_everything():
    async def scenario(binder: Any, port: int) -> tuple[tuple[int, int], int]:
        reader, writer, _ = await upgrade(port)
        writer.write(frame(json.dumps([2, "1", f"{API}/long", {"action": "subscribe"}]).encode(), mask=b"abcd"))
        await read_frame(reader)  # its reply; from now on it reads nothing
        async with await AfbClient.connect(f"ws://127.0.0.1:{port}/api") as fast:
            await fast.call(API, "long", {"action": "start"})
            logged = await asyncio.to_thread(wait_for_log, binder, b"took nothing")
            close_code = 0
            while True:  # it reads again: what it had, then the close frame
                first, payload = await read_frame(reader)
                if first & 0x0F == 0x8:
                    close_code = struct.unpack(">H", payload[:2])[0]
                    break
            writer.close()
            return await drain(fast, 1), close_code, logged
    with live_binder(seq_config(), "--ws-stall", "1.5") as (binder, port):
        fast, close_code, logged = run(scenario(binder, port))
    assert fast == (LONG_LINES, 1)
    assert close_code == 1008
    assert b"lost" in logged


class ShutGate:
    """A gate that is closed until `open()` — the test's stand-in for a congested subscriber."""

    def __init__(self) -> None:
        self.is_open = False
        self.waiting: list[Any] = []

    def ready(self) -> bool:
        return self.is_open

    def when_ready(self, resume: Any) -> None:
        self.waiting.append(resume)

    def open(self) -> None:
        self.is_open = True
        for resume in self.waiting:
            resume()


def test_one_loop_pass_reads_a_bounded_amount_and_a_shut_gate_stops_reading():
    async def scenario() -> tuple[list[int], int, int]:
        loop = asyncio.get_running_loop()
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        os.write(write_end, b"x" * 60000)
        passes: list[int] = []
        reader = PipeReader(loop, read_end, lambda data: passes.append(len(data)), lambda: None)
        await asyncio.sleep(0.05)
        reader.close()
        read_end, write_end2 = os.pipe()
        gate = ShutGate()
        gated: list[int] = []
        reader = PipeReader(loop, read_end, lambda data: gated.append(len(data)), lambda: None, gate)
        os.write(write_end2, b"y" * 1000)
        await asyncio.sleep(0.05)
        while_shut = len(gated)
        gate.open()
        await asyncio.sleep(0.05)
        reader.close()
        for fd in (write_end, write_end2):
            os.close(fd)
        return passes, while_shut, sum(gated)
    passes, while_shut, after = asyncio.run(scenario())
    assert sum(passes) == 60000 and max(passes) <= CHUNK <= 16384  # many passes, each bounded
    assert while_shut == 0 and after == 1000
