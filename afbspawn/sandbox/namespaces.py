"""Namespaces from `namespace.shares` (spec §4.7) and the user namespace's id maps.

A share set to `disable` gets a new namespace, `enable` shares the binder's, `default`
follows `all` (a new one when `all` is `disable`). The mount namespace is always new
when a namespace is configured, as with bwrap. A binder without privileges needs a user
namespace for any of them; it maps only its own ids (setgroups denied).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..config.model import Namespace, Share
from .errors import SandboxError

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
FLAG_NAMES = ((CLONE_NEWUSER, "user"), (CLONE_NEWNS, "mount"), (CLONE_NEWPID, "pid"), (CLONE_NEWNET, "net"),
              (CLONE_NEWUTS, "uts"), (CLONE_NEWIPC, "ipc"))


@dataclass(frozen=True)
class NamespaceSetup:
    clone_flags: int = 0
    unshare_cgroup: bool = False
    uid_map: str = ""
    gid_map: str = ""
    deny_setgroups: bool = False
    hostname: str | None = None

    def has(self, flag: int) -> bool:
        return bool(self.clone_flags & flag)

    @property
    def user(self) -> bool:
        return self.has(CLONE_NEWUSER)

    def names(self) -> list[str]:
        return [name for flag, name in FLAG_NAMES if self.clone_flags & flag]

    def describe(self) -> list[str]:
        if not self.clone_flags:
            return []
        lines = [f"new namespaces (clone flags): {', '.join(self.names())}"]
        if self.user:
            maps = f"uid map '{self.uid_map.strip()}', gid map '{self.gid_map.strip()}'".replace("\n", "; ")
            lines.append(f"user namespace ids written by the binder: {maps}"
                         + (", setgroups denied" if self.deny_setgroups else ""))
        return lines


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read().strip()
    except OSError:
        return None


def userns_blocker() -> str | None:
    """Why this host refuses user namespaces to an unprivileged process, or None."""
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        return "kernel.unprivileged_userns_clone is 0"
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        return "user.max_user_namespaces is 0"
    return None


def _new(share: Share, default_all: Share) -> bool:
    return share is Share.DISABLE if share is not Share.DEFAULT else default_all is Share.DISABLE


def _id_map(inside_outside: list[int]) -> str:
    return "".join(f"{i} {i} 1\n" for i in dict.fromkeys(inside_outside))


def compile_namespaces(sandbox: str, namespace: Namespace | None, *, privileged: bool,
                       target_uid: int, target_gid: int) -> NamespaceSetup:
    if namespace is None:
        return NamespaceSetup()
    shares = namespace.shares
    flags = CLONE_NEWNS
    for share, flag in ((shares.pid, CLONE_NEWPID), (shares.net, CLONE_NEWNET), (shares.ipc, CLONE_NEWIPC),
                        (shares.uts, CLONE_NEWUTS)):
        if _new(share, shares.all):
            flags |= flag
    if namespace.hostname:
        if shares.uts is Share.ENABLE:
            raise SandboxError(sandbox, "namespace.opts.hostname", "a hostname needs its own UTS namespace "
                               "but shares.uts is enable", "remove the hostname or shares.uts")
        flags |= CLONE_NEWUTS
    new_user = _new(shares.users, shares.all)
    if not privileged and not new_user:
        if shares.users is Share.ENABLE or shares.all is Share.ENABLE:
            raise SandboxError(sandbox, "namespace.shares.users", "a binder without privileges can only create "
                               "namespaces inside a new user namespace", "set shares.users to default or disable")
        new_user = True
    if not new_user:
        return NamespaceSetup(flags, _new(shares.cgroups, shares.all), hostname=namespace.hostname)
    blocker = None if privileged else userns_blocker()
    if blocker:
        raise SandboxError(sandbox, "namespace", f"an unprivileged binder needs a user namespace and {blocker}",
                           "enable unprivileged user namespaces, or run the binder as root")
    if privileged:
        # root inside during the setup (files it creates need a mapped owner), then the target ids
        uid_map, gid_map = _id_map([0, target_uid]), _id_map([0, target_gid])
    else:
        uid_map, gid_map = _id_map([os.geteuid()]), _id_map([os.getegid()])
    return NamespaceSetup(flags | CLONE_NEWUSER, _new(shares.cgroups, shares.all), uid_map, gid_map,
                          deny_setgroups=not privileged, hostname=namespace.hostname)
