"""Where a binder's event loop spends its passes: `python -m afbspawn ARGS` with each loop
callback timed (wall clock and the thread's CPU time) and each garbage collection timed; a
summary is written as JSON to OUT when the binder exits.

    python bench/loopprofile.py OUT.json --config FILE -p PORT

Only the stdlib loop's callbacks can be timed (uvloop's are C), so the binder runs on it
(AFB_SPAWN_LOOP=asyncio). A callback whose wall time is far above its CPU time was not
running all along: the kernel gave the core to another process. bench/fairness.py
--profile prints the summary next to its latencies.
"""
from __future__ import annotations

import asyncio.events
import atexit
import gc
import json
import os
import runpy
import sys
import time
from typing import Any

BUCKETS = (1.0, 2.0, 5.0, 10.0, 50.0)  # ms: upper bounds of the histogram's bins, the last is open


def bucket(ms: float) -> str:
    for bound in BUCKETS:
        if ms <= bound:
            return f"<= {bound:g} ms"
    return f"> {BUCKETS[-1]:g} ms"


class Profile:
    def __init__(self) -> None:
        self.cpu: dict[str, int] = {}
        self.wall: dict[str, int] = {}
        self.slowest: list[tuple[float, float, str]] = []  # (cpu ms, wall ms, callback)
        self.collections: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._gc_start = 0.0

    def timed(self, run: Any) -> Any:
        profile = self

        def handle_run(handle: asyncio.events.Handle) -> None:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                run(handle)
            finally:
                profile.record(handle, (time.thread_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000)
        return handle_run

    def record(self, handle: asyncio.events.Handle, cpu_ms: float, wall_ms: float) -> None:
        self.cpu[bucket(cpu_ms)] = self.cpu.get(bucket(cpu_ms), 0) + 1
        self.wall[bucket(wall_ms)] = self.wall.get(bucket(wall_ms), 0) + 1
        if len(self.slowest) < 10 or cpu_ms > self.slowest[0][0]:
            self.slowest = sorted([*self.slowest, (cpu_ms, wall_ms, describe(handle))])[-10:]

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.collections[info["generation"]].append((time.perf_counter() - self._gc_start) * 1000)

    def summary(self) -> dict[str, Any]:
        return {"callbacks": sum(self.cpu.values()), "cpu": self.cpu, "wall": self.wall,
                "slowest": [{"cpu_ms": cpu, "wall_ms": wall, "callback": name} for cpu, wall, name in self.slowest[::-1]],
                "gc": {str(gen): {"count": len(pauses), "max_ms": max(pauses, default=0.0), "total_ms": sum(pauses)}
                       for gen, pauses in self.collections.items()}}


def describe(handle: asyncio.events.Handle) -> str:
    """The callback, and for a task step the coroutine it runs."""
    task = getattr(handle._callback, "__self__", None)
    coroutine = getattr(task, "get_coro", lambda: None)()
    name = getattr(coroutine, "__qualname__", None)
    return f"task {name}" if name else repr(handle)[:120]


def main() -> None:
    out, args = sys.argv[1], sys.argv[2:]
    os.environ["AFB_SPAWN_LOOP"] = "asyncio"
    profile = Profile()
    asyncio.events.Handle._run = profile.timed(asyncio.events.Handle._run)  # type: ignore[method-assign]
    gc.callbacks.append(profile.on_gc)

    def write() -> None:
        with open(out, "w") as file:
            json.dump(profile.summary(), file, indent=1)
    atexit.register(write)
    sys.argv = ["afb-spawn", *args]
    runpy.run_module("afbspawn", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
