"""REST calls, sessions/cookies and Origin checks.

Arguments, status mapping, late replies, tokens and sessions are checked on both hosts
(conftest's `demo_host`), expectations keyed on the host where the framework answers
otherwise (docs/hosts.md). The Origin/Sec-Fetch-Site policy (`--allow-origin`) and the
session store are the embedded binder's own: checked in the test process.
"""
import asyncio

import aiohttp
import pytest
from afbserver import binder_running, http_url, run, until, ws_url

OK_PING = '{"jtype":"afb-reply","request":{"status":"success","code":0},"response":{"pong":1}}'


async def fetch(session, method, url, **kwargs):
    async with session.request(method, url, **kwargs) as response:
        return response.status, dict(response.headers), await response.text()


def rest(port, requests):
    """Run (method, path, kwargs) requests against the binder on `port`; return their answers."""
    async def scenario():
        async with aiohttp.ClientSession() as session:
            return [await fetch(session, method, f"http://127.0.0.1:{port}{path}", **kwargs)
                    for method, path, kwargs in requests]
    return run(scenario())


def test_get_and_post_arguments(demo_host):
    host, port = demo_host
    answers = rest(port, [
        ("GET", "/api/demo/ping", {}),
        ("GET", '/api/demo/echo?a=1&b={"x":2}&flag&sp=a+b%2B', {}),
        ("GET", "/api//demo/a/b", {}),
        ("POST", "/api/demo/echo?ignored=1", {"json": {"x": [1, 2]}}),
        ("POST", "/api/demo/echo?a=1&b=2", {"data": {"b": "3", "c": "4"}}),
    ])
    assert answers[0][0] == 200 and answers[0][2] == OK_PING
    assert answers[0][1].get("Content-Type", "none").startswith("application/json" if host == "embedded" else "none")
    assert answers[1][2].endswith('"response":{"a":"1","b":"{\\"x\\":2}","flag":null,"sp":"a b+"}}')
    assert answers[2][2].endswith('"response":"a/b"}')
    assert answers[3][2].endswith('"response":{"x":[1,2]}}')
    assert answers[4][2].endswith('"response":{"a":"1","b":"3","c":"4"}}')


def test_http_status_mapping(demo_host):
    answers = rest(demo_host[1], [
        ("GET", "/api/nope/x", {}),
        ("GET", "/api/demo/nope", {}),
        ("GET", "/api/demo/fail", {}),
        ("GET", "/api/demo/error", {}),
        ("POST", "/api/demo/echo", {"data": b"x", "headers": {"Content-Type": "text/plain"}}),
        ("PUT", "/api/demo/echo", {}),
        ("GET", "/api/demo", {}),
    ])
    assert answers[0][0] == 404 and answers[0][2] == '{"jtype":"afb-reply","request":{"status":"unknown-api","code":-3}}'
    assert answers[1][0] == 404
    assert answers[2][0] == 500 and '"internal-error"' in answers[2][2]
    assert answers[3][0] == 200 and '"status":"error"' in answers[3][2]
    assert [answer[0] for answer in answers[4:]] == [415, 400, 404]


def test_json_bodies_that_do_not_parse_are_refused():
    """Embedded only: the framework's HTTP server (libafb's afb-hsrv, in afb-binder too) logs
    "error in POST json" and never answers such a request (docs/hosts.md)."""
    async def scenario():
        async with binder_running() as (binder, _), aiohttp.ClientSession() as session:
            return [(await fetch(session, "POST", http_url(binder, "/api/demo/echo"), data=body,
                                 headers={"Content-Type": "application/json"}))[0] for body in (b"{bad", b"[" * 100000)]
    assert run(scenario()) == [400, 400]


def test_rest_waits_for_late_replies_and_subscribing_is_harmless(demo_host):
    answers = rest(demo_host[1], [("GET", "/api/demo/later", {}), ("GET", "/api/demo/subscribe", {})])
    assert answers[0][2].endswith('"response":"late"}') and answers[1][0] == 200


def test_rest_request_waits_for_a_reply_from_another_task():
    async def scenario():
        async with binder_running() as (binder, demo), aiohttp.ClientSession() as session:
            pending = asyncio.ensure_future(fetch(session, "GET", http_url(binder, "/api/demo/keep")))
            await until(lambda: len(demo.requests) == 1)
            demo.requests[0].reply(0, "done")
            return await pending
    status, _, body = run(scenario())
    assert status == 200 and body.endswith('"response":"done"}')


