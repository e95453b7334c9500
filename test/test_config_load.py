"""Loading configs: the C project's reference configs, file forms, aliases, prefixes,
new keys, and the compiled model's resolved values."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from afbspawn.config import model
from afbspawn.config.argv import build_argv
from afbspawn.config.compiler import compile_command
from afbspawn.config.errors import ConfigError
from afbspawn.config.loader import load_paths

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "spawn-binding-c"
REFERENCE_CONFIGS = sorted(REFERENCE.glob("*/test-*.json")) if REFERENCE.is_dir() else []


def write(tmp_path: Path, doc: dict[str, Any], name: str = "api.json") -> str:
    file = tmp_path / name
    file.write_text(yaml.safe_dump(doc) if name.endswith((".yaml", ".yml")) else json.dumps(doc))
    return str(file)


def config(api: str = "t", sandboxes: Any = None, **top: Any) -> dict[str, Any]:
    if sandboxes is None:
        sandboxes = {"uid": "sb", "commands": [{"uid": "c", "exec": {"cmdpath": "/bin/echo"}}]}
    return {"metadata": {"uid": api, "api": api}, "sandboxes": sandboxes, **top}


def load_one(tmp_path: Path, doc: dict[str, Any], **kwargs: Any) -> model.Api:
    kwargs.setdefault("environ", {})
    kwargs.setdefault("privileged", False)
    (api,) = load_paths([write(tmp_path, doc)], **kwargs)
    return api


@pytest.mark.skipif(not REFERENCE_CONFIGS, reason=f"C reference configs not found under {REFERENCE}")
@pytest.mark.parametrize("path", REFERENCE_CONFIGS, ids=lambda p: p.name)
def test_reference_config_loads(path: Path) -> None:
    (api,) = load_paths([str(path)], environ={"DIRTOLIST": str(path.parent)}, privileged=False)
    original = json.loads(path.read_text())
    commands = original["sandboxes"]["commands"]
    assert api.name == original["metadata"]["api"]
    assert [c.verb for _, c in api.commands] == [c["uid"] for c in commands]  # one sandbox object: no prefix
    for (_, compiled), raw in zip(api.commands, commands):
        assert compiled.encoder.name == raw.get("encoder", "text")
        assert compiled.timeout == raw.get("timeout")
        literal = ["".join(t.parts) for t in compiled.args]  # type: ignore[arg-type]
        assert literal == [a.replace("${DIRTOLIST}", str(path.parent)) for a in raw["exec"]["args"]]


SAMPLES = sorted((Path(__file__).resolve().parents[1] / "conf.d").glob("*.y*ml")) + sorted(
    (Path(__file__).resolve().parents[1] / "conf.d").glob("*.json"))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_shipped_samples_load(path: Path) -> None:
    """The samples are written for a root binder (as `make run` is in CI): acls.user on every sandbox."""
    (api,) = load_paths([str(path)], environ={"HOME": "/root"}, privileged=True)
    assert api.commands, "a sample declares at least one command"


def test_dirtolist_must_be_set_for_reference_configs(tmp_path: Path) -> None:
    doc = config(sandboxes={"uid": "s", "commands": {"uid": "c", "exec": {"cmdpath": "/bin/sh", "args": ["-c", "ls ${DIRTOLIST}"]}}})
    with pytest.raises(ConfigError) as caught:
        load_one(tmp_path, doc)
    assert caught.value.problems[0].path == "/sandboxes/commands/exec/args/1"
    assert caught.value.problems[0].message == "unknown variable $DIRTOLIST"


def test_yaml_and_json_give_the_same_model(tmp_path: Path) -> None:
    doc = config()
    from_json = load_paths([write(tmp_path, doc)], environ={}, privileged=False)[0]
    from_yaml = load_paths([write(tmp_path, doc, "api.yaml")], environ={}, privileged=False)[0]
    assert from_json.commands == from_yaml.commands and from_json.metadata == from_yaml.metadata


def test_directory_is_loaded_sorted_and_ignores_other_files(tmp_path: Path) -> None:
    write(tmp_path, config("b"), "2.yml")
    write(tmp_path, config("a"), "1.json")
    (tmp_path / "notes.txt").write_text("not a config")
    apis = load_paths([str(tmp_path)], environ={}, privileged=False)
    assert [a.name for a in apis] == ["a", "b"]


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no \\*.json, \\*.yaml or \\*.yml config file"):
        load_paths([str(tmp_path)], environ={}, privileged=False)


def test_afb_spawn_config_is_expanded_from_environ(tmp_path: Path) -> None:
    write(tmp_path, config("fromenv"))
    apis = load_paths([], environ={"AFB_SPAWN_CONFIG": "$CONFDIR/api.json", "CONFDIR": str(tmp_path)}, privileged=False)
    assert [a.name for a in apis] == ["fromenv"]
    assert load_paths([], environ={}, privileged=False) == ()


def test_same_api_in_two_files_names_both(tmp_path: Path) -> None:
    first = write(tmp_path, config("same"), "a.json")
    second = write(tmp_path, config("same"), "b.json")
    with pytest.raises(ConfigError) as caught:
        load_paths([first, second], environ={}, privileged=False)
    (problem,) = caught.value.problems
    assert (problem.file, problem.path) == (second, "/metadata/api")
    assert problem.message == f"API 'same' is already declared by {first}"


@pytest.mark.parametrize("name,content,message", [
    ("api.txt", "{}", "unsupported file type"),
    ("api.json", '{"metadata": ', "invalid JSON at line 1 column 14: Expecting value"),
    ("api.yaml", "- a\n- b\n", "the config must be an object (mapping) with a 'metadata' key"),
    ("api.yaml", "a: [", "invalid YAML"),
    ("api.json", '{"metadata": "\\ud800"}', "the config contains invalid Unicode"),
])
def test_unreadable_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_paths([str(tmp_path / name)], environ={}, privileged=False)
    assert caught.value.problems[0].path == ""
    assert caught.value.problems[0].message.startswith(message)


@pytest.mark.parametrize("name,content", [
    ("api.json", '{"metadata": {"uid": "a", "api": "a", "uid": "b"}, "sandboxes": [{"uid": "s", "uid": "t"}]}'),
    ("api.yaml", "metadata: {uid: a, api: a, uid: b}\nsandboxes:\n  - uid: s\n    uid: t\n"),
])
def test_duplicate_keys_are_reported(tmp_path: Path, name: str, content: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_paths([str(tmp_path / name)], environ={}, privileged=False)
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("/metadata/uid", "key 'uid' is given more than once"), ("/sandboxes/0/uid", "key 'uid' is given more than once")]


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text("base: &b {uid: a, api: a}\nmetadata:\n  <<: *b\n  api: merged\n")
    with pytest.raises(ConfigError) as caught:  # `base` is an unknown top-level key; nothing else is wrong
        load_paths([str(tmp_path / "api.yaml")], environ={}, privileged=False)
    assert [p.path for p in caught.value.problems] == ["/base"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read: No such file or directory"):
        load_paths([str(tmp_path / "absent.json")], environ={}, privileged=False)


def test_prefix_rules(tmp_path: Path) -> None:
    cmd = {"uid": "c", "exec": {"cmdpath": "/bin/true"}}
    single_array = load_one(tmp_path, config(sandboxes=[{"uid": "one", "commands": [cmd]}]))
    assert [c.verb for _, c in single_array.commands] == ["c"]
    many = load_one(tmp_path, config(sandboxes=[
        {"uid": "one", "commands": cmd}, {"uid": "two", "commands": cmd},
        {"uid": "three", "prefix": "admin", "commands": cmd}, {"uid": "four", "prefix": "", "commands": cmd}]))
    assert [c.verb for _, c in many.commands] == ["one/c", "two/c", "admin/c", "c"]
    explicit = load_one(tmp_path, config(sandboxes={"uid": "one", "prefix": "p", "commands": cmd}))
    assert explicit.commands[0][1].verb == "p/c"


def test_aliases_are_equivalent(tmp_path: Path) -> None:
    def doc(**keys: Any) -> dict[str, Any]:
        return config(sandboxes={"uid": "s", "commands": {"uid": "c", "exec": {"cmdpath": "/bin/true"}, **keys}})

    assert load_one(tmp_path, doc(once=True)).commands[0][1].single
    assert load_one(tmp_path, doc(samples=[{"a": 1}])).commands[0][1].sample == [{"a": 1}]
    modes = {"read": "ro", "write": "rw", "anonymous": "dir", "dir": "dir", "devfs": "dev", "dev": "dev",
             "procfs": "proc", "proc": "proc", "LOCK": "lock"}
    mounts = [{"target": f"/m{i}", "source": "/tmp", "mode": m} for i, m in enumerate(modes)]
    api = load_one(tmp_path, config(sandboxes={"uid": "s", "namespace": {"mounts": mounts, "shares": {"cgroup": "Disable"}},
                                               "cgroup": {"mem": {"hight": "1M"}}}))
    sandbox = api.sandboxes[0]
    assert [m.mode.value for m in sandbox.namespace.mounts] == list(modes.values())  # type: ignore[union-attr]
    assert sandbox.namespace.shares.cgroups is model.Share.DISABLE  # type: ignore[union-attr]
    assert sandbox.cgroups == model.Cgroups(mem_high="1M")


def test_sandbox_model_resolves_names(tmp_path: Path) -> None:
    sandbox_node = {
        "uid": "full", "privilege": "urn:x", "verbose": 2, "exec-verb": True,
        "acls": {"umask": "027", "chdir": "/var/$SANDBOX_UID", "timeout": 7, "path": "/bin", "runmod": "Default"},
        "envs": [{"name": "A", "value": "$API_NAME-$SANDBOX_UID"}, {"name": "B", "mode": "unset"},
                 {"name": "KEEP", "mode": "inherit"}, {"name": "ABSENT", "mode": "inherit"}, {"name": "N", "value": 3}],
        "caps": [{"cap": "net_admin", "mode": "set"}, {"cap": "CAP_KILL", "mode": "UNSET"}],
        "cgroups": {"cset": "0", "mem": {"max": "64M"}, "cpu": {"weight": 50}, "pids": 32, "io": "8:0 rbps=1"},
        "seccomp": {"default": "SCMP_ACT_ERRNO(EACCES)", "locked": True,
                    "rules": [{"syscall": "ptrace", "action": "scmp_act_kill"},
                              {"syscall": "mount", "action": "SCMP_ACT_ERRNO", "errno": 13},
                              {"syscall": "umount2", "action": "SCMP_ACT_ERRNO"}]},
        "rlimits": {"nofile": 64, "as": "512M", "cpu": [10, 20], "core": "unlimited"},
        "commands": {"uid": "c", "exec": {"cmdpath": "/bin/echo", "args": ["$COMMAND_UID", 42, True]}, "timeout": 0},
    }
    api = load_one(tmp_path, config(sandboxes=sandbox_node), environ={"KEEP": "kept"})
    sandbox = api.sandboxes[0]
    assert sandbox.identity == model.Identity(umask=0o027, chdir="/var/full")
    assert sandbox.environment.settings == (
        model.EnvSetting("A", model.EnvMode.SET, "t-full"), model.EnvSetting("B", model.EnvMode.UNSET),
        model.EnvSetting("KEEP", model.EnvMode.SET, "kept"), model.EnvSetting("N", model.EnvMode.SET, "3"))
    assert sandbox.environment.path == "/bin" and not sandbox.environment.inherit
    assert sandbox.caps == (model.Capability("NET_ADMIN", 12, model.CapMode.SET),
                            model.Capability("KILL", 5, model.CapMode.UNSET))
    assert sandbox.cgroups == model.Cgroups(cpuset="0", mem_max="64M", cpu_weight="50", pids_max="32", io_max="8:0 rbps=1")
    assert sandbox.seccomp == model.Seccomp(default="SCMP_ACT_ERRNO", default_errno=13, locked=True, rules=(
        model.SeccompRule("ptrace", "SCMP_ACT_KILL"), model.SeccompRule("mount", "SCMP_ACT_ERRNO", 13),
        model.SeccompRule("umount2", "SCMP_ACT_ERRNO", 1)))
    assert sandbox.rlimits == (model.Rlimit("NOFILE", 64, 64), model.Rlimit("AS", 512 << 20, 512 << 20),
                               model.Rlimit("CPU", 10, 20), model.Rlimit("CORE", -1, -1))
    assert sandbox.allow_exec and sandbox.timeout == 7
    command = api.commands[0][1]
    assert ["".join(t.parts) for t in command.args] == ["c", "42", "true"]  # type: ignore[arg-type]
    assert (command.timeout, command.privilege, command.verbose) == (7, "urn:x", 2)


def test_inherit_whole_environment(tmp_path: Path) -> None:
    api = load_one(tmp_path, config(sandboxes={"uid": "s", "envs": {"name": "*", "mode": "inherit"}}))
    assert api.sandboxes[0].environment.inherit


def test_root_identity_with_explicit_root(tmp_path: Path) -> None:
    api = load_one(tmp_path, config(sandboxes={"uid": "s", "acls": {"user": "root", "group": 0}}), privileged=True)
    assert api.sandboxes[0].identity == model.Identity(uid=0, gid=0, user="root", home="/root")


def test_privileged_identity_switch(tmp_path: Path) -> None:
    api = load_one(tmp_path, config(sandboxes={"uid": "s", "acls": {"user": "nobody", "group": "nogroup"}}), privileged=True)
    identity = api.sandboxes[0].identity
    assert (identity.user, identity.uid, identity.gid) == ("nobody", 65534, 65534)


def test_autocreate_mount_source_is_0755_whatever_the_umask(tmp_path: Path) -> None:
    source = tmp_path / "made" / "$SANDBOX_UID"
    old = os.umask(0o077)
    try:
        load_one(tmp_path, config(sandboxes={"uid": "sbx", "namespace": {
            "opts": {"autocreate": True}, "mounts": {"target": "/home", "source": str(source), "mode": "rw"}}}))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "made" / "sbx").st_mode) == 0o755


def test_execfd_content_is_captured_at_load(tmp_path: Path) -> None:
    api = load_one(tmp_path, config(sandboxes={"uid": "sbx", "namespace": {
        "mounts": {"target": "/etc/who", "source": "echo $SANDBOX_UID $$HOME_UNSET_IN_SH", "mode": "execfd"}}}))
    mount = api.sandboxes[0].namespace.mounts[0]  # type: ignore[union-attr]
    assert mount.mode is model.MountMode.EXECFD and mount.content == b"sbx\n"


def test_actions_and_plugins(tmp_path: Path) -> None:
    api = load_one(tmp_path, config(
        plugins={"uid": "ctl", "spath": "./lib", "libs": ["x.so"]},
        onload={"uid": "init", "action": "plugin://ctl#start"},
        onstart=[{"uid": "go", "action": "api://monitor#subscribe", "args": {"event": "x"}}],
        extra={"uid": "hello", "action": "api://t#ping", "privileges": "urn:p"},
        events=[{"uid": "monitor/disconnected", "action": "api://t#c"}]))
    assert [a.uid for a in api.onload] == ["init", "go"]
    assert (api.onload[1].scheme, api.onload[1].target, api.onload[1].name) == ("api", "monitor", "subscribe")
    assert api.extra[0].privilege == "urn:p" and api.events[0].uid == "monitor/disconnected"
    assert api.plugins == (model.Plugin("ctl", "ctl"),)


def test_comment_keys_are_accepted(tmp_path: Path) -> None:
    doc = config(_comment="top")
    doc["sandboxes"]["_note"] = "sandbox comment"
    assert load_one(tmp_path, doc).name == "t"


def test_no_sandboxes_gives_an_api_without_commands(tmp_path: Path) -> None:
    doc = config()
    del doc["sandboxes"]
    api = load_one(tmp_path, doc)
    assert api.sandboxes == () and api.commands == ()


def test_exec_verb_command_is_compiled_within_a_sandbox(tmp_path: Path) -> None:
    api = load_one(tmp_path, config(sandboxes={"uid": "sb", "prefix": "p", "acls": {"timeout": 4}, "exec-verb": True}))
    sandbox = api.sandboxes[0]
    command = compile_command({"uid": "dynamic", "exec": {"cmdpath": "/bin/echo", "args": ["$SANDBOX_UID", "%x%"]}},
                              sandbox, api.name, environ={})
    assert (command.verb, command.timeout, command.encoder.name) == ("p/dynamic", 4, "text")
    assert build_argv(command, {"x": "y"}) == ["dynamic", "sb", "y"]
    with pytest.raises(ConfigError) as caught:
        compile_command({"uid": "d", "exec": {"cmdpath": "/nonexistent"}, "bogus": 1}, sandbox, api.name, environ={})
    assert [(p.file, p.path, p.message) for p in caught.value.problems] == [("exec", "/bogus", "unknown key 'bogus'")]
    with pytest.raises(ConfigError) as caught:
        compile_command({"uid": "d", "exec": {"cmdpath": "/nonexistent"}}, sandbox, api.name, environ={})
    assert [(p.path, p.message) for p in caught.value.problems] == [("/exec/cmdpath", "'/nonexistent' does not exist")]


def test_config_named_without_extension(tmp_path: Path) -> None:
    """The systemd unit passes /etc/afb-spawn/INSTANCE: the one INSTANCE.{json,yaml,yml} is loaded."""
    write(tmp_path, config("vpn"), "vpn.json")
    apis = load_paths([str(tmp_path / "vpn")], environ={}, privileged=False)
    assert [a.name for a in apis] == ["vpn"]


def test_config_name_matching_none_or_several(tmp_path: Path) -> None:
    write(tmp_path, config("one"), "twice.json")
    write(tmp_path, config("two"), "twice.yaml")
    with pytest.raises(ConfigError) as caught:
        load_paths([str(tmp_path / "twice"), str(tmp_path / "none")], environ={}, privileged=False)
    several, missing = caught.value.problems
    assert several.message.startswith("several configs have this name: ")
    assert (missing.file, missing.message) == (str(tmp_path / "none"),
                                               "no such config file or directory, nor with .json, .yaml or .yml")
