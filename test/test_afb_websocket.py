"""A real EmbeddedBinder driven over WebSocket by aiohttp's client (masked frames)."""
import asyncio
import logging

import aiohttp
from afbclient import AfbClient
from afbserver import binder_running, run, until, ws_url

from afbspawn.afb.embedded.monitor import SET_PERMISSION
from afbspawn.afb.embedded.permissions import Policy


def test_calls_replies_and_errors():
    async def scenario():
        async with binder_running() as (binder, _), await AfbClient.connect(ws_url(binder)) as client:
            assert await client.call("demo", "ping") == (3, {"jtype": "afb-reply", "request": {"status": "success", "code": 0}, "response": {"pong": 1}})
            assert await client.call("demo", "echo", [1, "x"]) == (3, {"jtype": "afb-reply", "request": {"status": "success", "code": 0}, "response": [1, "x"]})
            assert await client.call("demo", "a/b") == (3, {"jtype": "afb-reply", "request": {"status": "success", "code": 0}, "response": "a/b"})
            assert await client.call("nope", "x") == (4, {"jtype": "afb-reply", "request": {"status": "unknown-api", "code": -3}})
            assert await client.call("demo", "nope") == (4, {"jtype": "afb-reply", "request": {"status": "unknown-verb", "code": -4}})
            assert await client.call("demo", "error") == (4, {"jtype": "afb-reply", "request": {"status": "error", "code": -1000}, "response": {"why": "user"}})
    run(scenario())


def test_handler_exceptions_become_internal_error_and_server_keeps_running(caplog):
    async def scenario():
        async with binder_running() as (binder, _), await AfbClient.connect(ws_url(binder)) as client:
            internal = (4, {"jtype": "afb-reply", "request": {"status": "internal-error", "code": -1}})
            assert await client.call("demo", "fail") == internal
            assert await client.call("demo", "afail") == internal
            assert await client.call("demo", "notjson") == (4, {"jtype": "afb-reply", "request": {
                "status": "internal-error", "info": "reply data is not JSON", "code": -1}})
            assert (await client.call("demo", "ping"))[0] == 3
    with caplog.at_level(logging.ERROR, logger="afbspawn"):
        run(scenario())
    assert "boom" in caplog.text


def test_reply_exactly_once_and_late_replies():
    async def scenario():
        async with binder_running() as (binder, demo), await AfbClient.connect(ws_url(binder)) as client:
            assert (await client.call("demo", "twice"))[1]["response"] == 1
            assert (await client.call("demo", "later"))[1]["response"] == "late"
            pending = asyncio.ensure_future(client.call("demo", "keep", "k"))
            await until(lambda: len(demo.requests) == 1)
            assert not pending.done() and not demo.requests[0].replied
            demo.requests[0].reply(0, "from a task")
            assert demo.requests[0].replied
            assert (await pending)[1]["response"] == "from a task"
            # the second reply goes nowhere: the next call gets its own answer
            demo.requests[0].reply(0, "again")
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


def test_events_reach_subscribers_only_and_end_with_the_connection():
    async def scenario():
        async with binder_running() as (binder, demo):
            a = await AfbClient.connect(ws_url(binder))
            async with await AfbClient.connect(ws_url(binder)) as b:
                assert (await a.call("demo", "subscribe"))[0] == 3
                assert (await b.call("demo", "push", {"n": 1}))[1]["response"] == 1
                assert await a.events.get() == [5, "demo/tick", {"jtype": "afb-event", "event": "demo/tick", "data": {"n": 1}}]
                assert b.events.empty()
                assert demo.tick.push(None) == 1
                assert (await a.events.get())[2]["data"] is None
                await a.close()
                await until(lambda: demo.tick.push(0) == 0)
                await b.call("demo", "subscribe")
                await b.call("demo", "unsubscribe")
                assert demo.tick.push(1) == 0
    run(scenario())


def test_session_and_token_from_upgrade_then_5th_element():
    async def scenario():
        async with binder_running() as (binder, _), aiohttp.ClientSession() as session, \
                session.ws_connect(ws_url(binder, "?x-afb-token=T1&x-afb-uuid=S1")) as ws:
            await ws.send_str('[2,"1","demo/caller",null]')
            assert (await ws.receive_json())[2]["response"] == {"session": "S1", "token": "T1", "uid": None}
            await ws.send_str('[2,"2","demo/caller",null,"T2"]')
            assert (await ws.receive_json())[2]["response"]["token"] == "T2"
            await ws.send_str('[2,"3","demo/caller",null]')
            assert (await ws.receive_json())[2]["response"]["token"] == "T2"
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


def test_automatic_info_verb_in_devtools_shape():
    async def scenario():
        async with binder_running() as (binder, _), await AfbClient.connect(ws_url(binder)) as client:
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


def test_two_hundred_connections_fifty_calls_each_none_lost():
    async def one_client(binder, number):
        async with await AfbClient.connect(ws_url(binder)) as client:
            replies = await asyncio.gather(*(client.call("demo", "echo", [number, i]) for i in range(50)))
            return [reply[1]["response"] for reply in replies]

    async def scenario():
        async with binder_running() as (binder, _):
            results = await asyncio.gather(*(one_client(binder, n) for n in range(200)))
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
