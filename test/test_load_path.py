"""One load path (issue 9): `afb-spawn check`, `afb-spawn run` and the binder compile the same
things, so they agree on every broken config of one table — each refused with the same one
line naming file, JSON path and fix, never a traceback — and the C project's own configs
load, or are refused with one line per thing this host lacks.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port

from afbspawn.sandbox.cgroups import find_cgroup2_mount

ROOT = os.geteuid() == 0
BOX: dict[str, Any] = {"uid": "box", "acls": {"user": "nobody", "group": "nogroup"}} if ROOT else {"uid": "box"}
PROBE = {"uid": "probe", "exec": {"cmdpath": "/bin/true"}}
MISSING_MODULE = "afbspawn_test_no_such_module"


def doc(sandbox: dict[str, Any] | None = None, command: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    box = {**BOX, **(sandbox or {}), "commands": [{**PROBE, **(command or {})}]}
    return {"metadata": {"uid": "lp", "api": "lp"}, "sandboxes": [box], **top}


def _controller_missing(name: str) -> bool:
    mount = find_cgroup2_mount()
    return mount is not None and name not in Path(mount, "cgroup.controllers").read_text().split()


# (id, config, JSON path of the problem, text in its line)
BROKEN = [
    ("lock-mount", doc({"namespace": {"mounts": [{"target": "/run/x.lock", "mode": "lock"}]}}),
     "/sandboxes/0/namespace/mounts", "mode lock is not supported"),
    ("plugin-cannot-import", doc(plugins=[{"uid": "p", "module": MISSING_MODULE}],
                                 onload=[{"uid": "o", "action": "plugin://p#start"}]),
     "/onload/0/action", f"cannot import '{MISSING_MODULE}'"),
    ("encoder-plugin-cannot-import", doc(command={"encoder": {"output": "x", "plugin": "p"}},
                                         plugins=[{"uid": "p", "module": MISSING_MODULE}]),
     "/sandboxes/0/commands/0/encoder", "PLUGIN_NOT_FOUND"),
    ("encoder-option-refused", doc(command={"encoder": {"output": "text", "opts": {"maxlen": "x"}}}),
     "/sandboxes/0/commands/0/encoder", "'maxlen' must be an integer"),
    ("strict-unknown-encoder-option", doc({"strict": True}, {"encoder": {"output": "log", "opts": {"maxlen": 5}}}),
     "/sandboxes/0/commands/0/encoder/opts", "'maxlen' unknown, ignored (sandbox is strict)"),
    ("seccomp-denies-execve", doc({"seccomp": {"default": "SCMP_ACT_ALLOW",
                                               "rules": [{"syscall": "execve", "action": "SCMP_ACT_ERRNO"}]}}),
     "/sandboxes/0/seccomp/rules/execve", "would stop every launch"),
    ("exec-verbs-with-two-privileges", {"metadata": {"uid": "lp", "api": "lp"}, "sandboxes": [
        {**BOX, "uid": "a", "exec-verb": True, "privilege": "urn:a", "commands": [PROBE]},
        {**BOX, "uid": "b", "exec-verb": True, "privilege": "urn:b", "commands": [{**PROBE, "uid": "other"}]}]},
     "/sandboxes", "must share one privilege"),
]
if ROOT and _controller_missing("pids"):
    BROKEN.append(("cgroup-limit-without-controller", doc({"cgroups": {"pids": 10}}),
                   "/sandboxes/0/cgroups", "the controller 'pids' is not available"))


def afb_spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "afbspawn", *args], capture_output=True, text=True, timeout=60,
                          check=False, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("name, config, path, text", BROKEN, ids=[b[0] for b in BROKEN])
def test_check_run_and_binder_refuse_alike(tmp_path: Path, name: str, config: dict[str, Any], path: str,
                                           text: str) -> None:
    file = tmp_path / f"{name}.json"
    file.write_text(json.dumps(config))
    checked = afb_spawn("check", str(file))
    assert checked.returncode == 1 and checked.stdout == "", checked
    problem, count = checked.stderr.splitlines()
    assert problem.startswith(f"{file}: {path}: ") and text in problem, problem
    assert count == "1 problem(s) found"
    served = afb_spawn("--config", str(file), "-p", str(free_port()))
    assert served.returncode == 1 and served.stderr.splitlines() == [f"afb-spawn: {problem}"], served.stderr
    ran = afb_spawn("run", str(file), "probe")
    assert ran.returncode == 1 and ran.stderr.splitlines() == [f"afb-spawn run: {problem}"], ran.stderr


def test_unknown_encoder_option_is_a_warning_naming_it(tmp_path: Path) -> None:
    file = tmp_path / "warn.json"
    file.write_text(json.dumps(doc(command={"encoder": {"output": "log", "opts": {"maxlen": 5, "color": 1}}})))
    checked = afb_spawn("check", str(file))
    assert checked.returncode == 0, checked.stderr
    assert ("  warning: /sandboxes/0/commands/0/encoder/opts: encoder log: option(s) 'color', 'maxlen' unknown, "
            "ignored (hint: remove them)") in checked.stdout.splitlines(), checked.stdout
    ran = afb_spawn("run", str(file), "probe")
    assert ran.returncode == 0 and "'color', 'maxlen' unknown" in ran.stderr


# what these configs need that this host (or this Python port) lacks: each is one line
HOST_LACKS = ("is not available in the cgroup2 tree", "the C `.so` plugin ABI is not supported",
              "does not exist", "requires a binder running as root", "requires acls.user")


def _problems(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert lines[-1] == f"{len(lines) - 1} problem(s) found", lines
    return lines[:-1]


def test_every_c_config_loads_or_names_what_is_lacking(shared_dir: Path, as_nobody: Callable[..., list[str]]) -> None:
    """As root (as the etc/ samples are meant to run) and as nobody (as the C tests ran).

    nobody may not traverse the folder shared/ lies in (CI's clone): the configs are read from a
    world-readable copy."""
    copy = Path(tempfile.mkdtemp(prefix="afbspawn-creference-"))  # /tmp: traversable by nobody
    reference = copy / "spawn-binding-c"
    shutil.copytree(shared_dir / "reference" / "spawn-binding-c", reference)
    subprocess.run(["chmod", "-R", "a+rX,u+w", str(copy)], check=True)
    try:
        loaded = _loaded_configs(sorted(reference.glob("*/*.json")), as_nobody)
    finally:
        shutil.rmtree(copy)
    assert {"spawn-simple-config.json", "wireguard-autostart.json", "test-basic.json", "test-encoders.json",
            "test-info.json", "test-timeout.json", "spawn-basic-config.json"} <= loaded


def _loaded_configs(configs: list[Path], as_nobody: Callable[..., list[str]]) -> set[str]:
    """The configs `check` accepts as root or as nobody; every refusal must name what the host lacks."""
    assert len(configs) >= 8
    loaded = set()
    for config in configs:
        for who in ("root", "nobody"):
            command = [sys.executable, "-m", "afbspawn"] if who == "root" else as_nobody("-m", "afbspawn")
            done = subprocess.run([*command, "check", str(config)], capture_output=True, text=True, timeout=60,
                                  check=False, cwd="/", env={**os.environ, "DIRTOLIST": config.parent.name})
            if done.returncode == 0:
                loaded.add(config.name)
                continue
            for problem in _problems(done):
                assert problem.startswith(f"{config}: /") and any(lack in problem for lack in HOST_LACKS), problem
    return loaded
