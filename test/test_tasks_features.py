"""Units of issue 10's task pieces: output history bounds, the stdin writer, the queue and budget.

Real pipes and real processes (the real sandbox launcher); the host is the in-memory FAKE of
spawnfakes. End-to-end behaviour over sockets is in test_features.py and test_reload.py.
"""
from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spawnfakes import CollectFactory, FakeEvent, FakeRequest, RecordingLauncher

from afbspawn.binding.actions import CommandVerb
from afbspawn.config.argv import build_argv
from afbspawn.config.model import ArgTemplate, Command, History, Sandbox
from afbspawn.tasks import Budget, CommandSite
from afbspawn.tasks.history import OutputHistory, rule_weight, weight
from afbspawn.tasks.stdin import StdinClosed, StdinFull, StdinWriter


def test_history_keeps_the_newest_within_lines_and_bytes() -> None:
    history = OutputHistory(History(lines=3, bytes=1000))
    for n in range(5):
        history.add({"stdout": str(n)})
    assert history.events() == [{"stdout": "2"}, {"stdout": "3"}, {"stdout": "4"}] and history.truncated
    by_size = OutputHistory(History(lines=100, bytes=100))
    for n in range(10):
        by_size.add({"stdout": "x" * 40 + str(n)})
    assert [e["stdout"][-1] for e in by_size.events()] == ["8", "9"] and by_size.truncated
    whole = OutputHistory(History(lines=10, bytes=1000))
    whole.add({"stdout": "a"})
    assert whole.events() == [{"stdout": "a"}] and not whole.truncated


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                     max_leaves=10)


@given(_JSON)
def test_history_weight_fast_path_follows_the_rule_for_any_event(data: Any) -> None:
    assert weight(data) == rule_weight(data)
    assert weight({"type": "data", "pid": 7, "stdout": data}) == rule_weight({"type": "data", "pid": 7, "stdout": data})


def test_stdin_writer_buffers_refuses_when_full_and_closes_after_flushing() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        read_end, write_end = os.pipe()
        writer = StdinWriter(loop, write_end, limit=80000)
        writer.write(b"a" * 70000)  # more than the pipe holds at once (64 KiB): the rest waits
        assert writer.pending == 70000 - 65536
        with pytest.raises(StdinFull):
            writer.write(b"b" * 80000)
        writer.close()
        with pytest.raises(StdinClosed):
            writer.write(b"c")
        received = b""
        os.set_blocking(read_end, False)
        while len(received) < 70000:
            await asyncio.sleep(0.01)
            try:
                received += os.read(read_end, 65536)
            except BlockingIOError:
                pass
        await asyncio.sleep(0.05)
        assert received == b"a" * 70000 and os.read(read_end, 10) == b""  # everything, then end of file
        os.close(read_end)

    with pytest.raises(StdinFull):  # a write larger than the buffer can never fit
        async def too_big() -> None:
            read_end, write_end = os.pipe()
            try:
                StdinWriter(asyncio.get_running_loop(), write_end, limit=10).write(b"x" * 11)
            finally:
                os.close(read_end)
                os.close(write_end)
        asyncio.run(too_big())
    asyncio.run(asyncio.wait_for(scenario(), 20))


def sleeper(uid: str, **fields: Any) -> Command:
    return Command(uid=uid, verb=uid, cmdpath="/bin/sh",
                   args=(ArgTemplate(("-c",)), ArgTemplate(("sleep 0.2",))), **fields)


def test_binder_budget_wakes_the_queue_of_another_command() -> None:
    async def scenario() -> list[str]:
        budget = Budget(1)
        events = {name: FakeEvent(name) for name in ("a", "b")}
        verbs = {name: CommandVerb(CommandSite("api", Sandbox(uid="box"), sleeper(name, maxtasks=1, queue=2),
                                               RecordingLauncher(), CollectFactory(), {}, events[name],
                                               budget=budget), build_argv) for name in ("a", "b")}
        order: list[str] = []
        requests = []
        for name in ("a", "b", "b"):
            request = FakeRequest(None)
            verbs[name](request)
            requests.append(request)
            request.done.add_done_callback(lambda _, name=name: order.append(name))
        assert budget.running == 1 and [r.replied for r in requests] == [True, False, False]
        await asyncio.wait_for(asyncio.gather(*(r.done for r in requests)), 20)
        while budget.running:
            await asyncio.sleep(0.01)
        return order

    assert asyncio.run(scenario()) == ["a", "b", "b"]
