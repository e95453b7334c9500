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


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "afbspawn", *args], capture_output=True, text=True, env=env, check=False)


def write(tmp_path: Path, name: str, doc: dict[str, Any]) -> str:
    (tmp_path / name).write_text(json.dumps(doc))
    return str(tmp_path / name)


GOOD = {"metadata": {"uid": "good", "api": "good"}, "sandboxes": [
    {"uid": "plain", "commands": [{"uid": "echo", "exec": {"cmdpath": "/bin/echo"}, "encoder": "sync"}]},
    {"uid": "boxed", "exec-verb": True,
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
    assert "    + rlimits: rlimit NOFILE soft=32 hard=32" in lines
    assert any(line.startswith("    + seccomp: seccomp filter: ") for line in lines), lines


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
    assert set(names) == {"containment", "identity", "capabilities", "seccomp", "rlimits", "environment"}
    assert names["seccomp"]["detail"].startswith("seccomp filter: ") and "default SCMP_ACT_ALLOW, rules none" in \
        names["seccomp"]["detail"]
    assert names["capabilities"]["detail"] == "capability bounding set: the binder's, already " + \
        names["capabilities"]["detail"].rsplit(" ", 1)[1]  # root task, no caps: it keeps the binder's


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
