"""The sandbox facade: compile a model.Sandbox once at load, launch it many times.

compile_plan() resolves and checks every setting (SandboxError when one cannot be
applied here); SandboxPlan.launch() only fills argv and calls the C launcher.
"""
from __future__ import annotations

import os
import shutil
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..config.model import Sandbox
from .bwrap import bwrap_argv, bwrap_line
from .caps import CapsSetup, compile_caps
from .cgroups import SandboxCgroup, prepare_cgroup
from .containment import (
    EMPTY_WAIT,
    POLL,
    Containment,
    ProcessGroup,
    TaskGroup,
    containment_for,
)
from .environ import build_environment
from .errors import LaunchError, SandboxError
from .identity import IdentitySetup, resolve_identity
from .launcher import NativePlan, build_native_plan, native_launch
from .mounts import MountSetup, compile_mounts
from .namespaces import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    NamespaceSetup,
    compile_namespaces,
)
from .rlimits import ResolvedRlimit, resolve_rlimits
from .seccomp import SeccompSetup, compile_seccomp

__all__ = ["Child", "LaunchError", "SandboxError", "SandboxPlan", "compile_plan"]


@dataclass
class Child:
    """A launched task: its pid and pidfd, and what contains all its processes."""

    pid: int
    pidfd: int
    group: TaskGroup
    _released: bool = field(default=False, repr=False)

    @property
    def cgroup_leaf(self) -> Path | None:
        return self.group.path

    def end(self) -> None:
        """SIGKILL to every process of the task: the whole cgroup leaf, else the process group."""
        self.group.kill()

    def release(self) -> bool:
        """After the task was reaped: close the pidfd, end what is left of the task, remove its
        leaf when already empty (idempotent). False while the leaf still has to be removed."""
        if not self._released:
            self._released = True
            try:
                os.close(self.pidfd)
            except OSError:
                pass
            self.group.kill()
        return self.group.empty() and self.group.remove()

    def wait_removed(self, timeout: float = EMPTY_WAIT) -> bool:
        """Blocking: release, then wait for cgroup.events to say empty and remove the leaf."""
        deadline = time.monotonic() + timeout
        while not self.release():
            if time.monotonic() > deadline:
                return False
            time.sleep(POLL)
        return True


@dataclass
class SandboxPlan:
    sandbox: Sandbox
    namespaces: NamespaceSetup
    mounts: MountSetup
    identity: IdentitySetup
    caps: CapsSetup
    rlimits: tuple[ResolvedRlimit, ...]
    environment: dict[str, str]
    seccomp: SeccompSetup | None
    cgroup: SandboxCgroup | None
    no_new_privs: bool
    native: NativePlan
    containment: Containment | None = None

    def launch(self, cmdpath: str, argv: Sequence[str], stdout_fd: int, stderr_fd: int,
               *, verbose: int = 0, stdin_fd: int | None = None, env: Mapping[str, str] | None = None) -> Child:
        """One launch: raises LaunchError naming the step that failed; argv[0] is the command uid.

        `stdin_fd` replaces /dev/null (commands declaring stdin); `env` adds to the sandbox's
        environment (a request's whitelisted variables, already checked by the binding).
        """
        if verbose >= 3:
            line = f"child({self.sandbox.uid})=> {bwrap_line(self.bwrap_command(cmdpath, argv))}\n"
            os.write(stderr_fd, line.encode())
        try:
            leaf, cgroup_fd = self.cgroup.create_leaf() if self.cgroup else (None, -1)
        except OSError as e:  # e.g. the tree's cgroup.max.descendants is reached
            raise LaunchError("create the task's cgroup leaf", e.errno or 0, str(e.filename or "")) from e
        try:
            pid, pidfd = native_launch(self.native, cmdpath, argv, stdout_fd, stderr_fd, cgroup_fd,
                                       [r.name for r in self.rlimits], stdin_fd=stdin_fd,
                                       environment={**self.environment, **env} if env else None)
        except LaunchError:
            if leaf is not None:
                leaf.remove()  # the failed child was reaped: nothing is left in it
            raise
        finally:
            if cgroup_fd >= 0:
                os.close(cgroup_fd)
        if leaf is not None:
            return Child(pid, pidfd, leaf)
        return Child(pid, pidfd, self.containment.new_process_group(pid) if self.containment else ProcessGroup(pid))

    def containment_gap(self) -> str | None:
        """Why a task's processes may outlive it here, or None when all of them end with it."""
        if self.cgroup is not None or self.namespaces.has(CLONE_NEWPID):
            return None
        reason = self.containment.reason if self.containment else "no cgroup"
        return (f"tasks are contained by their process group only ({reason}): a process calling setsid "
                "escapes stop, timeout and the binder's exit")

    def explain(self, cmdpath: str, argv: Sequence[str]) -> list[str]:
        """Every step the child will apply, in launch order."""
        return [text for _, text in self.explain_steps(cmdpath, argv)]

    def explain_steps(self, cmdpath: str, argv: Sequence[str]) -> list[tuple[str, str]]:
        """`explain` with each step's concern (process, cgroups, namespaces, mounts, identity,
        environment, rlimits, capabilities, seccomp, exec): what the web page groups and compares."""
        steps = [("process", "parent-death signal SIGKILL, then check the binder is still the parent"),
                 ("process", "new session and process group (setsid)")]
        steps += _about("cgroups", self.cgroup.describe() if self.cgroup else
                        [self.containment.describe()] if self.containment else [])
        steps += _about("namespaces", self.namespaces.describe())
        if self.namespaces.has(CLONE_NEWNS) and self.mounts.root is None:
            steps.append(("mounts", "mount propagation: / made private (no mounts configured: the host's tree stays)"))
        steps += _about("mounts", self.mounts.describe())
        if self.namespaces.hostname:
            steps.append(("namespaces", f"hostname {self.namespaces.hostname}"))
        if self.namespaces.has(CLONE_NEWNET):
            steps.append(("namespaces", "loopback interface lo up (the new net namespace has nothing else)"))
        if self.namespaces.unshare_cgroup:
            steps.append(("namespaces", "new cgroup namespace (rooted at the cgroup the task is in)"))
        steps += _about("capabilities", self.caps.describe_bounding())
        steps += _about("identity", self.identity.describe())
        steps += _about("environment", [f"environment {name}={value}" for name, value in self.environment.items()])
        steps += _about("rlimits", [limit.describe() for limit in self.rlimits])
        steps += _about("capabilities", self.caps.describe_sets())
        if self.no_new_privs:
            steps.append(("capabilities", "no_new_privs"))
        steps += _about("process", ["stdin /dev/null, stdout and stderr to the given fds",
                                    "close every other file descriptor (close_range)"])
        steps += _about("seccomp", self.seccomp.describe() if self.seccomp else [])
        steps.append(("exec", f"execve {cmdpath} argv={list(argv)}"))
        return steps

    def bwrap_command(self, cmdpath: str, argv: Sequence[str]) -> list[str]:
        """The equivalent bwrap command line (debug aid and benchmark peer)."""
        namespace = self.sandbox.namespace
        bwrap = namespace.bwrap if namespace and namespace.bwrap else "bwrap"
        return bwrap_argv(namespace, self.namespaces, self.identity, self.caps, self.environment,
                          cmdpath, argv, bwrap)


