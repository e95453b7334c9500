"""Permission policy: which bearer tokens and unix-socket peer uids hold which permissions.

File format (YAML or JSON), every section optional:

    everyone: [perm, ...]          # granted to any caller
    tokens:   {TOKEN: [perm, ...]} # callers presenting this token (Bearer, ?token=, 5th ws element)
    uids:     {UID-or-user: [perm, ...]}   # unix-socket peers (SO_PEERCRED)

A permission may be "*" (all permissions). Without a policy every permission is denied.
"""
from __future__ import annotations

import json
import pwd
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from afbspawn.afb.host import Caller

SECTIONS = ("everyone", "tokens", "uids")


class PolicyError(ValueError):
    """The permissions file is unreadable or malformed; the message names the file and key."""


@dataclass(frozen=True)
class Policy:
    everyone: frozenset[str] = frozenset()
    tokens: Mapping[str, frozenset[str]] = field(default_factory=dict)
    uids: Mapping[int, frozenset[str]] = field(default_factory=dict)

    def grants(self, caller: Caller, permission: str) -> bool:
        held = set(self.everyone)
        if caller.token is not None:
            held |= self.tokens.get(caller.token, frozenset())
        if caller.uid is not None:
            held |= self.uids.get(caller.uid, frozenset())
        return permission in held or "*" in held


def load_policy(path: str) -> Policy:
    """Read and validate a permissions file (JSON if it ends in .json, YAML otherwise)."""
    import yaml  # only a binder given a permissions file loads it
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream) if path.endswith(".json") else yaml.safe_load(stream)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise PolicyError(f"{path}: cannot read permissions: {error}") from error
    return parse_policy(data if data is not None else {}, path)


def parse_policy(data: Any, origin: str = "permissions") -> Policy:
    if not isinstance(data, dict):
        raise PolicyError(f"{origin}: expected a mapping with keys {', '.join(SECTIONS)}")
    unknown = sorted(set(map(str, data)) - set(SECTIONS))
    if unknown:
        raise PolicyError(f"{origin}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(SECTIONS)})")
    tokens = _section(data.get("tokens"), f"{origin}: tokens")
    uids = _section(data.get("uids"), f"{origin}: uids")
    return Policy(
        everyone=_perms(data.get("everyone", []), f"{origin}: everyone"),
        tokens={str(token): perms for token, perms in tokens.items()},
        uids={_uid(key, f"{origin}: uids.{key}"): perms for key, perms in uids.items()},
    )


def _section(value: Any, where: str) -> dict[Any, frozenset[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PolicyError(f"{where}: expected a mapping of name to permission list")
    return {key: _perms(perms, f"{where}.{key}") for key, perms in value.items()}


def _perms(value: Any, where: str) -> frozenset[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise PolicyError(f"{where}: expected a list of permission strings")
    return frozenset(value)


def _uid(key: Any, where: str) -> int:
    if isinstance(key, int) and not isinstance(key, bool) and key >= 0:
        return key
    if isinstance(key, str) and key.isdigit():
        return int(key)
    if isinstance(key, str):
        try:
            return pwd.getpwnam(key).pw_uid
        except KeyError:
            raise PolicyError(f"{where}: no such user") from None
    raise PolicyError(f"{where}: expected a uid or a user name")
