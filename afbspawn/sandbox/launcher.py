"""Python side of the C launcher: turns a compiled plan into the C structures, once,
and each launch into one call that returns a pid and a pidfd or a LaunchError."""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._launcher import ffi, lib
from .caps import CapsSetup
from .errors import LaunchError
from .identity import IdentitySetup
from .mounts import MountSetup
from .namespaces import CLONE_NEWNET, CLONE_NEWNS, NamespaceSetup
from .rlimits import ResolvedRlimit

STEP_TEXT = {
    lib.AFBS_STEP_ERRPIPE: "error pipe",
    lib.AFBS_STEP_SIGNALS: "reset signal handlers",
    lib.AFBS_STEP_PDEATHSIG: "parent-death signal",
    lib.AFBS_STEP_PARENT: "parent check",
    lib.AFBS_STEP_SESSION: "new session",
    lib.AFBS_STEP_CGROUP: "join cgroup",
    lib.AFBS_STEP_USERNS: "user namespace",
    lib.AFBS_STEP_MOUNT_PRIVATE: "make / private",
    lib.AFBS_STEP_MOUNT: "mount",
    lib.AFBS_STEP_PIVOT: "pivot_root",
    lib.AFBS_STEP_HOSTNAME: "hostname",
    lib.AFBS_STEP_LOOPBACK: "loopback up",
    lib.AFBS_STEP_CGROUPNS: "cgroup namespace",
    lib.AFBS_STEP_BOUNDING: "capability bounding set",
    lib.AFBS_STEP_KEEPCAPS: "keep capabilities",
    lib.AFBS_STEP_GROUPS: "drop supplementary groups",
    lib.AFBS_STEP_GID: "setresgid",
    lib.AFBS_STEP_UID: "setresuid",
    lib.AFBS_STEP_IDCHECK: "identity check",
    lib.AFBS_STEP_PDEATHSIG_AGAIN: "parent-death signal after the id change",
    lib.AFBS_STEP_UMASK: "umask",
    lib.AFBS_STEP_CHDIR: "chdir",
    lib.AFBS_STEP_RLIMIT: "rlimit",
    lib.AFBS_STEP_CAPS: "capabilities",
    lib.AFBS_STEP_AMBIENT: "ambient capabilities",
    lib.AFBS_STEP_NO_NEW_PRIVS: "no_new_privs",
    lib.AFBS_STEP_STDIO: "stdin/stdout/stderr",
    lib.AFBS_STEP_CLOSE_FDS: "close inherited fds",
    lib.AFBS_STEP_SIGMASK: "signal mask",
    lib.AFBS_STEP_SECCOMP: "seccomp filter",
    lib.AFBS_STEP_EXEC: "execve",
    lib.AFBS_STEP_CLONE: "clone",
    lib.AFBS_STEP_MAPS: "user namespace id maps",
}

_devnull: int | None = None


def devnull_fd() -> int:
    """One /dev/null opened by the binder: the sandbox's own /dev may not have it."""
    global _devnull
    if _devnull is None:
        _devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return _devnull


def _cstring(keep: list[Any], text: str | bytes | None) -> Any:
    if text is None:
        return ffi.NULL
    value = ffi.new("char[]", os.fsencode(text))
    keep.append(value)
    return value


def string_array(keep: list[Any], items: Sequence[str | bytes]) -> Any:
    """A NULL-terminated char*[] whose strings stay alive as long as `keep`."""
    array = ffi.new("char *[]", len(items) + 1)
    for i, item in enumerate(items):
        array[i] = _cstring(keep, item)
    keep.append(array)
    return array


def _rlim(value: int) -> int:
    """An rlim_t: Python's RLIM_INFINITY is -1, C's is the all-ones unsigned value."""
    return value & 0xFFFFFFFFFFFFFFFF


@dataclass
class NativePlan:
    """The C plan and every buffer it points to (cffi frees them with this object)."""

    plan: Any
    envp: Any
    mounts: MountSetup
    _keep: list[Any] = field(default_factory=list)


