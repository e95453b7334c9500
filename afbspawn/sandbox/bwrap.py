"""The `bwrap` command line equivalent to a plan: a debug aid (verbose >= 3) and the bench's peer.

Only what bwrap can express is written; the rest (rlimits, cgroups, the exact
capability masks of a `set` list) has no bwrap option and is left out.
"""
from __future__ import annotations

import shlex
from collections.abc import Sequence

from ..config.model import MountMode, Namespace, Share
from .caps import CapsSetup
from .identity import IdentitySetup
from .namespaces import NamespaceSetup

MOUNT_OPTIONS = {
    MountMode.RO: "--ro-bind", MountMode.RW: "--bind", MountMode.DIR: "--dir", MountMode.SYMLINK: "--symlink",
    MountMode.TMPFS: "--tmpfs", MountMode.PROC: "--proc", MountMode.DEV: "--dev", MountMode.MQUEUE: "--mqueue",
    MountMode.LOCK: "--lock-file",
}
UNSHARE_OPTIONS = (("user", "--unshare-user"), ("pid", "--unshare-pid"), ("net", "--unshare-net"),
                   ("uts", "--unshare-uts"), ("ipc", "--unshare-ipc"))


def _mount_args(namespace: Namespace) -> list[str]:
    args: list[str] = []
    for m in namespace.mounts:
        option = MOUNT_OPTIONS.get(m.mode)
        if m.mode in (MountMode.RO, MountMode.RW, MountMode.SYMLINK):
            args += [option, m.source or m.target, m.target]  # type: ignore[list-item]
        elif m.mode is MountMode.EXECFD:
            args += ["--file", "FD", m.target]  # content captured at load: bwrap reads it from an fd
        else:
            args += [option, m.target]  # type: ignore[list-item]
    return args


def bwrap_argv(namespace: Namespace | None, namespaces: NamespaceSetup, identity: IdentitySetup,
               caps: CapsSetup, environment: dict[str, str], cmdpath: str, argv: Sequence[str],
               bwrap: str = "bwrap") -> list[str]:
    line = [bwrap, "--die-with-parent", "--new-session"]
    names = set(namespaces.names())
    line += [option for name, option in UNSHARE_OPTIONS if name in names]
    if namespaces.unshare_cgroup:
        line.append("--unshare-cgroup")
    if namespaces.hostname:
        line += ["--hostname", namespaces.hostname]
    if namespaces.user:
        line += ["--uid", str(identity.uid), "--gid", str(identity.gid)]
    if namespace is not None:
        line += _mount_args(namespace)
        if namespace.shares.net is Share.ENABLE and "net" not in names:
            line.append("--share-net")
    if caps.configured:
        line += ["--cap-drop", "ALL"]
        for number in range(caps.last_cap + 1):
            if caps.ambient & (1 << number):
                line += ["--cap-add", caps.names(1 << number)]
    if identity.chdir:
        line += ["--chdir", identity.chdir]
    line.append("--clearenv")
    for name, value in environment.items():
        line += ["--setenv", name, value]
    return [*line, cmdpath, *argv[1:]]  # argv[0] is the path: `--argv0` needs bwrap >= 0.9


def bwrap_line(args: Sequence[str]) -> str:
    return shlex.join(args)
