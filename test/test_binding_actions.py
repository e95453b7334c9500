"""The request protocol of command verbs (spec §8) and the builtins, through an in-memory
FAKE host (spawnfakes.FakeRequest); processes are real (the real sandbox
launcher, spawnfakes.RecordingLauncher), argv building and command compiling are the config's own.
What a client sees of these verbs on the wire (replies, errors, stop, subscribe, single,
encoders' events) is asserted once in test_hosts_wire.py and checked on both hosts; this
module holds what only the inside shows: parsing, which listener got which push, what was
launched, the info shape from the config model.
"""
from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from spawnfakes import CollectFactory, FakeEvent, FakeRequest, RecordingLauncher

from afbspawn.afb.errors import Status
from afbspawn.afb.host import ApiSpec, Event, Host, Reply
from afbspawn.binding.actions import (
    CommandVerb,
    Query,
    RequestError,
    parse_query,
    parse_target,
)
from afbspawn.binding.api import Toolkit, api_spec
from afbspawn.binding.builtins import describe
from afbspawn.config.argv import build_argv
from afbspawn.config.compiler import compile_command
from afbspawn.config.model import (
    Api,
    ArgTemplate,
    Command,
    EncoderSpec,
    Metadata,
    Placeholder,
    Sandbox,
)
from afbspawn.tasks import CommandSite


def shell(script: str, **fields: Any) -> Command:
    return Command(uid="cmd", verb="cmd", cmdpath="/bin/sh",
                   args=(ArgTemplate(("-c",)), ArgTemplate((script,))), **fields)


def make_verb(command: Command, synchronous: bool = False) -> tuple[CommandVerb, FakeEvent, RecordingLauncher]:
    event, launcher = FakeEvent("api/cmd"), RecordingLauncher()
    site = CommandSite("api", Sandbox(uid="box"), command, launcher, CollectFactory(synchronous), {}, event)
    return CommandVerb(site, build_argv), event, launcher


async def call(verb: CommandVerb, args: Any, client: int = 1) -> tuple[int, Any, str | None]:
    request = FakeRequest(args, client)
    verb(request)
    return await asyncio.wait_for(request.done, 20)


async def until_final(event: FakeEvent, count: int = 1) -> None:
    while sum(1 for p in event.pushed if p.get("type") == "final-event") < count:
        await asyncio.sleep(0.01)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


@pytest.mark.parametrize("raw, expected", [
    (None, Query("start", None, None)),
    ({"action": "STOP"}, Query("stop", None, None)),
    ({"action": "start", "args": {"a": 1}, "verbose": 3}, Query("start", {"a": 1}, 3)),
    ({"action": "start", "verbose": 9}, Query("start", None, None)),
    ({}, Query("start", None, None)),
    ({"dirname": "/etc"}, Query("start", {"dirname": "/etc"}, None)),
    ({"action": "stop", "pid": 1}, Query("start", {"action": "stop", "pid": 1}, None)),
    ({"action": 3}, Query("start", {"action": 3}, None)),
    ({"verbose": "2"}, Query("start", {"verbose": "2"}, None)),
    (True, Query("start", True, None)),
    ([1], Query("start", [1], None)),
])
def test_parse_query(raw: Any, expected: Query) -> None:
    assert parse_query(raw) == expected


@pytest.mark.parametrize("args, expected", [
    (None, (None, signal.SIGINT)),
    ({"pid": 12}, (12, signal.SIGINT)),
    ({"signal": "sigterm"}, (None, signal.SIGTERM)),
    ({"signal": "SIGHUP", "pid": 3}, (3, signal.SIGHUP)),
    ({"signal": 9}, (None, 9)),
])
def test_parse_target(args: Any, expected: tuple[Any, int]) -> None:
    assert parse_target(args) == expected


@pytest.mark.parametrize("args, info", [
    ({}, None), ({"other": 1}, None), ([1], None), ({"pid": "12"}, "invalid pid"),
    ({"signal": "SIGNOPE"}, "invalid signal"), ({"signal": "TERM"}, "invalid signal"),
    ({"signal": 0}, "invalid signal"), ({"signal": 999}, "invalid signal"), ({"signal": True}, "invalid signal"),
])
def test_parse_target_refusals(args: Any, info: str | None) -> None:
    with pytest.raises(RequestError) as refused:
        parse_target(args)
    assert refused.value.status == Status.INVALID_REQUEST
    if info:
        assert refused.value.info == info


