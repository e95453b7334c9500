"""Live reload (SIGHUP and spawn-admin/reload) and --max-tasks, on a real binder run as nobody.

Reload while tasks run: they keep running and their events still reach their starter; new
and changed verbs serve at once, removed verbs refuse starts but still list and stop their
tasks; an invalid config is refused with its errors and the old one stays.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from integration import require_whole_binder

require_whole_binder()

from afbclient import AfbClient
from binderproc import Binder, binder_on_config
from hosts import HOSTS, host_args

API = "live"
TOKEN = "reload-token"


def config(commands: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"uid": "live", "api": API}, "sandboxes": [{"uid": "box", "commands": commands}]}


def echo(uid: str, text: str) -> dict[str, Any]:
    return {"uid": uid, "encoder": "sync", "exec": {"cmdpath": "/bin/echo", "args": [text]}}


SLOW = {"uid": "slow", "encoder": "line", "exec": {"cmdpath": "/bin/sh", "args": ["-c", "sleep 1.5; echo after"]}}
GONE = {"uid": "gone", "exec": {"cmdpath": "/bin/sleep", "args": ["60"]}}
V1 = config([SLOW, GONE, echo("change", "v1"), echo("stay", "same")])
V2 = config([SLOW, echo("change", "v2"), echo("stay", "same"), echo("new", "fresh")])  # stay only moved


class ReloadLog:
    """The binder's reload lines on stderr, one at a time (a buffer: reads may return several)."""

    def __init__(self, binder: Binder) -> None:
        self.binder = binder
        self.lines: list[str] = []
        self.rest = b""

    def next(self, timeout: float = 60) -> str:
        assert self.binder.process.stderr is not None
        fd = self.binder.process.stderr.fileno()
        deadline = time.monotonic() + timeout
        while not self.lines:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(fd, 65536) if ready else b""
            assert chunk, "the binder logged no reload"
            *done, self.rest = (self.rest + chunk).split(b"\n")
            self.lines += [line.decode(errors="replace") for line in done
                           if b"config reloaded" in line or b"reload refused" in line]
        return self.lines.pop(0)


@dataclass
class Live:
    binder: Binder
    port: int
    path: Path
    host: str

    def __post_init__(self) -> None:
        self.log = ReloadLog(self.binder)

    async def reload(self, client: AfbClient) -> tuple[dict[str, Any] | None, str]:
        """Reload: through spawn-admin/reload on the embedded host (its reply), SIGHUP on the
        libafb host (this framework has no permission backend: --admin cannot be served);
        (what the verb replied, the binder's log line)."""
        reply = None
        if self.host == "embedded":
            code, envelope = await client.call("spawn-admin", "reload", None, token=TOKEN)
            reply = envelope.get("response") if code == 3 else envelope["request"]
        else:
            self.binder.process.send_signal(signal.SIGHUP)
        return reply, await asyncio.to_thread(self.log.next)


@contextlib.contextmanager
def admin_binder(host: str, as_nobody: Callable[..., list[str]], first: dict[str, Any],
                 *options: str) -> Iterator[Live]:
    """A binder on `first`, with the admin verb on the embedded host (a token policy grants it)."""
    folder = Path(tempfile.mkdtemp(prefix="afbspawn-policy-"))  # readable by nobody, unlike tmp_path
    policy = folder / "perms.yaml"
    policy.write_text(f"tokens: {{{TOKEN}: [urn:afb-spawn:reload]}}\n")
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    admin = ["--permissions", str(policy)] if host == "embedded" else []
    try:
        with binder_on_config(as_nobody, "live", first, *host_args(host), *admin, *options) as found:
            yield Live(*found, host)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=HOSTS)
def live(request: pytest.FixtureRequest, as_nobody: Callable[..., list[str]]) -> Iterator[Live]:
    with admin_binder(request.param, as_nobody, V1, "--max-tasks", "3") as found:
        yield found


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


