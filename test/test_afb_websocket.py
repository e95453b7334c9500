"""The binder over WebSocket, driven by aiohttp's client (masked frames).

The `demo` fixture checks each wire behaviour on both hosts (conftest's `demo_host`:
test/demohost.py serves the demo API of test/afbserver.py on each); the tests that reach inside the binder (replying
later from the test, its log, its options: tracereq, policy, on_ready) use the embedded
binder in the test process (`binder_running`): the libafb host has no such inside.
"""
import asyncio
import logging

import aiohttp
import pytest
from afbclient import AfbClient
from afbserver import binder_running, run, until, ws_url

from afbspawn.afb.embedded.monitor import SET_PERMISSION
from afbspawn.afb.embedded.permissions import Policy

OK = {"status": "success", "code": 0}


@pytest.fixture
def demo(demo_host: tuple[str, int]) -> tuple[str, str]:
    """(host, WebSocket URL) of the demo API served by each host (conftest's `demo_host`)."""
    return demo_host[0], f"ws://127.0.0.1:{demo_host[1]}/api"


def test_calls_replies_and_errors(demo):
    async def scenario():
        async with await AfbClient.connect(demo[1]) as client:
            assert await client.call("demo", "ping") == (3, {"jtype": "afb-reply", "request": OK, "response": {"pong": 1}})
            assert await client.call("demo", "echo", [1, "x"]) == (3, {"jtype": "afb-reply", "request": OK, "response": [1, "x"]})
            assert await client.call("demo", "a/b") == (3, {"jtype": "afb-reply", "request": OK, "response": "a/b"})
            assert await client.call("nope", "x") == (4, {"jtype": "afb-reply", "request": {"status": "unknown-api", "code": -3}})
            assert await client.call("demo", "nope") == (4, {"jtype": "afb-reply", "request": {"status": "unknown-verb", "code": -4}})
            assert await client.call("demo", "error") == (4, {"jtype": "afb-reply", "request": {"status": "error", "code": -1000}, "response": {"why": "user"}})
    run(scenario())


def test_handler_exceptions_become_internal_error_and_server_keeps_running(demo):
    async def scenario():
        async with await AfbClient.connect(demo[1]) as client:
            internal = (4, {"jtype": "afb-reply", "request": {"status": "internal-error", "code": -1}})
            assert await client.call("demo", "fail") == internal
            assert await client.call("demo", "afail") == internal
            assert await client.call("demo", "notjson") == (4, {"jtype": "afb-reply", "request": {
                "status": "internal-error", "info": "reply data is not JSON", "code": -1}})
            assert (await client.call("demo", "ping"))[0] == 3
    run(scenario())


def test_a_handler_exception_is_logged(caplog):
    """The embedded binder's own log (the libafb host logs through the framework's logger)."""
    async def scenario():
        async with binder_running() as (binder, _), await AfbClient.connect(ws_url(binder)) as client:
            await client.call("demo", "fail")
    with caplog.at_level(logging.ERROR, logger="afbspawn"):
        run(scenario())
    assert "boom" in caplog.text


def test_second_reply_ignored_and_late_reply_delivered(demo):
    async def scenario():
        async with await AfbClient.connect(demo[1]) as client:
            assert (await client.call("demo", "twice"))[1]["response"] == 1
            assert (await client.call("demo", "later"))[1]["response"] == "late"
            assert (await client.call("demo", "echo", 5))[1]["response"] == 5  # the second reply went nowhere
    run(scenario())


def test_reply_from_another_task_and_only_once():
    async def scenario():
        async with binder_running() as (binder, demo), await AfbClient.connect(ws_url(binder)) as client:
            pending = asyncio.ensure_future(client.call("demo", "keep", "k"))
            await until(lambda: len(demo.requests) == 1)
            assert not pending.done() and not demo.requests[0].replied
            demo.requests[0].reply(0, "from a task")
            assert demo.requests[0].replied
            assert (await pending)[1]["response"] == "from a task"
            demo.requests[0].reply(0, "again")  # goes nowhere: the next call gets its own answer
            assert (await client.call("demo", "echo", 5))[1]["response"] == 5
    run(scenario())


