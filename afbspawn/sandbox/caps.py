"""Capabilities: names and numbers through python-prctl, compiled into bit masks at load.

Semantics: with `set` entries the task keeps exactly those (bounding, permitted,
effective, inheritable, and ambient so that a non-root program keeps them across
execve); with only `unset` entries it keeps what it would have had minus those.
A binder without privileges can only drop: raising is refused at load.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import prctl

from ..config.model import Capability, CapMode
from .errors import SandboxError


def kernel_last_cap() -> int:
    """The highest capability this kernel knows (may differ from the library's)."""
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return int(prctl.CAP_LAST_CAP)


def cap_name(number: int) -> str:
    names = {getattr(prctl, f"CAP_{n.upper()}"): n.upper() for n in prctl.ALL_CAP_NAMES}
    return f"CAP_{names.get(number, str(number))}"


def binder_holds(number: int) -> bool:
    """Whether the binder's permitted set has this capability (all a non-root binder may keep)."""
    name = cap_name(number)[4:].lower()
    return bool(getattr(prctl.cap_permitted, name, False))


def _mask(numbers: Sequence[int]) -> int:
    mask = 0
    for number in numbers:
        mask |= 1 << number
    return mask


@dataclass(frozen=True)
class CapsSetup:
    configured: bool
    keep: int           # bounding/permitted/effective/inheritable are masked with this
    ambient: int        # raised in the ambient set
    last_cap: int
    drop_bounding: bool  # needs CAP_SETPCAP: the binder is root, or the task has a user namespace
    keepcaps: bool      # `set` capabilities survive the change to a non-root uid

    def names(self, mask: int) -> str:
        picked = [cap_name(n) for n in range(self.last_cap + 1) if mask & (1 << n)]
        return ",".join(picked) if picked else "none"

    def describe_bounding(self) -> list[str]:
        if not self.configured:
            return []
        if self.drop_bounding:
            return [f"capability bounding set: keep {self.names(self.keep)}"]
        return ["capability bounding set: unchanged (no CAP_SETPCAP here; no_new_privs keeps it unreachable)"]

    def describe_sets(self) -> list[str]:
        if not self.configured:
            return []
        return [f"capabilities permitted/effective/inheritable: at most {self.names(self.keep)}",
                f"ambient capabilities: {self.names(self.ambient)}"]


def compile_caps(sandbox: str, caps: Sequence[Capability], *, privileged: bool, user_namespace: bool,
                 target_uid: int) -> CapsSetup:
    last = kernel_last_cap()
    everything = (1 << (last + 1)) - 1
    wanted = [c.number for c in caps if c.mode is CapMode.SET]
    dropped = [c.number for c in caps if c.mode is CapMode.UNSET]
    for cap in caps:
        if cap.number > last:
            raise SandboxError(sandbox, f"caps.{cap.name}", f"this kernel knows capabilities up to {last} only")
    if not privileged:
        refused = [cap_name(n) for n in wanted if not binder_holds(n)]
        if refused:
            raise SandboxError(sandbox, "caps", f"cannot raise {', '.join(refused)}: the binder does not hold them "
                               "and an unprivileged binder can only drop capabilities",
                               "remove the `set` entries or run the binder as root")
    keep = (_mask(wanted) if wanted else everything) & ~_mask(dropped)
    ambient = _mask(wanted) & keep
    return CapsSetup(configured=bool(caps), keep=keep, ambient=ambient, last_cap=last,
                     drop_bounding=bool(caps) and (privileged or user_namespace),
                     keepcaps=bool(ambient) and target_uid != 0)
