"""Export and import: a spawn API exported by the libafb host (`--ws-server`), imported by a
real `afb-binder --ws-client`, answers its clients exactly as it answers its own.

Over an abstract unix socket, a unix socket file and TCP, with real processes: the same
scenario (sync reply, events, subscribe from a second client, stop, an error) runs once
directly against afb-spawn and once through the importing afb-binder; the two transcripts
must be equal (pids aside).
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration import require_whole_binder

require_whole_binder()

from afbclient import AfbClient
from binderproc import listening, start_binder
from conftest import REPO, free_port
from hosts import framework_program, host_args

API = "exp"
CONFIG = {
    "metadata": {"uid": "export", "api": API},
    "sandboxes": [{"uid": "box", "acls": {"user": "nobody"}, "commands": [
        {"uid": "echo", "encoder": "sync", "exec": {"cmdpath": "/bin/echo", "args": ["%text%"]}},
        {"uid": "lines", "encoder": "line", "exec": {"cmdpath": "/usr/bin/seq", "args": ["1", "20"]}},
        {"uid": "sleep", "exec": {"cmdpath": "/bin/sleep", "args": ["60"]}},
    ]}],
}
TRANSPORTS = ("unix-abstract", "unix-path", "tcp")


def export_uri(transport: str, folder: Path) -> str:
    if transport == "unix-abstract":
        return f"unix:@{API}-{free_port()}?as-api={API}"  # a name of its own: tests may run side by side
    if transport == "unix-path":
        return f"unix:{folder}/{API}"
    return f"tcp:127.0.0.1:{free_port()}/{API}"


@pytest.fixture(params=TRANSPORTS)
def exported(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(direct ws url, imported ws url): afb-spawn exporting API over one transport, afb-binder importing it."""
    selection = host_args("libafb")
    binder_program = framework_program("afb-binder")
    with tempfile.TemporaryDirectory(prefix="afbspawn-export-") as root:
        folder = Path(root)
        (folder / "exp.json").write_text(json.dumps(CONFIG))
        uri = export_uri(request.param, folder)
        port = free_port()
        spawn = start_binder([*(str(REPO / ".venv/bin/python"), "-m", "afbspawn"), *selection,
                              "--config", str(folder / "exp.json"), "-p", str(port), "--ws-server", uri], cwd=REPO)
        import_port = free_port()
        importer = subprocess.Popen([binder_program, "-i", f"tcp:127.0.0.1:{import_port}",
                                     f"--ws-client=public:{uri}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            assert listening(import_port, importer), "the importing afb-binder did not start"
            yield f"ws://127.0.0.1:{port}/api", f"ws://127.0.0.1:{import_port}/api"
        finally:
            importer.terminate()
            importer.wait(timeout=20)
            spawn.stop()


VARYING = ("stats",)  # resource figures of a task differ from run to run


def anonymous(value: Any, pids: dict[int, str]) -> Any:
    """`value` with each pid replaced by its order of appearance (pids differ between runs)."""
    if isinstance(value, dict):
        return {key: (pids.setdefault(item, f"pid{len(pids)}") if key == "pid" else anonymous(item, pids))
                for key, item in value.items() if key not in VARYING}
    if isinstance(value, list | tuple):
        return [anonymous(item, pids) for item in value]
    if isinstance(value, str):
        for pid, name in pids.items():
            value = value.replace(f"@{pid}", f"@{name}")
    return value


async def until_final(client: AfbClient, pid: int) -> list[Any]:
    frames = []
    while True:
        frame = await client.events.get()
        frames.append(frame)
        if frame[2]["data"].get("pid") == pid and frame[2]["data"].get("type") == "final-event":
            return frames


async def scenario(url: str) -> list[Any]:
    """Everything both clients receive, in order per client."""
    seen: list[Any] = []
    async with await AfbClient.connect(url) as starter, await AfbClient.connect(url) as watcher:
        seen.append(await starter.call(API, "echo", {"action": "start", "args": {"text": "relayed"}}))
        seen.append(await starter.call(API, "echo", {"action": "dance"}))
        seen.append(await starter.call(API, "nope", True))
        started = await starter.call(API, "lines", {"action": "start"})
        seen.append(started)
        seen.append(await until_final(starter, started[1]["response"]["pid"]))
        sleeping = await starter.call(API, "sleep", {"action": "start"})
        pid = sleeping[1]["response"]["pid"]
        seen.append(sleeping)
        seen.append(await watcher.call(API, "sleep", {"action": "subscribe", "args": {"pid": pid}}))
        seen.append(await watcher.call(API, "sleep", {"action": "stop", "args": {"pid": pid, "signal": "SIGTERM"}}))
        seen.append(await until_final(watcher, pid))
        seen.append(await until_final(starter, pid))
    return anonymous(seen, {})


def test_imported_api_answers_as_the_exported_one(exported: tuple[str, str]) -> None:
    direct, imported = exported
    through_import = asyncio.run(asyncio.wait_for(scenario(imported), 120))
    direct_run = asyncio.run(asyncio.wait_for(scenario(direct), 120))
    assert through_import == direct_run
    assert through_import[0][1]["response"]["stdout"] == ["relayed"]
    assert [frame[2]["data"].get("stdout") for frame in through_import[4][:-1]][-1] == "20"
    assert through_import[-1][-1][2]["data"]["status"] == {"signal": "Terminated"}
