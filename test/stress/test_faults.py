"""Faults: a flood on stdout, a fork bomb under rlimits, the binder killed (SIGKILL) or
stopped (SIGTERM) with running tasks, a config file removed under a running binder.
The binder is a real subprocess; what survives is read from /proc.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from afbclient import AfbClient
from binderproc import start_binder
from conftest import free_port
from livebinder import api_config, live_binder, scaled

API = "flt"
MARK = str(1_000_000 + os.getpid())  # `sleep MARK`: this run's tasks in /proc (not a parallel run's)
FLOOD = scaled(50_000_000, 1_000_000_000)  # bytes on stdout
LINE = 400  # bytes per line of the flood, newline included


def marked() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    if cmdline.read().split(b"\0")[:2] == [b"sleep", MARK.encode()]:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def config() -> dict[str, Any]:
    return api_config(API, [
        {"uid": "hold", "exec": {"cmdpath": "/bin/sh", "args": ["-c", f"sleep {MARK} & sleep {MARK}"]}},
        {"uid": "flood", "encoder": "line", "exec": {"cmdpath": "/bin/sh", "args": [
            "-c", f"tr '\\0' x < /dev/zero | fold -w {LINE - 1} | head -c {FLOOD}"]}},
        {"uid": "bomb", "timeout": 5, "exec": {"cmdpath": "/bin/sh", "args": ["-c", "b() { b | b & }; b; sleep 30"]}},
    ], rlimits={"nproc": 64})


def run(coro: Any, timeout: float = 300) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def final(client: AfbClient, pid: int) -> tuple[int, dict[str, Any]]:
    lines = 0
    while True:
        data = (await client.events.get())[2]["data"]
        if data.get("pid") == pid:
            if data["type"] == "final-event":
                return lines, data
            lines += 1


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_nothing_survives_the_binder(tmp_path: Path, signum: int) -> None:
    (tmp_path / "api.json").write_text(json.dumps(config()))
    port = free_port()
    binder = start_binder([sys.executable, "-m", "afbspawn", "--config",
                           str(tmp_path / "api.json"), "-p", str(port)], cwd=tmp_path)

    async def start_three() -> None:
        async with await AfbClient.connect(f"ws://127.0.0.1:{port}/api") as client:
            for _ in range(3):
                assert (await client.call(API, "hold", {"action": "start"}))[0] == 3
    try:
        run(start_three())
        deadline = time.monotonic() + 10
        while len(marked()) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(marked()) >= 6  # three tasks, each a sleep and a background sleep
        binder.process.send_signal(signum)
        binder.process.wait(30)
        if signum == signal.SIGKILL:  # nothing ran to clean up: the next binder ends the dead one's tasks
            binder = start_binder([sys.executable, "-m", "afbspawn", "--config", str(tmp_path / "api.json"),
                                   "-p", str(free_port())], cwd=tmp_path)
        deadline = time.monotonic() + 10
        while marked() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marked() == []
    finally:
        binder.stop()  # a failed run leaves no binder behind (its tasks would hold the nobody user's nproc)


def test_flood_on_stdout_reaches_a_reader_whole_and_the_binder_serves_others() -> None:
    async def scenario(port: int) -> tuple[int, dict[str, Any], int]:
        url = f"ws://127.0.0.1:{port}/api"
        async with await AfbClient.connect(url) as reader, await AfbClient.connect(url) as other:
            _, reply = await reader.call(API, "flood", {"action": "start"})
            flow = asyncio.ensure_future(final(reader, reply["response"]["pid"]))
            code, _ = await other.call(API, "ping")
            lines, end = await flow
            return lines, end, code
    with live_binder(config()) as (_, port):
        lines, end, code = run(scenario(port), timeout=1800)
    assert end["status"] == {"exit": 0} and "truncated" not in end
    assert lines == -(-FLOOD // LINE) and code == 3


def test_fork_bomb_under_rlimits_ends_and_the_binder_keeps_serving() -> None:
    async def scenario(port: int) -> tuple[dict[str, Any], int]:
        async with await AfbClient.connect(f"ws://127.0.0.1:{port}/api") as client:
            _, reply = await client.call(API, "bomb", {"action": "start"})
            code, _ = await client.call(API, "ping")
            _, end = await final(client, reply["response"]["pid"])
            return end, code
    with live_binder(config()) as (_, port):
        end, code = run(scenario(port))
    assert set(end["status"]) & {"exit", "signal"}  # out of processes (nproc) or killed at its timeout
    assert code == 3


def test_a_removed_config_file_does_not_disturb_a_running_binder() -> None:
    async def scenario(port: int) -> tuple[int, int]:
        async with await AfbClient.connect(f"ws://127.0.0.1:{port}/api") as client:
            code, _ = await client.call(API, "ping")
            started, _ = await client.call(API, "hold", {"action": "start"})
            return code, started
    with live_binder(config()) as (binder, port):
        for config_file in Path(f"/proc/{binder.pid}/cwd").glob("*.json"):
            config_file.unlink()
        assert run(scenario(port)) == (3, 3)
        _, err = binder.stop()
    assert b"Traceback" not in err
