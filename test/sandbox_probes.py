"""Sandbox probes, nsjail-style: each scenario launches a real task whose probe exits 0
only when one isolation property holds.

Run in-process by the root tests, and as `python sandbox_probes.py SCENARIO` under
`nobody` (the file is copied to a world-readable directory): it prints one JSON result.
"""
from __future__ import annotations

import json
import os
import select
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from afbspawn.config import model as m
from afbspawn.sandbox import LaunchError, SandboxError, compile_plan

SH = "/bin/sh"
NOBODY = 65534
ALL_NEW = m.Shares(all=m.Share.DISABLE)
# A merged-/usr Debian: /usr read-only and the top-level links are enough to run a shell.
BASE_MOUNTS = (m.Mount("/usr", m.MountMode.RO), m.Mount("/bin", m.MountMode.SYMLINK, "usr/bin"),
               m.Mount("/lib", m.MountMode.SYMLINK, "usr/lib"), m.Mount("/lib64", m.MountMode.SYMLINK, "usr/lib64"))
PROC_DEV = (m.Mount("/proc", m.MountMode.PROC), m.Mount("/dev", m.MountMode.DEV))


@dataclass
class Scenario:
    sandbox: m.Sandbox
    script: str  # sh -c text: exits 0 when the property holds
    cmdpath: str = SH
    argv: tuple[str, ...] = ()  # instead of sh -c script


def contained(uid: str, *mounts: m.Mount, shares: m.Shares = ALL_NEW, hostname: str | None = None,
              **sandbox: object) -> m.Sandbox:
    namespace = m.Namespace(shares=shares, mounts=BASE_MOUNTS + mounts, hostname=hostname)
    return m.Sandbox(uid=uid, namespace=namespace, **sandbox)  # type: ignore[arg-type]


def _identity() -> m.Identity:
    """Root runs the task as nobody; nobody can only keep its own ids (the same ones)."""
    return m.Identity(uid=NOBODY, gid=NOBODY)


def _cap_bit_clear(field: str, bit: int) -> str:
    return f'v=$(grep "^{field}:" /proc/self/status | cut -f2); [ $(( 0x$v & (1 << {bit}) )) -eq 0 ]'


def _caps_are(bounding: str) -> str:
    """CapBnd is exactly `bounding` (hex), and the task holds nothing beyond it."""
    return (f'grep -q "^CapBnd:.{bounding}$" /proc/self/status'
            ' && for f in CapPrm CapEff CapAmb; do grep -q "^$f:.0000000000000000$" /proc/self/status || exit 1; done')


