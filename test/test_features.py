"""Issue 10 and 14.2 end to end: the binder as a subprocess (as nobody), real WebSocket and REST.

Task privacy (events reach the starter and explicit subscribers only), list, graceful stop,
replay while output flows, stdin, queue order under concurrent starts, per-request env.
Live reload has its own binder per test (test_reload.py). No timing assertions: timeouts
only turn a hang into a failure.
"""
from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from integration import require_whole_binder

require_whole_binder()

import aiohttp
from afbclient import AfbClient
from binderproc import Binder, binder_on_config
from hosts import HOSTS, host_args

API = "feat"
FLOW_LINES = 6000
CONFIG = {
    "metadata": {"uid": "features", "api": API, "version": "1.0"},
    "sandboxes": [{"uid": "box", "grace": 0.5, "commands": [
        {"uid": "ticker", "encoder": "line",
         "exec": {"cmdpath": "/bin/sh", "args": ["-c", "for i in 1 2 3 4 5 6; do echo tick$$i; sleep 0.2; done"]}},
        {"uid": "stubborn", "encoder": "line",
         "exec": {"cmdpath": "/bin/sh", "args": ["-c", "trap '' INT TERM; echo ready; sleep 60 & wait; sleep 60"]}},
        {"uid": "polite", "encoder": "line", "stop": "SIGTERM", "timeout": 1,
         "exec": {"cmdpath": "/bin/sh", "args": ["-c", "trap 'echo bye; exit 0' TERM; echo ready; sleep 60 & wait"]}},
        {"uid": "ignorer", "encoder": "line", "stop": "SIGTERM", "timeout": 1, "grace": 0.3,
         "exec": {"cmdpath": "/bin/sh", "args": ["-c", "trap '' TERM; sleep 60 & wait; sleep 60"]}},
        {"uid": "flow", "encoder": "line", "history": {"lines": 100000, "bytes": 1000000},
         "exec": {"cmdpath": "/bin/sh", "args": [
             "-c", "for b in $$(seq 0 59); do seq $$((b*100+1)) $$((b*100+100)); sleep 0.02; done"]}},
        {"uid": "shortflow", "encoder": "line", "history": 5,
         "exec": {"cmdpath": "/usr/bin/seq", "args": ["1", "50"]}},
        {"uid": "cat", "encoder": "line", "stdin": True, "exec": {"cmdpath": "/bin/cat"}},
        {"uid": "deaf", "stdin": True, "exec": {"cmdpath": "/bin/sleep", "args": ["60"]}},
        {"uid": "one", "encoder": "line", "maxtasks": 1, "queue": 3,
         "exec": {"cmdpath": "/bin/sh", "args": ["-c", "echo start %n%; sleep 0.2; echo end %n%"]}},
        {"uid": "greet", "encoder": "sync", "env": {"GREETING": "^[a-z]+$", "NAME": True},
         "exec": {"cmdpath": "/bin/sh", "args": ["-c", "echo \"$$GREETING $${NAME:-nobody}\""]}},
    ]}],
}


@pytest.fixture(scope="module", params=HOSTS)
def binder(request: pytest.FixtureRequest, as_nobody: Callable[..., list[str]]) -> Iterator[tuple[Binder, int]]:
    with binder_on_config(as_nobody, "feat", CONFIG, *host_args(request.param)) as (process, port, _):
        yield process, port


