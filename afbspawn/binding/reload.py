"""Live reload (issue 10.6): on SIGHUP and through the permission-guarded `spawn-admin/reload`.

The new configs are loaded and compiled completely first; any error refuses the reload with
its errors and the old config stays. Then new and changed verbs appear, removed verbs refuse
new starts, running tasks keep running with their subscribers, and `info`/`monitor` show the
new config (the host's `update_api`).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from afbspawn.afb.errors import Status
from afbspawn.afb.host import ApiSpec, Host, Request, VerbSpec
from afbspawn.binding.api import (
    ApiState,
    Toolkit,
    load_prepared,
)
from afbspawn.binding.prepare import PreparedApi
from afbspawn.config.loader import ADMIN_API
from afbspawn.config.model import Api
from afbspawn.tasks.site import CommandSite, Launcher

log = logging.getLogger("afbspawn.binding.reload")
NOTICE = logging.INFO + 5  # the binder's notice level (afbspawn.afb.embedded.monitor), shown from -v

RELOAD_PERMISSION = "urn:afb-spawn:reload"

Staged = tuple[ApiState, Api, dict[str, Launcher], dict[str, CommandSite]]


class SpawnBinding:
    """Every API loaded from `paths`, reloadable as a whole."""

    def __init__(self, host: Host, paths: Sequence[str], toolkit: Toolkit) -> None:
        self.host = host
        self.paths = list(paths)
        self.toolkit = toolkit
        self.apis: dict[str, ApiState] = {}

    def load(self, admin: bool = False) -> None:
        """First load: register every API, and with `admin` the admin API (ConfigError on any problem).

        The admin verb needs a permission: without a policy granting it, nobody could call it.
        """
        for state, api, plans, sites in self._stage(self._load_configs()):
            state.commit(api, plans, sites)
            self.apis[api.name] = state
            self.host.add_api(state.spec())
        if admin:
                self.host.add_api(ApiSpec(ADMIN_API, [VerbSpec("reload", self.reload_verb, permission=RELOAD_PERMISSION,
                                                           info="reload the config files (what changed)")],
                                      info="afb-spawn administration"))

    async def reload(self) -> dict[str, Any]:
        """Reload every config; ConfigError (nothing changed) or what changed, by API."""
        changes: dict[str, Any] = {}
        for state, api, plans, sites in self._stage(self._load_configs()):
            change = state.commit(api, plans, sites)
            if api.name in self.apis:
                self.host.update_api(state.spec())
            else:
                change["api"] = "added"
                self.apis[api.name] = state
                spec = state.spec()
                self.host.add_api(spec)
                if spec.on_ready is not None:
                    await spec.on_ready()
            changes[api.name] = change
        for name, state in self.apis.items():
            if name not in changes:
                emptied = Api(state.api.metadata, (), (), state.api.source)
                changes[name] = {**state.commit(emptied, {}, {}), "api": "removed"}
                self.host.update_api(state.spec())
        log.warning("config reloaded: %s", describe(changes))
        return changes

    def _load_configs(self) -> list[PreparedApi]:
        """The configs, compiled; what this host can only partly apply is logged as a notice
        (shown from -v; `check` always shows it)."""
        prepared = load_prepared(self.paths, self.toolkit)
        for warning in (w for one in prepared for w in one.warnings):
            log.log(NOTICE, "%s", warning)
        return prepared

    def _stage(self, apis: list[PreparedApi]) -> list[Staged]:
        """Compile every API against its current state; on any error nothing was changed."""
        staged: list[Staged] = []
        try:
            for prepared in apis:
                api = prepared.api
                state = self.apis.get(api.name) or ApiState(self.host, api, self.toolkit)
                plans, sites = state.prepare(prepared)
                staged.append((state, api, plans, sites))
        except BaseException:
            for *_, sites in staged:
                for site in sites.values():
                    site.retire()
            raise
        return staged

    async def try_reload(self) -> tuple[dict[str, Any] | None, str | None]:
        """(what changed, None), or (None, why it was refused: the running config stays)."""
        from afbspawn.config.errors import ConfigError
        from afbspawn.sandbox import SandboxError

        try:
            return await self.reload(), None
        except (ConfigError, SandboxError, OSError) as error:
            log.error("reload refused, the running config stays: %s", error)
            return None, f"reload refused, the running config stays: {error}"

    async def reload_verb(self, request: Request) -> None:
        changes, refusal = await self.try_reload()
        if refusal is not None:
            request.reply(Status.INVALID_REQUEST, None, refusal)
        else:
            request.reply(Status.SUCCESS, changes)


def describe(changes: dict[str, Any]) -> str:
    parts = []
    for api, change in changes.items():
        words = [f"{key} {', '.join(value)}" for key, value in change.items() if isinstance(value, list) and value]
        if "api" in change:
            words.insert(0, f"API {change['api']}")
        parts.append(f"{api}: {'; '.join(words) or 'unchanged'}")
    return " | ".join(parts) or "no API"