def build_native_plan(namespaces: NamespaceSetup, mounts: MountSetup, identity: IdentitySetup,
                      caps: CapsSetup, rlimits: Sequence[ResolvedRlimit], environment: dict[str, str], *,
                      no_new_privs: bool, seccomp: bytes | None) -> NativePlan:
    keep: list[Any] = []
    plan = ffi.new("struct afbs_plan *")
    plan.clone_flags = namespaces.clone_flags
    plan.parent_writes_maps = int(namespaces.user)
    plan.uid_map = _cstring(keep, namespaces.uid_map)
    plan.gid_map = _cstring(keep, namespaces.gid_map)
    plan.deny_setgroups = int(namespaces.deny_setgroups)
    plan.make_private = int(namespaces.has(CLONE_NEWNS))
    plan.root = _cstring(keep, mounts.root)
    ops = ffi.new("struct afbs_op[]", max(len(mounts.ops), 1))
    for i, op in enumerate(mounts.ops):
        ops[i].kind = op.kind
        ops[i].path = _cstring(keep, op.path)
        ops[i].arg = _cstring(keep, op.arg)
        ops[i].data = _cstring(keep, op.data)
        ops[i].len = len(op.data or b"")
        ops[i].flags = op.mode
    keep.append(ops)
    plan.ops, plan.nops = ops, len(mounts.ops)
    plan.hostname = _cstring(keep, namespaces.hostname)
    plan.loopback = int(namespaces.has(CLONE_NEWNET))
    plan.unshare_cgroup = int(namespaces.unshare_cgroup)
    plan.drop_bounding = int(caps.drop_bounding)
    plan.bounding_keep = caps.keep
    plan.change_ids = int(identity.change)
    plan.uid, plan.gid = identity.uid, identity.gid
    plan.keepcaps = int(caps.keepcaps and identity.change)
    plan.umask = -1 if identity.umask is None else identity.umask
    plan.chdir = _cstring(keep, identity.chdir)
    limits = ffi.new("struct afbs_rlimit[]", max(len(rlimits), 1))
    for i, limit in enumerate(rlimits):
        limits[i].resource, limits[i].soft, limits[i].hard = limit.number, _rlim(limit.soft), _rlim(limit.hard)
    keep.append(limits)
    plan.rlimits, plan.nrlimits = limits, len(rlimits)
    plan.set_caps = int(caps.configured)
    plan.caps_keep, plan.ambient, plan.last_cap = caps.keep, caps.ambient, caps.last_cap
    plan.no_new_privs = int(no_new_privs)
    if seccomp:
        program = ffi.new("unsigned char[]", seccomp)
        keep.append(program)
        plan.seccomp, plan.seccomp_len = program, len(seccomp)
    envp = string_array(keep, [f"{k}={v}" for k, v in environment.items()])
    return NativePlan(plan, envp, mounts, keep)


def describe_failure(native: NativePlan, step: int, index: int) -> tuple[str, str]:
    """(step, detail) of a failed launch, e.g. ("mount", "/usr (bind, ro)")."""
    name = STEP_TEXT.get(step, f"step {step}")
    if step == lib.AFBS_STEP_MOUNT:
        if 0 <= index < len(native.mounts.ops):
            what = native.mounts.ops[index].what
            return "mount", what.removeprefix("mount ")
        return "mount", f"new root (tmpfs on {native.mounts.root})"
    return name, (f"#{index}" if step == lib.AFBS_STEP_RLIMIT else "")


def native_launch(native: NativePlan, cmdpath: str, argv: Sequence[str], stdout_fd: int, stderr_fd: int,
                  cgroup_fd: int = -1, rlimit_names: Sequence[str] = ()) -> tuple[int, int]:
    """Runs the child's steps and execve; (pid, pidfd) or LaunchError naming the failed step."""
    keep: list[Any] = []
    c_argv = string_array(keep, list(argv))
    result = ffi.new("struct afbs_result *")
    rc = lib.afbs_launch(native.plan, _cstring(keep, cmdpath), c_argv, native.envp, devnull_fd(),
                         stdout_fd, stderr_fd, cgroup_fd, result)
    if rc == 0:
        return result.pid, result.pidfd
    step, detail = describe_failure(native, result.step, result.index)
    if result.step == lib.AFBS_STEP_RLIMIT and result.index < len(rlimit_names):
        detail = rlimit_names[result.index]
    if result.step == lib.AFBS_STEP_EXEC:
        detail = cmdpath
    raise LaunchError(step, result.error, detail)
