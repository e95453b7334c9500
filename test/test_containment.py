"""Every process of a task ends with it (issue 9): a daemon that left the task's process group
(`setsid`) dies on stop, on timeout, on the binder's SIGTERM, and when a binder killed with
SIGKILL is restarted; no cgroup leaf is left behind. Real binder on both hosts (one fixture
parameter), real cgroup2 tree (a group of this test's own under the kernel's mount), real
REST calls.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from binderproc import Binder, start_binder
from conftest import free_port, new_cgroup_root
from hosts import HOSTS, host_args

from afbspawn.sandbox.containment import ROOT_ENV, end_tree, reap_leftovers, start_time

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: a cgroup2 group of the test's own")


@pytest.fixture
def cgroup_root() -> Iterator[Path]:
    root = new_cgroup_root("contain")
    if root is None:
        pytest.skip("no writable cgroup2 tree here")
    yield root
    end_tree(root)


@pytest.fixture(params=HOSTS)
def host(request: pytest.FixtureRequest) -> list[str]:
    """The afb-spawn arguments of the host under test (skips libafb where it is not installed)."""
    return host_args(request.param)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """World-writable: the nobody task writes its daemon's pid here."""
    path = Path(tempfile.mkdtemp(prefix="afbspawn-contain-"))
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def config(workdir: Path) -> Path:
    daemon = f"setsid sleep 300 & echo $$! > {workdir}/daemon.pid; sleep 300"
    grouped = f"sleep 300 & echo $$! > {workdir}/grouped.pid; sleep 300"  # stays in the task's process group
    doc = {"metadata": {"uid": "contain", "api": "contain"}, "sandboxes": [{
        "uid": "box", "acls": {"user": "nobody", "group": "nogroup"}, "commands": [
            {"uid": "daemon", "exec": {"cmdpath": "/bin/sh", "args": ["-c", daemon]}},
            {"uid": "expiring", "timeout": 1, "exec": {"cmdpath": "/bin/sh", "args": ["-c", daemon]}},
            {"uid": "grouped", "exec": {"cmdpath": "/bin/sh", "args": ["-c", grouped]}}]}]}
    path = workdir / "contain.json"
    path.write_text(json.dumps(doc))
    return path


def binder(host: list[str], workdir: Path, cgroup_root: Path) -> tuple[Binder, int]:
    port = free_port()
    process = start_binder([sys.executable, "-m", "afbspawn", *host, "--config", str(config(workdir)), "-p", str(port),
                            "--cgroup-root", str(cgroup_root)], cwd=workdir)
    return process, port


def binder_inside(host: list[str], workdir: Path, group: Path) -> tuple[Binder, int]:
    """A binder started in `group` (as a service manager starts it in its own cgroup) and given
    no root: its own cgroup is where its tasks go."""
    port = free_port()
    enter = f'echo $$ > {group}/cgroup.procs && exec "$@"'
    process = start_binder(["/bin/sh", "-c", enter, "sh", sys.executable, "-m", "afbspawn", *host,
                            "--config", str(config(workdir)), "-p", str(port)], cwd=workdir, env={ROOT_ENV: ""})
    return process, port


def members(group: Path) -> list[int]:
    return [int(pid) for pid in (group / "cgroup.procs").read_text().split()]


def rest(port: int, verb: str, body: Any) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/contain/{verb}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())


def daemon_pid(workdir: Path) -> int:
    """The daemon's pid, once it has left the task's session (setsid(1) ran)."""
    return written_pid(workdir / "daemon.pid", lambda pid: os.getsid(pid) == pid)


def written_pid(pidfile: Path, ready: Callable[[int], bool] = lambda pid: True) -> int:
    """The pid the task wrote to `pidfile`, once `ready` holds for it."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = pidfile.read_text().strip() if pidfile.exists() else ""
        if text and ready(int(text)):
            return int(text)
        time.sleep(0.02)
    raise AssertionError(f"the task never wrote {pidfile.name}")


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


def gone_within(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)


def leaves(cgroup_root: Path) -> list[Path]:
    return [p for p in cgroup_root.rglob("task-*") if p.is_dir()]


def no_leaf_within(cgroup_root: Path, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while leaves(cgroup_root) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not leaves(cgroup_root)


def test_setsid_daemon_dies_on_stop(host: list[str], workdir: Path, cgroup_root: Path) -> None:
    process, port = binder(host, workdir, cgroup_root)
    try:
        started = rest(port, "daemon", {"action": "start"})["response"]
        daemon = daemon_pid(workdir)
        assert alive(daemon)
        assert len(leaves(cgroup_root)) == 1
        rest(port, "daemon", {"action": "stop", "args": {"pid": started["pid"]}})
        assert gone_within(daemon)
        assert no_leaf_within(cgroup_root)
    finally:
        process.stop()


def test_setsid_daemon_dies_on_timeout(host: list[str], workdir: Path, cgroup_root: Path) -> None:
    process, port = binder(host, workdir, cgroup_root)
    try:
        rest(port, "expiring", {"action": "start"})
        daemon = daemon_pid(workdir)
        assert gone_within(daemon)  # the timeout is 1 s
        assert no_leaf_within(cgroup_root)
    finally:
        process.stop()


def test_setsid_daemon_dies_on_binder_sigterm_and_nothing_is_left(host: list[str], workdir: Path, cgroup_root: Path) -> None:
    process, port = binder(host, workdir, cgroup_root)
    rest(port, "daemon", {"action": "start"})
    daemon = daemon_pid(workdir)
    process.stop()  # SIGTERM
    assert process.process.returncode == 0
    assert gone_within(daemon)
    assert list(cgroup_root.glob("afb-spawn-*")) == []


def test_without_a_cgroup_subtree_the_process_group_ends_on_binder_sigterm(host: list[str], workdir: Path) -> None:
    """The fallback (--cgroup-root names no cgroup2 directory): at SIGTERM the binder kills each
    task's process group before it exits, so a child that stayed in it dies with its task."""
    process, port = binder(host, workdir, workdir)
    rest(port, "grouped", {"action": "start"})
    child = written_pid(workdir / "grouped.pid")
    assert alive(child) and os.getsid(child) != os.getsid(0)
    process.stop()  # SIGTERM
    assert process.process.returncode == 0
    assert gone_within(child)


