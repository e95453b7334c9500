"""What this host and this process can apply, for `afb-spawn check`'s feature report.

A config can be valid yet not applicable here (no cgroup controller, not root,
user namespaces disabled): check says so before the binder refuses a launch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from afbspawn.config import model

_KERNEL_ACTIONS = {"SCMP_ACT_KILL_PROCESS": "kill_process", "SCMP_ACT_KILL_THREAD": "kill_thread",
                   "SCMP_ACT_KILL": "kill_thread", "SCMP_ACT_TRAP": "trap", "SCMP_ACT_ERRNO": "errno",
                   "SCMP_ACT_LOG": "log", "SCMP_ACT_ALLOW": "allow", "SCMP_ACT_NOTIFY": "user_notif"}
_CONTROLLERS = {"cpuset": "cpuset", "mem_min": "memory", "mem_max": "memory", "mem_high": "memory",
                "mem_swap": "memory", "cpu_weight": "cpu", "cpu_max": "cpu", "io_max": "io", "pids_max": "pids"}


@dataclass(frozen=True)
class HostFacts:
    root: bool
    cgroup2_mount: str | None
    controllers: frozenset[str]
    userns_blocker: str | None  # why unprivileged user namespaces are unavailable, or None
    seccomp_actions: frozenset[str] | None = None  # kernel's actions_avail; None = unknown


@dataclass(frozen=True)
class Feature:
    name: str
    applied: bool
    detail: str


def cgroup2_mount(mountinfo: str = "/proc/self/mountinfo") -> str | None:
    """Mount point of the cgroup2 hierarchy (field 5 of the line whose fs type is cgroup2)."""
    try:
        with open(mountinfo, encoding="utf-8") as stream:
            for line in stream:
                fields = line.split()
                separator = fields.index("-")
                if fields[separator + 1] == "cgroup2":
                    return fields[4]
    except (OSError, ValueError, IndexError):
        return None
    return None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read().strip()
    except OSError:
        return None


def _userns_blocker() -> str | None:
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        return "kernel.unprivileged_userns_clone is 0"
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        return "user.max_user_namespaces is 0"
    return None


def gather(root: bool | None = None) -> HostFacts:
    mount = cgroup2_mount()
    controllers = (_read(os.path.join(mount, "cgroup.controllers")) or "") if mount else ""
    actions = _read("/proc/sys/kernel/seccomp/actions_avail")
    return HostFacts(root=os.geteuid() == 0 if root is None else root, cgroup2_mount=mount,
                     controllers=frozenset(controllers.split()), userns_blocker=_userns_blocker(),
                     seccomp_actions=frozenset(actions.split()) if actions is not None else None)


def features(sandbox: model.Sandbox, facts: HostFacts) -> list[Feature]:
    """Each configured restriction of `sandbox`, and whether it can be applied here."""
    found: list[Feature] = []
    env = sandbox.environment
    found.append(Feature("environment", True, "binder environment inherited" if env.inherit
                         else f"built from the config ({len(env.settings)} settings)"))
    if sandbox.identity.uid is not None:
        found.append(Feature("identity", True, f"runs as uid {sandbox.identity.uid} gid {sandbox.identity.gid}"))
    if sandbox.caps:
        raised = [c.name for c in sandbox.caps if c.mode is model.CapMode.SET]
        found.append(Feature("capabilities", facts.root or not raised,
                             ", ".join(f"{c.name}:{c.mode.value}" for c in sandbox.caps)
                             + ("" if facts.root or not raised else " (raising needs root)")))
    if sandbox.cgroups is not None:
        found.append(_cgroups(sandbox.cgroups, facts))
    if sandbox.seccomp is not None:
        found.append(_seccomp(sandbox.seccomp, facts))
    if sandbox.namespace is not None:
        blocked = None if facts.root else facts.userns_blocker
        found.append(Feature("namespace", blocked is None,
                             f"{len(sandbox.namespace.mounts)} mounts" + (f" (not root and {blocked})" if blocked else "")))
    if sandbox.rlimits:
        found.append(Feature("rlimits", True, ", ".join(f"{r.resource}={r.soft}:{r.hard}" for r in sandbox.rlimits)))
    return found


def _cgroups(cgroups: model.Cgroups, facts: HostFacts) -> Feature:
    if not facts.root:
        return Feature("cgroups", False, "needs a binder running as root")
    mount = cgroups.mount or facts.cgroup2_mount
    if mount is None:
        return Feature("cgroups", False, "no cgroup2 hierarchy in /proc/self/mountinfo")
    available = facts.controllers if cgroups.mount is None else \
        frozenset((_read(os.path.join(mount, "cgroup.controllers")) or "").split())
    needed = sorted({c for key, c in _CONTROLLERS.items() if getattr(cgroups, key) is not None})
    missing = [c for c in needed if c not in available]
    if missing:
        return Feature("cgroups", False, f"controllers {', '.join(missing)} missing from the cgroup2 mount {mount}")
    return Feature("cgroups", True, f"{', '.join(needed) or 'no limits'} under {mount}")


def _seccomp(seccomp: model.Seccomp, facts: HostFacts) -> Feature:
    detail = f"default {seccomp.default}, {len(seccomp.rules)} rules"
    if facts.seccomp_actions is None:
        return Feature("seccomp", True, detail)
    used = {seccomp.default, *(rule.action for rule in seccomp.rules)}
    missing = sorted(action for action in used if _KERNEL_ACTIONS[action] not in facts.seccomp_actions)
    if missing:
        return Feature("seccomp", False, f"{detail} (the kernel lacks {', '.join(missing)})")
    return Feature("seccomp", True, detail)
