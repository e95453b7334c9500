"""Faults: a flood on stdout, a fork bomb under rlimits and under cgroups `pids` (or, where
the cgroup2 tree has no pids controller, its refusal), the binder killed (SIGKILL) or
stopped (SIGTERM) with running tasks, a config file removed under a running binder.
The binder is a real subprocess; what survives is read from /proc.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from afbclient import AfbClient
from binderproc import start_binder
from conftest import free_port
from livebinder import api_config, live_binder, scaled

from afbspawn.sandbox.containment import own_cgroup

API = "flt"
# `sleep MARK`: how this run's task processes are found in /proc (other runs on the host use other marks)
MARK = str(1_000_000 + os.getpid())
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


BOMB = {"uid": "bomb", "timeout": 5, "exec": {"cmdpath": "/bin/sh", "args": ["-c", "b() { b | b & }; b; sleep 30"]}}


def config() -> dict[str, Any]:
    """The bomb in a sandbox of its own: RLIMIT_NPROC counts every process of `nobody` on the host,
    so the other commands (and those of other runs) must not be under it."""
    bounded = api_config(API, [
        {"uid": "hold", "exec": {"cmdpath": "/bin/sh", "args": ["-c", f"sleep {MARK} & sleep {MARK}"]}},
        {"uid": "flood", "encoder": "line", "exec": {"cmdpath": "/bin/sh", "args": [
            "-c", f"tr '\\0' x < /dev/zero | fold -w {LINE - 1} | head -c {FLOOD}"]}},
    ], prefix="")
    bounded["sandboxes"].append({**api_config(API, [BOMB])["sandboxes"][0], "uid": "bombs", "prefix": "",
                                 "rlimits": {"nproc": 64}})
    return bounded


def pids_controller() -> bool:
    """Whether the binder's cgroup2 tree (the tests' own cgroup: the binder is their child) offers `pids`."""
    group = own_cgroup()
    try:
        return group is not None and "pids" in (group / "cgroup.controllers").read_text().split()
    except OSError:
        return False


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
        wait_until(lambda: len(marked()) >= 6)  # three tasks, each a sleep and a background sleep
        binder.process.send_signal(signum)
        binder.process.wait(30)
        if signum == signal.SIGKILL:  # nothing ran to clean up: the next binder ends the dead one's tasks
            binder = start_binder([sys.executable, "-m", "afbspawn", "--config", str(tmp_path / "api.json"),
                                   "-p", str(free_port())], cwd=tmp_path)
        wait_until(lambda: not marked())
    finally:
        binder.stop()


def wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still {marked()} after {timeout} s"
        time.sleep(0.05)


def bomb_then_ping(bounded: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Start the fork bomb of `bounded`, ping meanwhile: (its final event, the ping's code)."""
    async def scenario(port: int) -> tuple[dict[str, Any], int]:
        async with await AfbClient.connect(f"ws://127.0.0.1:{port}/api") as client:
            _, reply = await client.call(API, "bomb", {"action": "start"})
            code, _ = await client.call(API, "ping")
            _, end = await final(client, reply["response"]["pid"])
            return end, code
    with live_binder(bounded) as (_, port):
        return run(scenario(port))


def test_fork_bomb_under_rlimits_ends_and_the_binder_keeps_serving() -> None:
    end, code = bomb_then_ping(config())
    assert set(end["status"]) & {"exit", "signal"}  # out of processes (nproc) or killed at its timeout
    assert code == 3


@pytest.mark.skipif(not pids_controller(), reason="the cgroup2 tree here has no pids controller (next test)")
def test_fork_bomb_under_pids_max_ends_and_the_binder_keeps_serving() -> None:
    end, code = bomb_then_ping(api_config(API, [BOMB], cgroups={"pids": 32}))
    assert set(end["status"]) & {"exit", "signal"} and code == 3


@pytest.mark.skipif(pids_controller(), reason="the cgroup2 tree here has the pids controller (previous test)")
def test_pids_max_without_the_controller_refuses_the_start_never_runs_unlimited(tmp_path: Path) -> None:
    (tmp_path / "api.json").write_text(json.dumps(api_config(API, [BOMB], cgroups={"pids": 32})))
    expected = "cgroups (pids): the controller 'pids' is not available in the cgroup2 tree"
    for command in (["--config", str(tmp_path / "api.json"), "-p", "0"], ["check", str(tmp_path / "api.json")]):
        done = subprocess.run([sys.executable, "-m", "afbspawn", *command], capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 1 and expected in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert "/sandboxes/0/cgroups" in done.stderr and "serving" not in done.stderr


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
