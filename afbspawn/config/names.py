"""Resolution of the names a config uses: capabilities, syscalls, seccomp actions,
users, groups, resource limits. Each returns a value or raises LookupError with a
message fit for a Problem (and a "did you mean" hint where it helps).
"""
from __future__ import annotations

import difflib
import errno as errno_names
import grp
import pwd
import re
import resource
from collections.abc import Iterable

import prctl
import pyseccomp

# linux/capability.h numbers, as compiled into python-prctl; LAST_CAP is a C spelling
CAPABILITIES: dict[str, int] = {name.upper(): number for name, number in zip(prctl.ALL_CAP_NAMES, prctl.ALL_CAPS)}
CAPABILITIES["LAST_CAP"] = max(CAPABILITIES.values())

SECCOMP_ACTIONS = ("SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL", "SCMP_ACT_TRAP",
                   "SCMP_ACT_LOG", "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_NOTIFY")
_ERRNO_ACTION = re.compile(r"SCMP_ACT_ERRNO\(\s*([0-9]+|E[A-Z0-9]+)\s*\)")
DEFAULT_ERRNO = errno_names.EPERM
_SIZE = re.compile(r"([0-9]+)([KMGT]?)", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class UnknownName(LookupError):
    """An unknown or invalid name; `hint` suggests the closest valid one."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """A "did you mean" hint, or None when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def choose(value: str, choices: Iterable[str], what: str) -> str:
    """The lower-case member of `choices` equal to `value` ignoring case."""
    options = list(choices)
    lowered = value.lower()
    if lowered in options:
        return lowered
    raise UnknownName(f"unknown {what} '{value}' (expected one of {', '.join(options)})", suggest(lowered, options))


def capability(name: str) -> tuple[str, int]:
    key = name.upper().removeprefix("CAP_")
    if key not in CAPABILITIES:
        raise UnknownName(f"unknown capability '{name}'", suggest(key, CAPABILITIES))
    return key, CAPABILITIES[key]


def syscall(name: str) -> str:
    """Checks that libseccomp knows the syscall (on any architecture it supports)."""
    if pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name) == -1:  # __NR_SCMP_ERROR
        raise UnknownName(f"unknown syscall '{name}' (libseccomp does not know it)")
    return name


def seccomp_action(text: str, errno: int | None = None) -> tuple[str, int | None]:
    """(SCMP_ACT_* name, errno) from `SCMP_ACT_X`, `SCMP_ACT_ERRNO(13)` or `SCMP_ACT_ERRNO(EACCES)`."""
    upper = text.strip().upper()
    if match := _ERRNO_ACTION.fullmatch(upper):
        if errno is not None:
            raise UnknownName("the errno is given twice (in the action and in 'errno')")
        return "SCMP_ACT_ERRNO", _errno(match.group(1))
    if upper not in SECCOMP_ACTIONS:
        raise UnknownName(f"unknown seccomp action '{text}' (expected one of {', '.join(SECCOMP_ACTIONS)})",
                         suggest(upper, SECCOMP_ACTIONS))
    if upper == "SCMP_ACT_ERRNO":
        return upper, DEFAULT_ERRNO if errno is None else errno
    if errno is not None:
        raise UnknownName(f"'errno' only applies to SCMP_ACT_ERRNO, not {upper}")
    return upper, None


def _errno(token: str) -> int:
    if token.isdigit():
        number = int(token)
        if number > 4095:
            raise UnknownName(f"errno {number} is out of range 0..4095")
        return number
    if not hasattr(errno_names, token):
        raise UnknownName(f"unknown errno name '{token}'")
    return int(getattr(errno_names, token))


def user(ref: str | int) -> pwd.struct_passwd:
    try:
        return pwd.getpwuid(ref) if isinstance(ref, int) else pwd.getpwnam(ref)
    except KeyError:
        raise UnknownName(f"unknown user '{ref}'", "give a user name or uid listed by 'getent passwd'") from None


def group(ref: str | int) -> grp.struct_group:
    try:
        return grp.getgrgid(ref) if isinstance(ref, int) else grp.getgrnam(ref)
    except KeyError:
        raise UnknownName(f"unknown group '{ref}'", "give a group name or gid listed by 'getent group'") from None


RLIM_INFINITY = 2**64 - 1


def rlimit_value(value: int | str) -> int:
    """Bytes/count from 64, "512M" or "unlimited" (-1)."""
    if isinstance(value, int):
        return value
    if value == "unlimited":
        return -1
    match = _SIZE.fullmatch(value)
    if match is None or len(match.group(1)) > 20:
        raise UnknownName(f"invalid limit '{value[:40]}'", "use a number, a size such as \"512M\", or \"unlimited\"")
    number = int(match.group(1)) * _UNITS[match.group(2).upper()]
    if number >= RLIM_INFINITY:
        raise UnknownName(f"limit '{value}' is beyond what the kernel takes", "use \"unlimited\" or a smaller size")
    return number


def rlimit_resource(name: str) -> str:
    key = name.upper()
    if not hasattr(resource, f"RLIMIT_{key}"):
        raise UnknownName(f"resource limit '{name}' is not supported on this system")
    return key
