"""The samples of conf.d/: each says what it shows, passes `afb-spawn check`, is indexed in
docs/samples.md, and runs here when it can do so without harm, through the real binder and
sandbox launcher. Samples touching the host (a data directory, a disk, the VPN) run on copies
whose paths point into the test's temporary directory; nothing else is changed in them."""
from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from afbclient import AfbClient
from binderproc import Binder, start_binder
from conftest import REPO, free_port

CONF_D = REPO / "conf.d"
SAMPLES = sorted(p for p in CONF_D.iterdir() if p.suffix in (".json", ".yaml", ".yml"))
TOKEN = "sample-test-token"


def afb_spawn(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "afbspawn", *args], check=False, capture_output=True,
                          text=True, cwd=cwd, timeout=60)


def sample(name: str) -> dict[str, Any]:
    return yaml.safe_load((CONF_D / name).read_text())


def write_config(tmp_path: Path, doc: dict[str, Any], name: str) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class Served:
    """A binder serving one config, its permission file granting everything to TOKEN."""

    def __init__(self, binder: Binder) -> None:
        self.binder = binder
        self.url = re.search(rb"http://[0-9.]+:[0-9]+", binder.serving_line).group(0).decode()  # type: ignore[union-attr]

    def rest(self, path: str, body: Any = None, token: str | None = TOKEN) -> tuple[int, dict[str, Any]]:
        """POSTs a JSON query (GET without one); the HTTP status and the AFB envelope."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(f"{self.url}/api/{path}", data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return reply.status, json.load(reply)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[Binder] = []
    policy = tmp_path / "permissions.yaml"
    policy.write_text(yaml.safe_dump({"tokens": {TOKEN: ["*"]}}))

    def start(config: Path) -> Served:
        binder = start_binder([sys.executable, "-m", "afbspawn", "--config", str(config), "--port", "0",
                               "--permissions", str(policy)], cwd=tmp_path)
        started.append(binder)
        return Served(binder)

    yield start
    for binder in started:
        binder.stop()


def response(envelope: dict[str, Any]) -> Any:
    assert envelope["request"]["status"] == "success", envelope
    return envelope["response"]


# --- every sample ------------------------------------------------------------------------

@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_says_what_it_shows(path: Path) -> None:
    header = [line for line in path.read_text().splitlines()[:3] if line.startswith("# ")]
    assert len(header) >= 2, f"{path.name}: start with a comment saying what the sample shows"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_passes_check(path: Path) -> None:
    done = afb_spawn("check", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.match(rf"{re.escape(str(path))}: api '[^']+' OK\n", done.stdout)


def test_samples_load_together_and_are_indexed() -> None:
    done = afb_spawn("check", str(CONF_D))
    assert done.returncode == 0, done.stdout + done.stderr
    index = (REPO / "docs/samples.md").read_text()
    assert not [p.name for p in SAMPLES if f"conf.d/{p.name}" not in index]


# --- samples run ---------------------------------------------------------------------------

def test_minimal() -> None:
    done = afb_spawn("run", str(CONF_D / "minimal.yaml"), "hello")
    assert (done.returncode, done.stdout) == (0, "hello from afb-spawn\n")


def test_prefixes_name_the_verbs(serve: Any) -> None:
    check = afb_spawn("check", str(CONF_D / "prefixes.yaml")).stdout
    verbs = re.findall(r"verb (\S+) ->", check)
    assert verbs == ["multi/system/uptime", "multi/system/disk", "multi/admin/flush", "multi/today"]
    served = serve(CONF_D / "prefixes.yaml")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", response(served.rest("multi/today", token=None)[1])["stdout"][0])
    assert "load average" in response(served.rest("multi/system/uptime", token=None)[1])["stdout"][0]
    status, envelope = served.rest("multi/admin/flush", token=None)
    assert (status, envelope["request"]["status"]) == (403, "insufficient-scope")


def test_factory_reset_restores_the_image(serve: Any, tmp_path: Path) -> None:
    image, data = tmp_path / "factory", tmp_path / "data"
    (image / "conf").mkdir(parents=True)
    (image / "conf/settings.ini").write_text("volume=5\n")
    (image / "conf/secret").write_text("k")
    (image / "conf/secret").chmod(0o600)
    shutil.copytree(image, data, symlinks=True)
    (data / "conf/settings.ini").write_text("volume=11\n")
    (data / "user-file").write_text("written since")
    doc = sample("factory-reset.yaml")
    reset, diff = doc["sandboxes"]["commands"]
    reset["exec"]["args"][-2:] = [str(image), str(data)]
    diff["exec"]["args"][-2:] = [str(image), str(data)]
    served = serve(write_config(tmp_path, doc, "factory-reset.yaml"))

    status, envelope = served.rest("factory/reset", {"action": "start"}, token=None)
    assert (status, envelope["request"]["status"]) == (403, "insufficient-scope")
    assert (data / "user-file").exists(), "refused: nothing ran"
    assert response(served.rest("factory/diff")[1])["status"] == {"exit": 1}
    reply = response(served.rest("factory/reset", {"action": "start"})[1])
    assert reply["status"] == {"exit": 0} and reply["stdout"] == [f"restored {data} from {image}"]
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == sorted(p.relative_to(image) for p in image.rglob("*"))
    assert (data / "conf/settings.ini").read_text() == "volume=5\n"
    assert stat.S_IMODE((data / "conf/secret").stat().st_mode) == 0o600
    assert response(served.rest("factory/diff")[1])["status"] == {"exit": 0}


def without_reboot(doc: dict[str, Any]) -> dict[str, Any]:
    """Belt and braces for the power sample: should the dry run not be one, reboot(2) fails
    with EPERM (a seccomp rule), and this machine stays up."""
    doc["sandboxes"]["seccomp"] = {"default": "SCMP_ACT_ALLOW",
                                   "rules": [{"syscall": "reboot", "action": "SCMP_ACT_ERRNO", "errno": 1}]}
    return doc


def test_power_upscale_behind_its_permission(serve: Any, tmp_path: Path) -> None:
    served = serve(write_config(tmp_path, without_reboot(sample("power.yaml")), "power.yaml"))
    status, envelope = served.rest("power/check-restart", token=None)
    assert (status, envelope["request"]["status"]) == (403, "insufficient-scope")
    reply = response(served.rest("power/check-restart")[1])
    assert (reply["status"], reply["stderr"]) == ({"exit": 0}, ["Rebooting."])


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[str]:
    """A loop device over a 16 MiB image file in the test's directory."""
    image = tmp_path / "disk.img"
    with image.open("wb") as stream:
        stream.truncate(16 << 20)
    attached = subprocess.run(["losetup", "--find", "--show", str(image)], check=False, capture_output=True, text=True)
    if attached.returncode != 0:
        pytest.skip(f"no loop device here: {attached.stderr.strip()}")
    device = attached.stdout.strip()
    try:
        yield device
    finally:
        subprocess.run(["losetup", "--detach", device], check=False)