def test_start_async_replies_identity_and_subscribes() -> None:
    async def scenario() -> None:
        verb, event, _ = make_verb(shell("echo hi"))
        status, data, _ = await call(verb, {"action": "Start"})
        assert status == 0 and list(data) == ["api", "sandbox", "command", "pid"]
        assert event.listeners == set()  # not subscribed to the command: to its own task only
        await until_final(event)
        assert list(event.received) == [1]
        got = event.received[1]
        assert got[0] == {"type": "data", "pid": data["pid"], "stdout": "hi\n"}
        assert (got[1]["type"], got[1]["status"], len(got)) == ("final-event", {"exit": 0}, 2)

    run(scenario())


def test_start_sync_pushes_initial_event_before_output_and_replies_at_end() -> None:
    async def scenario() -> None:
        verb, event, _ = make_verb(shell("echo hi"), synchronous=True)
        request = FakeRequest(None)
        verb(request)
        assert not request.replied
        assert event.pushed == [{"type": "initial-event", "api": "api", "sandbox": "box",
                                 "command": "cmd", "pid": event.pushed[0]["pid"]}]
        status, data, _ = await asyncio.wait_for(request.done, 20)
        assert status == 0
        assert data == {"api": "api", "sandbox": "box", "command": "cmd", "pid": event.pushed[0]["pid"],
                        "status": {"exit": 0}, "stdout": "hi\n"}

    run(scenario())


def test_subscribe_and_unsubscribe_another_client() -> None:
    async def scenario() -> None:
        verb, event, _ = make_verb(shell("exec sleep 30"))
        pid = (await call(verb, None, client=1))[1]["pid"]
        assert await call(verb, {"action": "subscribe"}, client=2) == (0, [f"box/cmd@{pid}"], None)
        assert await call(verb, {"action": "unsubscribe", "args": {"pid": pid}}, client=1) == \
            (0, f"box/cmd@{pid}", None)
        await call(verb, {"action": "stop", "args": {"signal": 9}})
        await until_final(event)
        assert list(event.received) == [2]  # the subscriber got the final event, the starter left
        later = (await call(verb, None, client=3))[1]["pid"]  # a command subscriber gets later tasks too
        await call(verb, {"action": "stop", "args": {"signal": 9}})
        await until_final(event, 2)
        finals = [e["pid"] for e in event.received[2] if e["type"] == "final-event"]
        assert finals == [pid, later] and event.received[3][-1]["pid"] == later

    run(scenario())


def test_refusals_launch_nothing() -> None:
    async def scenario() -> None:
        verb, _, launcher = make_verb(shell("true"))
        assert await call(verb, {"action": "lst"}) == (Status.INVALID_REQUEST, None, "invalid action")
        assert await call(verb, {"action": "stop", "args": {"signal": "SIGFOO"}}) == \
            (Status.INVALID_REQUEST, None, "invalid signal")
        verb, _, launcher = make_verb(Command(uid="cmd", verb="cmd", cmdpath="/bin/echo",
                                              args=(ArgTemplate((Placeholder("name", True),)),)))
        status, _, info = await call(verb, {"action": "start", "args": {"other": 1}})
        assert status == Status.INVALID_REQUEST and "name" in (info or "")
        assert launcher.launched == []

    run(scenario())


def test_single_command_refuses_a_second_instance() -> None:
    async def scenario() -> None:
        verb, event, launcher = make_verb(shell("exec sleep 30", single=True))
        pid = (await call(verb, None))[1]["pid"]
        status, _, info = await call(verb, None)
        assert status == Status.INTERNAL_ERROR and str(pid) in (info or "") and "single" in (info or "")
        assert len(launcher.launched) == 1
        await call(verb, {"action": "stop", "args": {"signal": "SIGKILL"}})
        await until_final(event)

    run(scenario())


