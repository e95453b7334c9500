"""The launch floors: /bin/true launched and reaped by Python's posix_spawn, bare and through
bwrap with the namespace options of the bench config. Prints JSON (ms medians and p99).

Run by compare.py as the servers' user (it needs no afbspawn, so it runs from a copy).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import time
from typing import Any

BWRAP_OPTIONS = ["--die-with-parent", "--new-session", "--unshare-all", "--ro-bind", "/usr", "/usr",
                 "--ro-bind", "/lib64", "/lib64", "--symlink", "/usr/lib", "/lib", "--symlink", "/usr/bin", "/bin",
                 "--tmpfs", "/tmp"]


def spawn_rounds(argv: list[str], rounds: int) -> list[float]:
    devnull = os.open(os.devnull, os.O_WRONLY)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
    samples = []
    for index in range(rounds + 10):
        start = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, {"PATH": "/usr/bin:/bin"}, file_actions=actions)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            raise SystemExit(f"{argv} failed: {status}")
        if index >= 10:
            samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


def summary(name: str, samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {"name": name, "median": statistics.median(ordered),
            "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], "n": len(ordered)}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    result = {"posix_spawn": summary("Python posix_spawn", spawn_rounds(["/bin/true"], rounds))}
    bwrap = shutil.which("bwrap")
    if bwrap:
        result["bwrap"] = summary("bwrap", spawn_rounds([bwrap, *BWRAP_OPTIONS, "/bin/true"], rounds))
    print(json.dumps(result))


def measure_as(runtime: Any, rounds: int) -> dict[str, Any]:
    """Run this script as the servers run (nobody when root) and return its figures."""
    import subprocess
    from pathlib import Path

    script = runtime.write("floors.py", Path(__file__).read_text(encoding="utf-8"))
    out = subprocess.run(runtime.command([runtime.python, str(script), str(rounds)]), capture_output=True,
                         text=True, check=True, cwd=runtime.root)
    return json.loads(out.stdout)


if __name__ == "__main__":
    main()