def _about(concern: str, texts: Sequence[str]) -> list[tuple[str, str]]:
    return [(concern, text) for text in texts]


def compile_plan(sandbox: Sandbox, *, privileged: bool | None = None,
                 containment: Containment | None = None) -> SandboxPlan:
    """Once per sandbox at load: every setting resolved, checked and prepared; SandboxError if one cannot be applied."""
    privileged = os.geteuid() == 0 if privileged is None else privileged
    uid = sandbox.uid
    identity = resolve_identity(uid, sandbox.identity, privileged)
    namespaces = compile_namespaces(uid, sandbox.namespace, privileged=privileged,
                                    target_uid=identity.uid, target_gid=identity.gid)
    caps = compile_caps(uid, sandbox.caps, privileged=privileged, user_namespace=namespaces.user,
                        target_uid=identity.uid, identity_configured=sandbox.identity.uid is not None)
    rlimits = resolve_rlimits(uid, sandbox.rlimits, privileged)
    seccomp = compile_seccomp(uid, sandbox.seccomp)
    locked = bool(sandbox.seccomp and sandbox.seccomp.locked)
    environment = build_environment(sandbox.environment, identity)
    mounts = compile_mounts(uid, sandbox.namespace, privileged=privileged, new_pid=namespaces.has(CLONE_NEWPID),
                            new_ipc=namespaces.has(CLONE_NEWIPC), owner=(identity.uid, identity.gid))
    if containment is None:
        containment = containment_for(sandbox.cgroups.mount if sandbox.cgroups is not None else None)
    try:
        cgroup = prepare_cgroup(uid, sandbox.cgroups, containment)
    except SandboxError:
        _remove_staging(mounts.root)
        raise
    no_new_privs = seccomp is not None or caps.configured or locked
    native = build_native_plan(namespaces, mounts, identity, caps, rlimits, environment,
                               no_new_privs=no_new_privs,
                               seccomp=seccomp.program if seccomp else None)
    plan = SandboxPlan(sandbox, namespaces, mounts, identity, caps, rlimits, environment, seccomp, cgroup,
                       no_new_privs, native, containment)
    if mounts.root is not None:
        weakref.finalize(plan, _remove_staging, mounts.root)
    return plan


def _remove_staging(root: str | None) -> None:
    """The staging directory is an empty mount point on the host; the tmpfs lives in the task's namespace."""
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)
