"""A table of broken configs: each must fail with the exact JSON path and message.

Real files are written to a temporary directory and loaded through load_paths, as
the binder does. Checks that need "root" pass privileged=True; identity switches
are resolved against this host's real passwd/group databases.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from afbspawn.config.errors import ConfigError
from afbspawn.config.loader import load_paths

BASE: dict[str, Any] = {
    "metadata": {"uid": "t", "api": "t"},
    "sandboxes": [{"uid": "sb", "commands": [{"uid": "c", "exec": {"cmdpath": "/bin/echo", "args": ["hi"]}}]}],
}
SB = "/sandboxes/0"
CMD = SB + "/commands/0"


def sandbox(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["sandboxes"][0]


def command(doc: dict[str, Any]) -> dict[str, Any]:
    return sandbox(doc)["commands"][0]


def set_in(getter: Callable[[dict[str, Any]], dict[str, Any]], **values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: getter(doc).update({k.replace("__", "-"): v for k, v in values.items()})


def drop(getter: Callable[[dict[str, Any]], dict[str, Any]], key: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: getter(doc).pop(key)


def add_command(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: sandbox(doc)["commands"].append({"exec": {"cmdpath": "/bin/true"}, **fields})


def exec_args(*args: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: command(doc)["exec"].update(args=list(args))


def meta(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["metadata"]


def top(doc: dict[str, Any]) -> dict[str, Any]:
    return doc


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("no metadata", drop(top, "metadata"), "", "missing required key 'metadata'"),
    ("no api", drop(meta, "api"), "/metadata", "missing required key 'api'"),
    ("metadata strict", set_in(meta, bogus=1), "/metadata/bogus", "unknown key 'bogus'"),
    ("top-level typo", set_in(top, sandbox=[]), "/sandbox", "unknown key 'sandbox'"),
    ("sandboxes type", set_in(top, sandboxes="x"), "/sandboxes", "expected array, got string"),
    ("sandbox uid", drop(sandbox, "uid"), SB, "missing required key 'uid'"),
    ("sandbox typo", set_in(sandbox, comands=[]), SB + "/comands", "unknown key 'comands'"),
    ("command strict", set_in(command, onse=True), CMD + "/onse", "unknown key 'onse'"),
    ("no exec", drop(command, "exec"), CMD, "missing required key 'exec'"),
    ("no cmdpath", lambda d: command(d)["exec"].pop("cmdpath"), CMD + "/exec", "missing required key 'cmdpath'"),
    ("relative cmdpath", lambda d: command(d)["exec"].update(cmdpath="echo"), CMD + "/exec/cmdpath",
     "'echo' is not an absolute path"),
    ("missing cmdpath", lambda d: command(d)["exec"].update(cmdpath="/nonexistent/x"), CMD + "/exec/cmdpath",
     "'/nonexistent/x' does not exist"),
    ("not executable", lambda d: command(d)["exec"].update(cmdpath="/etc/passwd"), CMD + "/exec/cmdpath",
     "'/etc/passwd' is not an executable file"),
    ("directory cmdpath", lambda d: command(d)["exec"].update(cmdpath="/usr"), CMD + "/exec/cmdpath",
     "'/usr' is not an executable file"),
    ("timeout type", set_in(command, timeout="3"), CMD + "/timeout", "expected integer, got string"),
    ("timeout negative", set_in(command, timeout=-1), CMD + "/timeout", "-1 is less than the minimum of 0"),
    ("encoder name", set_in(command, encoder="texte"), CMD + "/encoder", 'invalid value "texte"'),
    ("encoder object", set_in(command, encoder={"plugin": "p"}), CMD + "/encoder", "missing required key 'output'"),
    ("arg object", exec_args({"a": 1}), CMD + "/exec/args/0", "expected string or number or boolean, got object"),
    ("lone percent", exec_args("-n", "50%"), CMD + "/exec/args/1",
     "'%' at offset 2 does not form a %name% placeholder"),
    ("lone question", exec_args("http://x/?a=1"), CMD + "/exec/args/0",
     "'?' at offset 9 does not form a ?name? placeholder"),
    ("unknown variable", exec_args("$NOPE_NOT_SET"), CMD + "/exec/args/0", "unknown variable $NOPE_NOT_SET"),
    ("shell dollar", exec_args("-c", "awk '{print $1}'"), CMD + "/exec/args/1",
     "'$' does not start a variable reference"),
    ("unknown variable cmdpath", lambda d: command(d)["exec"].update(cmdpath="${NOPE_NOT_SET}/x"),
     CMD + "/exec/cmdpath", "unknown variable $NOPE_NOT_SET"),
    ("alias twice", set_in(command, single=True, once=True), CMD + "/once",
     "'once' is an alias of 'single': give only one"),
    ("duplicate verb", add_command(uid="c"), SB + "/commands/1/uid",
     "verb 'c' is already declared by the command at /sandboxes/0/commands/0"),
    ("builtin verb", add_command(uid="ping"), SB + "/commands/1/uid", "verb 'ping' is already declared by the builtin verb"),
    ("sandbox uid twice", lambda d: d["sandboxes"].append({"uid": "SB", "prefix": "x"}), "/sandboxes/1/uid",
     "sandbox uid 'sb' is already declared by the sandbox at /sandboxes/0"),
    ("extra verb", set_in(top, extra=[{"uid": "c", "action": "api://x#y"}]), "/extra/0/uid",
     "verb 'c' is already declared by the command at /sandboxes/0/commands/0"),
    ("action uri", set_in(top, onload={"uid": "a", "action": "http://x"}), "/onload/action", 'invalid value "http://x"'),
    ("acls strict", set_in(sandbox, acls={"label": "x"}), SB + "/acls/label", "unknown key 'label'"),
    ("unknown user", set_in(sandbox, acls={"user": "no-such-user-x"}), SB + "/acls/user",
     "unknown user 'no-such-user-x'"),
    ("unknown group", set_in(sandbox, acls={"group": "no-such-group-x"}), SB + "/acls/group",
     "unknown group 'no-such-group-x'"),
    ("runmod", set_in(sandbox, acls={"runmod": "boss"}), SB + "/acls/runmod",
     "unknown runmod 'boss' (expected one of default, user, admin)"),
    ("runmod admin", set_in(sandbox, acls={"runmod": "ADMIN"}), SB + "/acls/runmod",
     "runmod 'admin' requires a binder running as root"),
    ("switch user", set_in(sandbox, acls={"user": "nobody"}), SB + "/acls/user",
     "changing user requires a binder running as root"),
    ("umask", set_in(sandbox, acls={"umask": "999"}), SB + "/acls/umask", 'invalid value "999"'),
    ("env mode", set_in(sandbox, envs=[{"name": "A", "mode": "sett"}]), SB + "/envs/0/mode",
     "unknown env mode 'sett' (expected one of set, unset, inherit)"),
    ("env star", set_in(sandbox, envs={"name": "*"}), SB + "/envs/name", "'*' is only valid with mode 'inherit'"),
    ("env strict", set_in(sandbox, envs={"name": "A", "val": "1"}), SB + "/envs/val", "unknown key 'val'"),
    ("cap name", set_in(sandbox, caps=[{"cap": "KILLL", "mode": "set"}]), SB + "/caps/0/cap",
     "unknown capability 'KILLL'"),
    ("cap mode missing", set_in(sandbox, caps={"cap": "KILL"}), SB + "/caps", "missing required key 'mode'"),
    ("cap mode", set_in(sandbox, caps={"cap": "KILL", "mode": "on"}), SB + "/caps/mode",
     "unknown cap mode 'on' (expected one of set, unset)"),
    ("cgroups mem", set_in(sandbox, cgroups={"mem": {"hi": "1M"}}), SB + "/cgroups/mem/hi", "unknown key 'hi'"),
    ("cgroups alias", set_in(sandbox, cgroups={}, cgroup={}), SB + "/cgroup",
     "'cgroup' is an alias of 'cgroups': give only one"),
    ("high alias", set_in(sandbox, cgroups={"mem": {"high": "1M", "hight": "2M"}}), SB + "/cgroups/mem/hight",
     "'hight' is an alias of 'high': give only one"),
    ("seccomp exclusive", set_in(sandbox, seccomp={"rules": [], "rulespath": "/x"}), SB + "/seccomp/rulespath",
     "'rules' and 'rulespath' are exclusive"),
    ("syscall", set_in(sandbox, seccomp={"rules": [{"syscall": "reed", "action": "SCMP_ACT_KILL"}]}),
     SB + "/seccomp/rules/0/syscall", "unknown syscall 'reed' (libseccomp does not know it)"),
    ("seccomp action", set_in(sandbox, seccomp={"rules": {"syscall": "read", "action": "KILL"}}),
     SB + "/seccomp/rules/action", ("unknown seccomp action 'KILL' (expected one of SCMP_ACT_KILL_PROCESS, "
     "SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL, SCMP_ACT_TRAP, SCMP_ACT_LOG, SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_NOTIFY)")),
    ("errno on allow", set_in(sandbox, seccomp={"rules": {"syscall": "read", "action": "SCMP_ACT_ALLOW", "errno": 1}}),
     SB + "/seccomp/rules/action", "'errno' only applies to SCMP_ACT_ERRNO, not SCMP_ACT_ALLOW"),
    ("errno range", set_in(sandbox, seccomp={"default": "SCMP_ACT_ERRNO(5000)"}), SB + "/seccomp/default",
     "errno 5000 is out of range 0..4095"),
    ("rulespath", set_in(sandbox, seccomp={"rulespath": "/nonexistent.bpf"}), SB + "/seccomp/rulespath",
     "cannot read BPF file '/nonexistent.bpf': No such file or directory"),
    ("share flag", set_in(sandbox, namespace={"shares": {"net": "yes"}}), SB + "/namespace/shares/net",
     "unknown share flag 'yes' (expected one of default, enable, disable)"),
    ("shares strict", set_in(sandbox, namespace={"shares": {"network": "enable"}}), SB + "/namespace/shares/network",
     "unknown key 'network'"),
    ("mount mode", set_in(sandbox, namespace={"mounts": [{"target": "/x", "mode": "bind"}]}),
     SB + "/namespace/mounts/0/mode", ("unknown mount mode 'bind' (expected one of ro, read, rw, write, anonymous, "
     "dir, symlink, execfd, tmpfs, procfs, proc, devfs, dev, mqueue, lock)")),
    ("mount source", set_in(sandbox, namespace={"mounts": {"target": "/x", "source": "/nonexistent", "mode": "ro"}}),
     SB + "/namespace/mounts/source", "mount source '/nonexistent' does not exist"),
    ("mount target", set_in(sandbox, namespace={"mounts": {"target": "tmp", "mode": "tmpfs"}}),
     SB + "/namespace/mounts/target", "mount target 'tmp' is not an absolute path"),
    ("execfd", set_in(sandbox, namespace={"mounts": {"target": "/f", "source": "echo boom >&2; exit 3", "mode": "execfd"}}),
     SB + "/namespace/mounts/source", "execfd command exited with status 3: boom"),
    ("symlink source", set_in(sandbox, namespace={"mounts": {"target": "/bin", "mode": "symlink"}}),
     SB + "/namespace/mounts", "mode 'symlink' requires a source"),
    ("rlimit name", set_in(sandbox, rlimits={"nofiles": 3}), SB + "/rlimits", "unknown name 'nofiles'"),
    ("rlimit order", set_in(sandbox, rlimits={"nofile": [20, 10]}), SB + "/rlimits/nofile",
     "soft limit 20 is above the hard limit 10"),
    ("rlimit size", set_in(sandbox, rlimits={"as": "12X"}), SB + "/rlimits/as", 'invalid value "12X"'),
    ("exec-verb type", set_in(sandbox, exec__verb="yes"), SB + "/exec-verb", "expected boolean, got string"),
    ("args schema", set_in(command, args={"type": "strin"}), CMD + "/args/type",
     "not a valid JSON Schema: 'strin' is not valid under any of the given schemas"),
    ("args pattern", set_in(command, args={"properties": {"a": {"pattern": "(["}}}), CMD + "/args/properties/a/pattern",
     "not a valid JSON Schema: '([' is not a 'regex'"),
    ("prefix", set_in(sandbox, prefix="a b"), SB + "/prefix", 'invalid value "a b"'),
    ("verbose", set_in(sandbox, verbose=99), SB + "/verbose", "99 is greater than the maximum of 9"),
    ("stop signal", set_in(command, stop="SIGNOPE"), CMD + "/stop", "unknown signal 'SIGNOPE'"),
    ("single and maxtasks", set_in(command, single=True, maxtasks=3), CMD + "/maxtasks",
     "'single' means maxtasks 1, not 3"),
    ("queue without limit", set_in(command, queue=2), CMD + "/queue", "a queue needs a limit to wait for"),
    ("env pattern", set_in(command, env={"LANG": "(["}), CMD + "/env/LANG",
     "invalid pattern: unterminated character set at position 1"),
    ("env name", set_in(command, env={"1X": True}), CMD + "/env", 'invalid value "1X"'),
    ("history key", set_in(command, history={"line": 5}), CMD + "/history/line", "unknown key 'line'"),
    ("grace", set_in(sandbox, grace=-1), SB + "/grace", "-1 is less than the minimum of 0"),
    ("builtin tasks", set_in(command, uid="tasks"), CMD + "/uid", "verb 'tasks' is already declared by the builtin verb"),
]


def load_broken(tmp_path: Any, mutate: Callable[[dict[str, Any]], None], privileged: bool = False) -> ConfigError:
    doc = copy.deepcopy(BASE)
    mutate(doc)
    file = tmp_path / "broken.json"
    file.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as caught:
        load_paths([str(file)], environ={}, privileged=privileged)
    return caught.value


@pytest.mark.parametrize("mutate,path,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_config_names_path_and_message(tmp_path: Any, mutate: Any, path: str, message: str) -> None:
    error = load_broken(tmp_path, mutate)
    found = [(p.path, p.message) for p in error.problems]
    assert found == [(path, message)]
    assert all(p.file == str(tmp_path / "broken.json") for p in error.problems)


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 40


def test_root_binder_requires_acls_user(tmp_path: Any) -> None:
    error = load_broken(tmp_path, lambda d: None, privileged=True)
    assert [(p.path, p.message) for p in error.problems] == [
        (SB, "a binder running as root requires acls.user on every sandbox")]


def test_root_binder_requires_user_inside_acls(tmp_path: Any) -> None:
    error = load_broken(tmp_path, set_in(sandbox, acls={"umask": "027"}), privileged=True)
    assert [(p.path, p.message) for p in error.problems] == [(SB + "/acls", "a binder running as root requires acls.user")]


def test_runmod_user_refused_for_root(tmp_path: Any) -> None:
    error = load_broken(tmp_path, set_in(sandbox, acls={"user": "root", "runmod": "user"}), privileged=True)
    assert [(p.path, p.message) for p in error.problems] == [(SB + "/acls/runmod", "runmod 'user' forbids a binder running as root")]


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Any) -> None:
    def many(doc: dict[str, Any]) -> None:
        command(doc)["exec"]["cmdpath"] = "/nonexistent/x"
        sandbox(doc)["caps"] = {"cap": "NOPE", "mode": "set"}
        add_command(uid="c")(doc)

    error = load_broken(tmp_path, many)
    assert [p.path for p in error.problems] == [SB + "/caps/cap", CMD + "/exec/cmdpath", SB + "/commands/1/uid"]
    text = str(error)
    assert text.count(str(tmp_path / "broken.json")) == 3


def test_hint_suggests_the_close_key(tmp_path: Any) -> None:
    error = load_broken(tmp_path, set_in(top, sandbox=[]))
    assert error.problems[0].hint == "did you mean 'sandboxes'?"
    assert str(error).endswith("/sandbox: unknown key 'sandbox' (hint: did you mean 'sandboxes'?)")


def test_schema_and_semantic_problems_are_reported_together(tmp_path: Any) -> None:
    def mixed(doc: dict[str, Any]) -> None:
        doc["sandboxs"] = []  # schema: unknown top-level key
        command(doc)["exec"]["cmdpath"] = "/nonexistent/x"  # semantic, in a well-formed command
        add_command(uid="bad", timeout="1")(doc)  # schema fault: this command is skipped
        doc["sandboxes"].append({"uid": "other", "acls": {"label": 1}, "caps": {"cap": "NOPE", "mode": "set"}})

    error = load_broken(tmp_path, mixed)
    assert [(p.path, p.message) for p in error.problems] == [
        ("/sandboxes/0/commands/1/timeout", "expected integer, got string"),
        ("/sandboxes/1/acls/label", "unknown key 'label'"),
        ("/sandboxs", "unknown key 'sandboxs'"),
        ("/sandboxes/0/commands/0/exec/cmdpath", "'/nonexistent/x' does not exist"),
    ]


def test_broken_metadata_stops_before_semantic_checks(tmp_path: Any) -> None:
    def no_api(doc: dict[str, Any]) -> None:
        del doc["metadata"]["api"]
        command(doc)["exec"]["cmdpath"] = "/nonexistent/x"

    error = load_broken(tmp_path, no_api)
    assert [(p.path, p.message) for p in error.problems] == [("/metadata", "missing required key 'api'")]