def test_late_reply_to_a_gone_client_is_a_noop():
    async def scenario():
        async with binder_running() as (binder, demo):
            client = await AfbClient.connect(ws_url(binder))
            pending = asyncio.ensure_future(client.call("demo", "keep"))
            await until(lambda: len(demo.requests) == 1)
            await client.close()
            pending.cancel()
            await until(lambda: not binder._connections)
            demo.requests[0].reply(0, "nobody listens")  # must not raise
            assert demo.requests[0].replied
    run(scenario())


def test_events_reach_subscribers_only(demo):
    async def scenario():
        async with await AfbClient.connect(demo[1]) as a, await AfbClient.connect(demo[1]) as b:
            assert (await a.call("demo", "subscribe"))[0] == 3
            assert (await b.call("demo", "push", {"n": 1}))[1]["response"] == 1
            assert await a.events.get() == [5, "demo/tick", {"jtype": "afb-event", "event": "demo/tick", "data": {"n": 1}}]
            await b.call("demo", "subscribe")
            await b.call("demo", "unsubscribe")
            await b.call("demo", "push", None)
            assert (await a.events.get())[2]["data"] is None
            await b.call("demo", "ping")  # an event sent to b would have come before this reply
            assert b.events.empty()
    run(scenario())


def test_subscriptions_end_with_the_connection():
    """Counted inside the binder (libafb's push does not say how many it reached)."""
    async def scenario():
        async with binder_running() as (binder, demo):
            a = await AfbClient.connect(ws_url(binder))
            assert (await a.call("demo", "subscribe"))[0] == 3
            assert demo.tick.push(None) == 1
            await a.close()
            await until(lambda: demo.tick.push(0) == 0)
    run(scenario())


def test_session_and_token_from_upgrade_then_5th_element(demo):
    """libafb gives a verb the session only (docs/hosts.md): its tokens are the framework's."""
    host, url = demo

    def token(value):
        return value if host == "embedded" else None

    async def scenario():
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(url + "?x-afb-token=T1&x-afb-uuid=S1", protocols=("x-afb-ws-json1",)) as ws:
            await ws.send_str('[2,"1","demo/caller",null]')
            assert (await ws.receive_json())[2]["response"] == {"session": "S1", "token": token("T1"), "uid": None}
            await ws.send_str('[2,"2","demo/caller",null,"T2"]')
            assert (await ws.receive_json())[2]["response"]["token"] == token("T2")
            await ws.send_str('[2,"3","demo/caller",null]')
            assert (await ws.receive_json())[2]["response"]["token"] == token("T2")
    run(scenario())


def test_monitor_api():
    async def scenario():
        policy = Policy(tokens={"admin": frozenset({SET_PERMISSION})})
        async with binder_running(policy=policy) as (binder, _), \
                await AfbClient.connect(ws_url(binder, "?uuid=sess-1")) as client:
            _, reply = await client.call("monitor", "get", {"apis": False})
            assert reply["response"] == {"apis": {"monitor": True, "demo": True}}
            _, reply = await client.call("monitor", "get", {"apis": True})
            demo = reply["response"]["apis"]["demo"]
            assert demo["info"]["title"] == "demo" and demo["info"]["description"] == "test API"
            assert demo["paths"]["/ping"]["get"]["responses"]["200"]["description"] == "ping"
            assert (await client.call("monitor", "apis"))[1]["response"] == "monitor demo"
            _, reply = await client.call("monitor", "session")
            assert reply["response"]["uuid"] == "sess-1" and reply["response"]["timeout"] == 32000000
            _, refused = await client.call("monitor", "set", {"verbosity": {"demo": "debug"}})
            assert refused["request"]["status"] == "insufficient-scope"
            assert (await client.call("monitor", "set", {"verbosity": {"demo": "debug"}}, token="admin"))[0] == 3
            _, reply = await client.call("monitor", "get", {"verbosity": ["demo"]})
            assert reply["response"]["verbosity"]["demo"] == "debug"
            assert (await client.call("monitor", "set", {"verbosity": "loud"}))[0] == 4
            assert (await client.call("monitor", "subscribe", "disconnected"))[0] == 3
            assert (await client.call("monitor", "unsubscribe", ["disconnected"]))[0] == 3
            assert (await client.call("monitor", "subscribe", "other"))[0] == 4
            assert (await client.call("monitor", "get", None))[1] == {"jtype": "afb-reply", "request": {"status": "success", "code": 0}}
    run(scenario())


