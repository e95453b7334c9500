"""Reliability of the whole binder over real sockets (binder as a subprocess, run as nobody),
checked on both hosts (embedded and libafb: test/hosts.py).

The C binding lost sync stdout under load, crashed over REST, leaked children's fds and
hung on grandchildren; these tests pin the fixes. No timing assertions: only generous
timeouts so that a hang fails instead of blocking CI.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from integration import require_whole_binder

require_whole_binder()

import aiohttp
from afbclient import AfbClient
from binderproc import Binder, start_binder
from conftest import free_port
from hosts import HOSTS, host_args
from procs import children, live_members, open_fds, status_kib

API = "rel"
FLOOD_BYTES = 100_000_000
CONFIG = {
    "metadata": {"uid": "reliability", "api": API, "version": "1.0"},
    "sandboxes": [{"uid": "box", "commands": [
        {"uid": "echo", "encoder": "sync", "exec": {"cmdpath": "/bin/echo", "args": ["%text%"]}},
        {"uid": "sleep", "exec": {"cmdpath": "/bin/sleep", "args": ["60"]}},
        {"uid": "background", "exec": {"cmdpath": "/bin/sh", "args": ["-c", "sleep 60 & echo started"]}},
        {"uid": "flood", "encoder": "sync",
         "exec": {"cmdpath": "/bin/sh", "args": ["-c", f"yes | head -c {FLOOD_BYTES}"]}},
        {"uid": "ticker", "encoder": "line",
         "exec": {"cmdpath": "/bin/sh", "args": ["-c", "for i in 1 2 3 4 5; do echo tick$$i; sleep 0.3; done"]}},
    ]}],
}
GRACE = "0.5"  # seconds (AFB_SPAWN_GRACE): short, so the grandchild test stays quick


@pytest.fixture(scope="module", params=HOSTS)
def binder(request: pytest.FixtureRequest, as_nobody: Callable[..., list[str]]) -> Iterator[tuple[Binder, int]]:
    selection = host_args(request.param)
    root = Path(tempfile.mkdtemp(prefix="afbspawn-reliability-"))
    (root / "rel.json").write_text(json.dumps(CONFIG))
    subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True)
    port = free_port()
    process = start_binder(as_nobody("-m", "afbspawn", *selection, "--config", str(root / "rel.json"),
                                     "-p", str(port)),
                           cwd=root, env={"AFB_SPAWN_GRACE": GRACE})
    yield process, port
    process.stop()
    shutil.rmtree(root, ignore_errors=True)


def run(coro: Any, timeout: float = 120) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def ws_url(port: int) -> str:
    return f"ws://127.0.0.1:{port}/api"


async def next_event(client: AfbClient, kind: str, pid: int | None = None) -> dict[str, Any]:
    """The next event of `kind` (for `pid` if given), skipping the others."""
    while True:
        frame = await client.events.get()
        data = frame[2]["data"]
        if data.get("type") == kind and (pid is None or data.get("pid") == pid):
            return data


def test_thousand_sync_calls_over_eight_connections_lose_no_stdout(binder: tuple[Binder, int]) -> None:
    _, port = binder

    async def connection(number: int) -> list[str]:
        problems = []
        async with await AfbClient.connect(ws_url(port)) as client:
            for call in range(125):
                text = f"c{number}-{call}"
                code, envelope = await client.call(API, "echo", {"action": "start", "args": {"text": text}})
                response = envelope.get("response", {})
                if code != 3 or response.get("stdout") != [text] or response.get("status") != {"exit": 0}:
                    problems.append(f"{text}: {envelope}")
        return problems

    async def everyone() -> list[str]:
        results = await asyncio.gather(*(connection(n) for n in range(8)))
        return [problem for problems in results for problem in problems]

    assert run(everyone()) == []


async def rest(session: aiohttp.ClientSession, port: int, verb: str, body: Any = None,
               query: str = "") -> dict[str, Any]:
    """The reply envelope (libafb sends it with no Content-Type: read as text, docs/hosts.md)."""
    url = f"http://127.0.0.1:{port}/api/{API}/{verb}{query}"
    if body is None:
        async with session.get(url) as response:
            return json.loads(await response.text())
    async with session.post(url, json=body) as response:
        return json.loads(await response.text())


def test_every_action_over_rest(binder: tuple[Binder, int]) -> None:
    _, port = binder

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            assert (await rest(session, port, "ping"))["response"].startswith("pong=")
            assert (await rest(session, port, "info"))["response"]["metadata"]["uid"] == "reliability"
            synced = await rest(session, port, "echo", {"action": "start", "args": {"text": "via rest"}})
            assert synced["response"]["stdout"] == ["via rest"] and synced["response"]["status"] == {"exit": 0}
            by_get = await rest(session, port, "echo", query="?text=via+get")
            assert by_get["response"]["stdout"] == ["via get"]
            started = (await rest(session, port, "sleep", {"action": "start"}))["response"]
            uid = f"box/sleep@{started['pid']}"
            assert list(started) == ["api", "sandbox", "command", "pid"]
            assert uid in (await rest(session, port, "sleep", {"action": "subscribe"}))["response"]
            assert (await rest(session, port, "sleep", {"action": "unsubscribe", "args": {"pid": started["pid"]}}
                               ))["response"] == uid
            assert (await rest(session, port, "sleep", {"action": "stop", "args": {"pid": started["pid"]}}
                               ))["response"] == uid
            refused = await rest(session, port, "sleep", {"action": "dance"})
            assert refused["request"]["status"] == "invalid-request" and refused["request"]["info"] == "invalid action"
            missing = await rest(session, port, "echo", {"action": "start", "args": {}})
            assert missing["request"]["status"] == "invalid-request" and "text" in missing["request"]["info"]

    run(scenario())


def test_500_tasks_started_then_stopped_leave_nothing_behind(binder: tuple[Binder, int]) -> None:
    process, port = binder

    async def scenario() -> tuple[set[str], set[str]]:
        async with await AfbClient.connect(ws_url(port)) as client:
            await client.call(API, "ping", True)
            before = open_fds(process.pid)
            pids = []
            for _ in range(500):
                code, envelope = await client.call(API, "sleep", {"action": "start"})
                assert code == 3, envelope
                pids.append(envelope["response"]["pid"])
            code, envelope = await client.call(API, "sleep", {"action": "stop", "args": {"signal": "SIGTERM"}})
            assert code == 3 and len(envelope["response"]) == 500
            finals = set()
            while len(finals) < 500:
                final = await next_event(client, "final-event")
                if final["pid"] not in pids:
                    continue  # a task of an earlier test (same command event) ending late
                assert final["status"] == {"signal": "Terminated"}
                finals.add(final["pid"])
            assert finals == set(pids)
            await client.call(API, "ping", True)  # the binder is still answering
            return before, open_fds(process.pid)

    before, after = run(scenario())
    # A leak per task would show 500; a socket of an earlier connection may close late (more so in
    # libafb, whose threads release WebSocket clients lazily), hence a margin of two.
    assert len(after - before) <= 2, f"fds opened and kept: {sorted(after - before)}"
    assert children(process.pid) == []


def test_background_grandchild_cannot_hang_a_task(binder: tuple[Binder, int]) -> None:
    _, port = binder

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with await AfbClient.connect(ws_url(port)) as client:
            _, envelope = await client.call(API, "background", {"action": "start"})
            pid = envelope["response"]["pid"]
            final = await next_event(client, "final-event", pid)
            return envelope["response"], final

    started, final = run(scenario(), timeout=60)
    assert final["status"] == {"exit": 0} and final["truncated"] is True
    deadline = time.monotonic() + 5  # SIGKILL went to the group before the final event; dying takes a moment
    while live_members(started["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_members(started["pid"]) == []  # the background sleep was killed with its group


def test_hundred_megabytes_of_output_keep_binder_memory_bounded(binder: tuple[Binder, int]) -> None:
    process, port = binder
    peak_before = status_kib(process.pid, "VmHWM")

    async def scenario() -> dict[str, Any]:
        async with await AfbClient.connect(ws_url(port)) as client:
            code, envelope = await client.call(API, "flood", {"action": "start"})
            assert code == 3, envelope
            return envelope["response"]

    response = run(scenario())
    assert response["status"] == {"exit": 0}
    assert response["stdout-overflow"] is True  # truncation flagged, not silent
    growth_kib = status_kib(process.pid, "VmHWM") - peak_before
    assert growth_kib < 64 * 1024, f"binder peak RSS grew by {growth_kib} KiB for {FLOOD_BYTES} bytes of output"


async def events_until_final(client: AfbClient, pid: int) -> list[dict[str, Any]]:
    """Every event of task `pid` up to and including its final event."""
    received = []
    while not received or received[-1].get("type") != "final-event":
        frame = await client.events.get()
        if frame[2]["data"].get("pid") == pid:
            received.append(frame[2]["data"])
    return received


def test_client_leaving_mid_task_does_not_disturb_other_subscribers(binder: tuple[Binder, int]) -> None:
    _, port = binder

    async def scenario() -> list[dict[str, Any]]:
        starter = await AfbClient.connect(ws_url(port))
        async with await AfbClient.connect(ws_url(port)) as watcher:
            code, envelope = await starter.call(API, "ticker", {"action": "start"})
            pid = envelope["response"]["pid"]
            code, _ = await watcher.call(API, "ticker", {"action": "subscribe", "args": {"pid": pid}})
            assert code == 3
            await next_event(starter, "data", pid)
            await starter.close()  # mid-task: four ticks are still to come
            return await events_until_final(watcher, pid)

    received = run(scenario(), timeout=60)
    assert [event.get("stdout") for event in received[-4:-1]] == ["tick3", "tick4", "tick5"]
    assert received[-1]["status"] == {"exit": 0}
