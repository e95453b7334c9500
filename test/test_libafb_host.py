"""The libafb host as users run it: real framework, real afb-client, real signals.

`afb-spawn --host libafb` and `bindings/afb-spawn.py` serve a config inside the AFB
framework; under load (more clients than libafb's default 10 sessions, thousands of late
replies and pushes) nothing is lost; SIGTERM ends the binder and every task it started.
Skipped, with the reason, when the framework is not installed.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration import require_whole_binder

require_whole_binder()

from afbclient import AfbClient
from binderproc import Binder, start_binder
from conftest import REPO, free_port
from hosts import framework_program, host_args, require_host
from procs import children, live_members

LINES = 5000
CLIENTS = 14  # more than libafb's default of 10 sessions
CONFIG = {
    "metadata": {"uid": "load", "api": "load"},
    "sandboxes": [{"uid": "box", "acls": {"user": "nobody"}, "commands": [
        {"uid": "echo", "encoder": "sync", "exec": {"cmdpath": "/bin/echo", "args": ["%text%"]}},
        {"uid": "lines", "encoder": "line", "exec": {"cmdpath": "/usr/bin/seq", "args": ["1", str(LINES)]}},
        {"uid": "sleep", "exec": {"cmdpath": "/bin/sleep", "args": ["120"]}},
    ]}],
}


@pytest.fixture
def config_file() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="afbspawn-libafb-") as root:
        path = Path(root) / "load.json"
        path.write_text(json.dumps(CONFIG))
        yield path


def serve(*args: str, python: str = sys.executable, entry: tuple[str, ...] = ("-m", "afbspawn")) -> tuple[Binder, int]:
    port = free_port()
    return start_binder([python, *entry, *args, "-p", str(port)], cwd=REPO), port


def afb_client(port: int, lines: list[str], until: str | None = None) -> str:
    """The real afb-client, one call per line, waiting for each reply (then for `until`, if given)."""
    client = framework_program("afb-client")
    process = subprocess.Popen([client, "--sync", *(["--keep-running"] if until else []), f"localhost:{port}/api"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("\n".join(lines) + "\n")
    process.stdin.close()
    out = ""
    deadline = time.monotonic() + 60
    try:
        for line in process.stdout:
            out += line
            if (until and until in line) or time.monotonic() > deadline:
                break
    finally:
        process.kill()
        process.wait()
    return out


def test_sample_config_served_to_the_real_client() -> None:
    binder, port = serve(*host_args("libafb"), "--config", "conf.d/sample-basic.yaml")
    try:
        out = afb_client(port, ["demo ping true", 'demo uname {"action":"start"}',
                                'demo list {"action":"start","args":{"dirname":"/etc/apt"}}'], until="final-event")
    finally:
        binder.stop()
    assert 'ON-REPLY 1:demo/ping: OK\n{"jtype":"afb-reply","request":{"status":"success","code":0},' \
           '"response":"pong=1"}' in out
    assert '"command":"uname",' in out and '"status":{"exit":0},"stdout":["Linux' in out
    assert 'ON-EVENT demo/list:\n{"jtype":"afb-event","event":"demo/list","data":{"type":"data",' in out


def test_entry_script_runs_with_the_system_python(config_file: Path) -> None:
    """As on redpesk: the system python with afb-libpython runs the script, afbspawn installed."""
    require_host("libafb")
    installed = sysconfig.get_paths()["purelib"]  # this venv's packages, afbspawn included (editable)
    port = free_port()
    binder = start_binder(["/usr/bin/python3", str(REPO / "bindings" / "afb-spawn.py"), "--config", str(config_file),
                           "-p", str(port)], cwd=config_file.parent,
                          env={"PYTHONPATH": os.pathsep.join([installed, str(REPO)])})
    try:
        out = afb_client(port, ['load echo {"text":"from the entry script"}'])
    finally:
        binder.stop()
    assert b"(libafb)" in binder.serving_line
    assert '"stdout":["from the entry script"]' in out


def test_without_the_framework_one_line_and_no_traceback(config_file: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "afbspawn", "--host", "libafb", "--config", str(config_file)],
                          env={**os.environ, "AFB_PREFIX": "/nonexistent"}, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("afb-spawn: the libafb Python module (afb-libpython) cannot be imported")
    assert "dnf install afb-libpython" in done.stderr


def run(coro: Any, timeout: float = 180) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_many_clients_many_late_replies_and_events_lose_nothing(config_file: Path) -> None:
    binder, port = serve(*host_args("libafb"), "--config", str(config_file))
    url = f"ws://127.0.0.1:{port}/api"

    async def replies(number: int, client: AfbClient) -> list[str]:
        wrong = []
        for call in range(150):
            text = f"c{number}-{call}"
            code, envelope = await client.call("load", "echo", {"action": "start", "args": {"text": text}})
            if code != 3 or envelope.get("response", {}).get("stdout") != [text]:
                wrong.append(f"{text}: {envelope}")
        return wrong

    async def events(client: AfbClient) -> list[str]:
        _, envelope = await client.call("load", "lines", {"action": "start"})
        pid = envelope["response"]["pid"]
        received = []
        while True:
            data = (await client.events.get())[2]["data"]
            if data.get("pid") != pid:
                continue
            if data["type"] == "final-event":
                return received
            received.append(data["stdout"])

    async def scenario() -> tuple[list[str], list[list[str]]]:
        clients = [await AfbClient.connect(url) for _ in range(CLIENTS)]  # all connected at once
        try:
            results = await asyncio.gather(*(replies(n, c) for n, c in enumerate(clients[:-2])),
                                           *(events(c) for c in clients[-2:]))
        finally:
            await asyncio.gather(*(client.close() for client in clients))
        return [w for wrong in results[:-2] for w in wrong], results[-2:]

    try:
        wrong, streams = run(scenario())
    finally:
        binder.stop()
    assert wrong == []
    expected = [str(n) for n in range(1, LINES + 1)]
    assert streams == [expected, expected]  # every push, in order, to both subscribers


def test_sigterm_ends_the_binder_and_every_task(config_file: Path) -> None:
    binder, port = serve(*host_args("libafb"), "--config", str(config_file))

    async def start_sleeps() -> list[int]:
        async with await AfbClient.connect(f"ws://127.0.0.1:{port}/api") as client:
            pids = []
            for _ in range(5):
                code, envelope = await client.call("load", "sleep", {"action": "start"})
                assert code == 3, envelope
                pids.append(envelope["response"]["pid"])
            return pids

    pids = run(start_sleeps())
    assert sorted(pid for pid, _ in children(binder.pid)) == sorted(pids)
    started = time.monotonic()
    binder.process.send_signal(signal.SIGTERM)
    code = binder.process.wait(timeout=30)
    binder.stop()
    assert code == 0, f"exit status {code} after SIGTERM ({time.monotonic() - started:.1f} s)"
    deadline = time.monotonic() + 5
    while any(live_members(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if live_members(pid)] == []
