"""Print docs/actions.md's transcripts from a real run: conf.d/features.yaml on a real binder.

    .venv/bin/python scripts/actions_transcript.py [--host embedded|libafb]

Starts `afb-spawn` on a copy of conf.d/features.yaml, drives it over WebSocket (clients A,
B, C) and REST, and prints each section's transcript as Markdown: `X>` a call, `X<` its
reply or an event that client received. The embedded host reloads through `spawn-admin/reload`
(a `--permissions` token policy grants it); the libafb host by SIGHUP (a framework without
a permission backend cannot serve the admin verb).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
TOKEN = "admin-secret"
FOLDER = Path(tempfile.gettempdir()) / "afb-spawn-demo"
START_SECONDS = 60


class Client:
    """One WebSocket client that prints what it sends and what it receives."""

    def __init__(self, name: str, ws: aiohttp.ClientWebSocketResponse, out: Callable[[str], None]) -> None:
        self.name, self.ws, self.out = name, ws, out
        self.ids = 0
        self.events: asyncio.Queue[list[Any]] = asyncio.Queue()
        self.pending: dict[str, asyncio.Future[list[Any]]] = {}
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            frame = json.loads(message.data)
            if frame[0] == 5:
                self.events.put_nowait(frame)
            else:
                self.pending.pop(frame[1]).set_result(frame)

    async def call(self, verb: str, args: Any = None, token: str | None = None, show: bool = True) -> Any:
        self.ids += 1
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.pending[str(self.ids)] = future
        await self.ws.send_str(json.dumps([2, str(self.ids), verb, args] + ([token] if token else [])))
        if show:
            self.out(f"{self.name}> {verb} {json.dumps(args)}" + (f"   (token {token})" if token else ""))
        frame = await future
        return self.show_reply(frame) if show else frame[2]

    def show_reply(self, frame: list[Any]) -> Any:
        envelope = frame[2]
        if frame[0] == 3:
            self.out(f"{self.name}< reply {json.dumps(envelope.get('response'))}")
        else:
            self.out(f"{self.name}< error {json.dumps(envelope['request'])}")
        return envelope

    async def event(self, show: bool = True) -> dict[str, Any]:
        frame = await self.events.get()
        if show:
            self.out(f"{self.name}< event {frame[1]} {json.dumps(frame[2]['data'])}")
        return frame[2]["data"]

    async def until(self, done: Callable[[dict[str, Any]], bool], show: bool = True) -> None:
        while not done(await self.event(show)):
            pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(host: str, config: Path, port: int) -> subprocess.Popen[bytes]:
    options = [] if host == "libafb" else ["--permissions", str(FOLDER / "perms.yaml")]
    process = subprocess.Popen([sys.executable, "-m", "afbspawn", "--host", host, "-C", str(config), *options,
                                "--max-tasks", "8", "-p", str(port)], cwd=REPO, stderr=subprocess.PIPE)
    assert process.stderr is not None
    seen = b""
    deadline = time.monotonic() + START_SECONDS
    while b"afb-spawn: serving" not in seen:
        ready, _, _ = select.select([process.stderr], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(process.stderr.fileno(), 4096) if ready else b""
        if not chunk:
            process.kill()
            raise SystemExit(f"the binder did not start: {seen.decode(errors='replace')}")
        seen += chunk
    return process


def is_final(data: dict[str, Any]) -> bool:
    return data.get("type") == "final-event"


async def scenario(host: str, port: int, config: Path, out: Callable[[str], None],
                   binder: subprocess.Popen[bytes]) -> None:
    url = f"ws://127.0.0.1:{port}/api"
    async with aiohttp.ClientSession() as http:
        async def client(name: str) -> Client:
            return Client(name, await http.ws_connect(url, protocols=("x-afb-ws-json1",)), out)

        async def rest(verb: str, args: Any) -> None:
            out(f"REST> POST /api/{verb} {json.dumps(args)}")
            async with http.post(f"http://127.0.0.1:{port}/api/{verb}", json=args) as response:
                out(f"REST< {json.dumps(await response.json(content_type=None))}")

        a, b, c = await client("A"), await client("B"), await client("C")

        async def reload(first: bool = False) -> None:
            if host == "embedded":
                await a.call("spawn-admin/reload", token=None if first else TOKEN)
            elif not first:  # the reply is the binder's log line (printed at the end)
                out("(SIGHUP to the binder)")
                binder.send_signal(signal.SIGHUP)
                await asyncio.sleep(1)  # a demo, not a test: the log below says what it did
        section = Section(out)

        section("Whose output: the starter's, and explicit subscribers'")
        pid = (await a.call("features/count", {"n": "3"}))["response"]["pid"]
        await a.until(is_final)
        out(f"(B received {b.events.qsize()} events)")

        section("list and tasks")
        mine = (await a.call("features/count", {"n": "30"}))["response"]["pid"]
        await b.call("features/count", {"n": "30"})
        await a.call("features/count", {"action": "list"})
        await a.call("features/tasks")
        await rest("features/count", {"action": "list"})

        section("Replay")
        await a.until(lambda data: data.get("pid") == mine and data.get("stdout") == "5", show=False)
        await c.call("features/count", {"action": "subscribe", "args": {"pid": mine, "replay": True}})
        await c.until(lambda data: data.get("stdout") == "8")
        await a.call("features/count", {"action": "stop"})
        while True:  # A's own task ends (its events are left out)
            data = await a.event(show=False)
            if is_final(data) and data["pid"] == mine:
                break
        await a.call("features/count", {"action": "list"})
        await rest("features/count", {"action": "subscribe", "args": {"pid": pid, "replay": True}})

        section("stdin")
        upper = (await a.call("features/upper"))["response"]["pid"]
        await a.call("features/upper", {"action": "write", "args": {"pid": upper, "data": "hello\n"}})
        binary = base64.b64encode("wörld\n".encode()).decode()
        await a.call("features/upper", {"action": "write", "args": {"pid": upper, "data": binary,
                                                                      "encoding": "base64"}})
        await a.call("features/upper", {"action": "close", "args": {"pid": upper}})
        await a.until(is_final)

        section("Concurrency")
        sends = [a.call("features/build", {"what": what}, show=False) for what in ("one", "two", "three", "four")]
        for what, reply in zip(("one", "two", "three", "four"), await asyncio.gather(*sends)):
            out(f"A> features/build {json.dumps({'what': what})}")
            a.show_reply([3 if "response" in reply else 4, "", reply])
        for _ in range(3):  # the three started tasks' initial events (a sync command's only event)
            await a.until(lambda data: data.get("type") == "initial-event")

        section("Graceful stop")
        for verb in ("features/server", "features/stubborn"):
            await a.call(verb)
            await a.event()
            await a.call(verb, {"action": "stop"})
            await a.until(is_final)

        section("Per-request environment")
        await a.call("features/greet", {"action": "start", "env": {"NAME": "Ada", "LANG": "C.UTF-8"}})
        await a.call("features/greet", {"action": "start", "env": {"NAME": "Ada; rm -rf /"}})
        await a.call("features/greet", {"action": "start", "env": {"LD_PRELOAD": "/tmp/x.so"}})
        await rest("features/greet", {"action": "start", "env": {"NAME": "Bob"}})

        section("Live reload")
        counting = (await a.call("features/count", {"n": "20"}))["response"]["pid"]
        await reload(first=True)
        text = (REPO / "conf.d/features.yaml").read_text()
        changed = text.replace("history: {lines: 3}", "history: {lines: 5}")
        start_of_upper = changed.index("    - uid: upper")
        changed = changed[:start_of_upper] + changed[changed.index("    - uid: build"):]
        changed += ("    - uid: date\n      encoder: sync\n"
                    "      exec: {cmdpath: /bin/date, args: [+%%Y]}\n")
        config.write_text(changed)
        await reload()
        await a.call("features/date")
        await a.call("features/upper")
        await a.until(lambda data: is_final(data) and data["pid"] == counting, show=False)
        out(f"(the {counting} task's 20 lines and final event reached A through the reload)")
        config.write_text(changed.replace("maxtasks: 1", "maxtasks: one"))
        await reload()
        section.end()
        for one in (a, b, c):
            await one.ws.close()


class Section:
    """Markdown: a heading then a fenced transcript per section."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.open = False

    def __call__(self, title: str) -> None:
        self.end()
        self.out(f"\n### {title}\n\n```")
        self.open = True

    def end(self) -> None:
        if self.open:
            self.out("```")
            self.open = False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", choices=("embedded", "libafb"), default="embedded")
    host = parser.parse_args().host
    shutil.rmtree(FOLDER, ignore_errors=True)
    FOLDER.mkdir()
    config = FOLDER / "features.yaml"
    shutil.copy(REPO / "conf.d/features.yaml", config)
    (FOLDER / "perms.yaml").write_text(f"tokens: {{{TOKEN}: [urn:afb-spawn:reload]}}\n")
    port = free_port()
    process = start(host, config, port)
    try:
        asyncio.run(asyncio.wait_for(scenario(host, port, config, print, process), 120))
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        print("\n### binder stderr (reload lines)\n\n```")
        for line in err.decode(errors="replace").splitlines():
            if "reload" in line:
                print(line)
        print("```")
        shutil.rmtree(FOLDER, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
