"""Resource limits (new optional `rlimits` key): names resolved and checked at load."""
from __future__ import annotations

import resource
from collections.abc import Sequence
from dataclasses import dataclass

from ..config.model import Rlimit
from .caps import binder_holds
from .errors import SandboxError

UNLIMITED = resource.RLIM_INFINITY
CAP_SYS_RESOURCE = 24


@dataclass(frozen=True)
class ResolvedRlimit:
    name: str
    number: int
    soft: int
    hard: int

    def describe(self) -> str:
        def show(value: int) -> str:
            return "unlimited" if value == UNLIMITED else str(value)
        return f"rlimit {self.name} soft={show(self.soft)} hard={show(self.hard)}"


def _value(limit: int) -> int:
    return UNLIMITED if limit < 0 else limit


def resolve_rlimits(sandbox: str, rlimits: Sequence[Rlimit], privileged: bool) -> tuple[ResolvedRlimit, ...]:
    """Refuses unknown names, soft > hard, and (without CAP_SYS_RESOURCE) a hard limit above the binder's."""
    may_raise = privileged and binder_holds(CAP_SYS_RESOURCE)
    resolved = []
    for limit in rlimits:
        number = getattr(resource, f"RLIMIT_{limit.resource.upper()}", None)
        setting = f"rlimits.{limit.resource}"
        if number is None:
            raise SandboxError(sandbox, setting, "unknown resource", "use a RLIMIT_* name without the prefix")
        soft, hard = _value(limit.soft), _value(limit.hard)
        if hard != UNLIMITED and (soft == UNLIMITED or soft > hard):
            raise SandboxError(sandbox, setting, f"soft limit {limit.soft} is above the hard limit {limit.hard}")
        current_hard = resource.getrlimit(number)[1]
        if not may_raise and current_hard != UNLIMITED and (hard == UNLIMITED or hard > current_hard):
            raise SandboxError(sandbox, setting, f"a binder without CAP_SYS_RESOURCE cannot raise the hard limit "
                               f"above {current_hard}", "lower the hard limit or give the binder CAP_SYS_RESOURCE")
        resolved.append(ResolvedRlimit(limit.resource.upper(), number, soft, hard))
    return tuple(resolved)
