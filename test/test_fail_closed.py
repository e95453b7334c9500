"""Fail closed (issue 9): what a config says is what a real task gets, through the real
loader and `afb-spawn run` or the real binder, each checked by a probe inside the task.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from binderproc import start_binder
from conftest import free_port

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="runs tasks as nobody")


def afb_spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "afbspawn", *args], check=False, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def write_config(tmp_path: Path, sandbox: dict[str, Any], script: str, name: str = "cfg.json") -> Path:
    """One sandbox with one command `probe` running `sh -c script`."""
    sandbox = {"uid": "box", "acls": {"user": "nobody", "group": "nogroup"}, **sandbox,
               "commands": [{"uid": "probe", "exec": {"cmdpath": "/bin/sh", "args": ["-c", script]}}]}
    path = tmp_path / name
    path.write_text(json.dumps({"metadata": {"uid": "fc", "api": "fc"}, "sandboxes": [sandbox]}))
    return path


@needs_root
@pytest.mark.parametrize("default", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS"])
def test_a_default_only_seccomp_profile_kills(tmp_path: Path, default: str) -> None:
    made = tmp_path / "made"
    config = write_config(tmp_path, {"seccomp": {"default": default}}, f"mkdir {made}")
    done = afb_spawn("run", str(config), "probe")
    assert done.returncode == 128 + signal.SIGSYS, done.stderr
    assert not made.exists()


@needs_root
def test_a_default_only_log_profile_is_installed(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"seccomp": {"default": "SCMP_ACT_LOG"}}, "grep Seccomp: /proc/self/status")
    done = afb_spawn("run", str(config), "probe")
    assert done.returncode == 0 and done.stdout.split() == ["Seccomp:", "2"], done.stderr


@needs_root
def test_locked_alone_installs_no_filter_but_no_new_privs(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"seccomp": {"locked": True}}, "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status")
    done = afb_spawn("run", str(config), "probe")
    assert done.stdout.split() == ["NoNewPrivs:", "1", "Seccomp:", "0"], done.stderr


@needs_root
def test_a_rule_denying_execve_is_refused_by_check_and_run(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"seccomp": {"default": "SCMP_ACT_ALLOW",
                                                 "rules": [{"syscall": "execve", "action": "SCMP_ACT_KILL"}]}}, "true")
    for done in (afb_spawn("run", str(config), "probe"),):
        assert done.returncode != 0 and "would stop every launch" in done.stderr, done
        assert "Traceback" not in done.stderr


@needs_root
def test_nobody_task_has_an_empty_bounding_set(tmp_path: Path) -> None:
    config = write_config(tmp_path, {}, "grep -E '^Cap(Bnd|Prm|Eff|Amb):' /proc/self/status")
    done = afb_spawn("run", str(config), "probe")
    assert done.returncode == 0, done.stderr
    assert {line.split()[1] for line in done.stdout.splitlines()} == {"0000000000000000"}, done.stdout


@needs_root
def test_tmpfs_belongs_to_the_sandbox_user(tmp_path: Path) -> None:
    """conf.d/sample-namespace.yaml's /tmp (and chdir) is usable by its nobody task."""
    sample = Path(__file__).parent.parent / "conf.d" / "sample-namespace.yaml"
    text = sample.read_text().replace("- uid: show", "- uid: write\n      exec: { cmdpath: /bin/sh, args: "
                                      "[\"-c\", \"echo kept > f && cat /tmp/f && stat -c %%u:%%a /tmp\"] }\n    - uid: show")
    config = tmp_path / "ns.yaml"
    config.write_text(text)
    done = afb_spawn("run", str(config), "write")
    assert (done.returncode, done.stdout) == (0, "kept\n65534:1777\n"), done.stderr


@needs_root
def test_unlimited_rlimits_never_crash(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"rlimits": {"fsize": "unlimited", "core": "unlimited"}}, "ulimit -f; ulimit -c")
    done = afb_spawn("run", str(config), "probe")
    assert (done.returncode, done.stdout) == (0, "unlimited\nunlimited\n"), done.stderr
    nproc = write_config(tmp_path, {"rlimits": {"nproc": "unlimited"}}, "ulimit -u", "nproc.json")
    done = afb_spawn("run", str(nproc), "probe")
    assert "Traceback" not in done.stderr and "OverflowError" not in done.stderr
    assert (done.returncode, done.stdout) == (0, "unlimited\n") or \
        (done.returncode != 0 and len(done.stderr.splitlines()) == 1 and "nproc" in done.stderr.lower()), done


def _ping(port: int) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/fc/ping", timeout=10) as response:
        return json.loads(response.read())


def test_sighup_is_logged_and_ignored(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"acls": {}}, "true") if os.geteuid() else write_config(tmp_path, {}, "true")
    port = free_port()
    binder = start_binder([sys.executable, "-m", "afbspawn", "--config", str(config), "-p", str(port)], cwd=tmp_path)
    try:
        binder.process.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert binder.process.poll() is None
        assert _ping(port)["response"].startswith("pong=")
    finally:
        _, err = binder.stop()
    assert b"SIGHUP received: ignored" in err
