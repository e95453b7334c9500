"""Compiles one sandbox's settings (acls, envs, caps, cgroups, seccomp, namespace,
rlimits) into the model, resolving every name and reporting problems with paths.
"""
from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from typing import Any, TypeVar

from afbspawn.config import model, names
from afbspawn.config.collector import Collector, Path, alias, items
from afbspawn.config.variables import Expander, ExpansionError

EXECFD_MAX = 1 << 20  # bytes of an execfd command's captured output
EXECFD_TIMEOUT = 10  # seconds
AUTOCREATE_MODE = 0o755
MOUNT_MODES = {
    "ro": model.MountMode.RO, "read": model.MountMode.RO,
    "rw": model.MountMode.RW, "write": model.MountMode.RW,
    "anonymous": model.MountMode.DIR, "dir": model.MountMode.DIR,
    "symlink": model.MountMode.SYMLINK, "execfd": model.MountMode.EXECFD,
    "tmpfs": model.MountMode.TMPFS, "procfs": model.MountMode.PROC, "proc": model.MountMode.PROC,
    "devfs": model.MountMode.DEV, "dev": model.MountMode.DEV,
    "mqueue": model.MountMode.MQUEUE, "lock": model.MountMode.LOCK,
}
T = TypeVar("T")

HOST_NAME_MAX = 64  # bytes sethostname(2) accepts (linux/utsname.h)