def test_reformat_a_loop_disk(serve: Any, loop_device: str) -> None:
    served = serve(CONF_D / "reformat.yaml")
    _, envelope = served.rest("disk/format", {"device": "/dev/sda; rm -rf /", "label": "x"})
    assert envelope["request"]["status"] == "invalid-request"
    reply = response(served.rest("disk/format", {"device": loop_device, "label": "factory-data"})[1])
    assert reply["status"] == {"exit": 0}, reply
    found = response(served.rest("disk/identify", {"device": loop_device})[1])["stdout"]
    assert {"TYPE=ext4", "LABEL=factory-data"} <= set(found)


def wait_http(url: str, up: bool) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                if up:
                    return True
        except OSError:
            if not up:
                return True
        time.sleep(0.1)
    return False


def test_on_demand_daemon_starts_and_stops(serve: Any) -> None:
    served = serve(CONF_D / "on-demand.yaml")
    port = free_port()
    _, envelope = served.rest("ondemand/units/start", {"unit": "getty@tty1.service"})
    assert envelope["request"]["status"] == "invalid-request", "only the listed units"
    started = response(served.rest("ondemand/daemon/webserver", {"port": port})[1])
    assert wait_http(f"http://127.0.0.1:{port}/", up=True), "the daemon serves once started"
    _, envelope = served.rest("ondemand/daemon/webserver", {"port": port + 1 if port < 65535 else 1024})
    assert envelope["request"]["status"] == "internal-error" and str(started["pid"]) in envelope["request"]["info"]
    stopped = response(served.rest("ondemand/daemon/webserver", {"action": "stop"})[1])
    assert stopped == [f"daemon/webserver@{started['pid']}"]
    assert wait_http(f"http://127.0.0.1:{port}/", up=False), "and is gone once stopped"


async def events_until_final(client: AfbClient, event: str) -> list[dict[str, Any]]:
    received = []
    while True:
        frame = await asyncio.wait_for(client.events.get(), 20)
        if frame[1] == event:
            received.append(frame[2]["data"])
            if frame[2]["data"].get("type") == "final-event":
                return received


def test_scripts_as_typed_microservices(serve: Any) -> None:
    if not shutil.which("lua5.4"):
        pytest.skip("lua5.4 is not installed (scripts/sysdeps.sh installs it)")
    served = serve(CONF_D / "scripts.yaml")

    async def calls() -> tuple[list[Any], list[Any]]:
        async with await AfbClient.connect(served.url.replace("http", "ws") + "/api") as client:
            await client.call("scripts", "countdown", {"action": "start", "args": {"from": 3}})
            countdown = await events_until_final(client, "scripts/countdown")
            await client.call("scripts", "stats", {"action": "start", "args": {"numbers": [1, 2, 3, 6]}})
            stats = await events_until_final(client, "scripts/stats")
        return countdown, stats

    countdown, stats = asyncio.run(calls())
    assert [e["stdout"] for e in countdown if e["type"] == "data"] == ["3", "2", "1"]
    assert countdown[-1]["status"] == {"exit": 0}
    values = [e["stdout"] for e in stats if e["type"] == "data" and "stdout" in e]
    assert values == [{"count": 4, "mean": 3.0, "stdev": pytest.approx(1.8708, abs=1e-4)}]
    greeting = response(served.rest("scripts/greet", {"name": "Ada", "times": 2})[1])
    assert greeting["stdout"] == ["hello Ada (1)", "hello Ada (2)"]
    for verb, args in (("countdown", {"from": "3"}), ("greet", {"name": "Ada; id", "times": 1}),
                       ("stats", {"numbers": []})):
        _, envelope = served.rest(f"scripts/{verb}", args)
        assert envelope["request"]["status"] == "invalid-request", (verb, envelope)


