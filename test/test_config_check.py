"""`afb-spawn check` and `afb-spawn schema` as a user runs them: a real process,
real files, exit codes and output."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema

from afbspawn.config import hostfacts, model


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "afbspawn", *args], capture_output=True, text=True, env=env, check=False)


def write(tmp_path: Path, name: str, doc: dict[str, Any]) -> str:
    (tmp_path / name).write_text(json.dumps(doc))
    return str(tmp_path / name)


GOOD = {"metadata": {"uid": "good", "api": "good"}, "sandboxes": [
    {"uid": "plain", "commands": [{"uid": "echo", "exec": {"cmdpath": "/bin/echo"}, "encoder": "sync"}]},
    {"uid": "boxed", "exec-verb": True, "cgroups": {"mem": {"max": "64M"}, "pids": 10},
     "rlimits": {"nofile": 32}, "seccomp": {"default": "SCMP_ACT_ALLOW"},
     "commands": {"uid": "ls", "exec": {"cmdpath": "/bin/ls"}}},
]}
BAD = {"metadata": {"uid": "bad", "api": "bad"}, "sandbox": {}, "sandboxes": {"uid": "s", "commands": {
    "uid": "c", "exec": {"cmdpath": "/nonexistent"}}}}


def test_check_valid_config_prints_summary(tmp_path: Path) -> None:
    done = run("check", "--unprivileged", write(tmp_path, "good.json", GOOD))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{tmp_path}/good.json: api 'good' OK"
    assert "    verb good/plain/echo -> /bin/echo [sync]" in lines
    assert "    verb good/exec -> * [*]" in lines
    assert "    ! cgroups: needs a binder running as root" in lines
    assert "    + rlimits: NOFILE=32:32" in lines


def test_check_json_reports_features(tmp_path: Path) -> None:
    as_root = copy.deepcopy(GOOD)
    for sandbox in as_root["sandboxes"]:
        sandbox["acls"] = {"user": "root"}
    done = run("check", "--json", "--privileged", write(tmp_path, "good.json", as_root))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    boxed = report["apis"][0]["sandboxes"][1]
    assert [v["verb"] for v in boxed["verbs"]] == ["good/boxed/ls", "good/exec"]
    names = {f["name"]: f for f in boxed["features"]}
    assert set(names) == {"environment", "identity", "cgroups", "seccomp", "rlimits"}
    assert names["seccomp"] == {"name": "seccomp", "applied": True, "detail": "default SCMP_ACT_ALLOW, 0 rules"}


def test_check_broken_config_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    good = write(tmp_path, "good.json", GOOD)
    bad = write(tmp_path, "bad.json", BAD)
    done = run("check", "--unprivileged", good, bad)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"{bad}: /sandbox: unknown key 'sandbox' (hint: did you mean 'sandboxes'?)",
                                        f"{bad}: /sandboxes/commands/exec/cmdpath: '/nonexistent' does not exist",
                                        "2 problem(s) found"]
    done = run("check", "--json", "--unprivileged", bad)
    assert done.returncode == 1
    assert json.loads(done.stdout)["problems"][1] == {
        "file": bad, "path": "/sandboxes/commands/exec/cmdpath", "message": "'/nonexistent' does not exist", "hint": None}


def test_check_reads_afb_spawn_config(tmp_path: Path) -> None:
    write(tmp_path, "good.json", GOOD)
    done = run("check", "--unprivileged", env={"AFB_SPAWN_CONFIG": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and "api 'good' OK" in done.stdout


def test_schema_command_prints_a_valid_draft_2020_12_schema(tmp_path: Path) -> None:
    done = run("schema")
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert jsonschema.Draft202012Validator(schema).is_valid(GOOD)
    assert run("schema", "extra").returncode == 2


def test_cgroup_feature_names_missing_controllers() -> None:
    facts = hostfacts.HostFacts(root=True, cgroup2_mount="/sys/fs/cgroup/unified", controllers=frozenset({"hugetlb"}),
                                userns_blocker=None)
    feature = hostfacts._cgroups(model.Cgroups(mem_max="1M", pids_max="3"), facts)
    assert feature == hostfacts.Feature("cgroups", False,
                                        "controllers memory, pids missing from the cgroup2 mount /sys/fs/cgroup/unified")


def test_namespace_feature_reports_disabled_user_namespaces() -> None:
    facts = hostfacts.HostFacts(root=False, cgroup2_mount=None, controllers=frozenset(),
                                userns_blocker="user.max_user_namespaces is 0")
    sandbox = model.Sandbox(uid="s", namespace=model.Namespace())
    namespace = [f for f in hostfacts.features(sandbox, facts) if f.name == "namespace"]
    assert namespace == [hostfacts.Feature("namespace", False, "0 mounts (not root and user.max_user_namespaces is 0)")]


def test_cgroup2_mount_is_found_in_mountinfo(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text("31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
                    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n")
    assert hostfacts.cgroup2_mount(str(info)) == "/sys/fs/cgroup/unified"
    info.write_text("31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n")
    assert hostfacts.cgroup2_mount(str(info)) is None


def test_seccomp_feature_names_actions_the_kernel_lacks() -> None:
    facts = hostfacts.HostFacts(root=False, cgroup2_mount=None, controllers=frozenset(), userns_blocker=None,
                                seccomp_actions=frozenset({"kill_thread", "errno", "allow"}))
    seccomp = model.Seccomp(default="SCMP_ACT_ALLOW", rules=(model.SeccompRule("ptrace", "SCMP_ACT_LOG"),
                                                             model.SeccompRule("mount", "SCMP_ACT_ERRNO", 1)))
    assert hostfacts._seccomp(seccomp, facts) == hostfacts.Feature(
        "seccomp", False, "default SCMP_ACT_ALLOW, 2 rules (the kernel lacks SCMP_ACT_LOG)")
    assert hostfacts._seccomp(model.Seccomp(), facts).applied
