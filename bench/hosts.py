"""One behaviour, three binders: `ping` and a `/bin/true` start over one WebSocket.

The embedded host, the libafb host (`--host libafb`) and the C spawn-binding in afb-binder
serve the same config; one client makes sequential calls on one connection (the latency a
single client sees) and the same run prints each binder's rate and its ratio to the
embedded host. Binders missing here (no framework installed) are listed as absent.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "test"))
sys.path.insert(0, str(REPO))
from afbclient import AfbClient
from binderproc import listening

from afbspawn.afb.framework import prefix, program

CALLS = 2000
STARTS = 300
CONFIG = {
    "metadata": {"uid": "bench", "api": "bench"},
    "sandboxes": {"uid": "box", "acls": {"user": "nobody", "group": "nogroup"}, "commands": [
        {"uid": "true", "encoder": "sync", "exec": {"cmdpath": "/bin/true"}},
    ]},
}
C_BINDING = "redpesk/spawn-binding/lib/spawn-binding.so"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def commands(config: Path, port: int) -> dict[str, list[str] | None]:
    """How each binder starts, or None when it is not installed here."""
    spawn = [sys.executable, "-m", "afbspawn", "--config", str(config), "-p", str(port)]
    binder, root = program("afb-binder"), prefix()
    binding = Path(root or "/nonexistent") / C_BINDING
    return {
        "embedded": spawn,
        "libafb": [*spawn, "--host", "libafb"] if program("afb-client") else None,
        "C spawn-binding": ([binder, "-i", f"tcp:127.0.0.1:{port}", f"--binding={binding}:{config}"]
                            if binder and binding.exists() else None),
    }


async def rate(client: AfbClient, verb: str, args: object, count: int) -> tuple[float, float]:
    """(calls/s, p50 ms) of `count` sequential calls."""
    durations = []
    start = time.perf_counter()
    for _ in range(count):
        before = time.perf_counter()
        code, envelope = await client.call("bench", verb, args)
        durations.append(time.perf_counter() - before)
        if code != 3:
            raise RuntimeError(f"bench/{verb}: {envelope}")
    return count / (time.perf_counter() - start), statistics.median(durations) * 1000


async def measure(port: int) -> dict[str, tuple[float, float]]:
    async with await AfbClient.connect(f"ws://127.0.0.1:{port}/api") as client:
        await rate(client, "ping", True, 50)  # warm-up
        return {"ping": await rate(client, "ping", True, CALLS),
                "/bin/true start": await rate(client, "true", {"action": "start"}, STARTS)}


def run_binder(command: list[str], port: int) -> dict[str, tuple[float, float]] | None:
    for _ in range(3):  # the C binding's text_check() fails to start now and then
        process = subprocess.Popen(command, cwd=REPO, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if listening(port, process):
                return asyncio.run(measure(port))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return None


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="afbspawn-bench-") as root:
        config = Path(root) / "bench.json"
        config.write_text(json.dumps(CONFIG))
        os.chmod(root, 0o755)
        results: dict[str, dict[str, tuple[float, float]] | None] = {}
        for name in commands(config, 0):
            port = free_port()
            command = commands(config, port)[name]
            results[name] = run_binder(command, port) if command else None
    base = results["embedded"]
    print(f"one WebSocket, sequential: {CALLS} pings, {STARTS} /bin/true starts (sync encoder)")
    print(f"{'binder':<17} {'row':<16} {'calls/s':>9} {'p50 ms':>8} {'vs embedded':>12}")
    for name, rows in results.items():
        if rows is None:
            print(f"{name:<17} absent (not installed here, or did not start)")
            continue
        for row, (per_second, p50) in rows.items():
            ratio = per_second / base[row][0] if base else float("nan")
            print(f"{name:<17} {row:<16} {per_second:>9,.0f} {p50:>8.2f} {ratio:>11.2f}x")


if __name__ == "__main__":
    main()