def test_every_encoder(serve: Any, tmp_path: Path) -> None:
    doc = sample("encoders.yaml")
    (log,) = [c for c in doc["sandboxes"]["commands"] if c["uid"] == "log"]
    log["encoder"]["opts"] = {"stdout": str(tmp_path / "out.log"), "stderr": str(tmp_path / "err.log")}
    served = serve(write_config(tmp_path, doc, "encoders.yaml"))

    async def asynchronous() -> dict[str, list[dict[str, Any]]]:
        found = {}
        async with await AfbClient.connect(served.url.replace("http", "ws") + "/api") as client:
            for verb in ("text", "line", "json", "log", "sample"):
                await client.call("encoders", verb, {"action": "start"})
                found[verb] = [e for e in await events_until_final(client, f"encoders/{verb}") if e["type"] == "data"]
        return found

    events = asyncio.run(asynchronous())
    strip = [{k: v for k, v in e.items() if k not in ("type", "pid")} for e in events["text"]]
    assert strip == [{"stdout": ["one", "two"], "stderr": ["oops"]}]
    assert sorted(json.dumps({k: v for k, v in e.items() if k in ("stdout", "stderr")}) for e in events["line"]) == \
        sorted(['{"stdout": "one"}', '{"stdout": "two"}', '{"stderr": "oops"}'])
    assert [e["stdout"] for e in events["json"] if "stdout" in e] == [{"n": 1}, [2, 3]]
    assert events["log"] == []
    assert (tmp_path / "out.log").read_text() == "one\ntwo\n" and (tmp_path / "err.log").read_text() == "oops\n"
    assert {"data": ["one", "two"]} in [{k: v for k, v in e.items() if k == "data"} for e in events["sample"]]
    assert response(served.rest("encoders/sync", token=None)[1])["stdout"] == ["one", "two"]
    raw = response(served.rest("encoders/raw", token=None)[1])
    assert (raw["stdout"], raw["stderr"]) == ("one\ntwo\n", "oops\n")


def test_full_sandbox() -> None:
    done = afb_spawn("run", str(CONF_D / "full-sandbox.yaml"), "status")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["full-box", "65534"]
    status = dict(line.split(":\t") for line in lines if ":\t" in line)
    assert status == {"CapEff": "0000000000000400", "CapBnd": "0000000000000400", "CapAmb": "0000000000000400",
                      "NoNewPrivs": "1", "Seccomp": "2"}
    assert "64" in lines and "proc" in lines and "home" not in lines


def test_vpn_autostart_runs_wg_quick_at_load(serve: Any, tmp_path: Path) -> None:
    """onload starts wg-quick before any client. The copy runs it in a network namespace of
    its own with a throw-away key, so the host's network is never touched; a kernel without
    WireGuard makes wg-quick fail after its first step, which still shows the autostart."""
    if not shutil.which("wg-quick") or not shutil.which("wg"):
        pytest.skip("wireguard-tools are not installed (scripts/sysdeps.sh installs them)")
    key = subprocess.run(["wg", "genkey"], check=True, capture_output=True, text=True).stdout.strip()
    tunnel = tmp_path / "afbspawn0.conf"
    tunnel.write_text(f"[Interface]\nPrivateKey = {key}\nAddress = 10.99.0.1/24\n")
    tunnel.chmod(0o600)
    doc = sample("vpn-autostart.yaml")
    box = doc["sandboxes"]
    box["namespace"] = {"shares": {"net": "disable"}}
    for command in box["commands"]:
        command["exec"]["args"] = [str(tunnel) if a.endswith(".conf") else a for a in command["exec"]["args"]]
    served = serve(write_config(tmp_path, doc, "vpn-autostart.yaml"))
    output = b""  # wg-quick's steps go to stderr, which the log encoder copies to the binder's
    deadline = time.monotonic() + 120  # onload runs after the start: slow on a loaded machine
    stderr = served.binder.process.stderr
    assert stderr is not None
    os.set_blocking(stderr.fileno(), False)
    while b"[#] ip link add afbspawn0 type wireguard" not in output and time.monotonic() < deadline:
        output += stderr.read() or b""
        time.sleep(0.1)
    assert b"[#] ip link add afbspawn0 type wireguard" in output, output