def test_launch_error_text_is_the_reply_info() -> None:
    class Refusing:
        def launch(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("setuid 1000: Operation not permitted")

    async def scenario() -> None:
        event = FakeEvent("api/cmd")
        site = CommandSite("api", Sandbox(uid="box"), shell("true"), Refusing(), CollectFactory(), {}, event)
        verb = CommandVerb(site, build_argv)
        assert await call(verb, None) == (Status.INTERNAL_ERROR, None, "setuid 1000: Operation not permitted")
        assert event.listeners == set()

    run(scenario())


SANDBOX = Sandbox(uid="sandbox-basic", info="minimal demo")
API = Api(
    metadata=Metadata(uid="spawn-basic", api="basic", version="1.0"),
    sandboxes=(SANDBOX,),
    commands=((SANDBOX, Command(uid="distro", verb="distro", cmdpath="/bin/true", info="linux version")),
              (SANDBOX, Command(uid="sync", verb="admin/sync", cmdpath="/bin/true", sample=[{"action": "start"}],
                                usage={"dir": "path"}, privilege="urn:x:sync", encoder=EncoderSpec("sync")))),
    source="test",
)


def test_info_shape_and_key_order() -> None:
    assert describe(API) == {
        "groups": [{"uid": "sandbox-basic", "info": "minimal demo", "verbs": [
            {"uid": "distro", "verb": "distro", "info": "linux version", "usage": {"action": ["start", "stop"]}},
            {"uid": "sync", "verb": "admin/sync", "sample": [{"action": "start"}],
             "usage": {"action": ["start", "stop"], "args": {"dir": "path"}}}]}],
        "metadata": {"uid": "spawn-basic", "version": "1.0"}}
    assert list(describe(API)["groups"][0]["verbs"][0]) == ["uid", "verb", "info", "usage"]


class RecordingHost(Host):
    """A FAKE host recording what the binding registers."""

    def __init__(self) -> None:
        self.apis: list[ApiSpec] = []
        self.events: list[str] = []

    def add_api(self, spec: ApiSpec) -> None:
        self.apis.append(spec)

    def new_event(self, api: str, name: str) -> Event:
        self.events.append(f"{api}/{name}")
        return FakeEvent(f"{api}/{name}")

    def update_api(self, spec: ApiSpec) -> None:
        raise AssertionError("no reload here")

    async def call(self, api: str, verb: str, args: Any = None) -> Reply:
        return Reply(0)


def test_api_spec_verbs_permissions_and_events() -> None:
    host = RecordingHost()
    plans: list[str] = []

    def compile_plan(sandbox: Sandbox) -> RecordingLauncher:
        plans.append(sandbox.uid)
        return RecordingLauncher()

    toolkit = Toolkit(compile_plan, lambda spec, plugins: CollectFactory(spec.name == "sync"), build_argv, compile_command)
    spec = api_spec(host, API, toolkit)
    assert [v.name for v in spec.verbs] == ["ping", "info", "explain", "tasks", "distro", "admin/sync"]
    assert [v.permission for v in spec.verbs] == [None, None, None, None, None, "urn:x:sync"]
    assert host.events == ["basic/distro", "basic/admin/sync"]
    assert plans == ["sandbox-basic"]  # one plan per sandbox, compiled at load
    assert spec.on_ready is None

    async def pings() -> list[Any]:
        replies = []
        for _ in range(2):
            request = FakeRequest(True)
            spec.verbs[0].handler(request)
            replies.append(request.replies[0][1])
        return replies

    first, second = run(pings())
    assert first.startswith("pong=") and int(second[5:]) == int(first[5:]) + 1


EXEC_BOX = Sandbox(uid="exec-box", privilege="urn:x:exec", allow_exec=True)


def exec_spec(host: RecordingHost) -> ApiSpec:
    api = Api(metadata=Metadata(uid="x", api="x"), sandboxes=(SANDBOX, EXEC_BOX), commands=(), source="test")
    toolkit = Toolkit(lambda sandbox: RecordingLauncher(), lambda spec, plugins: CollectFactory(spec.name == "sync"),
                      build_argv, compile_command)
    return api_spec(host, api, toolkit)


def test_exec_verb_only_where_enabled_and_under_the_sandbox_privilege() -> None:
    host = RecordingHost()
    assert "exec" not in [v.name for v in api_spec(host, API, Toolkit(
        lambda sandbox: RecordingLauncher(), lambda spec, plugins: CollectFactory(), build_argv, compile_command)).verbs]
    verbs = {v.name: v for v in exec_spec(host).verbs}
    assert verbs["exec"].permission == "urn:x:exec"


def exec_caller(host: RecordingHost) -> tuple[Any, Callable[[Any], Awaitable[tuple[int, Any, str | None]]]]:
    """The `exec` verb's handler on `host`, and a call of it that waits for its reply."""
    handler = {v.name: v for v in exec_spec(host).verbs}["exec"].handler

    async def call_exec(args: Any) -> tuple[int, Any, str | None]:
        request = FakeRequest(args)
        handler(request)
        return await asyncio.wait_for(request.done, 20)

    return handler, call_exec


def test_exec_runs_a_compiled_command_and_refuses_bad_ones() -> None:
    host = RecordingHost()
    handler, call_exec = exec_caller(host)

    async def scenario() -> None:
        status, data, _ = await call_exec({"sandbox": "EXEC-BOX", "uid": "hello", "encoder": "sync",
                                           "exec": {"cmdpath": "/bin/echo", "args": ["hi", "%literal%"]}})
        assert status == 0 and data["command"] == "hello" and data["sandbox"] == "exec-box"
        assert data["status"] == {"exit": 0} and data["stdout"] == "hi %literal%\n"
        assert "x/hello" in host.events
        assert handler.live == {}  # type: ignore[attr-defined]  # its event was closed when idle
        for refused in ({"sandbox": "sandbox-basic", "exec": {"cmdpath": "/bin/echo"}},
                        {"sandbox": "nope", "exec": {"cmdpath": "/bin/echo"}}):
            assert await call_exec(refused) == (Status.INVALID_REQUEST, None, "invalid sandbox uid")
        status, _, info = await call_exec({"sandbox": "exec-box", "exec": {"cmdpath": "/nonexistent/tool"}})
        assert status == Status.INVALID_REQUEST and "/nonexistent/tool" in (info or "")

    run(scenario())


def test_unknown_encoder_or_plugin_is_a_config_error() -> None:
    from afbspawn.config.errors import ConfigError
    from afbspawn.encoders.registry import find_factory

    broken = Api(metadata=Metadata(uid="b", api="b"), sandboxes=(SANDBOX,), source="broken.json",
                 commands=((SANDBOX, Command(uid="c", verb="c", cmdpath="/bin/true", encoder=EncoderSpec("nope"))),))
    toolkit = Toolkit(lambda sandbox: RecordingLauncher(), find_factory, build_argv, compile_command)
    with pytest.raises(ConfigError, match="broken.json: /encoder: ENCODER_NOT_FOUND"):
        api_spec(RecordingHost(), broken, toolkit)


def test_exec_caller_text_stays_literal(monkeypatch: pytest.MonkeyPatch) -> None:
    """`$NAME` from a caller is never expanded from the binder's environment (no secret, no probing)."""
    monkeypatch.setenv("SECRET_X", "binder-secret")
    host = RecordingHost()
    _, call_exec = exec_caller(host)

    async def scenario() -> None:
        status, data, _ = await call_exec({"sandbox": "exec-box", "encoder": "sync", "exec": {
            "cmdpath": "/bin/echo", "args": ["$SECRET_X", "${NO_SUCH_VARIABLE}", "$$", "50%?"]}})
        assert status == 0 and data["stdout"] == "$SECRET_X ${NO_SUCH_VARIABLE} $$ 50%?\n", data
        status, _, info = await call_exec({"sandbox": "exec-box", "exec": {"cmdpath": "$SECRET_X/bin/echo"}})
        assert status == Status.INVALID_REQUEST and "'$SECRET_X/bin/echo' is not an absolute path" in (info or "")
        assert "binder-secret" not in (info or "") and "unknown variable" not in (info or "")

    run(scenario())
