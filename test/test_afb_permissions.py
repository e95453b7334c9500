"""Permission policy: file validation, refusal, grants by token and by unix-socket peer uid.

The policy file is the embedded binder's own (`--permissions`; the libafb host leaves
permissions to the framework's backend): these tests run the embedded binder in the test
process. How a required permission fares on both hosts is in test_hosts_wire.py.
"""
import asyncio
import os
import shutil
import socket
import sys
import tempfile

import aiohttp
import pytest
from afbclient import AfbClient
from afbserver import SECRET, binder_running, http_url, run, ws_url

from afbspawn.afb.embedded.permissions import PolicyError, load_policy, parse_policy
from afbspawn.afb.embedded.server import Listen

INSUFFICIENT = '{"jtype":"afb-reply","request":{"status":"insufficient-scope","code":-9}}'
GRANTED = '{"jtype":"afb-reply","request":{"status":"success","code":0},"response":"granted"}'


def test_policy_file_yaml_and_json(tmp_path):
    (tmp_path / "p.yaml").write_text(f"tokens:\n  tok: [{SECRET}]\nuids:\n  root: ['*']\n  1000: other\n")
    policy = load_policy(str(tmp_path / "p.yaml"))
    assert policy.tokens == {"tok": frozenset({SECRET})}
    assert policy.uids == {0: frozenset({"*"}), 1000: frozenset({"other"})}
    (tmp_path / "p.json").write_text('{"everyone": ["a"]}')
    assert load_policy(str(tmp_path / "p.json")).everyone == frozenset({"a"})


@pytest.mark.parametrize("data, message", [
    ([], "expected a mapping"),
    ({"token": {}}, "unknown key(s) token"),
    ({"tokens": ["x"]}, "tokens: expected a mapping"),
    ({"tokens": {"t": [1]}}, "tokens.t: expected a list of permission strings"),
    ({"uids": {"no-such-user-xyz": ["p"]}}, "uids.no-such-user-xyz: no such user"),
    ({"uids": {-1: ["p"]}}, "uids.-1: expected a uid or a user name"),
])
def test_policy_errors_are_clear(data, message):
    with pytest.raises(PolicyError) as caught:
        parse_policy(data, "perm.yaml")
    assert str(caught.value).startswith("perm.yaml: ") and message in str(caught.value)


def test_unreadable_policy(tmp_path):
    (tmp_path / "bad.yaml").write_text("tokens: [unclosed")
    with pytest.raises(PolicyError, match="bad.yaml: cannot read permissions"):
        load_policy(str(tmp_path / "bad.yaml"))
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(str(tmp_path / "missing.yaml"))


def test_without_policy_permission_verbs_are_refused_and_the_log_says_how_to_grant(caplog):
    async def scenario():
        async with binder_running() as (binder, _), await AfbClient.connect(ws_url(binder, "?token=tok")) as client:
            return await client.call("demo", "secret")
    assert run(scenario()) == (4, {"jtype": "afb-reply", "request": {"status": "insufficient-scope", "code": -9}})
    assert "--permissions" in caplog.text and SECRET in caplog.text


def test_token_grant_over_websocket_and_rest():
    async def scenario():
        policy = parse_policy({"tokens": {"tok": [SECRET]}})
        async with binder_running(policy=policy) as (binder, _), aiohttp.ClientSession() as session:
            async with await AfbClient.connect(ws_url(binder)) as client:
                refused = await client.call("demo", "secret")
                granted = await client.call("demo", "secret", None, "tok")
            async with session.get(http_url(binder, "/api/demo/secret"), headers={"Authorization": "Bearer tok"}) as r:
                rest_granted = (r.status, await r.text())
            async with session.get(http_url(binder, "/api/demo/secret?token=wrong")) as r:
                rest_refused = (r.status, r.headers["WWW-Authenticate"], await r.text())
            return refused[0], granted[0], rest_granted, rest_refused
    assert run(scenario()) == (4, 3, (200, GRANTED), (403, 'error="insufficient_scope"', INSUFFICIENT))


@pytest.mark.parametrize("uids, expected", [({os.getuid(): [SECRET]}, 200), ({os.getuid() + 1: [SECRET]}, 403)])
def test_unix_socket_peer_uid(tmp_path, uids, expected):
    sock = str(tmp_path / "afb.sock")

    async def scenario():
        async with binder_running(listen=[Listen(unix=sock)], policy=parse_policy({"uids": uids})) as (binder, _):
            assert binder.urls == [f"unix:{sock}"]
            async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=sock)) as session:
                async with session.get("http://localhost/api/demo/caller") as r:
                    caller = (await r.json())["response"]
                async with session.get("http://localhost/api/demo/secret") as r:
                    return caller, r.status
    caller, status = run(scenario())
    assert caller["uid"] == os.getuid() and status == expected


def test_stale_unix_socket_is_replaced_but_a_live_one_is_refused(tmp_path):
    sock = str(tmp_path / "afb.sock")
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(sock)
    dead.close()  # the file stays, nobody listens

    async def scenario():
        async with binder_running(listen=[Listen(unix=sock)]):
            try:
                async with binder_running(listen=[Listen(unix=sock)]):
                    return "second binder started"
            except OSError:
                pass
            async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=sock)) as session, \
                    session.get("http://localhost/api/demo/ping") as answer:
                return answer.status
    assert run(scenario()) == 200


NOBODY = 65534
RAW_CLIENT = """
import socket, sys
with socket.socket(socket.AF_UNIX) as s:
    s.connect(sys.argv[1])
    s.sendall(("GET " + sys.argv[2] + " HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n").encode())
    answer = b""
    while chunk := s.recv(65536):
        answer += chunk
sys.stdout.write(answer.decode())
"""


@pytest.mark.skipif(os.geteuid() != 0 or not os.access("/usr/bin/setpriv", os.X_OK), reason="needs root and setpriv")
def test_unix_peer_uid_of_another_user_is_seen_and_granted():
    """A real second user (nobody) on the socket: its uid comes from SO_PEERCRED, not from the request."""
    directory = tempfile.mkdtemp(prefix="afb-uid-")
    os.chmod(directory, 0o755)
    sock = os.path.join(directory, "afb.sock")
    python = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"

    async def as_nobody(path):
        process = await asyncio.create_subprocess_exec(
            "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
            python, "-c", RAW_CLIENT, sock, path, stdout=asyncio.subprocess.PIPE)
        out, _ = await process.communicate()
        return out.decode()

    async def scenario():
        async with binder_running(listen=[Listen(unix=sock)], policy=parse_policy({"uids": {NOBODY: [SECRET]}})):
            os.chmod(sock, 0o777)
            caller = await as_nobody("/api/demo/caller?uid=0")
            granted = await as_nobody("/api/demo/secret")
            async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=sock)) as session, \
                    session.get("http://localhost/api/demo/secret") as answer:
                root_status = answer.status
            return caller, granted, root_status
    try:
        caller, granted, root_status = run(scenario())
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    assert f'"uid":{NOBODY}' in caller
    assert granted.startswith("HTTP/1.1 200") and granted.endswith(GRANTED)
    assert root_status == 403
