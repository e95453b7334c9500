"""Real launches, one isolation property each, as root and as nobody (sandbox_probes.py)."""
from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sandbox_probes

from afbspawn.config import model as m
from afbspawn.sandbox import SandboxError, compile_plan
from afbspawn.sandbox.cgroups import find_cgroup2_mount

PROBES = Path(sandbox_probes.__file__)
NAMES = [*sandbox_probes.scenarios(), "impossible-mount"]
ROOT_ONLY = {"capability-kept-as-nobody"}  # raising a capability: refused without privileges (checked below)
# an identity without a user namespace: nobody cannot reduce the bounding set, so the load is refused
REFUSED_AS_NOBODY = {"uid-gid-inside", "supplementary-groups-dropped", "bounding-set-empty-for-nobody"}
KILLED_BY = {"seccomp-kill": signal.SIGSYS, "seccomp-x32-refused": signal.SIGSYS,
             "seccomp-default-kill-only": signal.SIGSYS, "seccomp-default-kill-process-only": signal.SIGSYS}
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="runs as root, then drops to nobody")


def check(name: str, result: dict[str, object]) -> None:
    if name == "impossible-mount":
        assert result["error"] is not None and str(result["error"]).startswith("mount /gone (bind, ro): "), result
        assert result["step"] == "mount"
        return
    assert result.get("error") is None and "refused" not in result, result
    if name in KILLED_BY:
        assert result["signal"] == KILLED_BY[name], result
    else:
        assert result["status"] == 0, result


@pytest.fixture(scope="module")
def probes_for_nobody(as_nobody: Callable[..., list[str]]) -> Callable[[str], dict[str, object]]:
    """Runs `sandbox_probes.py NAME` as nobody from a world-readable copy."""
    directory = Path(tempfile.mkdtemp(prefix="afbspawn-probes-"))
    shutil.copy(PROBES, directory / PROBES.name)
    os.chmod(directory, 0o755)
    os.chmod(directory / PROBES.name, 0o644)

    def run(name: str) -> dict[str, object]:
        done = subprocess.run(as_nobody(str(directory / PROBES.name), name), check=False, capture_output=True, text=True,
                              timeout=120, cwd="/")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    yield run
    shutil.rmtree(directory, ignore_errors=True)


@needs_root
@pytest.mark.parametrize("name", NAMES)
def test_property_as_root(name: str) -> None:
    check(name, sandbox_probes.run(name))


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ROOT_ONLY | REFUSED_AS_NOBODY])
def test_property_as_nobody(name: str, probes_for_nobody: Callable[[str], dict[str, object]]) -> None:
    check(name, probes_for_nobody(name))


@pytest.mark.parametrize("name", sorted(REFUSED_AS_NOBODY))
def test_identity_without_user_namespace_is_refused_as_nobody(
        name: str, probes_for_nobody: Callable[[str], dict[str, object]]) -> None:
    """Never a full bounding set under a configured identity: refused, with the reason."""
    result = probes_for_nobody(name)
    assert "bounding set cannot be reduced" in str(result.get("refused")), result


def test_raising_a_capability_is_refused_as_nobody(probes_for_nobody: Callable[[str], dict[str, object]]) -> None:
    result = probes_for_nobody("capability-kept-as-nobody")
    assert "cannot raise CAP_NET_BIND_SERVICE" in str(result.get("refused")), result


def _killing_the_parent_kills_the_task(command: list[str]) -> None:
    helper = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd="/")
    try:
        task_pid = int(helper.stdout.readline())  # type: ignore[union-attr]
        task = os.pidfd_open(task_pid)
    finally:
        helper.kill()
        helper.wait()
    try:
        readable, _, _ = select.select([task], [], [], 60)
        assert readable, f"task {task_pid} survived its parent"
    finally:
        os.close(task)


@needs_root
def test_killing_the_parent_kills_the_task_as_root() -> None:
    _killing_the_parent_kills_the_task([sys.executable, str(PROBES), "hold-task"])


