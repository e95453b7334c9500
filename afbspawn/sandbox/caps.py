"""Capabilities: names and numbers through python-prctl, compiled into bit masks at load.

Semantics: with `set` entries the task keeps exactly those (bounding, permitted,
effective, inheritable, and ambient so that a non-root program keeps them across
execve); otherwise a task running as root keeps everything minus the `unset` entries
and any other user keeps none. The bounding set is always reduced to what the task
keeps, when the binder can (root, CAP_SETPCAP, or a user namespace for the task);
when it cannot and the sandbox sets capabilities or an identity, the load is refused:
a task never runs with a fuller bounding set than its configuration says.
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


def binder_bounding_set() -> int:
    """The binder's own bounding set (CapBnd), what a task inherits unless it is reduced."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return (1 << (kernel_last_cap() + 1)) - 1


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
        return self.names_of(mask, self.last_cap)

    @staticmethod
    def names_of(mask: int, last_cap: int) -> str:
        picked = [cap_name(n) for n in range(last_cap + 1) if mask & (1 << n)]
        return ",".join(picked) if picked else "none"

    def describe_bounding(self) -> list[str]:
        if self.drop_bounding:
            return [f"capability bounding set: keep {self.names(self.keep)}"]
        return [f"capability bounding set: the binder's, already {self.names(self.keep)}"]

    def describe_sets(self) -> list[str]:
        if not self.configured:
            return []
        return [f"capabilities permitted/effective/inheritable: at most {self.names(self.keep)}",
                f"ambient capabilities: {self.names(self.ambient)}"]


def compile_caps(sandbox: str, caps: Sequence[Capability], *, privileged: bool, user_namespace: bool,
                 target_uid: int, identity_configured: bool = False) -> CapsSetup:
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
    keep = (_mask(wanted) if wanted else (everything if target_uid == 0 else 0)) & ~_mask(dropped)
    ambient = _mask(wanted) & keep
    inherited = binder_bounding_set() & everything
    can_drop = privileged or user_namespace or binder_holds(prctl.CAP_SETPCAP)
    if not can_drop and inherited & ~keep and (caps or identity_configured):
        raise SandboxError(sandbox, "caps", f"the capability bounding set cannot be reduced to "
                           f"{CapsSetup.names_of(keep, last)}: the binder has no CAP_SETPCAP and the task no user namespace",
                           "run the binder as root, or give the sandbox a namespace (an unprivileged binder then "
                           "creates a user namespace)")
    return CapsSetup(configured=bool(caps), keep=keep, ambient=ambient, last_cap=last,
                     drop_bounding=can_drop and bool(inherited & ~keep),
                     keepcaps=bool(ambient) and target_uid != 0)
