"""Launch-to-exit time of /bin/true: posix_spawn (the floor), our launcher without and with a
full namespace sandbox, and bwrap with the equivalent options. Prints a table with ratios.

Run by `make bench` (never by the tests). Installs Debian's bubblewrap when missing and root.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from afbspawn.config import model as m
from afbspawn.sandbox import compile_plan

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "400"))
BIG_BINDER_MIB = 512  # memory the binder holds for the "large binder" rows
WARMUP = 20
TRUE = "/bin/true"
FULL = m.Namespace(shares=m.Shares(all=m.Share.DISABLE), hostname="bench", mounts=(
    m.Mount("/usr", m.MountMode.RO), m.Mount("/bin", m.MountMode.SYMLINK, "usr/bin"),
    m.Mount("/lib", m.MountMode.SYMLINK, "usr/lib"), m.Mount("/lib64", m.MountMode.SYMLINK, "usr/lib64"),
    m.Mount("/proc", m.MountMode.PROC), m.Mount("/dev", m.MountMode.DEV), m.Mount("/tmp", m.MountMode.TMPFS)))


def measure(run_once: Callable[[], None]) -> tuple[float, float]:
    """(median, p99) in milliseconds."""
    for _ in range(WARMUP):
        run_once()
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter_ns()
        run_once()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def posix_spawn(argv: list[str], devnull: int) -> Callable[[], None]:
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]

    def run_once() -> None:
        pid = os.posix_spawn(argv[0], argv, {}, file_actions=actions)
        os.waitpid(pid, 0)
    return run_once


def launcher(sandbox: m.Sandbox, devnull: int) -> Callable[[], None]:
    plan = compile_plan(sandbox)

    def run_once() -> None:
        child = plan.launch(TRUE, ["true"], devnull, devnull)
        info = os.waitid(os.P_PIDFD, child.pidfd, os.WEXITED)
        child.release()
        if info.si_status != 0:
            raise SystemExit(f"/bin/true failed in sandbox {sandbox.uid}: {info}")
    return run_once


def forking(argv: list[str]) -> Callable[[], None]:
    """What a binder pays with subprocess + preexec_fn (a real fork of the whole process)."""
    def run_once() -> None:
        subprocess.run(argv, preexec_fn=os.setsid, check=True)
    return run_once


def large_binder_rows(devnull: int) -> list[tuple[str, float, float]]:
    """The same launches from a binder holding BIG_BINDER_MIB of touched memory."""
    ballast = bytearray(BIG_BINDER_MIB << 20)
    ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))  # touch every page
    rows = [(f"{BIG_BINDER_MIB} MiB binder: subprocess + preexec_fn (fork)", *measure(forking([TRUE]))),
            (f"{BIG_BINDER_MIB} MiB binder: afb-spawn launcher, no namespace",
             *measure(launcher(m.Sandbox(uid="bench-big"), devnull)))]
    del ballast
    return rows


def ensure_bwrap() -> str | None:
    if shutil.which("bwrap") is None and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "bubblewrap"], check=False, capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("bwrap")


def main() -> int:
    devnull = os.open(os.devnull, os.O_WRONLY)
    rows: list[tuple[str, float, float]] = []
    rows.append(("posix_spawn from Python (floor)", *measure(posix_spawn([TRUE, "true"], devnull))))
    rows.append(("afb-spawn launcher, no namespace", *measure(launcher(m.Sandbox(uid="bench-plain"), devnull))))
    full = m.Sandbox(uid="bench-full", namespace=FULL)
    rows.append(("afb-spawn launcher, full namespaces", *measure(launcher(full, devnull))))
    bwrap = ensure_bwrap()
    if bwrap:
        argv = compile_plan(full).bwrap_command(TRUE, ["true"])
        argv[0] = bwrap
        rows.append(("bwrap, equivalent options", *measure(posix_spawn(argv, devnull))))
    rows += large_binder_rows(devnull)
    floor = rows[0][1]
    print(f"/bin/true launch-to-exit, {ROUNDS} rounds, {os.cpu_count()} CPUs, uid {os.geteuid()}, "
          f"kernel {os.uname().release}")
    print("| launch | median ms | p99 ms | median / floor |")
    print("|---|---:|---:|---:|")
    for name, median, p99 in rows:
        print(f"| {name} | {median:.3f} | {p99:.3f} | {median / floor:.2f}x |")
    if bwrap:
        print(f"\nfull namespaces: afb-spawn / bwrap = {rows[2][1] / rows[3][1]:.2f}x (target <= 0.5x); "
              f"no namespace: {rows[1][1] / floor:.2f}x the floor (target <= 1.3x)")
    else:
        print("\nbwrap not available: install bubblewrap to compare", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