def test_reload_while_tasks_run(live: Live) -> None:
    binder, port, path = live.binder, live.port, live.path

    async def scenario() -> None:
        async with await AfbClient.connect(f"ws://127.0.0.1:{port}/api") as client:
            slow = (await client.call(API, "slow"))[1]["response"]["pid"]
            gone = (await client.call(API, "gone"))[1]["response"]["pid"]
            path.write_text(json.dumps(V2))
            if live.host == "embedded":  # the verb needs its permission
                code, envelope = await client.call("spawn-admin", "reload", None)
                assert (code, envelope["request"]["status"]) == (4, "insufficient-scope")
            reply, line = await live.reload(client)
            assert line.endswith("config reloaded: live: added new; changed change; removed gone")
            assert live.host == "libafb" or reply == {API: {"added": ["new"], "changed": ["change"],
                                                            "removed": ["gone"]}}
            assert (await client.call(API, "new"))[1]["response"]["stdout"] == ["fresh"]
            assert (await client.call(API, "change"))[1]["response"]["stdout"] == ["v2"]
            code, envelope = await client.call(API, "gone")
            assert (code, envelope["request"]["info"]) == (4, "command 'gone' was removed from the config")
            listed = (await client.call(API, "gone", {"action": "list"}))[1]["response"]
            assert [entry["pid"] for entry in listed] == [gone]
            verbs = [v["verb"] for v in (await client.call(API, "info"))[1]["response"]["groups"][0]["verbs"]]
            assert verbs == ["slow", "change", "stay", "new"]
            if live.host == "embedded":  # the framework's monitor names APIs; their `info` describes them
                apis = (await client.call("monitor", "get", {"apis": [API]}))[1]["response"]["apis"][API]
                assert "/new" in apis["paths"] and "/gone" in apis["paths"]  # gone stays while its task runs
            events = await final_of(client, slow)  # started before the reload, still reaches its starter
            assert [e.get("stdout") for e in events] == ["after", None] and events[-1]["status"] == {"exit": 0}
            await client.call(API, "gone", {"action": "stop"})
            assert (await final_of(client, gone))[-1]["status"] == {"signal": "Interrupt", "info": "stop"}

            path.write_text('{"metadata": {"uid": "live", "api": "live"}, "sandboxes": [{"uid": 7}]}')
            reply, line = await live.reload(client)
            assert "reload refused, the running config stays: " in line and f"{path}: /sandboxes/0/uid" in line
            assert live.host == "libafb" or reply["info"].startswith("reload refused, the running config stays: ")
            assert (await client.call(API, "new"))[1]["response"]["stdout"] == ["fresh"]  # old config stays

            binder.process.send_signal(signal.SIGHUP)  # still invalid: logged, the binder keeps serving
            assert "reload refused" in await asyncio.to_thread(live.log.next)
            assert binder.process.poll() is None
            path.write_text(json.dumps(config([echo("hup", "by signal")])))
            binder.process.send_signal(signal.SIGHUP)
            assert "config reloaded" in await asyncio.to_thread(live.log.next)
            assert (await client.call(API, "hup"))[1]["response"]["stdout"] == ["by signal"]
            assert (await client.call(API, "new"))[1]["request"]["status"] == "unknown-verb"

    run(scenario())


def test_max_tasks_refuses_over_the_binder_limit(live: Live) -> None:
    port = live.port

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


def feeder(version: str) -> dict[str, Any]:
    """A stdin-fed command printing 100 numbered lines per number read (its config changes with `version`)."""
    return {"uid": "feed", "encoder": "line", "stdin": True, "history": {"lines": 100000, "bytes": 10000000},
            "info": f"feeder {version}",
            "exec": {"cmdpath": "/bin/sh", "args": ["-c", "while read n; do seq $$((n*100+1)) $$((n*100+100)); done"]}}


def flipping(version: str) -> dict[str, Any]:
    """Config `version` (a or b): the feeder changes, `flip` answers the version, `extra` exists in b only."""
    return config([feeder(version), echo("flip", version), *([echo("extra", "b")] if version == "b" else [])])


BATCHES = 12


@pytest.mark.parametrize("host", HOSTS)
def test_reload_under_load_keeps_every_event_of_running_tasks(host: str, as_nobody: Callable[..., list[str]]) -> None:
    """Reloads while a task streams to three clients (its starter, a subscriber, a late one with
    replay) and a fourth client calls the reloaded verbs: every client gets every line once, in
    order, every reload succeeds and the new verbs answer at once, nothing stalls."""
    with admin_binder(host, as_nobody, flipping("a")) as live:
        url = f"ws://127.0.0.1:{live.port}/api"

        async def reload_to(client: AfbClient, version: str) -> None:
            live.path.write_text(json.dumps(flipping(version)))
            _, line = await live.reload(client)
            assert "changed feed, flip" in line, line
            assert (await client.call(API, "flip"))[1]["response"]["stdout"] == [version]  # serves at once
            code, envelope = await client.call(API, "extra")
            assert (code == 3) == (version == "b"), envelope

        async def numbers(client: AfbClient, pid: int) -> list[int]:
            return [int(e["stdout"]) for e in (await final_of(client, pid))[:-1]]

        async def scenario() -> None:
            async with await AfbClient.connect(url) as starter, await AfbClient.connect(url) as watcher, \
                    await AfbClient.connect(url) as late, await AfbClient.connect(url) as admin:
                pid = (await starter.call(API, "feed"))[1]["response"]["pid"]
                assert (await watcher.call(API, "feed", {"action": "subscribe", "args": {"pid": pid}}))[0] == 3
                starter_lines = asyncio.ensure_future(numbers(starter, pid))
                watcher_lines = asyncio.ensure_future(numbers(watcher, pid))
                for batch in range(BATCHES):
                    write = {"action": "write", "args": {"pid": pid, "data": f"{batch}\n"}}
                    assert (await starter.call(API, "feed", write))[0] == 3
                    await reload_to(admin, "b" if batch % 2 == 0 else "a")  # while that batch's output flows
                    if batch == BATCHES // 2:
                        replay = {"action": "subscribe", "args": {"pid": pid, "replay": True}}
                        assert (await late.call(API, "feed", replay))[0] == 3
                        late_lines = asyncio.ensure_future(numbers(late, pid))
                assert (await starter.call(API, "feed", {"action": "close", "args": {"pid": pid}}))[0] == 3
                every = list(range(1, BATCHES * 100 + 1))
                assert await starter_lines == every and await watcher_lines == every
                assert await late_lines == every  # history then live, across reloads
                assert (await admin.call(API, "ping", True))[0] == 3

        run(scenario(), timeout=120)


