"""Where every process of a task is kept, so that the whole task ends with it.

With a writable cgroup2 subtree (`--cgroup-root`, $AFB_SPAWN_CGROUP_ROOT, or the
binder's own cgroup) the binder owns `<root>/afb-spawn-<pid>-<start time>`: a group per
sandbox (its limits) and a leaf per task. When the root is the binder's own non-root cgroup,
the binder first moves itself into the leaf `<root>/afb-spawn-<pid>-<start time>.binder`:
the kernel's no-internal-process rule lets a group hand controllers down to its children
(the sandboxes' limits) only while no process sits in the group itself. A leaf is ended with `cgroup.kill` (daemons
that left the process group included) and removed once `cgroup.events` says it is
empty. At start, the subtrees of binders that are gone (killed with SIGKILL) are ended
and removed; the subtrees of live binders are never touched. Without such a subtree, a
task is its process group (what `check` reports).
"""
from __future__ import annotations

import atexit
import errno
import itertools
import os
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from .cgroups import filesystem_type, find_cgroup2_mount

ROOT_ENV = "AFB_SPAWN_CGROUP_ROOT"
SUBTREE = re.compile(r"afb-spawn-(\d+)-(\d+)(\.binder)?")  # a binder's tasks, or the binder itself
BINDER_SUFFIX = ".binder"
EMPTY_WAIT = 5.0  # seconds a killed group may take to empty (processes in uninterruptible sleep)
POLL = 0.01
_counter = itertools.count(1)  # leaf names, unique in the process


