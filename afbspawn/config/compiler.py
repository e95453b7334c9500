"""Compiles one validated config document into a model.Api: verbs, prefixes,
commands with their argv templates, actions, plugins. Sandbox internals are
compiled by afbspawn.config.sandboxes.
"""
from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from typing import Any

from afbspawn.config import model, taskkeys
from afbspawn.config.argsschema import (
    InvalidArgsSchema,
    SchemaRefError,
    check_args_schema,
    resolve_refs,
)
from afbspawn.config.collector import Collector, Path, alias, items
from afbspawn.config.errors import pointer
from afbspawn.config.sandboxes import SandboxCompiler
from afbspawn.config.templates import TemplateError, parse_template
from afbspawn.config.validation import SchemaFaults, validate
from afbspawn.config.variables import Expander, ExpansionError

BUILTIN_VERBS = ("ping", "info", "exec", "tasks")


def compile_api(doc: dict[str, Any], problems: Collector, environ: Mapping[str, str], privileged: bool,
                faults: SchemaFaults) -> model.Api:
    """The Api of a document; parts with schema `faults` are skipped; problems are collected, not raised."""
    meta = doc["metadata"]
    metadata = model.Metadata(
        uid=meta["uid"], api=meta["api"], info=meta.get("info"), version=meta.get("version"),
        author=meta.get("author"), date=meta.get("date"), require=_strings(meta.get("require")),
    )
    expander = Expander(environ, {"API_NAME": metadata.api})
    sandbox_nodes = list(items(doc.get("sandboxes"), ("sandboxes",)))
    multiple = isinstance(doc.get("sandboxes"), list) and len(sandbox_nodes) > 1
    sandboxes: list[model.Sandbox] = []
    commands: list[tuple[model.Sandbox, model.Command]] = []
    owners = {verb: "builtin verb" for verb in BUILTIN_VERBS}
    sandbox_owners: dict[str, str] = {}  # lower-case uid: the exec verb matches sandboxes ignoring case
    for node, path in sandbox_nodes:
        if faults.within(path, besides="commands"):
            continue
        _claim(sandbox_owners, node["uid"].lower(), "sandbox at " + pointer(path), path + ("uid",), problems,
               what="sandbox uid", hint="sandbox uids differ ignoring case")
        sandbox = _sandbox(node, path, multiple, problems, expander, dict(environ), privileged)
        sandboxes.append(sandbox)
        for cmd_node, cmd_path in items(node.get("commands"), path + ("commands",)):
            if faults.within(cmd_path):
                continue
            _claim(owners, _verb(sandbox.prefix, cmd_node["uid"]), "command at " + pointer(cmd_path),
                   cmd_path + ("uid",), problems)
            command = _command(cmd_node, cmd_path, sandbox, problems, expander)
            if command is not None:
                commands.append((sandbox, command))
    api = model.Api(
        metadata=metadata, sandboxes=tuple(sandboxes), commands=tuple(commands), source=problems.file,
        plugins=tuple(model.Plugin(p["uid"], p.get("module", p["uid"]))
                      for p, path in items(doc.get("plugins"), ("plugins",)) if not faults.within(path)),
        onload=_actions(doc, ("onload", "onstart"), faults), events=_actions(doc, ("events",), faults),
        extra=_actions(doc, ("extra",), faults),
    )
    for action, path in items(doc.get("extra"), ("extra",)):
        if faults.within(path):
            continue
        _claim(owners, action["uid"], "extra verb at " + pointer(path), path + ("uid",), problems)
    return api


def compile_command(node: dict[str, Any], sandbox: model.Sandbox, api_name: str, *,
                    environ: Mapping[str, str] | None = None, source: str = "exec") -> model.Command:
    """One command object compiled within an existing sandbox, for the builtin exec verb.

    Same shape and checks as a config command; raises ConfigError whose paths are
    relative to `node` and whose file is `source`.
    """
    problems = Collector(source)
    command = None
    if not validate(node, problems, "command"):
        expander = Expander(os.environ if environ is None else environ, {"API_NAME": api_name})
        command = _command(node, (), sandbox, problems, expander)
    problems.raise_if_any()
    assert command is not None  # no problem means the command compiled
    return command


def _sandbox(node: dict[str, Any], path: Path, multiple: bool, problems: Collector, expander: Expander,
             environ: dict[str, str], privileged: bool) -> model.Sandbox:
    """Resolves the prefix (spec §4.1) and compiles every sandbox part."""
    if "prefix" in node:
        prefix = node["prefix"]
    else:
        prefix = node["uid"] if multiple else ""
    identity_expander = expander.with_context(SANDBOX_UID=node["uid"])
    compiler = SandboxCompiler(node, path, problems, identity_expander, environ, privileged)
    identity = compiler.identity()
    sbox_user = str(identity.uid if identity.uid is not None else os.geteuid())
    compiler.expander = identity_expander.with_context(SBOXUSER=sbox_user)
    acls = node.get("acls") or {}
    return model.Sandbox(
        uid=node["uid"], info=node.get("info"), privilege=node.get("privilege"), prefix=prefix,
        verbose=node.get("verbose", 0), timeout=acls.get("timeout") or None, identity=identity,
        environment=compiler.environment(), caps=compiler.capabilities(), cgroups=compiler.cgroups(),
        seccomp=compiler.seccomp(), namespace=compiler.namespace(), rlimits=compiler.rlimits(),
        allow_exec=bool(node.get("exec-verb", False)), strict=bool(node.get("strict", False)),
        source_path=pointer(path), grace=node.get("grace"),
    )