@pytest.mark.parametrize("host", HOSTS)
def test_reload_adds_and_removes_a_whole_config(host: str, as_nobody: Callable[..., list[str]]) -> None:
    """A config file appearing in a config folder adds its API; its removal empties the API."""
    folder = Path(tempfile.mkdtemp(prefix="afbspawn-more-"))
    (folder / "keep.json").write_text(json.dumps({"metadata": {"uid": "keep", "api": "keep"},
                                                  "sandboxes": [{"uid": "box", "commands": [echo("hi", "kept")]}]}))
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    try:
        with admin_binder(host, as_nobody, V1, "--config", str(folder)) as live:
            async def scenario() -> None:
                async with await AfbClient.connect(f"ws://127.0.0.1:{live.port}/api") as client:
                    more = {"metadata": {"uid": "more", "api": "more"},
                            "sandboxes": [{"uid": "box", "commands": [echo("hello", "added")]}]}
                    (folder / "more.json").write_text(json.dumps(more))
                    (folder / "more.json").chmod(0o644)
                    _, line = await live.reload(client)
                    assert "more: API added; added hello" in line, line
                    assert (await client.call("more", "hello"))[1]["response"]["stdout"] == ["added"]
                    assert "more" in (await client.call("monitor", "get", {"apis": True}))[1]["response"]["apis"]
                    (folder / "more.json").unlink()
                    _, line = await live.reload(client)
                    assert "more: API removed; removed hello" in line, line
                    assert (await client.call("more", "hello"))[0] == 4
                    assert (await client.call("keep", "hi"))[1]["response"]["stdout"] == ["kept"]

            run(scenario())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def guarded(uid: str, permission: str) -> dict[str, Any]:
    return {**echo(uid, uid), "privilege": permission}


def test_reload_adds_a_guarded_verb_that_keeps_its_permission(as_nobody: Callable[..., list[str]]) -> None:
    """Embedded only: the libafb host here has no permission backend, so it refuses any config
    requiring a permission (its reload-time refusal of a new permission needs one to be tested)."""
    first = config([guarded("one", "urn:afb-spawn:test:known")])
    with admin_binder("embedded", as_nobody, first) as live:
        async def scenario() -> None:
            async with await AfbClient.connect(f"ws://127.0.0.1:{live.port}/api") as client:
                live.path.write_text(json.dumps(config([guarded("one", "urn:afb-spawn:test:known"),
                                                        guarded("two", "urn:afb-spawn:test:known")])))
                reply, _ = await live.reload(client)
                assert reply is not None and reply[API]["added"] == ["two"], reply
                assert (await client.call(API, "two"))[1]["request"]["status"] == "insufficient-scope"

        run(scenario())


@pytest.mark.parametrize("host", HOSTS)
def test_a_config_added_live_handles_events_of_another_api(host: str, as_nobody: Callable[..., list[str]]) -> None:
    """A config appearing at a reload runs its onload (subscribe to another API) and its
    `events` handlers serve at once (libafb: a handler registered while the binder runs)."""
    from test_event_handlers import SOURCE, WATCHER, recorded

    def unprivileged(config: dict[str, Any]) -> dict[str, Any]:  # this binder already runs as nobody
        return {**config, "sandboxes": [{k: v for k, v in box.items() if k != "acls"} for box in config["sandboxes"]]}

    folder = Path(tempfile.mkdtemp(prefix="afbspawn-watch-"))
    (folder / "keep.json").write_text(json.dumps(config([echo("hi", "kept")]) | {"metadata": {"uid": "keep",
                                                                                             "api": "keep"}}))
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    try:
        with admin_binder(host, as_nobody, unprivileged(SOURCE), "--config", str(folder)) as live:
            async def scenario() -> list[Any]:
                (folder / "watch.json").write_text(json.dumps(unprivileged(WATCHER)))
                (folder / "watch.json").chmod(0o644)
                async with await AfbClient.connect(f"ws://127.0.0.1:{live.port}/api") as client:
                    _, line = await live.reload(client)
                    assert "watch: API added" in line, line
                return await recorded(live.port)

            assert run(scenario()) == ["data", "data", "final-event"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
