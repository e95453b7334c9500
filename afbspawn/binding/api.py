"""The spawn API: verbs from the compiled config, actions, builtins (ping/info/exec).

Talks only to the host interface (afbspawn.afb.host). Everything that can fail is done
here, at load — configs, sandbox plans, encoders — so a bad config stops the binder
with a clear error and a call never meets a half-built API.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from afbspawn.afb.host import ApiSpec, Event, Host, VerbSpec
from afbspawn.binding.actions import ArgvBuilder, CommandVerb
from afbspawn.binding.builtins import EXPLAIN, explain_verb, info_verb, ping
from afbspawn.binding.controller import (
    ActionError,
    event_handlers,
    extra_verb,
    onload_runner,
)
from afbspawn.binding.execverb import CommandCompiler, ExecVerb, exec_verb_spec
from afbspawn.config.model import Api, Command, EncoderSpec, Plugin, Sandbox
from afbspawn.encoders.base import EncoderFactory
from afbspawn.tasks import DEFAULT_GRACE, CommandSite
from afbspawn.tasks.site import Launcher

GRACE_ENV = "AFB_SPAWN_GRACE"  # seconds a pipe may outlive its reaped child (default 2)


@dataclass(frozen=True)
class Toolkit:
    """The load-time services the binding needs; the real ones come from `default_toolkit`."""

    compile_plan: Callable[[Sandbox], Launcher]
    find_factory: Callable[[EncoderSpec, Sequence[Plugin]], EncoderFactory]
    build_argv: ArgvBuilder
    compile_command: CommandCompiler
    grace: float = DEFAULT_GRACE


def default_toolkit() -> Toolkit:
    from afbspawn.config.argv import build_argv
    from afbspawn.config.compiler import compile_command
    from afbspawn.encoders.registry import find_factory
    from afbspawn.sandbox import compile_plan

    return Toolkit(compile_plan, find_factory, build_argv, compile_command,
                   float(os.environ.get(GRACE_ENV, DEFAULT_GRACE)))


async def attach(host: Host, config_paths: Sequence[str], verbose: int = 0) -> None:
    """Load every config in `config_paths` and register one API per config on `host`.

    Raises afbspawn.config.errors.ConfigError (or SandboxError) on any load error:
    the binder must then exit non-zero with the error printed.
    """
    if not config_paths:
        return
    from afbspawn.config.loader import load_paths

    toolkit = default_toolkit()
    specs = [_checked_spec(host, api, toolkit) for api in load_paths(config_paths)]
    for spec in specs:
        host.add_api(spec)


def _checked_spec(host: Host, api: Api, toolkit: Toolkit) -> ApiSpec:
    """`api_spec`, with an encoder or plugin that cannot be found reported as a config error."""
    from afbspawn.config.errors import ConfigError, Problem

    try:
        return api_spec(host, api, toolkit)
    except (LookupError, ActionError, ValueError) as error:
        raise ConfigError([Problem(api.source, "", f"api {api.name}: {error}")]) from error


def api_spec(host: Host, api: Api, toolkit: Toolkit) -> ApiSpec:
    """Compile `api` (plans, encoders, events) into the ApiSpec to register."""
    plans = {sandbox.uid: toolkit.compile_plan(sandbox) for sandbox in api.sandboxes}

    def make_site(sandbox: Sandbox, command: Command, event: Event) -> CommandSite:
        factory = toolkit.find_factory(command.encoder, api.plugins)
        return CommandSite(api.name, sandbox, command, plans[sandbox.uid], factory,
                           factory.check(command.encoder.opts), event, toolkit.grace)

    def make_verb(site: CommandSite) -> CommandVerb:
        return CommandVerb(site, toolkit.build_argv)

    verbs = [VerbSpec("ping", ping), VerbSpec("info", info_verb(api), info="the API's sandboxes and commands")]
    if any(sandbox.allow_exec for sandbox in api.sandboxes):
        verbs.append(exec_verb_spec(ExecVerb(host, api, toolkit.compile_command, make_site, make_verb), api))
    for sandbox, command in api.commands:
        site = make_site(sandbox, command, host.new_event(api.name, command.verb))
        verbs.append(VerbSpec(command.verb, make_verb(site), info=command.info,
                              usage=command.usage, sample=command.sample, permission=command.privilege))
    verbs.extend(extra_verb(host, api, action) for action in api.extra)
    if EXPLAIN not in {verb.name for verb in verbs}:  # a config's own `explain` verb wins
        verbs.insert(2, VerbSpec(EXPLAIN, explain_verb(api, plans),
                                 info="the steps a command's sandbox applies: {\"verb\": V, \"args\"?: {...}}"))
    return ApiSpec(api.name, verbs, info=api.metadata.info,
                   on_ready=onload_runner(host, api) if api.onload else None,
                   event_handlers=event_handlers(host, api))