def test_restart_after_sigkill_ends_what_the_dead_binder_left(host: list[str], workdir: Path, cgroup_root: Path) -> None:
    first, port = binder(host, workdir, cgroup_root)
    rest(port, "daemon", {"action": "start"})
    daemon = daemon_pid(workdir)
    first.process.kill()
    first.process.wait()
    time.sleep(0.2)
    assert alive(daemon)  # the parent-death signal reached the task's shell, not the daemon
    assert [p.name for p in cgroup_root.glob("afb-spawn-*")] == [f"afb-spawn-{first.pid}-" + p.name.rsplit("-", 1)[1]
                                                                  for p in cgroup_root.glob("afb-spawn-*")]
    second, _ = binder(host, workdir, cgroup_root)
    try:
        assert gone_within(daemon)
        assert [p.name for p in cgroup_root.glob("afb-spawn-*")] == [
            f"afb-spawn-{second.pid}-{start_time(second.pid)}"]
        assert leaves(cgroup_root) == []
    finally:
        second.stop()


def test_a_live_binders_subtree_is_never_touched(cgroup_root: Path) -> None:
    """Parallel binders share a tree: only subtrees whose owner process is gone are removed."""
    mine = cgroup_root / f"afb-spawn-{os.getpid()}-{start_time(os.getpid())}"
    reused_pid = cgroup_root / f"afb-spawn-{os.getpid()}-1"  # same pid, another start time: a dead binder
    for path in (mine / "box" / "task-1", reused_pid / "box" / "task-1"):
        path.mkdir(parents=True)
    assert reap_leftovers(cgroup_root) == [reused_pid]
    assert (mine / "box" / "task-1").is_dir() and not reused_pid.exists()
    end_tree(mine)


def test_a_binder_in_its_own_cgroup_moves_into_a_leaf_and_leaves_nothing(host: list[str], workdir: Path,
                                                                         cgroup_root: Path) -> None:
    """The no-internal-process rule: a non-root group hands controllers down only while no process
    sits in it. A binder whose own cgroup holds its tasks moves itself into a leaf beside them,
    and at SIGTERM back where it was, every group of its own removed."""
    service = cgroup_root / "service"
    service.mkdir()
    process, port = binder_inside(host, workdir, service)
    name = f"afb-spawn-{process.pid}-{start_time(process.pid)}"
    try:
        assert members(service) == [] and members(service / f"{name}.binder") == [process.pid]
        rest(port, "daemon", {"action": "start"})
        daemon = daemon_pid(workdir)
        [leaf] = leaves(service)
        assert leaf.parent == service / name / "box" and daemon in members(leaf)
    finally:
        process.stop()
    assert process.process.returncode == 0
    assert gone_within(daemon)
    assert [p.name for p in service.iterdir() if p.is_dir()] == [] and members(service) == []


def test_a_sigkilled_binder_leaf_goes_at_the_next_start(host: list[str], workdir: Path, cgroup_root: Path) -> None:
    """A binder killed with SIGKILL leaves its (empty) leaf and its tasks' subtree; the next
    binder started in the same cgroup ends and removes both."""
    service = cgroup_root / "service"
    service.mkdir()
    first, port = binder_inside(host, workdir, service)
    rest(port, "daemon", {"action": "start"})
    daemon = daemon_pid(workdir)
    first.process.kill()
    first.process.wait()
    dead = f"afb-spawn-{first.pid}-"
    assert sorted(p.name.startswith(dead) for p in service.iterdir() if p.is_dir()) == [True, True]
    second, _ = binder_inside(host, workdir, service)
    try:
        assert gone_within(daemon)
        mine = f"afb-spawn-{second.pid}-{start_time(second.pid)}"
        assert sorted(p.name for p in service.iterdir() if p.is_dir()) == [mine, f"{mine}.binder"]
    finally:
        second.stop()
    assert [p.name for p in service.iterdir() if p.is_dir()] == []
