"""Hostile config documents (issue 14, "Why"): each crashed, hung or misled `check` and the
binder before the hardening. Now each is one-line errors naming file, JSON path and fix,
exit status 1, never a traceback — through the real `afb-spawn check` process.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from afbspawn.config.argsschema import SchemaRefError, first_error, resolve_refs


def command(**extra: Any) -> dict[str, Any]:
    return {"uid": "c", "exec": {"cmdpath": "/bin/echo", "args": ["%a%"]}, **extra}


def config(sandbox: dict[str, Any] | None = None, cmd: dict[str, Any] | None = None) -> dict[str, Any]:
    box = {"uid": "s", "acls": {"user": "nobody"}, "commands": [cmd or command()], **(sandbox or {})}
    return {"metadata": {"uid": "m", "api": "m", "version": "1"}, "sandboxes": [box]}


def nested_json(depth: int) -> str:
    return '{"metadata": {"uid": "m", "api": "m"}, "x": ' + "[" * depth + "]" * depth + "}"


ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 10)}]\n" for n in range(8)
) + "metadata: {uid: m, api: m, version: '1', info: *i}\n"

CASES = {
    "json-990-deep.json": (nested_json(990), "nested deeper"),
    "json-60000-deep.json": (nested_json(60000), "nested deeper"),
    "yaml-500-deep.yaml": ("metadata: {uid: m, api: m}\nx: " + "[" * 500 + "]" * 500 + "\n", "nested deeper"),
    "int-5000-digits.json": ('{"metadata": {"uid": "m", "api": "m", "version": "1"}, "x": ' + "9" * 5000 + "}",
                             "invalid number"),
    "int-5000-digits.yaml": ("metadata: {uid: m, api: m, version: '1'}\nx: " + "9" * 5000 + "\n", "invalid number"),
    "alias-bomb.yaml": (ALIAS_BOMB, "alias"),
    "user-1e308.json": (json.dumps(config({"acls": {"user": 1e308}})), "expected string or integer"),
    "group-1e308.json": (json.dumps(config({"acls": {"user": "nobody", "group": 1e308}})), "expected"),
    "rlimit-1e308.json": (json.dumps(config({"rlimits": {"nofile": 1e308}})), "expected"),
    "rlimit-2e64.json": (json.dumps(config({"rlimits": {"nofile": 2**65}})), "out of range"),
    "rlimit-huge-size.json": (json.dumps(config({"rlimits": {"as": "99999999999T"}})), "beyond what the kernel"),
    "uid-2e40.json": (json.dumps(config({"acls": {"user": 2**40}})), "maximum"),
    "timeout-1e308.json": (json.dumps(config(cmd=command(timeout=1e308))), "expected integer"),
    "nul-argv.json": (json.dumps(config(cmd=command(exec={"cmdpath": "/bin/echo", "args": ["a\u0000b"]}))), "NUL"),
    "nul-env.json": (json.dumps(config({"envs": [{"name": "X", "value": "a\u0000b"}]})), "NUL"),
    "nul-user.json": (json.dumps(config({"acls": {"user": "nobody\u0000root"}})), "NUL"),
    "ref-file.json": (json.dumps(config(cmd=command(args={"$ref": "file:///etc/passwd"}))), "within the schema"),
    "ref-self.json": (json.dumps(config(cmd=command(args={"$defs": {"a": {"$ref": "#/$defs/a"}},
                                                           "$ref": "#/$defs/a"}))), "refers to itself"),
    "hostname-300.json": (json.dumps(config({"namespace": {"opts": {"hostname": "h" * 300}}})), "hostname of 300"),
    "api-monitor.json": (json.dumps({**config(), "metadata": {"uid": "m", "api": "monitor"}}), "monitoring API"),
    "too-big.json": ('{"metadata": {"uid": "m", "api": "m"}, "x": "' + "y" * 1_100_000 + '"}', "larger than"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_refuses_in_one_line_each_without_traceback(tmp_path: Path, name: str) -> None:
    text, expected = CASES[name]
    (tmp_path / name).write_text(text)
    done = subprocess.run([sys.executable, "-m", "afbspawn", "check", "--privileged", str(tmp_path / name)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and expected in done.stderr, done.stderr[:2000]
    problems = [line for line in done.stderr.splitlines() if line.startswith(str(tmp_path))]
    assert problems and all(len(line) < 400 for line in problems)


def test_the_binder_refuses_what_check_refuses(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(ALIAS_BOMB)
    done = subprocess.run([sys.executable, "-m", "afbspawn", "--config", str(tmp_path / "bomb.yaml"), "-p", "0"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1 and "alias" in done.stderr and "Traceback" not in done.stderr


def test_local_refs_are_inlined_at_load_and_calls_need_no_resolution() -> None:
    schema = {"$defs": {"word": {"type": "string", "pattern": "[a-z]+"}},
              "type": "object", "properties": {"a": {"$ref": "#/$defs/word"}, "b": {"$ref": "#/properties/a"}}}
    resolved = resolve_refs(schema)
    assert "$ref" not in json.dumps(resolved)
    assert first_error(resolved, {"a": "ok", "b": "fine"}) is None
    assert "does not match" in (first_error(resolved, {"b": "NO"}) or "")
    with pytest.raises(SchemaRefError):
        resolve_refs({"$ref": "https://example.invalid/schema.json"})
    with pytest.raises(SchemaRefError):
        resolve_refs({"$defs": {"a": {"items": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"})
    bomb = {"$defs": {f"d{n}": {"anyOf": [{"$ref": f"#/$defs/d{n - 1}"}] * 10} for n in range(1, 8)}}
    bomb["$defs"]["d0"] = {"type": "string"}
    bomb["$ref"] = "#/$defs/d7"
    with pytest.raises(SchemaRefError, match="more than"):
        resolve_refs(bomb)


def test_a_remote_ref_left_in_a_schema_is_never_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text('{"type": "integer"}')
    reason = first_error({"properties": {"a": {"$ref": secret.as_uri()}}}, {"a": "text"})
    assert reason == "the command's args schema has an unresolved $ref"  # refused, the file never read
