"""Live reload (SIGHUP and spawn-admin/reload) and --max-tasks, on a real binder run as nobody.

Reload while tasks run: they keep running and their events still reach their starter; new
and changed verbs serve at once, removed verbs refuse starts but still list and stop their
tasks; an invalid config is refused with its errors and the old one stays.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from integration import require_whole_binder

require_whole_binder()

from afbclient import AfbClient
from binderproc import Binder, binder_on_config

API = "live"
TOKEN = "reload-token"


def config(commands: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"uid": "live", "api": API}, "sandboxes": [{"uid": "box", "commands": commands}]}


def echo(uid: str, text: str) -> dict[str, Any]:
    return {"uid": uid, "encoder": "sync", "exec": {"cmdpath": "/bin/echo", "args": [text]}}


SLOW = {"uid": "slow", "encoder": "line", "exec": {"cmdpath": "/bin/sh", "args": ["-c", "sleep 1.5; echo after"]}}
GONE = {"uid": "gone", "exec": {"cmdpath": "/bin/sleep", "args": ["60"]}}
V1 = config([SLOW, GONE, echo("change", "v1")])
V2 = config([SLOW, echo("change", "v2"), echo("new", "fresh")])


@pytest.fixture
def live(as_nobody: Callable[..., list[str]]) -> Iterator[tuple[Binder, int, Path]]:
    folder = Path(tempfile.mkdtemp(prefix="afbspawn-policy-"))  # readable by nobody, unlike tmp_path
    policy = folder / "perms.yaml"
    policy.write_text(f"tokens: {{{TOKEN}: [urn:afb-spawn:reload]}}\n")
    folder.chmod(0o755)
    policy.chmod(0o644)
    try:
        with binder_on_config(as_nobody, "live", V1, "--max-tasks", "3", "--permissions", str(policy)) as found:
            yield found
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(coro: Any, timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def final_of(client: AfbClient, pid: int) -> list[dict[str, Any]]:
    seen = []
    while True:
        data = (await client.events.get())[2]["data"]
        if data.get("pid") == pid:
            seen.append(data)
            if data.get("type") == "final-event":
                return seen


def test_reload_while_tasks_run(live: tuple[Binder, int, Path]) -> None:
    binder, port, path = live

    async def scenario() -> None:
        async with await AfbClient.connect(f"ws://127.0.0.1:{port}/api") as client:
            slow = (await client.call(API, "slow"))[1]["response"]["pid"]
            gone = (await client.call(API, "gone"))[1]["response"]["pid"]
            path.write_text(json.dumps(V2))
            code, envelope = await client.call("spawn-admin", "reload", None)
            assert (code, envelope["request"]["status"]) == (4, "insufficient-scope")
            code, envelope = await client.call("spawn-admin", "reload", None, token=TOKEN)
            assert code == 3 and envelope["response"] == {API: {"added": ["new"], "changed": ["change"],
                                                              "removed": ["gone"]}}
            assert (await client.call(API, "new"))[1]["response"]["stdout"] == ["fresh"]
            assert (await client.call(API, "change"))[1]["response"]["stdout"] == ["v2"]
            code, envelope = await client.call(API, "gone")
            assert (code, envelope["request"]["info"]) == (4, "command 'gone' was removed from the config")
            listed = (await client.call(API, "gone", {"action": "list"}))[1]["response"]
            assert [entry["pid"] for entry in listed] == [gone]
            verbs = [v["verb"] for v in (await client.call(API, "info"))[1]["response"]["groups"][0]["verbs"]]
            assert verbs == ["slow", "change", "new"]
            apis = (await client.call("monitor", "get", {"apis": [API]}))[1]["response"]["apis"][API]
            assert "/new" in apis["paths"] and "/gone" in apis["paths"]  # gone stays while its task runs
            events = await final_of(client, slow)  # started before the reload, still reaches its starter
            assert [e.get("stdout") for e in events] == ["after", None] and events[-1]["status"] == {"exit": 0}
            await client.call(API, "gone", {"action": "stop"})
            assert (await final_of(client, gone))[-1]["status"] == {"signal": "Interrupt", "info": "stop"}

            path.write_text('{"metadata": {"uid": "live", "api": "live"}, "sandboxes": [{"uid": 7}]}')
            code, envelope = await client.call("spawn-admin", "reload", None, token=TOKEN)
            info = envelope["request"]["info"]
            assert code == 4 and info.startswith("reload refused, the running config stays: ")
            assert f"{path}: /sandboxes/0/uid" in info
            assert (await client.call(API, "new"))[1]["response"]["stdout"] == ["fresh"]  # old config stays

            binder.process.send_signal(signal.SIGHUP)  # still invalid: logged, the binder keeps serving
            await asyncio.sleep(0.5)
            assert binder.process.poll() is None
            path.write_text(json.dumps(config([echo("hup", "by signal")])))
            binder.process.send_signal(signal.SIGHUP)
            for _ in range(100):
                code, envelope = await client.call(API, "hup")
                if code == 3:
                    break
                await asyncio.sleep(0.1)
            assert envelope["response"]["stdout"] == ["by signal"]
            assert (await client.call(API, "new"))[1]["request"]["status"] == "unknown-verb"

    run(scenario())
    _, stderr = binder.stop()
    assert b"reload refused, the running config stays" in stderr


def test_max_tasks_refuses_over_the_binder_limit(live: tuple[Binder, int, Path]) -> None:
    _, port, _ = live

    async def scenario() -> None:
        async with await AfbClient.connect(f"ws://127.0.0.1:{port}/api") as client:
            pids = [(await client.call(API, "gone"))[1]["response"]["pid"] for _ in range(3)]
            code, envelope = await client.call(API, "slow")
            assert code == 4 and envelope["request"]["info"] == \
                "the binder runs its maximum of 3 task(s) (--max-tasks)"
            await client.call(API, "gone", {"action": "stop", "args": {"signal": "SIGKILL"}})
            ended: set[int] = set()
            while ended != set(pids):  # final events in any order
                data = (await client.events.get())[2]["data"]
                if data.get("type") == "final-event":
                    ended.add(data["pid"])
            assert (await client.call(API, "slow"))[0] == 3  # a slot is free again

    run(scenario())
