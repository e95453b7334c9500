"""cgroups v2: a directory per sandbox (limits) made at load, a leaf per task joined by the child.

The groups live in the binder's own subtree (afbspawn.sandbox.containment). A
configured limit whose controller the tree lacks is a load error naming the
controller and the tree: a task never runs with less than its configuration says.
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config.model import Cgroups
from .errors import SandboxError

if TYPE_CHECKING:
    from .containment import CgroupLeaf, Containment

MOUNTINFO = "/proc/self/mountinfo"
# model field -> (controller, interface file)
LIMIT_FILES = {
    "cpuset": ("cpuset", "cpuset.cpus"),
    "cpu_weight": ("cpu", "cpu.weight"),
    "cpu_max": ("cpu", "cpu.max"),
    "mem_min": ("memory", "memory.min"),
    "mem_low": ("memory", "memory.low"),
    "mem_max": ("memory", "memory.max"),
    "mem_high": ("memory", "memory.high"),
    "mem_swap": ("memory", "memory.swap.max"),
    "io_max": ("io", "io.max"),
    "pids_max": ("pids", "pids.max"),
}


def _mounts(mountinfo: str | None) -> list[tuple[str, str]]:
    """(mount point, filesystem type) of each line of mountinfo, in its order."""
    text = Path(MOUNTINFO).read_text() if mountinfo is None else mountinfo
    return [(line.split()[4].replace("\\040", " "), line.split(" - ", 1)[1].split()[0])
            for line in text.splitlines() if " - " in line]


def find_cgroup2_mount(mountinfo: str | None = None) -> str | None:
    """The first cgroup2 mount point in mountinfo (the v2 tree, also on hybrid hosts)."""
    return next((point for point, kind in _mounts(mountinfo) if kind == "cgroup2"), None)


def filesystem_type(path: str, mountinfo: str | None = None) -> str | None:
    """The type of the filesystem `path` (resolved) is on: that of the last mount covering it."""
    real, found = os.path.realpath(path), None
    for point, kind in _mounts(mountinfo):
        covers = real == point or real.startswith(point.rstrip("/") + "/")
        if covers and (found is None or len(point) >= len(found[0])):
            found = (point, kind)
    return found[1] if found else None


def configured_limits(cgroups: Cgroups) -> dict[str, tuple[str, str]]:
    """{interface file: (controller, value)} of every limit set in the configuration."""
    limits = {}
    for field, (controller, filename) in LIMIT_FILES.items():
        value = getattr(cgroups, field)
        if value is not None:
            limits[filename] = (controller, str(value))
    return limits


@dataclass
class SandboxCgroup:
    """The sandbox's group in the binder's subtree: its limits, and a leaf per task below it."""

    path: Path
    limits: dict[str, tuple[str, str]]
    containment: Containment

    def describe(self) -> list[str]:
        lines = [f"cgroup: join a new leaf {self.path}/task-<n> (cgroup.procs); cgroup.kill ends the whole task"]
        lines += [f"cgroup limit {name} = {value} (for the whole sandbox)" for name, (_, value) in self.limits.items()]
        return lines

    def create_leaf(self) -> tuple[CgroupLeaf, int]:
        """A fresh leaf for one task and an O_PATH fd the child opens cgroup.procs from."""
        leaf = self.containment.new_leaf(self.path)
        return leaf, os.open(leaf.path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def _controllers(directory: Path) -> set[str]:
    try:
        return set((directory / "cgroup.controllers").read_text().split())
    except OSError:
        return set()


def _enable(directory: Path, controllers: set[str]) -> None:
    for controller in sorted(controllers):
        (directory / "cgroup.subtree_control").write_text(f"+{controller}")


def prepare_cgroup(sandbox: str, cgroups: Cgroups | None, containment: Containment) -> SandboxCgroup | None:
    """Creates the sandbox's group in the binder's subtree, enables the controllers its limits
    need from the subtree's parent down to the task leaves, and writes the limits; None when
    tasks are process groups."""
    if containment.subtree is None:
        if cgroups is not None:
            raise SandboxError(sandbox, "cgroups", f"no writable cgroup2 subtree: {containment.reason}",
                               "run the binder as root, give it --cgroup-root DIR, or remove cgroups")
        return None
    limits = configured_limits(cgroups) if cgroups is not None else {}
    needed = {c for c, _ in limits.values()}
    base = containment.subtree.parent
    available = _controllers(base)
    for controller in sorted(needed):
        if controller not in available:
            raise SandboxError(sandbox, f"cgroups ({controller})",
                               f"the controller '{controller}' is not available in the cgroup2 tree {base}",
                               f"enable it in the kernel/boot or remove the {controller} limits")
    path = containment.subtree / sandbox
    try:
        _enable(base, needed)
        _enable(containment.subtree, needed)
        path.mkdir(mode=0o755, exist_ok=True)
        for filename, (_, value) in limits.items():
            (path / filename).write_text(value)
        _enable(path, needed)  # down to the task leaves too: memory.peak of a leaf is a task's own peak
    except OSError as e:
        busy = (f" (the no-internal-process rule: {base} still holds processes, a group with processes "
                "cannot hand controllers down; give the binder --cgroup-root on an empty group)")
        raise SandboxError(sandbox, "cgroups", f"cannot prepare {path}: {e.strerror} ({e.filename})"
                           + (busy if e.errno == errno.EBUSY else ""),
                           "run the binder as root, or remove cgroups") from e
    return SandboxCgroup(path, limits, containment)
