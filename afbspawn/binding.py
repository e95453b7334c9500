"""The spawn API: verbs from the compiled config, actions, builtins (ping/info/exec).

Talks only to the host interface (afbspawn.afb.host).
"""
from __future__ import annotations

from typing import Sequence

from afbspawn.afb.host import Host


async def attach(host: Host, config_paths: Sequence[str], verbose: int = 0) -> None:
    """Load every config in `config_paths` and register one API per config on `host`.

    Raises afbspawn.config.errors.ConfigError (or SandboxError) on any load error:
    the binder must then exit non-zero with the error printed.
    """
    if config_paths:
        raise NotImplementedError("the spawn binding is built by the spawn-API issue")
