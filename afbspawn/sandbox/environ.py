"""The task's environment: built from the configuration, never from the binder's own."""
from __future__ import annotations

import os
from collections.abc import Mapping

from ..config.model import Environment, EnvMode
from .identity import IdentitySetup

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
DEFAULT_LANG = "C.UTF-8"


def build_environment(env: Environment, identity: IdentitySetup,
                      binder_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """PATH, LANG, HOME/USER/LOGNAME of the target user, then `envs`, then acls.path/ldpath.

    The binder's variables (secrets included) come in only when the sandbox asks with
    `inherit`; LANG is the only value taken from the binder, as a locale is not a secret.
    """
    source = os.environ if binder_env is None else binder_env
    result: dict[str, str] = dict(source) if env.inherit else {}
    result.update({"PATH": result.get("PATH", DEFAULT_PATH), "LANG": source.get("LANG", DEFAULT_LANG),
                   "HOME": identity.home, "USER": identity.user, "LOGNAME": identity.user})
    for setting in env.settings:
        if setting.mode is EnvMode.UNSET:
            result.pop(setting.name, None)
        else:
            result[setting.name] = setting.value
    if env.path is not None:
        result["PATH"] = env.path
    if env.ldpath is not None:
        result["LD_LIBRARY_PATH"] = env.ldpath
    return result
