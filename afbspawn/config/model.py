"""The compiled configuration: frozen, fully resolved, built once at load.

This is the contract between `afbspawn.config` (which builds it), `afbspawn.sandbox`
(which turns a Sandbox into a launch plan) and the binding/tasks (which run
Commands). Names are resolved (uids, gids, capability numbers, signal numbers),
`$NAME` is expanded, paths are checked; nothing here is re-parsed per launch.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class MountMode(enum.Enum):
    RO = "ro"  # bind read-only (C: ro, read)
    RW = "rw"  # bind read-write (C: rw, write)
    DIR = "dir"  # empty directory (C: anonymous)
    SYMLINK = "symlink"  # target -> source
    EXECFD = "execfd"  # file whose content is a shell command's output captured at load
    TMPFS = "tmpfs"
    PROC = "proc"  # C: procfs
    DEV = "dev"  # minimal /dev (C: devfs)
    MQUEUE = "mqueue"
    LOCK = "lock"  # lock file (bwrap --lock-file)


@dataclass(frozen=True)
class Mount:
    target: str  # absolute path inside the sandbox
    mode: MountMode
    source: str | None = None  # host path (RO/RW), link text (SYMLINK), shell command (EXECFD)
    content: bytes | None = None  # EXECFD: the captured output
    perms: int | None = None  # TMPFS: mode of its root (new key; default 0755, /tmp 1777)


class Share(enum.Enum):
    DEFAULT = "default"
    ENABLE = "enable"  # share the binder's namespace
    DISABLE = "disable"  # new namespace


@dataclass(frozen=True)
class Shares:
    all: Share = Share.DEFAULT
    users: Share = Share.DEFAULT
    cgroups: Share = Share.DEFAULT
    net: Share = Share.DEFAULT
    ipc: Share = Share.DEFAULT
    pid: Share = Share.DEFAULT
    uts: Share = Share.DEFAULT


@dataclass(frozen=True)
class Namespace:
    shares: Shares = field(default_factory=Shares)
    mounts: tuple[Mount, ...] = ()
    hostname: str | None = None  # implies a new UTS namespace
    autocreate: bool = False
    selinux: bool = False
    bwrap: str | None = None  # C's opts.bwrap: only used for the debug "equivalent bwrap" line


@dataclass(frozen=True)
class Identity:
    """acls: who the task runs as, and where. None = keep the binder's."""

    uid: int | None = None
    gid: int | None = None
    user: str | None = None  # resolved name, for HOME/USER/LOGNAME
    home: str | None = None
    umask: int | None = None
    chdir: str | None = None
    runmod: str = "default"  # default | user | admin


class EnvMode(enum.Enum):
    SET = "set"
    UNSET = "unset"


@dataclass(frozen=True)
class EnvSetting:
    name: str
    mode: EnvMode = EnvMode.SET
    value: str = ""


@dataclass(frozen=True)
class Environment:
    """The child's environment is built from this, never from the binder's own."""

    settings: tuple[EnvSetting, ...] = ()
    inherit: bool = False  # new key `inherit`: start from the binder's environment
    path: str | None = None  # acls.path
    ldpath: str | None = None  # acls.ldpath


class CapMode(enum.Enum):
    SET = "set"
    UNSET = "unset"


@dataclass(frozen=True)
class Capability:
    name: str  # upper case, without CAP_
    number: int
    mode: CapMode


@dataclass(frozen=True)
class Cgroups:
    mount: str | None = None  # cgroup2 mount point; None = discovered from mountinfo
    cpuset: str | None = None  # cpuset.cpus
    mem_min: str | None = None
    mem_low: str | None = None  # new: memory.low
    mem_max: str | None = None
    mem_high: str | None = None  # C spelling: hight
    mem_swap: str | None = None  # memory.swap.max
    cpu_weight: str | None = None
    cpu_max: str | None = None
    io_max: str | None = None  # written verbatim to io.max
    pids_max: str | None = None  # new


@dataclass(frozen=True)
class SeccompRule:
    syscall: str
    action: str  # SCMP_ACT_* name, upper case
    errno: int | None = None  # for SCMP_ACT_ERRNO(n) (new: "action": "SCMP_ACT_ERRNO", "errno": n)


@dataclass(frozen=True)
class Seccomp:
    default: str = "SCMP_ACT_KILL"
    locked: bool = False
    rules: tuple[SeccompRule, ...] = ()
    rulespath: str | None = None  # precompiled BPF file
    default_errno: int | None = None
    filters: bool = True  # False: neither `default`, `rules` nor `rulespath` given (`locked` alone)


@dataclass(frozen=True)
class Rlimit:
    resource: str  # RLIMIT_* name without prefix, upper case: NOFILE, AS, CPU, ...
    soft: int  # -1 = unlimited
    hard: int


