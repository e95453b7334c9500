"""Who the task runs as (acls): target ids, name and home, umask and working directory."""
from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from ..config.model import Identity
from .errors import SandboxError


@dataclass(frozen=True)
class IdentitySetup:
    uid: int
    gid: int
    user: str
    home: str
    change: bool  # ids differ from the binder's: drop supplementary groups, setresgid, setresuid
    umask: int | None
    chdir: str | None

    def describe(self) -> list[str]:
        lines = []
        if self.change:
            lines += ["drop supplementary groups (setgroups 0)", f"gid {self.gid} (setresgid)",
                      f"uid {self.uid} '{self.user}' (setresuid), then check every id",
                      "parent-death signal SIGKILL again (cleared by the id change)"]
        if self.umask is not None:
            lines.append(f"umask {self.umask:04o}")
        if self.chdir:
            lines.append(f"chdir {self.chdir}")
        return lines


def _passwd(uid: int) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwuid(uid)
    except KeyError:
        return None


def resolve_identity(sandbox: str, identity: Identity, privileged: bool) -> IdentitySetup:
    """A binder without privileges keeps its own ids: asking for others is refused, not ignored."""
    binder_uid, binder_gid = os.geteuid(), os.getegid()
    uid = binder_uid if identity.uid is None else identity.uid
    entry = _passwd(uid)
    default_gid = entry.pw_gid if entry and identity.uid is not None else binder_gid
    gid = default_gid if identity.gid is None else identity.gid
    change = (uid, gid) != (binder_uid, binder_gid)
    if change and not privileged:
        raise SandboxError(sandbox, "acls.user/group",
                           f"a binder running as uid {binder_uid} gid {binder_gid} cannot run tasks as uid {uid} gid {gid}",
                           "remove acls.user/group or run the binder as root")
    user = identity.user or (entry.pw_name if entry else str(uid))
    home = identity.home or (entry.pw_dir if entry else "/")
    return IdentitySetup(uid, gid, user, home, change, identity.umask, identity.chdir)