def start_time(pid: int) -> str | None:
    """The start time of `pid` (field 22 of /proc/PID/stat): with the pid, names one process for good."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def own_cgroup() -> Path | None:
    """The binder's cgroup2 directory, from /proc/self/cgroup's `0::` line."""
    mount = find_cgroup2_mount()
    if mount is None:
        return None
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return Path(mount + line[3:].rstrip("/"))
    except OSError:
        return None
    return None


@dataclass
class BinderLeaf:
    """The leaf the binder moved itself into, beside its subtree, out of the group `home`."""

    path: Path
    home: Path

    def leave(self) -> bool:
        """Back into `home` and the leaf removed; False when the kernel refuses (`home` now hands
        controllers down): the empty leaf then goes at the next binder's start."""
        try:
            (self.home / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            return False
        return _rmdir(self.path)


def leave_internal_position(base: Path, name: str) -> BinderLeaf | None:
    """Move the binder out of `base` into `<base>/<name>.binder` when it sits in `base` itself
    and `base` is not the hierarchy's root (only the root, which has no cgroup.type, is exempt
    from the no-internal-process rule). None when it need not move or cannot: it then stays,
    task leaves still work, and limits needing a controller are refused at load."""
    if os.getpid() not in _members(base) or not (base / "cgroup.type").exists():
        return None
    leaf = base / f"{name}{BINDER_SUFFIX}"
    try:
        leaf.mkdir(mode=0o755, exist_ok=True)
        (leaf / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        _rmdir(leaf)
        return None
    return BinderLeaf(leaf, base)


class ProcessGroup:
    """A task without a cgroup: its process group (a daemon that calls setsid escapes it)."""

    path: Path | None = None

    def __init__(self, pgid: int, owner: Containment | None = None) -> None:
        self.pgid = pgid
        self._owner = owner

    def kill(self) -> None:
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def empty(self) -> bool:
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def remove(self) -> bool:
        if self._owner is not None:
            self._owner.live.discard(self)
        return True

    def peak_rss_kib(self) -> int | None:
        return None


class CgroupLeaf:
    """A task's own cgroup: every process it starts stays in it, whatever its session."""

    def __init__(self, path: Path, owner: Containment | None = None) -> None:
        self.path = path
        self._owner = owner

    def kill(self) -> None:
        try:
            (self.path / "cgroup.kill").write_text("1")
        except FileNotFoundError:
            pass  # removed already
        except OSError:  # before Linux 5.14: no cgroup.kill, kill its members one by one
            for pid in _members(self.path):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def empty(self) -> bool:
        try:
            return "populated 0" in (self.path / "cgroup.events").read_text().splitlines()
        except FileNotFoundError:
            return True
        except OSError:
            return not _members(self.path)

    def remove(self) -> bool:
        """rmdir once empty; False while the kernel still counts a process in it."""
        try:
            self.path.rmdir()
        except FileNotFoundError:
            pass
        except OSError as e:
            if e.errno == errno.EBUSY:
                return False
            raise
        if self._owner is not None:
            self._owner.live.discard(self)
        return True

    def peak_rss_kib(self) -> int | None:
        """memory.peak, present only where the memory controller is enabled."""
        try:
            return int((self.path / "memory.peak").read_text()) // 1024
        except (OSError, ValueError):
            return None


TaskGroup = CgroupLeaf | ProcessGroup


def _members(path: Path) -> list[int]:
    try:
        return [int(pid) for pid in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def end_tree(path: Path, wait: float = EMPTY_WAIT) -> bool:
    """cgroup.kill a whole subtree, wait until it is empty, remove it bottom-up; False if some stays."""
    if not path.is_dir():
        return True
    CgroupLeaf(path).kill()
    deadline = time.monotonic() + wait
    while not CgroupLeaf(path).empty() and time.monotonic() < deadline:
        time.sleep(POLL)
    removed = True
    for directory in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        removed = _rmdir(directory) and removed
    return _rmdir(path) and removed


def _rmdir(path: Path) -> bool:
    try:
        path.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


@dataclass
class Containment:
    """The binder's cgroup2 subtree (`subtree`), or None: tasks are process groups (`reason`)."""

    subtree: Path | None
    reason: str = ""
    live: set[TaskGroup] = field(default_factory=set)  # every task not yet removed
    binder_leaf: BinderLeaf | None = None

    def describe(self) -> str:
        if self.subtree is None:
            return f"each task is its process group only ({self.reason}): a process calling setsid escapes stop"
        moved = f"; the binder itself moved into {self.binder_leaf.path}" if self.binder_leaf else ""
        return f"each task in its own cgroup leaf under {self.subtree} (cgroup.kill ends all its processes){moved}"

    def new_leaf(self, group: Path) -> CgroupLeaf:
        leaf = CgroupLeaf(group / f"task-{next(_counter)}", self)
        leaf.path.mkdir(mode=0o755)
        self.live.add(leaf)
        return leaf

    def new_process_group(self, pgid: int) -> ProcessGroup:
        """A task without a leaf (no subtree here, or its sandbox has no group): kept until removed."""
        group = ProcessGroup(pgid, self)
        self.live.add(group)
        return group

    def end_all(self) -> None:
        """At the binder's exit: every task ended (its leaf, else its process group), every group
        removed, and the binder back where it started."""
        for group in list(self.live):
            group.kill()
        if self.subtree is not None and end_tree(self.subtree):
            self.live.clear()
        if self.binder_leaf is not None and self.binder_leaf.leave():
            self.binder_leaf = None


def reap_leftovers(base: Path) -> list[Path]:
    """End and remove the subtrees of binders that are gone; a live binder's subtree is kept."""
    removed = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    mine = own_cgroup()
    for entry in entries:
        match = SUBTREE.fullmatch(entry.name)
        if match is None or not entry.is_dir() or (mine is not None and entry in (mine, *mine.parents)):
            continue  # not a binder's, or this process sits in it (started by a binder now gone)
        pid, started = int(match.group(1)), match.group(2)
        if start_time(pid) == started:
            continue  # its binder is alive
        if end_tree(entry):
            removed.append(entry)
    return removed


def open_containment(root: str | None = None) -> Containment:
    """The binder's subtree under `root` (or $AFB_SPAWN_CGROUP_ROOT, or its own cgroup)."""
    chosen = root or os.environ.get(ROOT_ENV)
    base = Path(chosen) if chosen else own_cgroup()
    if base is None:
        return Containment(None, "no cgroup2 hierarchy is mounted")
    # a look-alike directory would take the limits and the tasks' pids without applying them
    if not (base / "cgroup.procs").exists() or filesystem_type(str(base)) != "cgroup2":
        return Containment(None, f"{base} is not a cgroup2 directory")
    if not os.access(base, os.W_OK):
        return Containment(None, f"{base} is not writable by this binder")
    reap_leftovers(base)
    name = f"afb-spawn-{os.getpid()}-{start_time(os.getpid())}"
    subtree = base / name
    try:
        subtree.mkdir(mode=0o755, exist_ok=True)
    except OSError as e:
        return Containment(None, f"cannot create {subtree}: {e.strerror}")
    containment = Containment(subtree, binder_leaf=leave_internal_position(base, name))
    atexit.register(containment.end_all)
    return containment


_current: dict[str | None, Containment] = {}


def containment_for(root: str | None = None) -> Containment:
    """One Containment per root for the life of the process (made at first use)."""
    if root not in _current:
        _current[root] = open_containment(root)
    return _current[root]


def set_default_root(root: str | None) -> None:
    """`--cgroup-root`: the root of the binder's subtree for sandboxes without `cgroups.mount`."""
    if root is not None:
        os.environ[ROOT_ENV] = root


def end_everything() -> None:
    """SIGTERM: every task of every subtree ended before the binder exits."""
    for containment in _current.values():
        containment.end_all()
