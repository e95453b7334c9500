"""The spawn API: verbs from the compiled config, actions, builtins (ping/info/tasks/exec).

Talks only to the host interface (afbspawn.afb.host). Everything that can fail is done
here, at load — configs, sandbox plans, encoders — so a bad config stops the binder
with a clear error and a call never meets a half-built API. A live reload
(afbspawn.binding.reload) goes through the same steps before changing anything.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from afbspawn.afb.host import ApiSpec, Event, Host, VerbSpec
from afbspawn.binding.actions import ArgvBuilder, CommandVerb
from afbspawn.binding.builtins import EXPLAIN, explain_verb, info_verb, ping, tasks_verb
from afbspawn.binding.controller import (
    ActionError,
    event_handlers,
    extra_verb,
    onload_runner,
)
from afbspawn.binding.execverb import CommandCompiler, ExecVerb, exec_verb_spec
from afbspawn.binding.prepare import (
    PreparedApi,
    checked_options,
    prepare_api,
    prepare_apis,
)
from afbspawn.config.errors import ConfigError, Problem
from afbspawn.config.model import Api, Command, EncoderSpec, Plugin, Sandbox
from afbspawn.encoders.base import EncoderFactory
from afbspawn.tasks import DEFAULT_GRACE, Budget, CommandSite
from afbspawn.tasks.site import Launcher

if TYPE_CHECKING:
    from afbspawn.binding.reload import SpawnBinding

GRACE_ENV = "AFB_SPAWN_GRACE"  # seconds from a stop signal to SIGKILL, or a pipe may outlive its child


@dataclass(frozen=True)
class Toolkit:
    """The load-time services the binding needs; the real ones come from `default_toolkit`."""

    compile_plan: Callable[[Sandbox], Launcher]
    find_factory: Callable[[EncoderSpec, Sequence[Plugin]], EncoderFactory]
    build_argv: ArgvBuilder
    compile_command: CommandCompiler
    grace: float = DEFAULT_GRACE
    budget: Budget = field(default_factory=Budget)  # --max-tasks, shared by every command


def default_toolkit(max_tasks: int | None = None) -> Toolkit:
    from afbspawn.config.argv import build_argv
    from afbspawn.config.compiler import compile_command
    from afbspawn.encoders.registry import find_factory
    from afbspawn.sandbox import compile_plan

    return Toolkit(compile_plan, find_factory, build_argv, compile_command,
                   float(os.environ.get(GRACE_ENV, DEFAULT_GRACE)), Budget(max_tasks))


async def attach(host: Host, config_paths: Sequence[str], verbose: int = 0,
                 max_tasks: int | None = None, admin: bool = False) -> SpawnBinding | None:
    """Load every config in `config_paths` and register one API per config on `host`.

    Raises afbspawn.config.errors.ConfigError (or SandboxError) on any load error:
    the binder must then exit non-zero with the error printed. The returned binding
    reloads the same paths (SIGHUP; `spawn-admin/reload` when `admin`).
    """
    if not config_paths:
        return None
    from afbspawn.binding.reload import SpawnBinding

    binding = SpawnBinding(host, list(config_paths), default_toolkit(max_tasks))
    binding.load(admin)
    return binding


def load_prepared(config_paths: Sequence[str], toolkit: Toolkit, *,
                  privileged: bool | None = None) -> list[PreparedApi]:
    """The load path shared by the binder, `check`, `run` and reload: configs, then everything
    built from them, with the warnings of each (each caller shows them its own way)."""
    from afbspawn.config.loader import load_paths

    return prepare_apis(load_paths(config_paths, privileged=privileged), toolkit.compile_plan,
                        toolkit.find_factory)


def config_error(api: Api, error: Exception) -> ConfigError:
    """An error met while building the verbs (e.g. an extra action), as a config error naming the file."""
    return ConfigError([Problem(api.source, "", f"api {api.name}: {error}")])


class ApiState:
    """One registered API: its config and its command verbs, which live across reloads."""

    def __init__(self, host: Host, api: Api, toolkit: Toolkit) -> None:
        self.host = host
        self.api = api
        self.toolkit = toolkit
        self.verbs: dict[str, CommandVerb] = {}
        self.plans: dict[str, Launcher] = {}

    def make_site(self, api: Api, plans: Mapping[str, Launcher], sandbox: Sandbox, command: Command,
                  event: Event, encoder: tuple[EncoderFactory, Mapping[str, Any]] | None = None) -> CommandSite:
        """`encoder` prepared at load for a config command; looked up now for an `exec` command."""
        if encoder is None:
            factory = self.toolkit.find_factory(command.encoder, api.plugins)
            encoder = factory, checked_options(factory, command.encoder)[0]
        return CommandSite(api.name, sandbox, command, plans[sandbox.uid], encoder[0], encoder[1], event,
                           self.toolkit.grace, self.toolkit.budget)

    def prepare(self, prepared: PreparedApi) -> tuple[dict[str, Launcher], dict[str, CommandSite]]:
        """Every new or changed command of the prepared api as a site (nothing changes yet)."""
        api, plans = prepared.api, prepared.plans
        sites: dict[str, CommandSite] = {}
        try:
            for sandbox, command in api.commands:
                verb = self.verbs.get(command.verb)
                if verb is not None and verb.site is not None and (verb.site.command, verb.site.sandbox) == (command, sandbox):
                    continue
                event = verb.event if verb is not None else self.host.new_event(api.name, command.verb)
                sites[command.verb] = self.make_site(api, plans, sandbox, command, event,
                                                     prepared.encoders[command.verb])
        except BaseException:
            for site in sites.values():
                site.retire()
            raise
        return plans, sites

    def commit(self, api: Api, plans: dict[str, Launcher], sites: dict[str, CommandSite]) -> dict[str, list[str]]:
        """Swap the prepared sites in; removed commands refuse starts while their tasks end."""
        changes: dict[str, list[str]] = {"added": [], "changed": [], "removed": []}
        for name, site in sites.items():
            verb = self.verbs.get(name)
            if verb is None:
                self.verbs[name] = CommandVerb(site, self.toolkit.build_argv)
                changes["added"].append(name)
            else:
                changes["changed" if verb.site is not None else "added"].append(name)
                verb.replace(site)
        current = {command.verb for _, command in api.commands}
        for name, verb in list(self.verbs.items()):
            if name in current:
                continue
            if verb.site is not None:
                changes["removed"].append(name)
                verb.replace(None)
            if not verb.retired:
                del self.verbs[name]
        self.api, self.plans = api, plans
        return changes

    def spec(self) -> ApiSpec:
        """The ApiSpec of the current config (command verbs kept while removed tasks still run)."""
        api = self.api
        verbs = [VerbSpec("ping", ping), VerbSpec("info", info_verb(api), info="the API's sandboxes and commands"),
                 VerbSpec("tasks", tasks_verb(lambda: list(self.verbs.values())),
                          info="the caller's tasks of every command")]
        if any(sandbox.allow_exec for sandbox in api.sandboxes):
            plans = self.plans

            def exec_site(sandbox: Sandbox, command: Command, event: Event) -> CommandSite:
                return self.make_site(api, plans, sandbox, command, event)

            verbs.append(exec_verb_spec(ExecVerb(self.host, api, self.toolkit.compile_command, exec_site,
                                                 lambda site: CommandVerb(site, self.toolkit.build_argv)), api))
        commands = {command.verb: command for _, command in api.commands}
        for name, verb in self.verbs.items():
            command = commands.get(name)
            if command is None:  # still guarded by its old privilege
                verbs.append(VerbSpec(name, verb, info="removed from the config: its tasks end",
                                      permission=verb.retired[0].command.privilege))
            else:
                verbs.append(VerbSpec(name, verb, info=command.info, usage=command.usage,
                                      sample=command.sample, permission=command.privilege))
        verbs.extend(extra_verb(self.host, api, action) for action in api.extra)
        if EXPLAIN not in {verb.name for verb in verbs}:  # a config's own `explain` verb wins
            verbs.insert(2, VerbSpec(EXPLAIN, explain_verb(api, self.plans),
                                     info="the steps a command's sandbox applies: {\"verb\": V, \"args\"?: {...}}"))
        return ApiSpec(api.name, verbs, info=api.metadata.info,
                       on_ready=onload_runner(self.host, api) if api.onload else None,
                       event_handlers=event_handlers(self.host, api))


def api_spec(host: Host, api: Api, toolkit: Toolkit, prepared: PreparedApi | None = None) -> ApiSpec:
    """Compile `api` (plans, encoders, events) into the ApiSpec to register; ConfigError on any problem."""
    if prepared is None:
        prepared = prepare_api(api, toolkit.compile_plan, toolkit.find_factory)
    state = ApiState(host, api, toolkit)
    try:
        state.commit(api, *state.prepare(prepared))
        return state.spec()
    except (LookupError, ActionError, ValueError) as error:
        raise config_error(api, error) from error