def test_killing_the_parent_kills_the_task_as_nobody(as_nobody: Callable[..., list[str]]) -> None:
    directory = Path(tempfile.mkdtemp(prefix="afbspawn-hold-"))
    shutil.copy(PROBES, directory / PROBES.name)
    os.chmod(directory, 0o755)
    os.chmod(directory / PROBES.name, 0o644)
    try:
        _killing_the_parent_kills_the_task(as_nobody(str(directory / PROBES.name), "hold-task"))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _run(plan, argv: list[str]) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    read_end, write_end = os.pipe()
    try:
        child = plan.launch(argv[0], argv, write_end, write_end, verbose=3)
    finally:
        os.close(write_end)
    with open(read_end, "rb") as output:
        text = output.read().decode()
    status = os.waitid(os.P_PIDFD, child.pidfd, os.WEXITED).si_status
    child.release()
    return status, text


@needs_root
@pytest.mark.skipif(find_cgroup2_mount() is None, reason="no cgroup2 hierarchy mounted")
def test_task_joins_its_own_cgroup_leaf_removed_after_release() -> None:
    plan = compile_plan(m.Sandbox(uid="afbspawn-test-cgroup"))
    read_end, write_end = os.pipe()
    child = plan.launch("/bin/cat", ["cat", "/proc/self/cgroup"], write_end, write_end)
    os.close(write_end)
    with open(read_end, "rb") as output:
        text = output.read().decode()
    os.waitid(os.P_PIDFD, child.pidfd, os.WEXITED)
    leaf = child.cgroup_leaf
    assert leaf is not None and f"/afbspawn-test-cgroup/{leaf.name}" in text, text
    assert child.wait_removed() and child.release()  # idempotent
    assert not leaf.exists()


@needs_root
def test_verbose_3_writes_the_bwrap_line_first() -> None:
    plan = compile_plan(sandbox_probes.contained("verbose", *sandbox_probes.PROC_DEV, hostname="v"))
    status, text = _run(plan, ["/bin/sh", "-c", "echo ran"])
    first, rest = text.split("\n", 1)
    assert status == 0 and rest == "ran\n"
    assert first.startswith("child(verbose)=> bwrap --die-with-parent --new-session") and "--hostname v" in first


@needs_root
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_bwrap_command_is_runnable_and_equivalent() -> None:
    plan = compile_plan(sandbox_probes.contained("bw", *sandbox_probes.PROC_DEV, hostname="bw-box"))
    argv = ["/bin/sh", "-c", "cat /proc/sys/kernel/hostname; set -- /proc/[0-9]*; echo $#"]
    done = subprocess.run(plan.bwrap_command(argv[0], argv), check=False, capture_output=True, text=True, timeout=60)
    ours = _run(plan, argv)[1].split("\n", 1)[1]
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == ours.split("\n")[0] == "bw-box"


def test_concurrent_launches_from_threads_share_one_plan() -> None:
    """The compiled plan is read-only in C: launches from several threads do not mix up."""
    plan = compile_plan(m.Sandbox(uid="threads"))

    def launch(code: int) -> int:
        child = plan.launch("/bin/sh", ["threads", "-c", f"exit {code}"], 1, 2)
        status = os.waitid(os.P_PIDFD, child.pidfd, os.WEXITED).si_status
        child.release()
        return status

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(range(1, 61))
        assert list(pool.map(launch, codes)) == codes


@needs_root
def test_missing_controller_on_the_real_hierarchy_names_it() -> None:
    mount = find_cgroup2_mount()
    if mount is None or "pids" in Path(mount, "cgroup.controllers").read_text().split():
        pytest.skip("needs a cgroup2 hierarchy without the pids controller (as on the build machine)")
    with pytest.raises(SandboxError, match="'pids' is not available in the cgroup2 tree"):
        compile_plan(m.Sandbox(uid="afbspawn-test-pids", cgroups=m.Cgroups(pids_max="10")))
