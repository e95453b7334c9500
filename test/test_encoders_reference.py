"""The C test-encoders scenario, encoder side: real child, real pipes, reference shapes.

The listing command of the reference config runs for real; its pipes are read in
small pieces and fed to each encoder. Wrapping the fields into the data event or
the sync reply is the task's job (another module); it is reproduced here in two
lines so the printed result can be compared with the C transcript's blocks.
"""
from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
from pathlib import Path
from typing import Any

import pytest
from encoder_harness import ListSink, task_context

from afbspawn.config.model import EncoderSpec
from afbspawn.encoders.registry import find_factory

SCENARIO = Path(__file__).resolve().parents[2] / "shared/reference/spawn-binding-c/test-encoders"
TRANSCRIPT = SCENARIO / "test-encoders.client.reference"
NAMES = ["test-encoders.binder.reference", "test-encoders.client.reference",
         "test-encoders.json", "test-encoders.sh"]
PID = 4242

pytestmark = pytest.mark.skipif(not TRANSCRIPT.exists(), reason=f"{TRANSCRIPT} absent")


def _command(name: str, directory: Path) -> list[str]:
    """The command line of `name` in the reference config, with ${DIRTOLIST} set."""
    config = json.loads((SCENARIO / "test-encoders.json").read_text())
    command = next(c for c in config["sandboxes"]["commands"] if c["uid"] == name)
    args = [a.replace("${DIRTOLIST}", str(directory)) for a in command["exec"]["args"]]
    return [command["exec"]["cmdpath"], *[a.replace("/tmp/xx", os.devnull) for a in args]]


def _run_through(name: str, argv: list[str]) -> tuple[list[dict], dict]:
    factory = find_factory(EncoderSpec(name))
    sink = ListSink()
    encoder = factory.create(factory.check({}), sink, task_context())
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ, "stdout")
        selector.register(child.stderr, selectors.EVENT_READ, "stderr")
        while selector.get_map():
            for key, _ in selector.select():
                data = os.read(key.fd, 7)  # tiny reads: lines arrive split
                if data:
                    encoder.feed(key.data, data)
                else:
                    selector.unregister(key.fileobj)
    assert child.wait() == 0
    try:
        return sink.events, encoder.end()
    finally:
        encoder.close()


def ordered(value: Any) -> Any:
    """`value` with every object as its list of (key, value) pairs: key order is compared too."""
    if isinstance(value, dict):
        return [(key, ordered(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [ordered(item) for item in value]
    return value


def _blocks_after(header: str) -> list[Any]:
    """The messages printed after `header` in the transcript, decoded (key order kept)."""
    text = TRANSCRIPT.read_text().replace('"pid":', f'"pid":{PID}')
    pattern = rf"^{re.escape(header)}\n(\{{\n.*?^\}})$"
    return [ordered(json.loads(block)) for block in re.findall(pattern, text, flags=re.MULTILINE | re.DOTALL)]


@pytest.fixture
def listed_dir(tmp_path):
    for name in NAMES + ["result.log"]:
        (tmp_path / name).touch()
    return tmp_path


@pytest.mark.parametrize("name", ["default", "text", "line", "json", "log"])
def test_async_data_events_match_the_reference(name, listed_dir):
    encoder = "text" if name == "default" else name
    events, fields = _run_through(encoder, _command(name, listed_dir))
    assert fields == {}
    printed = [
        ordered({"jtype": "afb-event", "event": f"encoders/{name}",
                 "data": {"type": "data", "pid": PID, **event}})
        for event in events
    ]
    expected = [b for b in _blocks_after(f"ON-EVENT encoders/{name}:") if ("type", "data") in b[2][1]]
    assert printed == expected
    assert len(expected) == {"default": 1, "text": 1, "line": 4, "json": 5, "log": 0}[name]


@pytest.mark.parametrize("name", ["sync", "raw"])
def test_sync_replies_match_the_reference(name, listed_dir):
    events, fields = _run_through(name, _command(name, listed_dir))
    assert events == []
    reply = {
        "jtype": "afb-reply",
        "request": {"status": "success", "code": 0},
        "response": {"api": "encoders", "sandbox": "sandbox-encoders", "command": name,
                     "pid": PID, "status": {"exit": 0}, **fields},
    }
    [expected] = _blocks_after(f"ON-REPLY {_call_number(name)}:encoders/{name}: OK")
    assert ordered(reply) == expected


def _call_number(name: str) -> int:
    match = re.search(rf"^ON-REPLY (\d+):encoders/{name}: OK$", TRANSCRIPT.read_text(), re.MULTILINE)
    assert match
    return int(match.group(1))


def test_log_writes_the_binder_reference_to_the_binders_stdout(listed_dir, capfd):
    capfd.readouterr()
    _run_through("log", _command("log", listed_dir))
    captured = capfd.readouterr()
    assert captured.out == (SCENARIO / "test-encoders.binder.reference").read_text()
    assert captured.err == ""