def test_session_cookie_and_lookup_order():
    async def scenario():
        async with binder_running() as (binder, _):
            port = binder.ports[0]
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:  # IP hosts
                _, headers, body = await fetch(session, "GET", http_url(binder, "/api/demo/caller"))
                cookie = headers["Set-Cookie"]
                uuid = cookie.split(";")[0].split("=", 1)[1]
                assert cookie == f"x-afb-uuid-{port}={uuid}; Path=/; Max-Age=32000000; HttpOnly; SameSite=Lax"
                assert f'"session":"{uuid}"' in body
                _, _, body = await fetch(session, "GET", http_url(binder, "/api/demo/caller"))
                assert f'"session":"{uuid}"' in body  # the cookie brought us back
                _, _, body = await fetch(session, "GET", http_url(binder, "/api/demo/caller?uuid=q&x-afb-uuid=xq"),
                                         headers={"x-afb-uuid": "hdr"})
                assert '"session":"hdr"' in body
                _, _, body = await fetch(session, "GET", http_url(binder, "/api/demo/caller?x-afb-uuid=xq"))
                assert '"session":"xq"' in body
            async with aiohttp.ClientSession() as session:
                _, _, body = await fetch(session, "GET", http_url(binder, "/api/demo/caller?uuid=" + "u" * 37))
                assert '"session":"' + "u" * 37 not in body  # too long: a fresh session
                _, headers, _ = await fetch(session, "GET", http_url(binder, "/nothing-here"))
                assert headers["Set-Cookie"].startswith(f"x-afb-uuid-{port}=")  # on 404 too
    run(scenario())


@pytest.mark.parametrize("headers, expected", [
    ({"Authorization": "Bearer B"}, "B"),
    ({"x-afb-token": "H"}, "H"),
    ({}, None),
])
def test_token_sources(headers, expected, demo_host):
    """libafb gives a verb no token (docs/hosts.md): None there."""
    host, port = demo_host
    expected = expected if host == "embedded" else None
    answers = rest(port, [("GET", "/api/demo/caller", {"headers": headers})])
    assert f'"token":{"null" if expected is None else chr(34) + expected + chr(34)}' in answers[0][2]


def test_token_query_order():
    """Embedded only: libafb gives a verb no token to observe the order by."""
    async def scenario():
        async with binder_running() as (binder, _), aiohttp.ClientSession() as session:
            return [await fetch(session, "GET", http_url(binder, path)) for path in
                    ("/api/demo/caller?token=T&x-afb-token=X&access_token=A", "/api/demo/caller?token=T&x-afb-token=X")]
    answers = run(scenario())
    assert '"token":"A"' in answers[0][2] and '"token":"X"' in answers[1][2]


@pytest.mark.parametrize("origin, allow, ok", [
    (None, [], True),
    ("http://127.0.0.1:{port}", [], True),
    ("http://evil.example", [], False),
    ("http://127.0.0.1:1", [], False),
    ("http://evil.example", ["http://evil.example"], True),
    ("http://evil.example", ["*"], True),
])
def test_websocket_origin_policy(origin, allow, ok):
    async def scenario():
        async with binder_running(allow_origins=allow) as (binder, _), aiohttp.ClientSession() as session:
            headers = {} if origin is None else {"Origin": origin.format(port=binder.ports[0])}
            try:
                async with session.ws_connect(ws_url(binder), headers=headers) as ws:
                    await ws.send_str('[2,"1","demo/ping",null]')
                    return (await ws.receive_json())[0] == 3
            except aiohttp.WSServerHandshakeError as error:
                assert error.status == 403
                return False
    assert run(scenario()) is ok


def test_session_store_is_bounded_and_keeps_recent_sessions():
    from afbspawn.afb.embedded.sessions import SessionStore
    store = SessionStore(maximum=3)
    first = store.resolve("a")
    for name in "bcd":
        store.resolve(name)
        store.resolve("a")  # "a" stays in use
    assert len(store) == 3 and store.resolve("a") is first
    assert store.resolve("b").uuid == "b" and len(store) == 3


@pytest.mark.parametrize("headers, allow, status", [
    ({}, [], 200),  # curl, afb-client
    ({"Sec-Fetch-Site": "same-origin"}, [], 200),
    ({"Sec-Fetch-Site": "none"}, [], 200),  # typed in the address bar
    ({"Sec-Fetch-Site": "cross-site"}, [], 403),  # <img src>/no-cors GET from another page
    ({"Sec-Fetch-Site": "cross-site"}, ["*"], 200),
    ({"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, [], 403),
    ({"Origin": "http://evil.example"}, ["http://evil.example"], 200),
])
def test_rest_calls_from_other_sites_are_refused(headers, allow, status):
    async def scenario():
        async with binder_running(allow_origins=allow) as (binder, _), aiohttp.ClientSession() as session, \
                session.post(http_url(binder, "/api/demo/ping"), headers=headers, data={"a": "1"}) as response:
            return response.status
    assert run(scenario()) == status
