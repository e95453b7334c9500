"""One behaviour, two hosts: actions, encoders, events, errors and permissions on the wire.

Each test asserts the exact frames a WebSocket client receives (two sandboxes: verbs are
`SANDBOX/COMMAND`); the `binder` fixture runs
it once against the embedded host and once against the libafb host (test/hosts.py).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration import require_whole_binder

require_whole_binder()

from afbclient import AfbClient
from binderproc import Binder, start_binder
from conftest import REPO, free_port
from hosts import HOSTS, host_args
from livebinder import wait_for_log

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
    ]}, {"uid": "open", "acls": {"user": "nobody"}, "commands": [
        {"uid": "open", "encoder": "sync", "exec": {"cmdpath": "/bin/echo", "args": ["open"]}}]}],
}
GUARDED = {"uid": "guarded", "acls": {"user": "nobody"}, "privilege": PERMISSION, "commands": [
    {"uid": "guarded", "encoder": "sync", "exec": {"cmdpath": "/bin/echo", "args": ["allowed"]}}]}
INSUFFICIENT_SCOPE = (4, {"jtype": "afb-reply", "request": {"status": "insufficient-scope", "code": -9}})


@contextlib.contextmanager
def serving(host: str, config: dict[str, Any], *options: str) -> Iterator[tuple[Binder, str, Path]]:
    """A binder on `host` serving `config`: (binder, WebSocket URL, config file)."""
    selection = host_args(host)
    with tempfile.TemporaryDirectory(prefix="afbspawn-wire-") as root:
        path = Path(root) / "wire.json"
        path.write_text(json.dumps(config))
        port = free_port()
        process = start_binder([str(REPO / ".venv/bin/python"), "-m", "afbspawn", *selection, "--config",
                                str(path), "-p", str(port), *options], cwd=REPO)
        try:
            yield process, f"ws://127.0.0.1:{port}/api", path
        finally:
            process.stop()


@pytest.fixture(scope="module", params=HOSTS)
def binder(request: pytest.FixtureRequest) -> Iterator[str]:
    """The WebSocket URL of a binder serving CONFIG on the host under test."""
    with serving(request.param, CONFIG) as (_, url, _):
        yield url


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
    assert "single" in refused[1]["request"]["info"] and str(started_pid(uid)) in refused[1]["request"]["info"]
    assert subscribed[1]["response"] == uid and unsubscribed[1]["response"] == uid
    assert resubscribed[1]["response"] == [uid] and stopped[1]["response"] == [uid]
    assert without(final, "pid", "stats") == {"type": "final-event", "status": {"signal": "Terminated"}}


def started_pid(uid: str) -> int:
    return int(uid.rsplit("@", 1)[1])


def test_stop_one_then_all_and_a_command_subscriber_sees_later_tasks(binder: str) -> None:
    """Stop by pid (its signal) and stop all (SIGINT, flagged `stop`); a client that subscribed
    to the command, not to a pid, also receives the tasks started after it."""
    async def scenario() -> dict[str, Any]:
        async with await AfbClient.connect(binder) as starter, await AfbClient.connect(binder) as watcher:
            first, second = [(await starter.call(API, "box/sleep", {"action": "start"}))[1]["response"]["pid"]
                             for _ in range(2)]
            seen: dict[str, Any] = {"pids": (first, second)}
            seen["subscribed"] = (await watcher.call(API, "box/sleep", {"action": "subscribe"}))[1]["response"]
            seen["one"] = (await starter.call(API, "box/sleep", {"action": "stop",
                                                                 "args": {"pid": first, "signal": "SIGTERM"}}))[1]
            seen["first"] = (await events_until_final(watcher, first))[-1]
            seen["all"] = (await starter.call(API, "box/sleep", {"action": "stop"}))[1]
            seen["second"] = (await events_until_final(watcher, second))[-1]
            seen["none"] = (await starter.call(API, "box/sleep", {"action": "stop"}))[1]
            seen["gone"] = await starter.call(API, "box/sleep", {"action": "stop", "args": {"pid": first}})
            async with await AfbClient.connect(binder) as later:
                third = (await later.call(API, "box/sleep", {"action": "start"}))[1]["response"]["pid"]
                await later.call(API, "box/sleep", {"action": "stop", "args": {"pid": third, "signal": "SIGKILL"}})
            seen["third"] = (await events_until_final(watcher, third))[-1]
            return seen

    seen = run(scenario())
    first, second = seen["pids"]
    assert sorted(seen["subscribed"]) == sorted([f"box/sleep@{first}", f"box/sleep@{second}"])
    assert seen["one"]["response"] == f"box/sleep@{first}"
    assert without(seen["first"], "pid", "stats") == {"type": "final-event", "status": {"signal": "Terminated"}}
    assert seen["all"]["response"] == [f"box/sleep@{second}"]
    assert without(seen["second"], "pid", "stats") == {"type": "final-event",
                                                       "status": {"signal": "Interrupt", "info": "stop"}}
    assert seen["none"]["response"] == []
    assert seen["gone"] == (4, {"jtype": "afb-reply", "request": {"status": "invalid-request", "info": "invalid pid",
                                                                  "code": -12}})
    assert without(seen["third"], "pid", "stats") == {"type": "final-event", "status": {"signal": "Killed"}}


@pytest.mark.parametrize("host", HOSTS)
def test_a_required_permission_is_checked_or_the_config_is_not_served(host: str, tmp_path: Path) -> None:
    """Embedded: the --permissions policy decides. libafb: its backend decides, and a framework
    without one (it grants everything, as the one here) refuses to serve the config (docs/hosts.md)."""
    config = {**CONFIG, "sandboxes": [CONFIG["sandboxes"][0], GUARDED]}
    if host == "libafb":
        refusal = f"permission {PERMISSION} cannot be enforced: this AFB framework has no permission backend"
        with pytest.raises(RuntimeError, match=refusal), serving(host, config):
            pass
        return
    with serving(host, config) as (_, url, _):
        assert run(one_call(url, API, "guarded/guarded", {"action": "start"})) == INSUFFICIENT_SCOPE
    (tmp_path / "perms.json").write_text(json.dumps({"everyone": [PERMISSION]}))
    with serving(host, config, "--permissions", str(tmp_path / "perms.json")) as (_, url, _):
        code, envelope = run(one_call(url, API, "guarded/guarded", {"action": "start"}))
    assert code == 3 and envelope["response"]["stdout"] == ["allowed"]


@pytest.mark.parametrize("host", HOSTS)
def test_a_permission_added_by_a_reload_is_refused_to_callers_nobody_granted(host: str) -> None:
    """libafb registered the verb with no permission to check: afb-spawn refuses it itself."""
    with serving(host, CONFIG) as (process, url, path):
        assert run(one_call(url, API, "box/echo", {"action": "start", "args": {"text": "open"}}))[0] == 3
        guarded = json.loads(json.dumps(CONFIG))
        guarded["sandboxes"][0]["privilege"] = PERMISSION
        path.write_text(json.dumps(guarded))
        process.process.send_signal(signal.SIGHUP)
        wait_for_log(process, b"config reloaded")
        assert run(one_call(url, API, "box/echo", {"action": "start", "args": {"text": "open"}})) == INSUFFICIENT_SCOPE
        assert run(one_call(url, API, "ping", True))[0] == 3  # the others still answer


def test_info_lists_the_commands_with_their_usage(binder: str) -> None:
    code, envelope = run(one_call(binder, API, "info", True))
    assert code == 3
    info = envelope["response"]
    assert info["metadata"] == {"uid": "wire-test", "info": "wire checks"}
    assert [group["uid"] for group in info["groups"]] == ["box", "open"]
    assert [verb["verb"] for verb in info["groups"][0]["verbs"]] == [f"box/{name}" for name in ("echo", "lines", "json", "sleep", "single", "fail")]