def scenarios() -> dict[str, Callable[[], Scenario]]:
    tmp = tempfile.mkdtemp(prefix="afbspawn-probe-")
    os.chmod(tmp, 0o755)
    return {
        "ro-bind-refuses-writes": lambda: Scenario(
            contained("ro", m.Mount("/data", m.MountMode.RO, tmp)),
            'if echo x > /data/file 2>/dev/null; then exit 1; fi; [ ! -e /data/file ]'),
        "host-paths-invisible": lambda: Scenario(
            contained("hidden", *PROC_DEV),
            "[ ! -e /etc/passwd ] && [ ! -e /home ] && [ ! -e /root ] && [ ! -e /var ]"),
        "pid-namespace-only-task": lambda: Scenario(
            contained("pid", *PROC_DEV), 'set -- /proc/[0-9]*; [ "$*" = /proc/1 ] && [ $$ -eq 1 ]'),
        "net-namespace-only-lo": lambda: Scenario(
            contained("net", *PROC_DEV),
            '[ "$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " ")" = lo ]'
            ' && /usr/bin/ip -o link show lo | grep -q "[<,]UP[,>]"'),
        "hostname": lambda: Scenario(
            contained("uts", *PROC_DEV, hostname="probe-box"), '[ "$(cat /proc/sys/kernel/hostname)" = probe-box ]'),
        "uid-gid-inside": lambda: Scenario(
            m.Sandbox(uid="ids", identity=_identity()), '[ "$(id -u):$(id -g)" = "65534:65534" ]'),
        "uid-gid-inside-namespace": lambda: Scenario(
            contained("idsns", *PROC_DEV, identity=_identity()), '[ "$(id -u):$(id -g)" = "65534:65534" ]'),
        "supplementary-groups-dropped": lambda: Scenario(
            m.Sandbox(uid="groups", identity=_identity()), '[ -z "$(grep ^Groups: /proc/self/status | cut -f2 | tr -d " ")" ]'),
        "capability-dropped": lambda: Scenario(
            contained("capdrop", *PROC_DEV, caps=(m.Capability("SYS_ADMIN", 21, m.CapMode.UNSET),)),
            " && ".join(_cap_bit_clear(f, 21) for f in ("CapBnd", "CapPrm", "CapEff", "CapAmb"))),
        "capability-kept-as-nobody": lambda: Scenario(
            m.Sandbox(uid="capset", identity=_identity(),
                      caps=(m.Capability("NET_BIND_SERVICE", 10, m.CapMode.SET),)),
            'for f in CapBnd CapPrm CapEff CapAmb; do grep -q "^$f:.*0000000000000400$" /proc/self/status || exit 1; done'),
        "seccomp-errno": lambda: Scenario(
            m.Sandbox(uid="scerr", seccomp=m.Seccomp(default="SCMP_ACT_ALLOW", rules=(
                m.SeccompRule("mkdir", "SCMP_ACT_ERRNO", 18), m.SeccompRule("mkdirat", "SCMP_ACT_ERRNO", 18)))),
            f'out=$(mkdir {tmp}/new 2>&1); case "$out" in *"cross-device"*) [ ! -e {tmp}/new ];; *) exit 1;; esac'),
        "seccomp-kill": lambda: Scenario(
            m.Sandbox(uid="sckill", seccomp=m.Seccomp(default="SCMP_ACT_ALLOW", rules=(
                m.SeccompRule("uname", "SCMP_ACT_KILL"),))), "", "/usr/bin/uname", ("uname",)),
        "seccomp-default-kill-only": lambda: Scenario(
            m.Sandbox(uid="scdefkill", seccomp=m.Seccomp(default="SCMP_ACT_KILL")), f"mkdir {tmp}/default-kill"),
        "seccomp-default-kill-process-only": lambda: Scenario(
            m.Sandbox(uid="scdefkillp", seccomp=m.Seccomp(default="SCMP_ACT_KILL_PROCESS")), f"mkdir {tmp}/kill-p"),
        "seccomp-default-log-only": lambda: Scenario(
            m.Sandbox(uid="scdeflog", seccomp=m.Seccomp(default="SCMP_ACT_LOG")),
            'grep -q "^Seccomp:	2$" /proc/self/status'),
        "bounding-set-empty-for-nobody": lambda: Scenario(
            m.Sandbox(uid="bndnobody", identity=_identity()), _caps_are("0000000000000000")),
        "bounding-set-empty-in-namespace": lambda: Scenario(
            contained("bndns", *PROC_DEV, identity=_identity()), _caps_are("0000000000000000")),
        "bounding-set-keeps-only-set-caps": lambda: Scenario(
            contained("bndset", *PROC_DEV, identity=_identity(),
                      caps=(m.Capability("NET_BIND_SERVICE", 10, m.CapMode.UNSET),)), _caps_are("0000000000000000")),
        "tmpfs-owned-by-the-sandbox-user": lambda: Scenario(
            contained("tmpfs", *PROC_DEV, m.Mount("/tmp", m.MountMode.TMPFS),
                      m.Mount("/work", m.MountMode.TMPFS, perms=0o700), identity=_identity()),
            '[ "$(stat -c %u:%g:%a /tmp)" = 65534:65534:1777 ] && [ "$(stat -c %u:%g:%a /work)" = 65534:65534:700 ]'
            ' && echo x > /tmp/file && echo y > /work/file'),
        "rlimit-unlimited": lambda: Scenario(
            m.Sandbox(uid="rlimitinf", rlimits=(m.Rlimit("FSIZE", -1, -1),)), '[ "$(ulimit -f)" = unlimited ]'),
        "seccomp-x32-refused": lambda: Scenario(
            m.Sandbox(uid="scx32", seccomp=m.Seccomp(default="SCMP_ACT_ALLOW", rules=(
                m.SeccompRule("ptrace", "SCMP_ACT_ERRNO", 1),))),
            "", sys.executable if os.access(sys.executable, os.X_OK) else "/usr/bin/python3",
            ("python", "-c", "import ctypes; ctypes.CDLL(None).syscall(0x40000000 | 39); print('x32 ran')")),
        "no-new-privs": lambda: Scenario(
            m.Sandbox(uid="nnp", seccomp=m.Seccomp(locked=True, filters=False)), 'grep -q "^NoNewPrivs:\t1$" /proc/self/status'),
        "no-binder-fd-inherited": lambda: Scenario(
            m.Sandbox(uid="fds"),
            'for fd in /proc/$$/fd/*; do case "${fd##*/}" in 0|1|2) ;; *) if [ -e "$fd" ]; then exit 1; fi;; esac; done; exit 0'),
        "stdin-is-dev-null": lambda: Scenario(m.Sandbox(uid="stdin"), '[ "$(readlink /proc/$$/fd/0)" = /dev/null ]'),
        "task-leads-session": lambda: Scenario(
            m.Sandbox(uid="session"), 'set -- $(cat /proc/$$/stat); [ "$5" = $$ ] && [ "$6" = $$ ]'),
        "environment-from-config-only": lambda: Scenario(
            m.Sandbox(uid="env", environment=m.Environment(settings=(m.EnvSetting("GREETING", value="hi"),))),
            '[ -z "${AFB_SPAWN_SECRET+set}" ] && [ "$GREETING" = hi ] && [ -n "$HOME" ] && [ -n "$PATH" ]'),
        "rlimit-nofile": lambda: Scenario(
            m.Sandbox(uid="rlimit", rlimits=(m.Rlimit("NOFILE", 64, 64),)), '[ "$(ulimit -n)" = 64 ]'),
    }


