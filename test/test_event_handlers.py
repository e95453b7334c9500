"""The C `events` key on both hosts: an API handles the events of another one.

`watch` subscribes the binder to `src/tick` in its onload (`api://src#tick` subscribe, as
the C wireguard sample subscribes to `monitor/disconnected`); its `events` entry
`src/tick` relays each event's data to its own `record` command. A client starting
`src/tick` therefore sees `watch/record` run once per `src/tick` event, on either host.
"""
from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration import require_whole_binder

require_whole_binder()

from afbclient import AfbClient
from binderproc import start_binder
from conftest import REPO, free_port
from hosts import HOSTS, host_args

SOURCE = {
    "metadata": {"uid": "src", "api": "src"},
    "sandboxes": [{"uid": "box", "acls": {"user": "nobody"}, "commands": [
        {"uid": "tick", "encoder": "line", "exec": {"cmdpath": "/bin/sh", "args": ["-c", "echo one; echo two"]}},
    ]}],
}
WATCHER = {
    "metadata": {"uid": "watch", "api": "watch"},
    "onload": [{"uid": "listen", "action": "api://src#tick", "args": {"action": "subscribe"}}],
    "events": [{"uid": "src/tick", "info": "record every tick event", "action": "api://watch#record"}],
    "sandboxes": [{"uid": "box", "acls": {"user": "nobody"}, "commands": [
        {"uid": "record", "encoder": "line", "exec": {"cmdpath": "/bin/echo", "args": ["%type%"]}},
    ]}],
}


@pytest.fixture(params=HOSTS)
def binder_port(request: pytest.FixtureRequest) -> Iterator[int]:
    selection = host_args(request.param)
    with tempfile.TemporaryDirectory(prefix="afbspawn-events-") as root:
        paths = []
        for name, config in (("src", SOURCE), ("watch", WATCHER)):
            paths += ["--config", str(Path(root) / f"{name}.json")]
            (Path(root) / f"{name}.json").write_text(json.dumps(config))
        port = free_port()
        binder = start_binder([str(REPO / ".venv/bin/python"), "-m", "afbspawn", *selection, *paths,
                               "-p", str(port)], cwd=REPO)
        try:
            yield port
        finally:
            binder.stop()


async def recorded(port: int) -> list[Any]:
    """What `watch/record` printed for the events of one `src/tick` run."""
    async with await AfbClient.connect(f"ws://127.0.0.1:{port}/api") as client:
        code, _ = await client.call("watch", "record", {"action": "subscribe"})
        assert code == 3
        code, envelope = await client.call("src", "tick", {"action": "start"})
        assert code == 3, envelope
        printed: list[Any] = []
        while len(printed) < 3:  # data "one", data "two", final-event: three ticks, three records
            name, event = (await client.events.get())[1:]
            if name == "watch/record" and event["data"]["type"] == "data":
                printed.append(event["data"]["stdout"])
        return sorted(printed)


def test_events_of_another_api_reach_its_handler(binder_port: int) -> None:
    assert asyncio.run(asyncio.wait_for(recorded(binder_port), 60)) == ["data", "data", "final-event"]
