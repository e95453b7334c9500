"""Embedded binder throughput: WebSocket calls, REST calls, event fan-out (client in-process)."""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
from afbclient import AfbClient
from afbserver import binder_running, http_url, ws_url


async def ws_calls(binder, connections: int, calls: int) -> float:
    clients = [await AfbClient.connect(ws_url(binder)) for _ in range(connections)]
    start = time.perf_counter()
    await asyncio.gather(*(c.call("demo", "echo", i) for c in clients for i in range(calls)))
    elapsed = time.perf_counter() - start
    await asyncio.gather(*(c.close() for c in clients))
    return connections * calls / elapsed


async def rest_calls(binder, calls: int) -> float:
    async with aiohttp.ClientSession() as session:
        start = time.perf_counter()
        for _ in range(calls):
            async with session.get(http_url(binder, "/api/demo/ping")) as answer:
                await answer.read()
        return calls / (time.perf_counter() - start)


async def fanout(binder, demo, subscribers: int, pushes: int) -> float:
    clients = [await AfbClient.connect(ws_url(binder)) for _ in range(subscribers)]
    await asyncio.gather(*(c.call("demo", "subscribe") for c in clients))
    start = time.perf_counter()
    for n in range(pushes):
        demo.tick.push({"n": n, "line": "x" * 80})
    for c in clients:
        for _ in range(pushes):
            await c.events.get()
    elapsed = time.perf_counter() - start
    await asyncio.gather(*(c.close() for c in clients))
    return subscribers * pushes / elapsed


async def main() -> None:
    async with binder_running() as (binder, demo):
        rows = [
            ("ws calls, 1 conn x 5000", f"{await ws_calls(binder, 1, 5000):,.0f} calls/s"),
            ("ws calls, 100 conn x 100", f"{await ws_calls(binder, 100, 100):,.0f} calls/s"),
            ("rest calls, sequential x 1000", f"{await rest_calls(binder, 1000):,.0f} calls/s"),
            ("events, 100 subscribers x 200", f"{await fanout(binder, demo, 100, 200):,.0f} deliveries/s"),
        ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    asyncio.run(main())