def _command(node: dict[str, Any], path: Path, sandbox: model.Sandbox, problems: Collector,
             expander: Expander) -> model.Command | None:
    uid = node["uid"]
    context = expander.with_context(SANDBOX_UID=sandbox.uid, COMMAND_UID=uid)
    cmdpath = _cmdpath(node["exec"]["cmdpath"], path + ("exec", "cmdpath"), problems, context)
    args = _arg_templates(node["exec"].get("args"), path + ("exec", "args"), problems, context)
    args_schema = node.get("args")
    if args_schema is not None:
        try:
            check_args_schema(args_schema)
            args_schema = resolve_refs(args_schema)
        except InvalidArgsSchema as error:
            problems.add(path + ("args", *error.path), f"not a valid JSON Schema: {error.message}")
        except SchemaRefError as error:
            problems.add(path + ("args",), str(error), "inline the definition or point into '#/$defs/...'")
    encoder = _encoder(node.get("encoder", "text"))
    sample = alias(node, ("sample", "samples"), path, problems)
    single = alias(node, ("single", "once"), path, problems)
    limit = taskkeys.maxtasks(node, bool(single), path, problems)
    stop = taskkeys.stop_signal(node, path, problems)
    env = taskkeys.env_rules(node.get("env"), path, problems)
    if cmdpath is None or args is None:
        return None
    return model.Command(
        uid=uid, verb=_verb(sandbox.prefix, uid), cmdpath=cmdpath, args=args,
        info=node.get("info"), usage=node.get("usage"), sample=sample,
        privilege=node.get("privilege", sandbox.privilege), timeout=node.get("timeout") or sandbox.timeout,
        verbose=node.get("verbose", sandbox.verbose), single=bool(single), encoder=encoder,
        args_schema=args_schema, history=taskkeys.history(node.get("history")), stdin=bool(node.get("stdin")),
        maxtasks=limit, queue=node.get("queue", 0), stop=stop, grace=node.get("grace", sandbox.grace),
        env=env, source_path=pointer(path),
    )


def _cmdpath(text: str, path: Path, problems: Collector, expander: Expander) -> str | None:
    try:
        cmdpath = expander.expand(text)
    except ExpansionError as error:
        problems.add(path, str(error), error.hint)
        return None
    if not cmdpath.startswith("/"):
        problems.add(path, f"'{cmdpath}' is not an absolute path", "commands are not searched in PATH: give the full path")
    elif not os.path.exists(cmdpath):
        problems.add(path, f"'{cmdpath}' does not exist")
    elif not stat.S_ISREG(os.stat(cmdpath).st_mode) or not os.access(cmdpath, os.X_OK):
        problems.add(path, f"'{cmdpath}' is not an executable file")
    else:
        return cmdpath
    return None


def _arg_templates(raw: Any, path: Path, problems: Collector, expander: Expander) -> tuple[model.ArgTemplate, ...] | None:
    """Each config element -> one argv template: placeholders first, then `$NAME` in the literal text
    (so a variable's value is never scanned for placeholders)."""
    if raw is None:
        return ()
    elements = [(value, path + (index,)) for index, value in enumerate(raw)] if isinstance(raw, list) else [(raw, path)]
    templates: list[model.ArgTemplate] = []
    ok = True
    for value, element_path in elements:
        text = value if isinstance(value, str) else json.dumps(value)
        try:
            template = parse_template(text)
            parts = tuple(expander.expand(p) if isinstance(p, str) else p for p in template.parts)
            templates.append(model.ArgTemplate(parts))
        except (TemplateError, ExpansionError) as error:
            problems.add(element_path, str(error), error.hint)
            ok = False
    return tuple(templates) if ok else None


def _encoder(spec: str | dict[str, Any]) -> model.EncoderSpec:
    if isinstance(spec, str):
        return model.EncoderSpec(spec.lower())
    return model.EncoderSpec(spec["output"], spec.get("plugin"), spec.get("opts", {}))


def _actions(doc: dict[str, Any], keys: tuple[str, ...], faults: SchemaFaults) -> tuple[model.Action, ...]:
    actions = []
    for key in keys:
        for node, path in items(doc.get(key), (key,)):
            if faults.within(path):
                continue
            scheme, rest = node["action"].split("://", 1)
            target, name = rest.split("#", 1)
            actions.append(model.Action(uid=node["uid"], uri=node["action"], scheme=scheme, target=target, name=name,
                                        info=node.get("info"), privilege=node.get("privileges"), args=node.get("args"),
                                        source_path=pointer(path)))
    return tuple(actions)


def _verb(prefix: str | None, uid: str) -> str:
    """Spec §4.1 with the documented fix: an empty prefix gives a flat name."""
    return f"{prefix}/{uid}" if prefix else uid


def _claim(owners: dict[str, str], name: str, owner: str, path: Path, problems: Collector, what: str = "verb",
           hint: str = "rename it or set a prefix") -> None:
    """Registers a name that must be unique; a second declaration is a problem naming the first."""
    if name in owners:
        problems.add(path, f"{what} '{name}' is already declared by the {owners[name]}", hint)
    else:
        owners[name] = owner


def _strings(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)
