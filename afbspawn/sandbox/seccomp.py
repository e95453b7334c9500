"""Seccomp: compiled once at load with pyseccomp into BPF bytes the child loads last.

Every profile that gives `default`, `rules` or `rulespath` is installed, whatever its
rules (a default alone filters everything). The child loads the filter right before
its execve, so the filter always lets the command start and end: execve, execveat,
exit and exit_group are allowed, and a rule that would deny them is refused at load
(it would only stop every launch, and a death before execve happens while the child
still shares the binder's memory). libseccomp emits the architecture check: a foreign
architecture (i386 `int 0x80` included) and the x32 ABI are killed. A precompiled
file (`rulespath`) is loaded as is.
"""
from __future__ import annotations

import errno as errno_module
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyseccomp

from ..config.model import Seccomp, SeccompRule
from .errors import SandboxError

BPF_INSTRUCTION_SIZE = 8
LAUNCH_SYSCALLS = ("execve", "execveat", "exit", "exit_group")  # the launcher's own last steps
PERMISSIVE = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG")
SIMPLE_ACTIONS = {
    "SCMP_ACT_KILL": pyseccomp.KILL,
    "SCMP_ACT_KILL_THREAD": pyseccomp.KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": pyseccomp.KILL_PROCESS,
    "SCMP_ACT_TRAP": pyseccomp.TRAP,
    "SCMP_ACT_LOG": pyseccomp.LOG,
    "SCMP_ACT_ALLOW": pyseccomp.ALLOW,
}


@dataclass(frozen=True)
class SeccompSetup:
    program: bytes
    summary: str

    def describe(self) -> list[str]:
        return [f"seccomp filter: {len(self.program) // BPF_INSTRUCTION_SIZE} BPF instructions, {self.summary}"]


KERNEL_ACTIONS = {"SCMP_ACT_KILL_PROCESS": "kill_process", "SCMP_ACT_KILL_THREAD": "kill_thread",
                  "SCMP_ACT_KILL": "kill_thread", "SCMP_ACT_TRAP": "trap", "SCMP_ACT_ERRNO": "errno",
                  "SCMP_ACT_LOG": "log", "SCMP_ACT_ALLOW": "allow"}


def kernel_actions() -> frozenset[str] | None:
    """The filter actions this kernel implements (None: unknown, assume all)."""
    try:
        return frozenset(Path("/proc/sys/kernel/seccomp/actions_avail").read_text().split())
    except OSError:
        return None


def _action(sandbox: str, setting: str, name: str, errno: int | None) -> int:
    upper = name.upper()
    available = kernel_actions()
    if available is not None and upper in KERNEL_ACTIONS and KERNEL_ACTIONS[upper] not in available:
        raise SandboxError(sandbox, setting, f"this kernel lacks the seccomp action {upper}",
                           f"use one of {', '.join(sorted(available))}")
    if upper in SIMPLE_ACTIONS:
        return SIMPLE_ACTIONS[upper]
    if upper == "SCMP_ACT_ERRNO":
        return pyseccomp.ERRNO(errno if errno is not None else errno_module.EPERM)
    raise SandboxError(sandbox, setting, f"action {name} cannot be applied here",
                       f"use one of {', '.join(sorted(SIMPLE_ACTIONS))} or SCMP_ACT_ERRNO")


def _rule_text(rule: SeccompRule) -> str:
    return f"{rule.syscall}->{rule.action}" + (f"({rule.errno})" if rule.errno is not None else "")


def _load_file(sandbox: str, path: str) -> SeccompSetup:
    try:
        program = Path(path).read_bytes()
    except OSError as e:
        raise SandboxError(sandbox, "seccomp.rulespath", f"cannot read {path}: {e.strerror}") from e
    if not program or len(program) % BPF_INSTRUCTION_SIZE:
        raise SandboxError(sandbox, "seccomp.rulespath", f"{path} is not a BPF program (size {len(program)})")
    return SeccompSetup(program, f"precompiled from {path}")


def _check_launch_rules(sandbox: str, seccomp: Seccomp) -> None:
    for rule in seccomp.rules:
        if rule.syscall in LAUNCH_SYSCALLS and rule.action not in PERMISSIVE:
            raise SandboxError(sandbox, f"seccomp.rules.{rule.syscall}",
                               f"{rule.action} on {rule.syscall} would stop every launch: the filter is loaded "
                               "before the command's execve and the task must be able to exit",
                               f"remove this rule ({', '.join(LAUNCH_SYSCALLS)} are always allowed)")


def _add_rule(sandbox: str, sfilter: pyseccomp.SyscallFilter, action: int, syscall: str) -> None:
    try:
        sfilter.add_rule(action, syscall)
    except (ValueError, RuntimeError, OSError) as e:
        raise SandboxError(sandbox, f"seccomp.rules.{syscall}", f"libseccomp refused the rule: {e}",
                           "check the system call name") from e


def compile_seccomp(sandbox: str, seccomp: Seccomp | None) -> SeccompSetup | None:
    """None when nothing filters (no default, rules nor file): `locked` alone only sets no_new_privs."""
    if seccomp is None or not seccomp.filters:
        return None
    if seccomp.rulespath:
        if seccomp.rules:
            raise SandboxError(sandbox, "seccomp", "rules and rulespath are exclusive")
        return _load_file(sandbox, seccomp.rulespath)
    _check_launch_rules(sandbox, seccomp)
    default = _action(sandbox, "seccomp.default", seccomp.default, seccomp.default_errno)
    sfilter = pyseccomp.SyscallFilter(default)
    sfilter.set_attr(pyseccomp.Attr.ACT_BADARCH, pyseccomp.KILL_PROCESS)
    configured = {rule.syscall for rule in seccomp.rules}
    for rule in seccomp.rules:
        action = _action(sandbox, f"seccomp.rules.{rule.syscall}", rule.action, rule.errno)
        if action != default:  # the same as the default: libseccomp refuses it and it changes nothing
            _add_rule(sandbox, sfilter, action, rule.syscall)
    if default != pyseccomp.ALLOW:
        for syscall in LAUNCH_SYSCALLS:
            if syscall not in configured:
                _add_rule(sandbox, sfilter, pyseccomp.ALLOW, syscall)
    with tempfile.TemporaryFile() as out:
        sfilter.export_bpf(out)
        out.seek(0)
        program = out.read()
    rules = ", ".join(_rule_text(r) for r in seccomp.rules) or "none"
    return SeccompSetup(program, f"default {seccomp.default}, rules {rules}, "
                                 f"{'/'.join(LAUNCH_SYSCALLS)} allowed, foreign arch and x32 killed")
