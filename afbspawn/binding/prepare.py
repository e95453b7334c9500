"""One load path: everything the binder compiles before it serves — sandbox plans (cgroups
included), encoders and their options, plugin functions — compiled the same way for
`afb-spawn check`, `afb-spawn run` and the binder.

What cannot be done is an error (file, JSON path, fix); what this host can only do in
part is a warning, an error in a sandbox with `strict: true`. Every error of every file
is collected before one ConfigError is raised: a user fixes a config in one pass.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from afbspawn.binding.controller import ActionError, resolve_plugin
from afbspawn.binding.execverb import exec_permission
from afbspawn.config.errors import ConfigError, Problem
from afbspawn.config.model import Api, Command, EncoderSpec, Plugin, Sandbox
from afbspawn.encoders.base import EncoderFactory
from afbspawn.encoders.options import UnknownOptions
from afbspawn.sandbox.errors import SandboxError
from afbspawn.tasks.site import Launcher

PLUGIN_HINT = "a plugin is a Python module (its `module`, default its uid): the C `.so` plugin ABI is not supported"


@dataclass
class PreparedApi:
    """An Api with what the binder builds from it at load, and the warnings it gave."""

    api: Api
    plans: dict[str, Launcher] = field(default_factory=dict)  # by sandbox uid
    encoders: dict[str, tuple[EncoderFactory, Mapping[str, Any]]] = field(default_factory=dict)  # by verb
    warnings: list[Problem] = field(default_factory=list)


def checked_options(factory: EncoderFactory, spec: EncoderSpec) -> tuple[Mapping[str, Any], list[str]]:
    """The factory's checked options and the names it does not know (dropped, as the C did).

    Raises ValueError for an option it knows but refuses."""
    opts, ignored = dict(spec.opts), []
    while True:
        try:
            return factory.check(opts), ignored
        except UnknownOptions as unknown:
            ignored += unknown.names
            for name in unknown.names:
                opts.pop(name, None)


def setting_pointer(setting: str) -> str:
    """`seccomp.rules.mkdir`, `cgroups (pids)`, `namespace.mounts /x`, `acls.user/group` -> the
    JSON pointer suffix of the key the setting names."""
    head = setting.split(" ", 1)[0]
    return "".join("/" + part for part in head.split(".") if part and "/" not in part)


class _Preparer:
    def __init__(self, api: Api, compile_plan: Any, find_factory: Any) -> None:
        self.api, self.compile_plan, self.find_factory = api, compile_plan, find_factory
        self.errors: list[Problem] = []
        self.prepared = PreparedApi(api)

    def problem(self, path: str, message: str, hint: str | None = None) -> Problem:
        return Problem(self.api.source, path, message, hint)

    def warn(self, sandbox: Sandbox, path: str, message: str, hint: str) -> None:
        """A partial application: an error where the sandbox is strict."""
        if sandbox.strict:
            self.errors.append(self.problem(path, f"{message} (sandbox is strict)", hint))
        else:
            self.prepared.warnings.append(self.problem(path, message, hint))

    def sandbox(self, sandbox: Sandbox) -> None:
        try:
            plan = self.compile_plan(sandbox)
        except SandboxError as error:
            self.errors.append(self.problem(sandbox.source_path + setting_pointer(error.setting),
                                            f"{error.setting}: {error.why}", error.fix or None))
            return
        except OSError as error:
            self.errors.append(self.problem(sandbox.source_path, f"cannot prepare the sandbox: {error}"))
            return
        self.prepared.plans[sandbox.uid] = plan
        weakness = plan.containment_gap()
        if weakness:
            self.warn(sandbox, sandbox.source_path, weakness,
                      "give the binder a writable cgroup2 subtree (root, or --cgroup-root DIR), or a new pid namespace")

    def command(self, sandbox: Sandbox, command: Command, plugins: Sequence[Plugin]) -> None:
        path = command.source_path + "/encoder"
        try:
            factory = self.find_factory(command.encoder, plugins)
            opts, ignored = checked_options(factory, command.encoder)
        except (LookupError, ValueError) as error:
            hint = PLUGIN_HINT if command.encoder.plugin and isinstance(error, LookupError) else None
            self.errors.append(self.problem(path, str(error), hint))
            return
        if ignored:
            self.warn(sandbox, path + "/opts", f"encoder {command.encoder.name}: option(s) "
                      f"{', '.join(map(repr, ignored))} unknown, ignored", "remove them")
        self.prepared.encoders[command.verb] = (factory, opts)

    def actions(self) -> None:
        for action in (*self.api.onload, *self.api.extra):
            if action.scheme == "plugin":
                try:
                    resolve_plugin(self.api, action)
                except ActionError as error:
                    self.errors.append(self.problem(action.source_path + "/action", str(error), PLUGIN_HINT))

    def run(self) -> PreparedApi:
        for sandbox in self.api.sandboxes:
            self.sandbox(sandbox)
        for sandbox, command in self.api.commands:
            self.command(sandbox, command, self.api.plugins)
        self.actions()
        try:
            exec_permission(self.api)
        except ValueError as error:
            self.errors.append(self.problem("/sandboxes", str(error), "give them one privilege"))
        if self.errors:
            raise ConfigError(self.errors)
        return self.prepared


def prepare_api(api: Api, compile_plan: Any, find_factory: Any) -> PreparedApi:
    """Compile everything of `api` the binder needs; ConfigError listing every problem."""
    return _Preparer(api, compile_plan, find_factory).run()


def prepare_apis(apis: Sequence[Api], compile_plan: Any, find_factory: Any) -> list[PreparedApi]:
    """prepare_api for every Api; the problems of all of them in one ConfigError."""
    prepared, problems = [], []
    for api in apis:
        try:
            prepared.append(prepare_api(api, compile_plan, find_factory))
        except ConfigError as error:
            problems += error.problems
    if problems:
        raise ConfigError(problems)
    return prepared
