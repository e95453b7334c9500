"""Escape battery: each probe runs inside one strict sandbox, called through the API of a
live binder (REST, sync encoder), as root and as an unprivileged (nobody) binder. A probe
exits 0 only when the sandbox held; its output says what it saw. Results table:
docs/security.md.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from binderproc import start_binder
from conftest import free_port

PY = "/usr/bin/python3 -c"
LIBC = "import ctypes,os,sys; libc=ctypes.CDLL(None, use_errno=True); "
SYSCALL = LIBC + "r=libc.syscall({}); e=ctypes.get_errno(); print(r, os.strerror(e)); sys.exit(0 if r == -1 else 1)"


def syscall(*args: int) -> str:
    return f"{PY} '{SYSCALL.format(', '.join(map(str, args)))}'"


def refused(statement: str) -> str:
    """Python `statement` must raise OSError (EPERM, EACCES, ...)."""
    return (f"{PY} 'import os,socket,sys\ntry:\n    {statement}\nexcept OSError as e:\n    print(e); sys.exit(0)\n"
            "print(\"allowed\"); sys.exit(1)'")


PROBES: dict[str, tuple[str, str]] = {  # name: (what it tries, sh script exiting 0 when contained)
    "read-unmounted-host-file": ("read /etc/shadow (not mounted)", "! cat /etc/shadow"),
    "see-host-tree": ("see /root, /home, /work, /var", "test ! -e /root -a ! -e /home -a ! -e /work -a ! -e /var"),
    "dotdot-escape": ("leave the root with ..", "cd /usr/../../..; test ! -e work -a ! -e root && test ! -e /usr/../etc/shadow"),
    "write-ro-bind": ("write into the read-only /usr bind", "! touch /usr/probe"),
    "write-ro-file": ("append to the read-only /etc/passwd", "! sh -c 'echo x >> /etc/passwd'"),
    "remount-rw": ("remount /usr read-write", "! mount -o remount,rw /usr"),
    "mount-tmpfs": ("mount a tmpfs", "! mount -t tmpfs none /tmp"),
    "umount": ("unmount /usr", "! umount -l /usr"),
    "see-host-processes": ("list the host's processes", "test $(ls -d /proc/[0-9]* | wc -l) -le 4"),
    "signal-host-init": ("signal a process outside (pid 1 is ours)", "test \"$(cat /proc/1/comm)\" != init -a \"$(cat /proc/1/comm)\" != process_api"),
    "host-loopback": ("see the binder's listening sockets", "test $(wc -l < /proc/net/tcp) -le 1 -a $(wc -l < /proc/net/tcp6) -le 1"),
    "network-out": ("connect to the host's 127.0.0.1", refused("socket.create_connection((\"127.0.0.1\", 1), 1)")),
    "raw-socket": ("open a raw socket", refused("socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)")),
    "packet-socket": ("open a packet socket", refused("socket.socket(socket.AF_PACKET, socket.SOCK_RAW)")),
    "nested-userns": ("create a nested user namespace", "! unshare -U true"),
    "new-mount-ns": ("create a mount namespace", "! unshare -m true"),
    "setns": ("join another namespace", "! nsenter -t 1 -m true"),
    "ptrace": ("ptrace pid 1 (PTRACE_ATTACH)", syscall(101, 16, 1, 0, 0)),
    "setuid-root": ("setuid(0)", refused("os.setuid(0)")),
    "setgroups-root": ("join group 0", refused("os.setgroups([0])")),
    "setuid-binary": ("gain root through su under no_new_privs",
                      "grep -q 'NoNewPrivs:\t1' /proc/self/status && ! su -c true root </dev/null"),
    "chroot": ("chroot", refused("os.chroot(\"/tmp\")")),
    "mknod": ("create a device node", "! mknod /tmp/mem c 1 1"),
    "host-devices": ("see host disks, memory, kmsg", "test ! -e /dev/sda -a ! -e /dev/mem -a ! -e /dev/kmsg -a ! -e /dev/vda"),
    "sysfs": ("see /sys", "test ! -e /sys/kernel"),
    "proc-sys-write": ("write a kernel tunable", "! sh -c 'echo 1 > /proc/sys/kernel/sysrq'"),
    "init-module": ("load a kernel module", syscall(175, 0, 0, 0)),
    "finit-module": ("load a kernel module from a file", syscall(313, 0, 0, 0)),
    "kexec": ("kexec_load", syscall(246, 0, 0, 0, 0)),
    "bpf": ("bpf(BPF_PROG_LOAD)", syscall(321, 5, 0, 0)),
    "keyctl": ("keyctl (kernel keyrings)", syscall(250, 0, 0, 0, 0, 0)),
    "perf-event": ("perf_event_open", syscall(298, 0, 0, -1, -1, 0)),
    "userfaultfd": ("userfaultfd", syscall(323, 0)),
    "x32-syscall": ("an x32 ABI syscall (getpid | 0x40000000); SIGSYS counts as refused",
                    syscall(0x40000000 | 39) + "; test $? -ne 1"),
    "reboot": ("reboot(2)", syscall(169, 0xFEE1DEAD, 0x28121969, 0x4321FEDC, 0)),
    "hostname": ("set the hostname", "! hostname evil"),
    "inherited-fds": ("use a binder fd", "test $(ls /proc/self/fd | wc -l) -le 4"),
    "binder-environment": ("read the binder's environment", "! env | grep -q -E '^(AFB_|PYTHON|VIRTUAL_ENV|HOME=/root|PWD=/work)'"),
    "capabilities": ("hold any capability (effective or bounding)",
                     "grep -q 'CapEff:\t0000000000000000' /proc/self/status && grep -q 'CapBnd:\t0000000000000000' /proc/self/status"),
    "core-dump": ("dump core", "test \"$(ulimit -c)\" = 0"),
}
SECCOMP_DENY = ["ptrace", "mount", "umount2", "unshare", "setns", "kexec_load", "kexec_file_load", "init_module",
                "finit_module", "delete_module", "bpf", "keyctl", "add_key", "request_key", "perf_event_open",
                "userfaultfd", "reboot", "swapon", "swapoff", "pivot_root", "chroot", "open_by_handle_at"]


def strict_config(privileged: bool) -> dict[str, Any]:
    acls = {"user": "nobody", "group": "nogroup", "umask": "077", "chdir": "/tmp", "timeout": 20}
    box = {
        "uid": "strict", "acls": acls if privileged else {"umask": "077", "chdir": "/tmp", "timeout": 20},
        "envs": [{"name": "LANG", "value": "C.UTF-8"}, {"name": "PATH", "value": "/usr/bin:/usr/sbin:/bin"}],
        "caps": [],
        "rlimits": {"nofile": 64, "nproc": 256, "core": 0, "fsize": "1M"},
        "seccomp": {"default": "SCMP_ACT_ALLOW", "locked": True,
                    "rules": [{"syscall": name, "action": "SCMP_ACT_ERRNO", "errno": 1} for name in SECCOMP_DENY]},
        "namespace": {"opts": {"hostname": "strict-box"}, "shares": {"all": "disable"}, "mounts": [
            {"target": "/usr", "mode": "ro"}, {"target": "/bin", "source": "usr/bin", "mode": "symlink"},
            {"target": "/sbin", "source": "usr/sbin", "mode": "symlink"},
            {"target": "/lib", "source": "usr/lib", "mode": "symlink"},
            {"target": "/lib64", "source": "usr/lib64", "mode": "symlink"},
            {"target": "/etc/passwd", "mode": "ro"}, {"target": "/proc", "mode": "procfs"},
            {"target": "/tmp", "mode": "tmpfs"}, {"target": "/dev", "mode": "devfs"}]},
        "commands": [{"uid": name, "info": what, "encoder": "sync",
                      "exec": {"cmdpath": "/bin/sh", "args": ["-c", script.replace("%", "%%").replace("$", "$$").replace("?", "??")]}}
                     for name, (what, script) in PROBES.items()],
    }
    return {"metadata": {"uid": "escape", "api": "esc", "version": "1.0"}, "sandboxes": [box]}


def run_battery(command: list[str], root: Path, port: int) -> dict[str, dict[str, Any]]:
    binder = start_binder(command, cwd=root)
    results = {}
    try:
        for name in PROBES:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/esc/{name}", timeout=60) as answer:
                results[name] = json.loads(answer.read())
    finally:
        binder.stop()
    return results


def battery(privileged: bool, wrap: Callable[..., list[str]] | None) -> dict[str, dict[str, Any]]:
    root = Path(tempfile.mkdtemp(prefix="afbspawn-escape-"))
    try:
        (root / "esc.json").write_text(json.dumps(strict_config(privileged)))
        subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True)
        port = free_port()
        args = ("-m", "afbspawn", "--config", str(root / "esc.json"), "-p", str(port))
        command = wrap(*args) if wrap else [sys.executable, *args]
        return run_battery(command, root, port)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def as_root() -> Iterator[dict[str, dict[str, Any]]]:
    if os.geteuid() != 0:
        pytest.skip("the root battery needs root")
    yield battery(True, None)


@pytest.fixture(scope="module")
def as_unprivileged(as_nobody: Callable[..., list[str]]) -> Iterator[dict[str, dict[str, Any]]]:
    yield battery(False, as_nobody)


def contained(reply: dict[str, Any]) -> bool:
    return reply.get("response", {}).get("status") == {"exit": 0}


def test_battery_has_at_least_thirty_probes() -> None:
    assert len(PROBES) >= 30


@pytest.mark.parametrize("probe", list(PROBES))
def test_probe_is_contained_under_a_root_binder(as_root: dict[str, dict[str, Any]], probe: str) -> None:
    assert contained(as_root[probe]), json.dumps(as_root[probe]["response"])


@pytest.mark.parametrize("probe", list(PROBES))
def test_probe_is_contained_under_an_unprivileged_binder(as_unprivileged: dict[str, dict[str, Any]],
                                                         probe: str) -> None:
    assert contained(as_unprivileged[probe]), json.dumps(as_unprivileged[probe]["response"])
