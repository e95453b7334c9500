"""One behaviour, two hosts: actions, encoders, events, errors and permissions on the wire.

Each test asserts the exact frames a WebSocket client receives (two sandboxes: verbs are
`SANDBOX/COMMAND`); the `binder` fixture runs
it once against the embedded host and once against the libafb host (test/hosts.py).
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

API = "wire"
PERMISSION = "urn:afb-spawn:test:run"
CONFIG = {
    "metadata": {"uid": "wire-test", "api": API, "info": "wire checks"},
    "sandboxes": [{"uid": "box", "acls": {"user": "nobody"}, "commands": [
        {"uid": "echo", "encoder": "sync", "exec": {"cmdpath": "/bin/echo", "args": ["%text%"]}},
        {"uid": "lines", "encoder": "line", "exec": {"cmdpath": "/bin/sh", "args": ["-c", "echo a; echo b"]}},
        {"uid": "json", "encoder": "json", "exec": {"cmdpath": "/bin/echo", "args": ['{"k":[1,2]}']}},
        {"uid": "sleep", "exec": {"cmdpath": "/bin/sleep", "args": ["60"]}},
        {"uid": "single", "single": True, "exec": {"cmdpath": "/bin/sleep", "args": ["60"]}},
        {"uid": "fail", "encoder": "sync", "exec": {"cmdpath": "/bin/sh", "args": ["-c", "echo oops >&2; exit 3"]}},
    ]}, {"uid": "guarded", "acls": {"user": "nobody"}, "privilege": PERMISSION, "commands": [
        {"uid": "guarded", "encoder": "sync", "exec": {"cmdpath": "/bin/echo", "args": ["allowed"]}},
    ]}],
}


@pytest.fixture(scope="module", params=HOSTS)
def binder(request: pytest.FixtureRequest) -> Iterator[str]:
    """The WebSocket URL of a binder serving CONFIG on the host under test."""
    selection = host_args(request.param)
    with tempfile.TemporaryDirectory(prefix="afbspawn-wire-") as root:
        config = Path(root) / "wire.json"
        config.write_text(json.dumps(CONFIG))
        extra = []
        if request.param == "embedded":  # the libafb host leaves permissions to the framework's backend
            (Path(root) / "perms.json").write_text(json.dumps({"everyone": [PERMISSION]}))
            extra = ["--permissions", str(Path(root) / "perms.json")]
        port = free_port()
        process = start_binder([str(REPO / ".venv/bin/python"), "-m", "afbspawn", *selection, "--config",
                                str(config), "-p", str(port), *extra], cwd=REPO)
        try:
            yield f"ws://127.0.0.1:{port}/api"
        finally:
            process.stop()


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


async def one_call(url: str, api: str, verb: str, args: Any) -> tuple[int, dict[str, Any]]:
    async with await AfbClient.connect(url) as client:
        return await client.call(api, verb, args)


async def events_until_final(client: AfbClient, pid: int) -> list[dict[str, Any]]:
    received = []
    while not received or received[-1]["type"] != "final-event":
        frame = await client.events.get()
        if frame[2]["data"].get("pid") == pid:
            received.append(frame[2]["data"])
    return received


def without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in keys}


@pytest.mark.parametrize("api, verb, args, expected", [
    ("nope", "ping", True, (4, {"jtype": "afb-reply", "request": {"status": "unknown-api", "code": -3}})),
    (API, "nope", True, (4, {"jtype": "afb-reply", "request": {"status": "unknown-verb", "code": -4}})),
    (API, "box/sleep", {"action": "dance"},
     (4, {"jtype": "afb-reply", "request": {"status": "invalid-request", "info": "invalid action", "code": -12}})),
    (API, "box/sleep", {"action": "stop", "args": {"pid": 1}},
     (4, {"jtype": "afb-reply", "request": {"status": "invalid-request", "info": "invalid pid", "code": -12}})),
    (API, "box/sleep", {"action": "subscribe"}, (3, {"jtype": "afb-reply", "request": {"status": "success", "code": 0},
                                                 "response": []})),
])
def test_errors_and_empty_actions(binder: str, api: str, verb: str, args: Any, expected: Any) -> None:
    assert run(one_call(binder, api, verb, args)) == expected


def test_missing_argument_names_it(binder: str) -> None:
    code, envelope = run(one_call(binder, API, "box/echo", {"action": "start", "args": {}}))
    assert code == 4 and envelope["request"]["status"] == "invalid-request" and envelope["request"]["code"] == -12
    assert "text" in envelope["request"]["info"]


def test_sync_encoder_reply_and_failing_command(binder: str) -> None:
    code, envelope = run(one_call(binder, API, "box/echo", {"action": "start", "args": {"text": "hi"}}))
    assert code == 3 and list(envelope) == ["jtype", "request", "response"]
    assert without(envelope["response"], "pid") == {"api": API, "sandbox": "box", "command": "echo",
                                                    "status": {"exit": 0}, "stdout": ["hi"]}
    code, envelope = run(one_call(binder, API, "box/fail", {"action": "start"}))
    assert code == 3 and envelope["response"]["status"] == {"exit": 3}
    assert envelope["response"]["stderr"] == ["oops"]


def test_line_and_json_encoders_push_events_to_the_starter(binder: str) -> None:
    async def scenario() -> tuple[list[Any], list[Any]]:
        async with await AfbClient.connect(binder) as client:
            _, lines = await client.call(API, "box/lines", {"action": "start"})
            got_lines = await events_until_final(client, lines["response"]["pid"])
            _, parsed = await client.call(API, "box/json", {"action": "start"})
            return got_lines, await events_until_final(client, parsed["response"]["pid"])

    lines, parsed = run(scenario())
    assert [without(e, "pid", "stats") for e in lines] == [
        {"type": "data", "stdout": "a"}, {"type": "data", "stdout": "b"},
        {"type": "final-event", "status": {"exit": 0}}]
    assert without(parsed[0], "pid") == {"type": "data", "stdout": {"k": [1, 2]}}
    assert without(parsed[-1], "pid", "stats") == {"type": "final-event", "status": {"exit": 0}}


def test_subscribe_unsubscribe_stop_and_single(binder: str) -> None:
    async def scenario() -> list[Any]:
        async with await AfbClient.connect(binder) as starter, await AfbClient.connect(binder) as watcher:
            _, started = await starter.call(API, "box/single", {"action": "start"})
            pid = started["response"]["pid"]
            uid = f"box/single@{pid}"
            refused = await starter.call(API, "box/single", {"action": "start"})
            subscribed = await watcher.call(API, "box/single", {"action": "subscribe", "args": {"pid": pid}})
            unsubscribed = await watcher.call(API, "box/single", {"action": "unsubscribe", "args": {"pid": pid}})
            resubscribed = await watcher.call(API, "box/single", {"action": "subscribe"})
            stopped = await watcher.call(API, "box/single", {"action": "stop", "args": {"signal": "SIGTERM"}})
            final = (await events_until_final(watcher, pid))[-1]
            return [uid, refused, subscribed, unsubscribed, resubscribed, stopped, final]

    uid, refused, subscribed, unsubscribed, resubscribed, stopped, final = run(scenario())
    assert refused[0] == 4 and refused[1]["request"]["status"] == "internal-error"
    assert "single" in refused[1]["request"]["info"]
    assert subscribed[1]["response"] == uid and unsubscribed[1]["response"] == uid
    assert resubscribed[1]["response"] == [uid] and stopped[1]["response"] == [uid]
    assert without(final, "pid", "stats") == {"type": "final-event", "status": {"signal": "Terminated"}}


def test_permitted_caller_runs_a_guarded_command(binder: str) -> None:
    """Granted by the policy (embedded) or by the framework's backend (libafb; docs/hosts.md)."""
    code, envelope = run(one_call(binder, API, "guarded/guarded", {"action": "start"}))
    assert code == 3 and envelope["response"]["stdout"] == ["allowed"]


def test_info_lists_the_commands_with_their_usage(binder: str) -> None:
    code, envelope = run(one_call(binder, API, "info", True))
    assert code == 3
    info = envelope["response"]
    assert info["metadata"] == {"uid": "wire-test", "info": "wire checks"}
    assert [group["uid"] for group in info["groups"]] == ["box", "guarded"]
    assert [verb["verb"] for verb in info["groups"][0]["verbs"]] == [f"box/{name}" for name in ("echo", "lines", "json", "sleep", "single", "fail")]
