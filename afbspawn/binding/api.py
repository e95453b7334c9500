"""The spawn API: verbs from the compiled config, actions, builtins (ping/info/exec).

Talks only to the host interface (afbspawn.afb.host). Everything that can fail is done
here, at load — configs, sandbox plans, encoders — so a bad config stops the binder
with a clear error and a call never meets a half-built API.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
from afbspawn.binding.prepare import (
    PreparedApi,
    checked_options,
    prepare_api,
    prepare_apis,
)
from afbspawn.config.errors import ConfigError, Problem
from afbspawn.config.model import Api, Command, EncoderSpec, Plugin, Sandbox
from afbspawn.encoders.base import EncoderFactory
from afbspawn.tasks import DEFAULT_GRACE, CommandSite
from afbspawn.tasks.site import Launcher

log = logging.getLogger("afbspawn.binding")
NOTICE = logging.INFO + 5  # the binder's notice level (afbspawn.afb.embedded.monitor), shown from -v

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

    Raises afbspawn.config.errors.ConfigError on any load error (every problem of every
    file, one line each): the binder must then exit non-zero with the error printed.
    What this host can only partly apply is logged as a notice (`check` always shows it).
    """
    if not config_paths:
        return
    toolkit = default_toolkit()
    prepared = load_prepared(config_paths, toolkit)
    for warning in (w for one in prepared for w in one.warnings):  # `check` shows them at any verbosity
        log.log(NOTICE, "%s", warning)
    specs = [_checked_spec(host, one.api, toolkit, one) for one in prepared]
    for spec in specs:
        host.add_api(spec)


def load_prepared(config_paths: Sequence[str], toolkit: Toolkit, *,
                  privileged: bool | None = None) -> list[PreparedApi]:
    """The load path shared by the binder, `check` and `run`: configs, then everything built from them."""
    from afbspawn.config.loader import load_paths

    return prepare_apis(load_paths(config_paths, privileged=privileged), toolkit.compile_plan, toolkit.find_factory)


def _checked_spec(host: Host, api: Api, toolkit: Toolkit, prepared: PreparedApi | None = None) -> ApiSpec:
    """`api_spec`, with an encoder or plugin that cannot be found reported as a config error."""
    try:
        return api_spec(host, api, toolkit, prepared)
    except (LookupError, ActionError, ValueError) as error:
        raise ConfigError([Problem(api.source, "", f"api {api.name}: {error}")]) from error


def api_spec(host: Host, api: Api, toolkit: Toolkit, prepared: PreparedApi | None = None) -> ApiSpec:
    """Compile `api` (plans, encoders, events) into the ApiSpec to register."""
    if prepared is None:
        prepared = prepare_api(api, toolkit.compile_plan, toolkit.find_factory)
    plans = prepared.plans

    def make_site(sandbox: Sandbox, command: Command, event: Event,
                  encoder: tuple[EncoderFactory, Mapping[str, Any]] | None = None) -> CommandSite:
        """`encoder` prepared at load for a config command; looked up now for an `exec` command."""
        if encoder is None:
            factory = toolkit.find_factory(command.encoder, api.plugins)
            encoder = factory, checked_options(factory, command.encoder)[0]
        return CommandSite(api.name, sandbox, command, plans[sandbox.uid], encoder[0], encoder[1], event,
                           toolkit.grace)

    def make_verb(site: CommandSite) -> CommandVerb:
        return CommandVerb(site, toolkit.build_argv)

    verbs = [VerbSpec("ping", ping), VerbSpec("info", info_verb(api), info="the API's sandboxes and commands")]
    if any(sandbox.allow_exec for sandbox in api.sandboxes):
        verbs.append(exec_verb_spec(ExecVerb(host, api, toolkit.compile_command, make_site, make_verb), api))
    for sandbox, command in api.commands:
        site = make_site(sandbox, command, host.new_event(api.name, command.verb), prepared.encoders[command.verb])
        verbs.append(VerbSpec(command.verb, make_verb(site), info=command.info,
                              usage=command.usage, sample=command.sample, permission=command.privilege))
    verbs.extend(extra_verb(host, api, action) for action in api.extra)
    if EXPLAIN not in {verb.name for verb in verbs}:  # a config's own `explain` verb wins
        verbs.insert(2, VerbSpec(EXPLAIN, explain_verb(api, plans),
                                 info="the steps a command's sandbox applies: {\"verb\": V, \"args\"?: {...}}"))
    return ApiSpec(api.name, verbs, info=api.metadata.info,
                   on_ready=onload_runner(host, api) if api.onload else None,
                   event_handlers=event_handlers(host, api))