def run(coro: Any, timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def ws(port: int) -> str:
    return f"ws://127.0.0.1:{port}/api"


async def rest(port: int, verb: str, args: Any, session: str = "rest-session") -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.post(
            f"http://127.0.0.1:{port}/api/{API}/{verb}", json=args, headers={"x-afb-uuid": session}) as response:
        return await response.json(content_type=None)  # the libafb host sends no Content-Type


async def ok(client: AfbClient, verb: str, args: Any = None) -> Any:
    code, envelope = await client.call(API, verb, args)
    assert code == 3, envelope
    return envelope.get("response")


async def refused(client: AfbClient, verb: str, args: Any) -> dict[str, Any]:
    code, envelope = await client.call(API, verb, args)
    assert code == 4, envelope
    return envelope["request"]


async def events_until_final(client: AfbClient, pid: int) -> list[dict[str, Any]]:
    """This task's events up to its final event (other tasks' are skipped)."""
    seen = []
    while True:
        frame = await client.events.get()
        data = frame[2]["data"]
        if data.get("pid") != pid:
            continue
        seen.append(data)
        if data.get("type") == "final-event":
            return seen


def test_output_reaches_its_starter_and_explicit_subscribers_only(binder: tuple[Binder, int]) -> None:
    _, port = binder

    async def scenario() -> None:
        async with await AfbClient.connect(ws(port)) as starter, await AfbClient.connect(ws(port)) as other, \
                await AfbClient.connect(ws(port)) as watcher:
            pid = (await ok(starter, "ticker"))["pid"]
            other_pid = (await ok(other, "ticker"))["pid"]  # the other client's own task
            assert await ok(watcher, "ticker", {"action": "subscribe", "args": {"pid": pid}}) == f"box/ticker@{pid}"
            mine = await events_until_final(starter, pid)
            assert [e.get("stdout") for e in mine[:-1]] == [f"tick{i}" for i in range(1, 7)]
            assert (mine[-1]["type"], mine[-1]["status"]) == ("final-event", {"exit": 0})
            watched = await events_until_final(watcher, pid)
            assert watched[-1] == mine[-1] and all(e in mine for e in watched)
            await events_until_final(other, other_pid)
            frames = []
            while not starter.events.empty():
                frames.append(starter.events.get_nowait()[2]["data"])
            while not other.events.empty():
                frames.append(other.events.get_nowait()[2]["data"])
            assert frames == []  # neither got a single event of the other's task
            assert all(e["pid"] == pid for e in watched)  # the watcher only what it asked for
            assert await ok(starter, "ticker", {"action": "subscribe"}) == []  # the command: later tasks
            later = (await ok(other, "ticker"))["pid"]
            assert (await events_until_final(starter, later))[-1]["status"] == {"exit": 0}

    run(scenario())


def test_list_and_tasks_show_own_tasks_with_status(binder: tuple[Binder, int]) -> None:
    _, port = binder

    async def scenario() -> None:
        async with await AfbClient.connect(ws(port)) as client, await AfbClient.connect(ws(port)) as stranger:
            pid = (await ok(client, "shortflow"))["pid"]
            await events_until_final(client, pid)
            running = (await ok(client, "stubborn"))["pid"]
            entries = await ok(client, "stubborn", {"action": "list"})
            assert [(e["pid"], e["state"], e["own"]) for e in entries if e["pid"] == running] == \
                [(running, "running", True)]
            assert list(entries[0]) == ["uid", "pid", "state", "started", "session", "own", "args"]
            finished = [e for e in await ok(client, "shortflow", {"action": "list"}) if e["pid"] == pid]
            assert finished[0]["state"] == "finished" and finished[0]["status"] == {"exit": 0}
            assert "ended" in finished[0]
            assert await ok(stranger, "stubborn", {"action": "list"}) == []  # an open verb: own tasks only
            assert running in [e["pid"] for e in (await ok(client, "tasks"))["stubborn"]]
            assert (await ok(stranger, "tasks"))["stubborn"] == []
            await ok(client, "stubborn", {"action": "stop", "args": {"pid": running, "signal": "SIGKILL"}})
            assert (await events_until_final(client, running))[-1]["status"] == {"signal": "Killed"}
            rest_list = await rest(port, "stubborn", {"action": "list"})
            assert rest_list["request"]["status"] == "success" and rest_list["response"] == []

    run(scenario())


def test_graceful_stop_escalates_and_says_why(binder: tuple[Binder, int]) -> None:
    _, port = binder

    async def scenario() -> None:
        async with await AfbClient.connect(ws(port)) as client:
            stubborn = (await ok(client, "stubborn"))["pid"]
            polite = (await ok(client, "polite"))["pid"]
            for pid in (stubborn, polite):
                while (await client.events.get())[2]["data"].get("stdout") != "ready":
                    pass
            assert await ok(client, "stubborn", {"action": "stop"}) == [f"box/stubborn@{stubborn}"]
            final = (await events_until_final(client, stubborn))[-1]
            assert final["status"] == {"signal": "Killed", "info": "stop"}  # SIGINT ignored: SIGKILL after grace
            reply = await rest(port, "polite", {"action": "stop", "args": {"pid": polite}})
            assert reply["response"] == f"box/polite@{polite}"  # REST stops too
            events = await events_until_final(client, polite)
            assert [e.get("stdout") for e in events[:-1]] == ["bye"] and events[-1]["status"] == {"exit": 0}
            ignorer = (await ok(client, "ignorer"))["pid"]  # timeout 1 s: SIGTERM, ignored, SIGKILL 0.3 s later
            assert (await events_until_final(client, ignorer))[-1]["status"] == {"signal": "Killed", "info": "timeout"}

    run(scenario())


def test_replay_while_output_flows_has_no_gap_and_no_duplicate(binder: tuple[Binder, int]) -> None:
    _, port = binder

    async def scenario() -> None:
        async with await AfbClient.connect(ws(port)) as starter, await AfbClient.connect(ws(port)) as late:
            pid = (await ok(starter, "flow"))["pid"]
            first = await starter.events.get()  # output is flowing (it lasts over a second)
            reply = await ok(late, "flow", {"action": "subscribe", "args": {"pid": pid, "replay": True}})
            assert reply["uid"] == f"box/flow@{pid}" and 0 < reply["replayed"] <= FLOW_LINES + 1
            assert "replay-truncated" not in reply
            events = await events_until_final(late, pid)
            numbers = [int(e["stdout"]) for e in events[:-1]]
            assert numbers == list(range(1, FLOW_LINES + 1))  # history then live: no gap, no duplicate
            assert events == [first[2]["data"]] + await events_until_final(starter, pid)

    run(scenario())


def test_replay_flags_what_fell_out_and_works_after_the_end_and_over_rest(binder: tuple[Binder, int]) -> None:
    _, port = binder

    async def scenario() -> None:
        async with await AfbClient.connect(ws(port)) as starter, await AfbClient.connect(ws(port)) as late:
            pid = (await ok(starter, "shortflow"))["pid"]
            await events_until_final(starter, pid)
            reply = await ok(late, "shortflow", {"action": "subscribe", "args": {"pid": pid, "replay": True}})
            assert reply == {"uid": f"box/shortflow@{pid}", "replayed": 5, "replay-truncated": True}
            replayed = [(await late.events.get())[2]["data"] for _ in range(5)]
            assert [e.get("stdout") for e in replayed] == ["47", "48", "49", "50", None]
            assert replayed[-1]["type"] == "final-event"
            over_rest = (await rest(port, "shortflow", {"action": "subscribe", "args": {"pid": pid, "replay": True}}))
            assert over_rest["response"]["events"] == replayed and over_rest["response"]["replay-truncated"] is True
            assert (await refused(late, "shortflow", {"action": "subscribe", "args": {"replay": True}}))["info"] == \
                "invalid replay: a boolean, with a pid"

    run(scenario())


def test_stdin_write_close_and_a_full_pipe_is_an_error_not_a_stall(binder: tuple[Binder, int]) -> None:
    _, port = binder

    async def scenario() -> None:
        async with await AfbClient.connect(ws(port)) as client:
            pid = (await ok(client, "cat"))["pid"]
            reply = await ok(client, "cat", {"action": "write", "args": {"pid": pid, "data": "hello\n"}})
            assert reply == {"uid": f"box/cat@{pid}", "written": 6, "pending": 0}
            binary = base64.b64encode(b"w\xc3\xb6rld\n").decode()
            await ok(client, "cat", {"action": "write", "args": {"pid": pid, "data": binary, "encoding": "base64"}})
            assert await ok(client, "cat", {"action": "close", "args": {"pid": pid}}) == f"box/cat@{pid}"
            events = await events_until_final(client, pid)
            assert [e.get("stdout") for e in events[:-1]] == ["hello", "wörld"]
            assert events[-1]["status"] == {"exit": 0}
            deaf = (await ok(client, "deaf"))["pid"]  # never reads: the pipe, then the buffer, fill up
            chunk = "x" * 32768
            info = None
            for _ in range(16):
                code, envelope = await client.call(API, "deaf", {"action": "write", "args": {"pid": deaf, "data": chunk}})
                if code == 4:
                    info = envelope["request"]["info"]
                    break
            assert info is not None and info.startswith("stdin buffer full")
            assert (await client.call(API, "ping", True))[0] == 3  # the binder still answers
            rest_write = await rest(port, "deaf", {"action": "write", "args": {"pid": deaf, "data": "x"}})
            assert rest_write["request"]["info"] == "invalid pid"  # not the REST session's task
            info = (await refused(client, "ticker", {"action": "write", "args": {"pid": deaf, "data": "x"}}))["info"]
            assert info == "invalid pid"  # another command's task
            await ok(client, "deaf", {"action": "stop", "args": {"pid": deaf, "signal": "SIGKILL"}})
            await events_until_final(client, deaf)

    run(scenario())


def test_queue_keeps_order_under_concurrent_starts_and_refuses_when_full(binder: tuple[Binder, int]) -> None:
    _, port = binder

    async def scenario() -> None:
        async with await AfbClient.connect(ws(port)) as client:
            calls = [client.call(API, "one", {"n": str(n)}) for n in range(1, 6)]
            replies = await asyncio.gather(*calls)
            codes = [code for code, _ in replies]
            assert codes.count(4) == 1  # 1 running + 3 queued; the fifth is refused at once
            refusal = next(env for code, env in replies if code == 4)["request"]["info"]
            assert "runs its maximum of 1 task(s)" in refusal and "queue of 3 start(s) is full" in refusal
            pids = [env["response"]["pid"] for code, env in replies if code == 3]
            lines: list[str] = []
            done = 0
            while done < len(pids):
                data = (await client.events.get())[2]["data"]
                if data.get("type") == "final-event":
                    done += 1
                elif "stdout" in data:
                    lines.append(data["stdout"])
            starts = [line for line in lines if line.startswith("start")]
            assert len(starts) == 4 and starts == sorted(starts, key=lambda s: int(s.split()[1]))
            for index in range(0, len(lines), 2):  # never two at once: each start is followed by its end
                assert lines[index + 1] == "end" + lines[index][len("start"):]

    run(scenario())


def test_request_environment_only_through_the_whitelist(binder: tuple[Binder, int]) -> None:
    _, port = binder

    async def scenario() -> None:
        async with await AfbClient.connect(ws(port)) as client:
            reply = await ok(client, "greet", {"action": "start", "env": {"GREETING": "hello", "NAME": "Ann Lee"}})
            assert reply["stdout"] == ["hello Ann Lee"]
            info = (await refused(client, "greet", {"action": "start", "env": {"PATH": "/tmp"}}))["info"]
            assert info == "env PATH: not allowed (the command accepts: GREETING, NAME)"
            info = (await refused(client, "greet", {"action": "start", "env": {"GREETING": "Hi!"}}))["info"]
            assert info == "env GREETING: value does not match '^[a-z]+$'"
            info = (await refused(client, "ticker", {"action": "start", "env": {"GREETING": "hi"}}))["info"]
            assert info == "env GREETING: not allowed (the command accepts: none)"
            over_rest = await rest(port, "greet", {"action": "start", "env": {"GREETING": "hey"}})
            assert over_rest["response"]["stdout"] == ["hey nobody"]

    run(scenario())
