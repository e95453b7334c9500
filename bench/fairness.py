"""Fairness: the `ping` round trip of one client while another drains a 2 M-line task, vs idle.

The binder runs as its own process (`python -m afbspawn`), the streaming client as
another (this file with --stream), so that neither client's work delays the other's.
The idle row is the baseline of the same run. Usage: bench/fairness.py [LINES] [--profile]

--profile runs the binder under bench/loopprofile.py (stdlib loop, every loop callback and
garbage collection timed) and prints where its passes went: what one callback costs in CPU
against how long it took on the clock tells the binder's own work from the time the kernel
gave its core to other processes.
"""
from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
from afbclient import AfbClient
from binderproc import start_binder
from conftest import free_port

LINES = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 2_000_000
PROFILER = Path(__file__).resolve().parent / "loopprofile.py"
CONFIG = {
    "metadata": {"uid": "fairness", "api": "fair", "version": "1.0"},
    "sandboxes": [{"uid": "box", "acls": {"user": "nobody"}, "commands": [
        {"uid": "stream", "encoder": "line", "exec": {"cmdpath": "/usr/bin/seq", "args": [str(LINES)]}},
    ]}],
}


async def pings(url: str, stop: asyncio.Event, limit: int = 100_000) -> list[float]:
    """Round trips (ms) of `fair/ping`, one after the other, until `stop` or `limit`."""
    times: list[float] = []
    async with await AfbClient.connect(url) as client:
        while not stop.is_set() and len(times) < limit:
            start = time.perf_counter()
            await client.call("fair", "ping")
            times.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.005)
    return times


async def stream(url: str) -> tuple[int, float]:
    """Start the 2 M-line task and take every event; (data events, seconds)."""
    async with await AfbClient.connect(url) as client:
        start = time.perf_counter()
        await client.call("fair", "stream", {"action": "start"})
        lines = 0
        while True:
            frame = await client.events.get()
            kind = frame[2]["data"].get("type")
            lines += kind == "data"
            if kind == "final-event":
                return lines, time.perf_counter() - start


def row(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"| {name} | {len(times)} | {statistics.median(ordered):.2f} | {p99:.2f} | {ordered[-1]:.2f} |"


async def measure(port: int) -> None:
    url = f"ws://127.0.0.1:{port}/api"
    stop = asyncio.Event()
    idle = await pings(url, stop, limit=300)
    streamer = await asyncio.create_subprocess_exec(sys.executable, __file__, "--stream", str(port),
                                                    stdout=asyncio.subprocess.PIPE)
    busy_task = asyncio.create_task(pings(url, stop))
    out, _ = await streamer.communicate()
    stop.set()
    busy = await busy_task
    lines, seconds = json.loads(out)
    print(f"{lines} lines streamed in {seconds:.1f} s ({lines / seconds:,.0f} events/s)")
    print("| ping round trip | calls | median ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    print(row("idle binder (baseline)", idle))
    print(row(f"while another client drains seq {LINES}", busy))


def main() -> None:
    if sys.argv[1:2] == ["--stream"]:
        print(json.dumps(asyncio.run(stream(f"ws://127.0.0.1:{sys.argv[2]}/api"))))
        return
    root = Path(tempfile.mkdtemp(prefix="afbspawn-fairness-"))
    (root / "fair.json").write_text(json.dumps(CONFIG))
    port = free_port()
    profiled = "--profile" in sys.argv
    run = [str(PROFILER), str(root / "profile.json")] if profiled else ["-m", "afbspawn"]
    binder = start_binder([sys.executable, *run, "--config", str(root / "fair.json"), "-p", str(port)], cwd=root)
    try:
        asyncio.run(measure(port))
    finally:
        binder.stop()
        if profiled:
            print_profile(json.loads((root / "profile.json").read_text()))
        subprocess.run(["rm", "-rf", str(root)], check=False)


def print_profile(profile: dict[str, object]) -> None:
    """The binder's loop callbacks by CPU and by wall time, its slowest, its collections."""
    cpu, wall = profile["cpu"], profile["wall"]
    assert isinstance(cpu, dict) and isinstance(wall, dict) and isinstance(profile["slowest"], list)
    print(f"\nbinder loop (stdlib asyncio, profiled): {profile['callbacks']} callbacks")
    print("| one callback took | by its CPU time | by the clock |")
    print("|---|---|---|")
    for name in sorted(set(cpu) | set(wall), key=lambda text: (text[0] == ">", float(text.split()[1]))):
        print(f"| {name} | {cpu.get(name, 0)} | {wall.get(name, 0)} |")
    print("slowest by CPU: " + "; ".join(f"{one['callback']} {one['cpu_ms']:.1f} ms CPU / {one['wall_ms']:.1f} ms"
                                         for one in profile["slowest"][:5]))
    print("collections: " + ", ".join(f"gen {gen}: {one['count']} (max {one['max_ms']:.1f} ms)"
                                      for gen, one in dict(profile["gc"]).items()))


if __name__ == "__main__":
    main()
