"""Mounts of spec §4.7 compiled at load into primitive operations the child replays.

The new root is a tmpfs on a staging directory made at load: host paths stay
reachable while it is built (even those under /tmp), then the child pivots into it.
Every operation carries the text of its mount, so that a failure reads
`mount /usr (bind, ro): No such file or directory`.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..config.model import Mount, MountMode, Namespace
from .errors import SandboxError

OP_MKDIR, OP_MKFILE, OP_BIND, OP_READONLY, OP_TMPFS, OP_PROC, OP_MQUEUE, OP_SYMLINK, OP_WRITEFILE = range(1, 10)
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
             ("stderr", "/proc/self/fd/2"))
EXECFD_MODE = 0o444
TMPFS_MODE = 0o755
TMP_MODE = 0o1777


@dataclass(frozen=True)
class Op:
    kind: int
    path: str
    arg: str | None = None
    data: bytes | None = None
    mode: int = 0
    what: str = ""  # the mount it belongs to, for error messages and --explain


@dataclass(frozen=True)
class MountSetup:
    root: str | None  # staging directory; None = the host's root (private mount namespace only)
    ops: tuple[Op, ...]
    texts: tuple[str, ...]  # one line per configured mount

    def describe(self) -> list[str]:
        if self.root is None:
            return []
        return ["mount propagation: / made private", f"new root: tmpfs on {self.root}",
                *self.texts, "pivot_root into the new root, old root detached"]


class _Builder:
    def __init__(self, root: str, owner: tuple[int, int]) -> None:
        self.root = root
        self.uid, self.gid = owner  # of the tmpfs mounts: the sandbox's user and group
        self.ops: list[Op] = []
        self.made: set[str] = set()

    def inside(self, target: str) -> str:
        return self.root + target

    def mkdirs(self, target: str, what: str, include_self: bool = True) -> None:
        path = PurePosixPath(target)
        chain = [*reversed(path.parents)][1:] + ([path] if include_self else [])
        for directory in map(str, chain):
            if directory not in self.made:
                self.made.add(directory)
                self.ops.append(Op(OP_MKDIR, self.inside(directory), mode=0o755, what=what))

    def add(self, kind: int, target: str, what: str, **kw: object) -> None:
        self.ops.append(Op(kind, self.inside(target), what=what, **kw))  # type: ignore[arg-type]


def _bind_source(sandbox: str, mount: Mount, autocreate: bool) -> str:
    source = mount.source or mount.target
    if not os.path.exists(source):
        if not autocreate:
            raise SandboxError(sandbox, f"namespace.mounts {mount.target}", f"source {source} does not exist",
                               "create it or set namespace.opts.autocreate")
        try:
            os.makedirs(source, mode=0o755, exist_ok=True)
        except OSError as e:
            raise SandboxError(sandbox, f"namespace.mounts {mount.target}",
                               f"cannot create {source}: {e.strerror}") from e
    return source


def _execfd_content(sandbox: str, mount: Mount) -> bytes:
    if mount.content is not None:
        return mount.content
    done = subprocess.run(["/bin/sh", "-c", mount.source or ""], capture_output=True, check=False)
    if done.returncode != 0:
        raise SandboxError(sandbox, f"namespace.mounts {mount.target}",
                           f"execfd command exited with {done.returncode}: {done.stderr.decode(errors='replace')}")
    return done.stdout


def _compile_one(sandbox: str, b: _Builder, m: Mount, autocreate: bool) -> str:
    target = m.target
    if m.mode in (MountMode.RO, MountMode.RW):
        source = _bind_source(sandbox, m, autocreate)
        what = f"mount {target} (bind, {m.mode.value})"
        is_dir = os.path.isdir(source)
        b.mkdirs(target, what, include_self=is_dir)
        if not is_dir:
            b.add(OP_MKFILE, target, what)
        b.add(OP_BIND, target, what, arg=source)
        if m.mode is MountMode.RO:
            b.add(OP_READONLY, target, what)
        return f"{what} from {source}"
    if m.mode is MountMode.DIR:
        what = f"mount {target} (dir)"
        b.mkdirs(target, what)
        return what
    if m.mode is MountMode.SYMLINK:
        what = f"mount {target} (symlink to {m.source})"
        b.mkdirs(target, what, include_self=False)
        b.add(OP_SYMLINK, target, what, arg=m.source or "")
        return what
    if m.mode is MountMode.EXECFD:
        content = _execfd_content(sandbox, m)
        what = f"mount {target} (execfd)"
        b.mkdirs(target, what, include_self=False)
        b.add(OP_WRITEFILE, target, what, data=content, mode=EXECFD_MODE)
        return f"{what}: {len(content)} bytes captured at load from `{m.source}`"
    if m.mode is MountMode.TMPFS:
        perms = m.perms if m.perms is not None else (TMP_MODE if target == "/tmp" else TMPFS_MODE)
        what = f"mount {target} (tmpfs, owner {b.uid}:{b.gid}, mode {perms:04o})"
        b.mkdirs(target, what)
        b.add(OP_TMPFS, target, what, arg=f"mode={perms:04o},uid={b.uid},gid={b.gid}")
        return what
    if m.mode in (MountMode.PROC, MountMode.MQUEUE):
        what = f"mount {target} ({m.mode.value})"
        b.mkdirs(target, what)
        b.add(OP_PROC if m.mode is MountMode.PROC else OP_MQUEUE, target, what)
        return what
    if m.mode is MountMode.DEV:
        what = f"mount {target} (dev)"
        b.mkdirs(target, what)
        b.add(OP_TMPFS, target, what, arg="mode=0755")
        for node in DEV_NODES:
            b.add(OP_MKFILE, f"{target}/{node}", what)
            b.add(OP_BIND, f"{target}/{node}", what, arg=f"/dev/{node}")
        for name, link in DEV_LINKS:
            b.add(OP_SYMLINK, f"{target}/{name}", what, arg=link)
        b.add(OP_MKDIR, f"{target}/shm", what, mode=0o1777)
        return f"{what}: {', '.join(DEV_NODES)} bound from the host"
    raise SandboxError(sandbox, f"namespace.mounts {target}", f"mode {m.mode.value} is not supported by the "
                       "native launcher", "remove this mount")


def _check_kernel_rules(sandbox: str, mounts: Sequence[Mount], *, privileged: bool, new_pid: bool,
                        new_ipc: bool) -> None:
    """Without privileges the kernel allows proc only with a new pid namespace, mqueue with a new ipc one."""
    if privileged:
        return
    for m in mounts:
        if m.mode is MountMode.PROC and not new_pid:
            raise SandboxError(sandbox, f"namespace.mounts {m.target}", "an unprivileged binder can mount proc "
                               "only in a new pid namespace", "set shares.pid (or all) to disable")
        if m.mode is MountMode.MQUEUE and not new_ipc:
            raise SandboxError(sandbox, f"namespace.mounts {m.target}", "an unprivileged binder can mount mqueue "
                               "only in a new ipc namespace", "set shares.ipc (or all) to disable")


def compile_mounts(sandbox: str, namespace: Namespace | None, *, privileged: bool, new_pid: bool,
                   new_ipc: bool, owner: tuple[int, int] = (0, 0)) -> MountSetup:
    if namespace is None:
        return MountSetup(None, (), ())
    if not namespace.mounts:
        return MountSetup(None, (), ())
    for m in namespace.mounts:
        if not m.target.startswith("/") or ".." in PurePosixPath(m.target).parts:
            raise SandboxError(sandbox, f"namespace.mounts {m.target}", "the target must be an absolute path "
                               "without '..'")
    _check_kernel_rules(sandbox, namespace.mounts, privileged=privileged, new_pid=new_pid, new_ipc=new_ipc)
    root = tempfile.mkdtemp(prefix=f"afb-spawn-root-{sandbox}-")
    os.chmod(root, 0o755)
    builder = _Builder(root, owner)
    try:
        texts = tuple(_compile_one(sandbox, builder, m, namespace.autocreate) for m in namespace.mounts)
    except SandboxError:
        os.rmdir(root)
        raise
    return MountSetup(root, tuple(builder.ops), texts)