def _impossible_mount() -> dict[str, object]:
    """A bind source that disappears after load: the launch fails, naming the mount."""
    source = tempfile.mkdtemp(prefix="afbspawn-gone-")
    plan = compile_plan(contained("gone", m.Mount("/gone", m.MountMode.RO, source)))
    os.rmdir(source)
    try:
        plan.launch(SH, ["gone", "-c", "exit 0"], 1, 2)
    except LaunchError as e:
        return {"error": str(e), "step": e.step}
    return {"error": None}


def run(name: str) -> dict[str, object]:
    """Launches one scenario; returns its exit status (or signal) and output, or the launch error."""
    if name == "impossible-mount":
        return _impossible_mount()
    scenario = scenarios()[name]()
    try:
        plan = compile_plan(scenario.sandbox)
    except SandboxError as e:
        return {"refused": str(e)}
    leaked = os.open("/dev/null", os.O_RDONLY)  # inheritable on purpose: the task must not get it
    os.environ["AFB_SPAWN_SECRET"] = "binder-only"
    argv = list(scenario.argv) or [name, "-c", scenario.script]
    read_end, write_end = os.pipe()
    try:
        child = plan.launch(scenario.cmdpath, argv, write_end, write_end)
    except LaunchError as e:
        return {"error": str(e), "step": e.step}
    finally:
        os.close(write_end)
        os.close(leaked)
    with open(read_end, "rb") as output:
        text = output.read().decode(errors="replace")
    info = os.waitid(os.P_PIDFD, child.pidfd, os.WEXITED)
    child.release()
    killed = info.si_code in (os.CLD_KILLED, os.CLD_DUMPED)
    return {"status": None if killed else info.si_status, "signal": info.si_status if killed else None,
            "output": text, "error": None}


def hold_task() -> None:
    """For the parent-death test: launch a long task, print its pid, then wait to be killed."""
    plan = compile_plan(contained("pdeath", *PROC_DEV))
    child = plan.launch(SH, ["pdeath", "-c", "exec sleep 300"], 2, 2)
    print(child.pid, flush=True)
    select.select([], [], [], 300)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if sys.argv[1] == "hold-task":
        hold_task()
    else:
        print(json.dumps(run(sys.argv[1])))
