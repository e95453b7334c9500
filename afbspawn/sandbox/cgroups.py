"""cgroups v2: a directory per sandbox (limits) made at load, a leaf per task joined by the child.

The leaf lets the binder kill or account a whole task tree, and is removed when the
task has been reaped. A configured limit whose controller the hierarchy lacks is a
load error naming the controller and the mount.
"""
from __future__ import annotations

import errno
import itertools
import os
from dataclasses import dataclass
from pathlib import Path

from ..config.model import Cgroups
from .errors import SandboxError

MOUNTINFO = "/proc/self/mountinfo"
# model field -> (controller, interface file)
LIMIT_FILES = {
    "cpuset": ("cpuset", "cpuset.cpus"),
    "cpu_weight": ("cpu", "cpu.weight"),
    "cpu_max": ("cpu", "cpu.max"),
    "mem_min": ("memory", "memory.min"),
    "mem_max": ("memory", "memory.max"),
    "mem_high": ("memory", "memory.high"),
    "mem_swap": ("memory", "memory.swap.max"),
    "io_max": ("io", "io.max"),
    "pids_max": ("pids", "pids.max"),
}


def find_cgroup2_mount(mountinfo: str | None = None) -> str | None:
    """The first cgroup2 mount point in mountinfo (the v2 tree, also on hybrid hosts)."""
    text = Path(MOUNTINFO).read_text() if mountinfo is None else mountinfo
    for line in text.splitlines():
        fields = line.split()
        if " - " in line and line.split(" - ", 1)[1].split()[0] == "cgroup2":
            return fields[4].replace("\\040", " ")
    return None


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
    path: Path
    limits: dict[str, tuple[str, str]]
    _counter: itertools.count

    def describe(self) -> list[str]:
        lines = [f"cgroup: join a new leaf {self.path}/<task> (cgroup.procs)"]
        lines += [f"cgroup limit {name} = {value} (for the whole sandbox)" for name, (_, value) in self.limits.items()]
        return lines

    def create_leaf(self) -> tuple[Path, int]:
        """A fresh leaf for one task and an O_PATH fd the child opens cgroup.procs from."""
        leaf = self.path / f"task-{os.getpid()}-{next(self._counter)}"
        leaf.mkdir(mode=0o755)
        return leaf, os.open(leaf, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def remove_leaf(leaf: Path) -> None:
    """Kills what is left of the task tree and removes the leaf; idempotent."""
    try:
        fd = os.open(leaf / "cgroup.kill", os.O_WRONLY | os.O_CLOEXEC)  # never created: only the kernel's
        try:
            os.write(fd, b"1")
        finally:
            os.close(fd)
    except OSError:
        pass  # already gone, or a kernel before 5.14: rmdir below tells whether it is empty
    try:
        leaf.rmdir()
    except FileNotFoundError:
        pass
    except OSError as e:
        if e.errno != errno.EBUSY:
            raise


def _controllers(directory: Path) -> set[str]:
    try:
        return set((directory / "cgroup.controllers").read_text().split())
    except OSError:
        return set()


def prepare_cgroup(sandbox: str, cgroups: Cgroups, mount: str | None = None) -> SandboxCgroup:
    """Creates `<mount>/<sandbox>`, enables the controllers the limits need and writes them."""
    root_text = mount or cgroups.mount or find_cgroup2_mount()
    if root_text is None:
        raise SandboxError(sandbox, "cgroups", "no cgroup2 hierarchy is mounted", "mount cgroup2 or remove cgroups")
    root = Path(root_text)
    limits = configured_limits(cgroups)
    available = _controllers(root)
    for controller in sorted({c for c, _ in limits.values()}):
        if controller not in available:
            raise SandboxError(sandbox, f"cgroups ({controller})",
                               f"the controller '{controller}' is not available in the cgroup2 mount {root}",
                               f"enable it in the kernel/boot or remove the {controller} limits")
    path = root / sandbox
    try:
        path.mkdir(mode=0o755, exist_ok=True)
        for controller in sorted({c for c, _ in limits.values()}):
            (root / "cgroup.subtree_control").write_text(f"+{controller}")
        for filename, (_, value) in limits.items():
            (path / filename).write_text(value)
    except OSError as e:
        raise SandboxError(sandbox, "cgroups", f"cannot prepare {path}: {e.strerror} ({e.filename})",
                           "run the binder as root, or remove cgroups") from e
    return SandboxCgroup(path, limits, itertools.count(1))