@dataclass(frozen=True)
class Sandbox:
    uid: str
    info: str | None = None
    privilege: str | None = None
    prefix: str | None = None  # resolved prefix ("" = none)
    verbose: int = 0
    timeout: int | None = None  # acls.timeout, seconds
    identity: Identity = field(default_factory=Identity)
    environment: Environment = field(default_factory=Environment)
    caps: tuple[Capability, ...] = ()
    cgroups: Cgroups | None = None
    seccomp: Seccomp | None = None
    namespace: Namespace | None = None
    rlimits: tuple[Rlimit, ...] = ()
    allow_exec: bool = False  # new key `exec-verb`: enables the builtin exec verb
    strict: bool = False  # new key: what can only partly be applied here is an error, not a warning
    source_path: str = field(default="", compare=False)  # JSON pointer of the sandbox, for load errors
    grace: float | None = None  # new: default of its commands' `grace`


@dataclass(frozen=True)
class EncoderSpec:
    name: str  # builtin name (lower case) or plugin encoder uid
    plugin: str | None = None
    opts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Placeholder:
    """A runtime argument reference inside an argv element: %name% or ?name?."""

    name: str
    mandatory: bool


ArgPart = str | Placeholder


@dataclass(frozen=True)
class ArgTemplate:
    """One argv element: literal text and placeholders, compiled at load."""

    parts: tuple[ArgPart, ...]

    @property
    def is_literal(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)


@dataclass(frozen=True)
class History:
    """New key `history`: what a task keeps for replay, and how many finished tasks `list` shows."""

    lines: int = 100  # output events kept per task
    bytes: int = 65536  # output text kept per task
    tasks: int = 10  # finished tasks kept per command


@dataclass(frozen=True)
class EnvRule:
    """New key `env`: one variable a request may set, its value matching `pattern` in full."""

    name: str
    pattern: str | None = None  # None: any value (bounded length, no NUL)


@dataclass(frozen=True)
class Command:
    uid: str
    verb: str  # full verb name: "[prefix/]uid"
    cmdpath: str  # absolute, checked executable
    args: tuple[ArgTemplate, ...] = ()  # argv[1:] templates; argv[0] is the command uid
    info: str | None = None
    usage: Any = None
    sample: Any = None
    privilege: str | None = None  # resolved: command's, else sandbox's
    timeout: int | None = None  # resolved: command's, else sandbox's; None/0 = none
    verbose: int = 0
    single: bool = False
    encoder: EncoderSpec = field(default_factory=lambda: EncoderSpec("text"))
    args_schema: Mapping[str, Any] | None = None  # JSON Schema of the query args (new)
    history: History = field(default_factory=History)
    stdin: bool = False  # new: a pipe instead of /dev/null, fed by the write/close actions
    maxtasks: int | None = None  # new: running tasks at most (single/once: 1); None = no limit
    queue: int = 0  # new: starts over maxtasks that may wait for a slot
    stop: int | None = None  # new: stop signal; None = the C's (SIGINT on stop, SIGKILL on timeout)
    grace: float | None = None  # new: seconds from the stop signal to SIGKILL; command's, else sandbox's
    env: tuple[EnvRule, ...] = ()  # new: per-request environment whitelist
    # JSON pointer of the command in its file, for load errors; not part of equality: a command
    # that only moved (another one was removed before it) is unchanged for a live reload
    source_path: str = field(default="", compare=False)


@dataclass(frozen=True)
class Action:
    """An onload/onstart/events/extra controller action: api://API#VERB or plugin://P#F."""

    uid: str
    uri: str
    scheme: str  # "api" | "plugin"
    target: str  # api name or plugin uid
    name: str  # verb or function
    info: str | None = None
    privilege: str | None = None
    args: Any = None
    source_path: str = ""  # JSON pointer of the action in its file, for load errors


@dataclass(frozen=True)
class Plugin:
    uid: str
    module: str  # Python module path or entry point name


@dataclass(frozen=True)
class Metadata:
    uid: str
    api: str
    info: str | None = None
    version: str | None = None
    author: str | None = None
    date: str | None = None
    require: tuple[str, ...] = ()


@dataclass(frozen=True)
class Api:
    """One config file = one API."""

    metadata: Metadata
    sandboxes: tuple[Sandbox, ...]
    commands: tuple[tuple[Sandbox, Command], ...]  # every command with its sandbox, in order
    source: str  # file it came from
    plugins: tuple[Plugin, ...] = ()
    onload: tuple[Action, ...] = ()  # onload then onstart, in order
    events: tuple[Action, ...] = ()
    extra: tuple[Action, ...] = ()

    @property
    def name(self) -> str:
        return self.metadata.api
