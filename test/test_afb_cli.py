"""`afb-spawn` serve command: option handling, and the real process driven by signals.

Embedded host: its options and listeners. The libafb host's command line (SIGTERM, the
missing-framework line) is checked in test_libafb_host.py, its export in test_libafb_export.py.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from afbspawn.commands import serve

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("AFB_SPAWN_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "afbspawn", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def serving_url(process: subprocess.Popen) -> str:
    for line in process.stderr:
        match = re.match(r"afb-spawn: serving (http://\S+/)$", line.rstrip("\n"))
        if match:
            return match.group(1)
    raise AssertionError(f"no serving line; exit {process.wait()}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serves_rest_and_files_then_stops_cleanly(signum):
    process = start("-p", "0", "--roothttp", "htdocs")
    try:
        url = serving_url(process)
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/monitor/get?apis=false") as answer:
            assert json.load(answer)["response"] == {"apis": {"monitor": True}}
        with urllib.request.urlopen(url) as answer:
            assert b'<script type="module" src="js/main.js">' in answer.read()
        with urllib.request.urlopen(url + "js/afbws.js") as answer:
            assert b"x-afb-ws-json1" in answer.read()
        process.send_signal(signum)
        assert process.wait(timeout=20) == 0
        assert process.stdout.read() == ""  # stdout belongs to task output
    finally:
        process.kill()
        process.wait()


def test_quiet_prints_nothing_and_unix_interface(tmp_path):
    sock = tmp_path / "afb.sock"
    process = start("-q", "-i", f"unix:{sock}")
    try:
        while not sock.exists():
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert process.stderr.read() == "" and process.stdout.read() == ""
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize("args, message", [
    (["--alias", "nocolon"], "--alias 'nocolon': expected /PREFIX:DIR"),
    (["--permissions", "/nonexistent/perm.yaml"], "cannot read permissions"),
    (["-i", "tcp:host"], "expected tcp:HOST:PORT"),
])
def test_bad_options_exit_1_with_a_message(args, message):
    process = start("-p", "0", *args)
    assert process.wait(timeout=20) == 1
    assert message in process.stderr.read()


def test_config_paths_sources(monkeypatch):
    monkeypatch.setenv("AFB_SPAWN_CONFIG", "/env.yaml")
    args = serve.parser().parse_args(["--config", "a.yaml", "-C", "dir", "--binding", "/x/afb-spawn.so:b.json"])
    assert serve.config_paths(args) == ["a.yaml", "dir", "b.json"]
    assert serve.config_paths(serve.parser().parse_args([])) == ["/env.yaml"]


def test_listeners():
    parse = serve.parser().parse_args
    assert [(l.host, l.port) for l in serve.listeners(parse([]))] == [("127.0.0.1", 1234)]
    listens = serve.listeners(parse(["-p", "2000", "-i", "0.0.0.0", "-i", "tcp:::1:3000", "-i", "unix:/run/x"]))
    assert [(l.host, l.port, l.unix) for l in listens] == [("0.0.0.0", 2000, None), ("::1", 3000, None),
                                                         ("127.0.0.1", 1234, "/run/x")]
    assert [l.host for l in serve.listeners(parse(["-i", "tcp:*:1", "-i", "*"]))] == ["0.0.0.0", "0.0.0.0"]
    assert serve.listeners(parse(["--no-httpd"])) == []
    assert len(serve.listeners(parse(["--no-httpd", "-p", "2000"]))) == 1
    assert serve.parser().parse_args(["--trap-faults", "--tracereq"]).tracereq == "common"


def test_port_in_use_exits_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = start("-p", str(taken.getsockname()[1]))
        assert process.wait(timeout=20) == 1
    assert "address already in use" in process.stderr.read().lower()


def test_reader_leaving_early_gives_no_traceback():
    """`afb-spawn schema | head -1`: the closed pipe ends the command quietly."""
    reader_gone = subprocess.run(f"{sys.executable} -m afbspawn schema | head -c 1", check=False, shell=True,
                                 capture_output=True, text=True, timeout=60)
    assert reader_gone.stdout == "{"
    assert "Traceback" not in reader_gone.stderr and "BrokenPipe" not in reader_gone.stderr
