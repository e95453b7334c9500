"""Load: many clients each starting many tasks with output; every reply and every final
event arrives, and no client receives another's events (before the hardening, each of 200
clients got some 10,000 events of the others' tasks). `make test`: 20 clients x 10 starts; `make test-long`: 200 x 50. The calls/s
figure is printed (`-s`), never asserted (bench/ measures speed).
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from afbclient import AfbClient
from livebinder import api_config, live_binder, scaled

API = "load"
CLIENTS = scaled(20, 200)
STARTS = scaled(10, 50)


async def client_run(port: int) -> tuple[int, int, int]:
    """Start STARTS tasks one after the other; (replies, own final events, others' events) seen."""
    async with await AfbClient.connect(f"ws://127.0.0.1:{port}/api") as client:
        replies = finals = foreign = 0
        for _ in range(STARTS):
            code, reply = await client.call(API, "hello", {"action": "start"})
            replies += code == 3
            pid = reply["response"]["pid"]
            while True:
                data = (await client.events.get())[2]["data"]
                foreign += data.get("pid") != pid  # its tasks run one after the other
                if data.get("pid") == pid and data.get("type") == "final-event":
                    finals += 1
                    break
        return replies, finals, foreign


def test_every_client_gets_every_reply_and_final_event() -> None:
    config = api_config(API, [{"uid": "hello", "encoder": "line",
                               "exec": {"cmdpath": "/bin/echo", "args": ["hello"]}}])

    async def everyone(port: int) -> list[Any]:
        return await asyncio.gather(*(client_run(port) for _ in range(CLIENTS)))
    with live_binder(config) as (_, port):
        start = time.perf_counter()
        results = asyncio.run(asyncio.wait_for(everyone(port), 600))
        elapsed = time.perf_counter() - start
    print(f"\n{CLIENTS} clients x {STARTS} starts: {CLIENTS * STARTS / elapsed:.0f} starts/s over WebSocket")
    assert results == [(STARTS, STARTS, 0)] * CLIENTS
