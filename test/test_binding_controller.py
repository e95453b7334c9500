"""onload and extra actions: api:// through Host.call, plugin:// through a real Python module.
The host is a FAKE recording calls (the real binder's Host.call is tested in its own suite).
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from spawnfakes import FakeEvent, FakeRequest

from afbspawn.afb.errors import Status
from afbspawn.afb.host import ApiSpec, Event, Host, Reply
from afbspawn.binding.controller import ActionError, extra_verb, onload_runner
from afbspawn.config.model import Action, Api, Metadata, Plugin

PLUGIN = '''
CALLS = []

def remember(call):
    CALLS.append((call.api, call.args, call.params))
    return {"seen": call.params}

async def answer(call):
    call.request.reply(0, "answered")
'''


class CallingHost(Host):
    def __init__(self, status: int = 0) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.status = status

    def add_api(self, spec: Any) -> None:
        raise AssertionError("not used")

    def new_event(self, api: str, name: str) -> Event:
        return FakeEvent(name)

    def update_api(self, spec: ApiSpec) -> None:
        raise AssertionError("no reload here")

    async def call(self, api: str, verb: str, args: Any = None) -> Reply:
        self.calls.append((api, verb, args))
        return Reply(self.status, {"echo": args}, None if self.status >= 0 else "nope")


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "spawn_test_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "spawn_test_plugin"
    sys.modules.pop("spawn_test_plugin", None)


def action(uid: str, uri: str, args: Any = None) -> Action:
    scheme, rest = uri.split("://")
    target, name = rest.split("#")
    return Action(uid=uid, uri=uri, scheme=scheme, target=target, name=name, args=args)


def make_api(plugin_module: str | None = None, **actions: Any) -> Api:
    plugins = (Plugin("plug", plugin_module),) if plugin_module else ()
    return Api(Metadata(uid="ctl", api="ctl"), (), (), "test", plugins=plugins, **actions)


def test_onload_calls_in_order_and_fails_on_error(plugin_module: str) -> None:
    api = make_api(plugin_module, onload=(action("a", "api://monitor#subscribe", {"x": 1}),
                                          action("b", "plugin://plug#remember", [1])))
    host = CallingHost()
    asyncio.run(onload_runner(host, api)())
    assert host.calls == [("monitor", "subscribe", {"x": 1})]
    assert sys.modules[plugin_module].CALLS == [("ctl", [1], None)]
    with pytest.raises(ActionError, match="api://monitor#subscribe failed: nope"):
        asyncio.run(onload_runner(CallingHost(Status.INVALID_REQUEST), api)())


def test_unknown_plugin_function_is_a_load_error(plugin_module: str) -> None:
    with pytest.raises(ActionError, match="no function 'missing'"):
        onload_runner(CallingHost(), make_api(plugin_module, onload=(action("a", "plugin://plug#missing"),)))
    with pytest.raises(ActionError, match="no plugin 'other'"):
        onload_runner(CallingHost(), make_api(onload=(action("a", "plugin://other#f"),)))


def test_extra_verbs_relay_and_plugins(plugin_module: str) -> None:
    api = make_api(plugin_module)
    host = CallingHost()

    async def scenario() -> list[Any]:
        replies = []
        for uri, params in (("api://ctl#sync", {"q": 1}), ("plugin://plug#remember", 7),
                            ("plugin://plug#answer", None)):
            verb = extra_verb(host, api, action("x", uri, {"action": "start"}))
            request = FakeRequest(params)
            await verb.handler(request)
            replies.append(request.replies)
        return replies

    relay, remember, answer = asyncio.run(scenario())
    assert host.calls == [("ctl", "sync", {"q": 1, "action": "start"})]
    assert relay == [(0, {"echo": {"q": 1, "action": "start"}}, None)]
    assert remember == [(0, {"seen": 7}, None)]
    assert answer == [(0, "answered", None)]