class SandboxCompiler:
    """Compiles the parts of one sandbox object; problems go to the file's collector."""

    def __init__(self, node: dict[str, Any], path: Path, problems: Collector, expander: Expander,
                 environ: dict[str, str], privileged: bool):
        self.node, self.path, self.problems = node, path, problems
        self.expander, self.environ, self.privileged = expander, environ, privileged

    def attempt(self, path: Path, resolve: Callable[..., T], *args: Any) -> T | None:
        """Runs one resolution; a failure becomes a Problem at `path` and yields None."""
        try:
            return resolve(*args)
        except (names.UnknownName, ExpansionError) as error:
            self.problems.add(path, str(error), getattr(error, "hint", None))
            return None

    def expand(self, path: Path, text: str) -> str | None:
        return self.attempt(path, self.expander.expand, text)

    # -- acls -------------------------------------------------------------------------
    def identity(self) -> model.Identity:
        acls = self.node.get("acls")
        path = self.path + ("acls",)
        if acls is None:
            if self.privileged:
                self.problems.add(self.path, "a binder running as root requires acls.user on every sandbox",
                                  'add "acls": {"user": "NAME"} (an explicit "root" is allowed)')
            return model.Identity()
        runmod = self.attempt(path + ("runmod",), names.choose, acls.get("runmod", "default"),
                              ("default", "user", "admin"), "runmod")
        if runmod == "admin" and not self.privileged:
            self.problems.add(path + ("runmod",), "runmod 'admin' requires a binder running as root")
        if runmod == "user" and self.privileged:
            self.problems.add(path + ("runmod",), "runmod 'user' forbids a binder running as root")
        uid = gid = None
        user = home = None
        if "user" in acls:
            entry = self.attempt(path + ("user",), names.user, acls["user"])
            if entry is not None:
                uid, gid, user, home = entry.pw_uid, entry.pw_gid, entry.pw_name, entry.pw_dir
        elif self.privileged:
            self.problems.add(path, "a binder running as root requires acls.user",
                              'add "user": "NAME" (an explicit "root" is allowed)')
        if "group" in acls:
            group = self.attempt(path + ("group",), names.group, acls["group"])
            gid = group.gr_gid if group is not None else gid
        self._check_switch(path, uid, gid)
        return model.Identity(
            uid=uid, gid=gid, user=user, home=home,
            umask=int(acls["umask"], 8) if "umask" in acls else None,
            chdir=self.expand(path + ("chdir",), acls["chdir"]) if "chdir" in acls else None,
            runmod=runmod or "default",
        )

    def _check_switch(self, path: Path, uid: int | None, gid: int | None) -> None:
        """An unprivileged binder cannot change identity: refuse instead of ignoring (C did)."""
        if self.privileged:
            return
        if uid is not None and uid != os.geteuid():
            self.problems.add(path + ("user",), "changing user requires a binder running as root",
                              "remove acls.user/group or run the binder as root")
        elif gid is not None and gid != os.getegid():
            self.problems.add(path + ("group",), "changing group requires a binder running as root",
                              "remove acls.group or run the binder as root")

    # -- envs -------------------------------------------------------------------------
    def environment(self) -> model.Environment:
        settings: list[model.EnvSetting] = []
        inherit = False
        for entry, path in items(self.node.get("envs"), self.path + ("envs",)):
            mode = self.attempt(path + ("mode",), names.choose, entry.get("mode", "set"),
                                ("set", "unset", "inherit"), "env mode")
            name = entry["name"]
            if mode == "inherit" and name == "*":
                inherit = True
            elif name == "*":
                self.problems.add(path + ("name",), "'*' is only valid with mode 'inherit'")
            elif mode == "inherit":
                if name in self.environ:
                    settings.append(model.EnvSetting(name, model.EnvMode.SET, self.environ[name]))
            elif mode == "unset":
                settings.append(model.EnvSetting(name, model.EnvMode.UNSET))
            elif mode == "set":
                raw = entry.get("value", "")
                value = raw if isinstance(raw, str) else json.dumps(raw)
                expanded = self.expand(path + ("value",), value)
                settings.append(model.EnvSetting(name, model.EnvMode.SET, expanded or ""))
        acls = self.node.get("acls") or {}
        return model.Environment(
            settings=tuple(settings), inherit=inherit,
            path=self.expand(self.path + ("acls", "path"), acls["path"]) if "path" in acls else None,
            ldpath=self.expand(self.path + ("acls", "ldpath"), acls["ldpath"]) if "ldpath" in acls else None,
        )

    # -- caps -------------------------------------------------------------------------
    def capabilities(self) -> tuple[model.Capability, ...]:
        caps = []
        for entry, path in items(self.node.get("caps"), self.path + ("caps",)):
            resolved = self.attempt(path + ("cap",), names.capability, entry["cap"])
            mode = self.attempt(path + ("mode",), names.choose, entry["mode"], ("set", "unset"), "cap mode")
            if resolved and mode:
                caps.append(model.Capability(resolved[0], resolved[1], model.CapMode(mode)))
        return tuple(caps)

    # -- cgroups ----------------------------------------------------------------------
    def cgroups(self) -> model.Cgroups | None:
        node = alias(self.node, ("cgroups", "cgroup"), self.path, self.problems)
        if node is None:
            return None
        path = self.path + ("cgroups" if "cgroups" in self.node else "cgroup",)
        mem = node.get("mem", {})
        cpu = node.get("cpu", {})
        high = alias(mem, ("high", "hight"), path + ("mem",), self.problems)
        return model.Cgroups(
            mount=node.get("mount"), cpuset=node.get("cset"),
            mem_min=_str(mem.get("min")), mem_low=_str(mem.get("low")), mem_max=_str(mem.get("max")), mem_high=_str(high),
            mem_swap=_str(mem.get("swap")), cpu_weight=_str(cpu.get("weight")), cpu_max=cpu.get("max"),
            io_max=node.get("io"), pids_max=_str(node.get("pids")),
        )

    # -- seccomp ----------------------------------------------------------------------
    def seccomp(self) -> model.Seccomp | None:
        node = self.node.get("seccomp")
        if node is None:
            return None
        path = self.path + ("seccomp",)
        if "rules" in node and "rulespath" in node:
            self.problems.add(path + ("rulespath",), "'rules' and 'rulespath' are exclusive", "keep one of them")
        default = self.attempt(path + ("default",), names.seccomp_action, node.get("default", "SCMP_ACT_KILL"))
        rules = []
        for entry, rule_path in items(node.get("rules"), path + ("rules",)):
            syscall = self.attempt(rule_path + ("syscall",), names.syscall, entry["syscall"])
            action = self.attempt(rule_path + ("action",), names.seccomp_action, entry["action"], entry.get("errno"))
            if syscall and action:
                rules.append(model.SeccompRule(syscall, action[0], action[1]))
        rulespath = None
        if "rulespath" in node and "rules" not in node:
            rulespath = self.expand(path + ("rulespath",), node["rulespath"])
            if rulespath is not None:
                self._check_bpf_file(path + ("rulespath",), rulespath)
        return model.Seccomp(
            default=default[0] if default else "SCMP_ACT_KILL", default_errno=default[1] if default else None,
            locked=bool(node.get("locked", False)), rules=tuple(rules), rulespath=rulespath,
            filters=any(key in node for key in ("default", "rules", "rulespath")),
        )

    def _check_bpf_file(self, path: Path, filename: str) -> None:
        try:
            size = os.stat(filename).st_size
        except OSError as error:
            self.problems.add(path, f"cannot read BPF file '{filename}': {error.strerror}")
            return
        if size == 0 or size % 8:
            self.problems.add(path, f"'{filename}' is not a BPF program ({size} bytes, not a multiple of 8)")

    # -- namespace --------------------------------------------------------------------
    def namespace(self) -> model.Namespace | None:
        node = self.node.get("namespace")
        if node is None:
            return None
        path = self.path + ("namespace",)
        opts = node.get("opts", {})
        autocreate = bool(opts.get("autocreate", False))
        mounts = tuple(m for entry, mount_path in items(node.get("mounts"), path + ("mounts",))
                       if (m := self._mount(entry, mount_path, autocreate)) is not None)
        hostname = opts.get("hostname")
        if hostname is not None:
            hostname = self.expand(path + ("opts", "hostname"), hostname)
        if hostname is not None and len(hostname.encode()) > HOST_NAME_MAX:
            self.problems.add(path + ("opts", "hostname"), f"hostname of {len(hostname.encode())} bytes: the kernel "
                              f"takes at most {HOST_NAME_MAX}", "give a shorter hostname")
            hostname = None
        return model.Namespace(
            shares=self._shares(node.get("shares", {}), path + ("shares",)), mounts=mounts,
            hostname=hostname,
            autocreate=autocreate, selinux=bool(opts.get("selinux", False)), bwrap=opts.get("bwrap"),
        )

    def _shares(self, node: dict[str, Any], path: Path) -> model.Shares:
        values: dict[str, model.Share] = {}
        for key in ("all", "users", "net", "ipc", "pid", "uts"):
            if key in node:
                values[key] = self._share(node[key], path + (key,))
        cgroups = alias(node, ("cgroups", "cgroup"), path, self.problems)
        if cgroups is not None:
            values["cgroups"] = self._share(cgroups, path + ("cgroups" if "cgroups" in node else "cgroup",))
        return model.Shares(**values)

    def _share(self, value: str, path: Path) -> model.Share:
        flag = self.attempt(path, names.choose, value, ("default", "enable", "disable"), "share flag")
        return model.Share(flag or "default")

    def _mount(self, entry: dict[str, Any], path: Path, autocreate: bool) -> model.Mount | None:
        mode = self.attempt(path + ("mode",), names.choose, entry.get("mode", ""), MOUNT_MODES, "mount mode")
        target = self.expand(path + ("target",), entry["target"])
        if target is not None and not target.startswith("/"):
            self.problems.add(path + ("target",), f"mount target '{target}' is not an absolute path")
        source_text = entry.get("source", entry["target"])
        source = self.expand(path + ("source",), source_text)
        if mode is None or target is None or source is None:
            return None
        kind = MOUNT_MODES[mode]
        if kind in (model.MountMode.RO, model.MountMode.RW):
            self._check_source(path + ("source",), source, autocreate)
            return model.Mount(target, kind, source)
        if kind in (model.MountMode.SYMLINK, model.MountMode.EXECFD) and "source" not in entry:
            self.problems.add(path, f"mode '{mode}' requires a source",
                              "the link text (symlink) or the shell command (execfd)")
            return None
        if kind is model.MountMode.SYMLINK:
            return model.Mount(target, kind, source)
        if kind is model.MountMode.EXECFD:
            content = self._execfd(path + ("source",), source)
            return model.Mount(target, kind, source, content)
        if "perms" in entry:
            if kind is not model.MountMode.TMPFS:
                self.problems.add(path + ("perms",), f"'perms' applies to tmpfs mounts only, not '{mode}'",
                                  "remove it")
                return None
            return model.Mount(target, kind, perms=int(entry["perms"], 8))
        return model.Mount(target, kind)

    def _check_source(self, path: Path, source: str, autocreate: bool) -> None:
        if os.path.exists(source):
            return
        if not autocreate:
            self.problems.add(path, f"mount source '{source}' does not exist",
                              'create it, or set "namespace": {"opts": {"autocreate": true}}')
            return
        try:
            os.makedirs(source, mode=AUTOCREATE_MODE)
            os.chmod(source, AUTOCREATE_MODE)  # makedirs' mode is filtered by the umask
        except OSError as error:
            self.problems.add(path, f"cannot create mount source '{source}': {error.strerror}")

    def _execfd(self, path: Path, command: str) -> bytes | None:
        """Runs the execfd command once, at load: its output is the file's content."""
        try:
            done = subprocess.run(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=EXECFD_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            self.problems.add(path, f"execfd command did not finish within {EXECFD_TIMEOUT}s")
            return None
        if done.returncode != 0:
            reason = done.stderr.decode(errors="replace").strip()[:200]
            self.problems.add(path, f"execfd command exited with status {done.returncode}: {reason}")
            return None
        if len(done.stdout) > EXECFD_MAX:
            self.problems.add(path, f"execfd command output is larger than the limit of {EXECFD_MAX} bytes")
            return None
        return done.stdout

    # -- rlimits ----------------------------------------------------------------------
    def rlimits(self) -> tuple[model.Rlimit, ...]:
        limits = []
        for name, value in (self.node.get("rlimits") or {}).items():
            path = self.path + ("rlimits", name)
            resource = self.attempt(path, names.rlimit_resource, name)
            pair = value if isinstance(value, list) else [value, value]
            soft = self.attempt(path, names.rlimit_value, pair[0])
            hard = self.attempt(path, names.rlimit_value, pair[1])
            if resource is None or soft is None or hard is None:
                continue
            if hard != -1 and (soft == -1 or soft > hard):
                self.problems.add(path, f"soft limit {pair[0]} is above the hard limit {pair[1]}")
                continue
            limits.append(model.Rlimit(resource, soft, hard))
        return tuple(limits)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