def test_automatic_info_verb_in_devtools_shape(demo):
    async def scenario():
        async with await AfbClient.connect(demo[1]) as client:
            _, reply = await client.call("demo", "info", {})
            info = reply["response"]
            assert info["metadata"] == {"uid": "demo", "info": "test API"}
            verbs = info["groups"][0]["verbs"]
            assert verbs[0] == {"uid": "ping", "verb": "ping", "info": "ping", "sample": [{"x": 1}]}
            assert "info" not in [verb["verb"] for verb in verbs]
    run(scenario())


def test_host_call_internal():
    async def scenario():
        async with binder_running() as (binder, _):
            reply = await binder.call("demo", "echo", {"a": 1})
            assert (reply.status, reply.data) == (0, {"a": 1})
            assert (await binder.call("demo", "secret")).data == "granted"  # internal = the binder itself
            assert (await binder.call("demo", "nope")).status == -4
    run(scenario())


def test_two_hundred_connections_fifty_calls_each_none_lost(demo):
    async def one_client(number):
        async with await AfbClient.connect(demo[1]) as client:
            replies = await asyncio.gather(*(client.call("demo", "echo", [number, i]) for i in range(50)))
            return [reply[1]["response"] for reply in replies]

    async def scenario():
        results = await asyncio.gather(*(one_client(n) for n in range(200)))
        assert results == [[[n, i] for i in range(50)] for n in range(200)]
    run(scenario())


def test_tracereq_logs_requests_replies_and_events(caplog):
    async def scenario():
        async with binder_running(tracereq=True) as (binder, demo), await AfbClient.connect(ws_url(binder)) as client:
            await client.call("demo", "subscribe")
            await client.call("demo", "echo", {"t": 1})
            demo.tick.push(7)
            await client.events.get()
    with caplog.at_level(logging.INFO, logger="afbspawn.trace"):
        run(scenario())
    assert 'demo/echo {"t":1}' in caplog.text
    assert '"response":{"t":1}' in caplog.text
    assert '"event":"demo/tick","data":7' in caplog.text


def test_on_ready_runs_before_serving_and_may_call_verbs():
    from afbspawn.afb.embedded.server import (
        BinderOptions,
        EmbeddedBinder,
        Listen,
        StartupError,
    )
    from afbspawn.afb.host import ApiSpec

    async def scenario():
        binder = EmbeddedBinder(BinderOptions(listen=[Listen(port=0)]))
        seen = []

        async def ready():
            seen.append((await binder.call("monitor", "apis")).data)
            seen.append(list(binder.ports))  # not listening yet
        binder.add_api(ApiSpec("onload", on_ready=ready))
        await binder.start()
        await binder.stop()
        broken = EmbeddedBinder(BinderOptions(listen=[Listen(port=0)]))

        async def fail():
            raise ValueError("no such action")
        broken.add_api(ApiSpec("bad", on_ready=fail))
        try:
            await broken.start()
        except StartupError as error:
            return seen, str(error), broken.ports
    assert run(scenario()) == (["monitor onload", []], "API bad: start-up failed: no such action", [])
