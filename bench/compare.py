"""afb-spawn against the C spawn-binding, the libafb host and the launch floors, in one run.

Every server runs the same config on its own port, as nobody when we are root; each figure
is measured on all of them in the same run (latencies alternate between servers call by
call, so that the machine's load hits them alike). Every measure is bounded (bench/measures.py):
a server that crashes, stalls or loses output is reported so in its cell, restarted for the
next rows, and the table always completes. Prints a markdown table and writes every figure
to bench/results/compare-<UTC time>.json.

Run: `make bench` (or .venv/bin/python bench/compare.py [--quick]). Asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
import configs
import floors
import measures
from measures import API, MeasureError, Meter, Usage
from report import C_NAME, LIBAFB_NAME, OURS, table
from servers import Runtime, Server, libafb_host_argv, start_c, start_embedded

RESULTS = Path(__file__).resolve().parent / "results"
VARIANT = "afb-spawn, asyncio loop"
T = TypeVar("T")


@dataclass
class Scale:
    """How much each measure does, and the time budgets that bound it; --quick shrinks it."""

    ping: int = 2000
    sync: int = 300
    namespace: int = 200
    seq_lines: int = 100_000
    seq_rounds: int = 5
    fanout_lines: int = 1_000_000
    tasks: tuple[tuple[int, int], ...] = ((1, 1000), (16, 3000), (64, 6000))  # (clients, tasks): 10,000
    stream_bytes: int = 8_000_000
    stream_rounds: int = 3
    rest: int = 3000
    config_sizes: tuple[int, ...] = (10, 100, 1000, 10000)
    latency_budget: float = 180.0  # seconds for one alternating latency row, all servers
    rate_budget: float = 120.0  # seconds for one server's tasks/s row
    rest_budget: float = 30.0  # seconds for one server's REST row
    subject_budget: float = 600.0  # seconds afb-spawn has for one fan-out row: every line counted
    baseline_budget: float = 60.0  # seconds each baseline has for one fan-out row: its rate over that time

    @classmethod
    def quick(cls) -> Scale:
        return cls(200, 50, 30, 20_000, 2, 20_000, ((1, 100), (16, 300), (64, 600)), 1_000_000, 1, 300,
                   (10, 100, 1000), 60.0, 30.0, 15.0, 60.0, 15.0)


@dataclass
class Row:
    """One figure for every server (and its floor); values are medians unless `unit` says /s."""

    measure: str
    unit: str
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    floor: dict[str, Any] | None = None
    note: str = ""
    higher_is_better: bool = False
    usage: dict[str, Any] | None = None
    load: float = 0.0


class Bench:
    """The servers of one run, what happened to them, and the rows measured on them."""

    def __init__(self, runtime: Runtime, servers: list[Server]) -> None:
        self.runtime = runtime
        self.servers = servers
        self.rows: list[Row] = []
        self.incidents: list[dict[str, Any]] = []

    def add(self, row: Row) -> None:
        row.load = os.getloadavg()[0]
        self.rows.append(row)
        print(f"  {row.measure}: {time.strftime('%H:%M:%S')}, load {row.load:.2f}", file=sys.stderr, flush=True)

    def check(self, server: Server, row: str) -> str | None:
        """How `server` died, if it did (recorded once, with its log); it is restarted at once."""
        how = server.death()
        if how is None:
            return None
        incident: dict[str, Any] = {"server": server.name, "row": row, "how": how, "pid": server.pid,
                                    "log_tail": server.log_since(0, 64 * 1024)}
        try:
            fresh = server.restart(f"it died during {row!r}")
        except RuntimeError as error:
            incident["restart_error"] = str(error)[:500]
        else:
            self.servers[self.servers.index(server)] = fresh
            incident["restarted"] = True
        self.incidents.append(incident)
        return how

    def each(self, row: str, measure: Callable[[Server], T]) -> tuple[dict[str, T | str], dict[str, Usage]]:
        """`measure` on each server in turn, each left idle first; a failure is its text."""
        results: dict[str, T | str] = {}
        usages: dict[str, Usage] = {}
        for server in list(self.servers):
            measures.quiesce(server)
            meter = Meter([server])
            try:
                results[server.name] = measure(server)
            except (OSError, MeasureError, KeyError, IndexError, ValueError) as error:
                results[server.name] = f"failed: {error!r}"[:200]
            usages[server.name] = meter.usage()
            how = self.check(server, row)
            if how is not None:
                results[server.name] = f"died ({how})" + (f", {results[server.name]}"
                                                           if isinstance(results[server.name], str) else "")
        return results, usages


def usage_record(usages: dict[str, Usage]) -> dict[str, Any]:
    """Client and server CPU as shares of one core over each server's measure."""
    def share(cpu: float, wall: float) -> float | None:
        return cpu / wall if wall > 0 and not math.isnan(cpu) else None

    client = [share(u.client_cpu, u.wall) for u in usages.values() if u.wall >= 1.0]  # not a failed instant
    server = {name: share(u.server_cpu.get(name, float("nan")), u.wall) for name, u in usages.items()}
    return {"client": max((c for c in client if c is not None), default=0.0),
            "server": {name: value for name, value in server.items() if value is not None},
            "seconds": {name: {"wall": u.wall, "client_cpu": u.client_cpu, "server_cpu": u.server_cpu.get(name)}
                        for name, u in usages.items()}}


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median": statistics.median(ordered), "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "n": len(ordered)}


# -- the rows -----------------------------------------------------------------------------------
def latency_rows(bench: Bench, variant: Server | None, scale: Scale, floor: dict[str, Any]) -> None:
    for label, once, rounds, floor_key, warmup, problems in _latency_measures(scale):
        servers = [*bench.servers, *([variant] if variant and variant.death() is None else [])]
        samples, failures, usage = measures.alternate(servers, rounds, once, scale.latency_budget, warmup)
        values: dict[str, dict[str, Any]] = {name: stats(v) for name, v in samples.items()}
        for server in servers:
            how = bench.check(server, label) if server is not variant else server.death()
            failure = f"died ({how})" if how else failures.get(server.name)
            if failure:
                values[server.name] = {**values.get(server.name, {}),
                                       ("status" if server.name in values else "failed"): failure}
            if problems.get(server.name):
                calls = len(samples.get(server.name, [])) + warmup
                values.setdefault(server.name, {})["status"] = \
                    f"bad or missing output in {problems[server.name]} of {calls} replies"
        bench.add(Row(label, "ms", values, floor.get(floor_key) if floor_key else None,
                      usage=usage_record({s.name: usage for s in servers})))


def _latency_measures(scale: Scale) -> list[tuple[str, Callable[..., None], int, str | None, int, dict[str, int]]]:
    rows: list[tuple[str, Callable[..., None], int, str | None, int, dict[str, int]]] = [
        ("`ping` round trip", measures.ping, scale.ping, None, 20, {})]
    for label, verb, rounds, expect, floor_key in (
            ("sync `/bin/true` start → reply", configs.TRUE, scale.sync, None, "posix_spawn"),
            ("sync `echo hello`", configs.ECHO, scale.sync, ["hello"], "posix_spawn"),
            ("namespace sandbox `/bin/true`", configs.NS_TRUE, scale.namespace, None, "bwrap")):
        problems: dict[str, int] = {}
        rows.append((label, measures.sync_call(verb, problems, expect), rounds, floor_key, 10, problems))
    return rows


def seq_row(bench: Bench, variant: Server | None, scale: Scale) -> None:
    label = f"line encoder `seq {scale.seq_lines:,}` → final event"
    servers = [*bench.servers, *([variant] if variant else [])]
    runs: dict[str, list[tuple[int, float]]] = {server.name: [] for server in servers}
    failures: dict[str, str] = {}
    usages: dict[str, Usage] = {server.name: Usage() for server in servers}
    for _ in range(scale.seq_rounds):
        for server in servers:
            if server.name in failures:
                continue
            meter = Meter([server])
            try:
                runs[server.name].append(measures.stream_until_final(server, configs.SEQ,
                                                                     {"count": str(scale.seq_lines)}))
            except (OSError, MeasureError) as error:
                failures[server.name] = f"failed: {error!r}"[:200]
            usages[server.name].add(meter.usage())
            how = bench.check(server, label) if server is not variant else server.death()
            if how:
                failures[server.name] = f"died ({how})"
    values: dict[str, dict[str, Any]] = {}
    for name, done in runs.items():
        if not done:
            values[name] = {"failed": failures.get(name, "no run")}
            continue
        seconds = [t for _, t in done if math.isfinite(t)]
        worst = min(count for count, _ in done)
        status = [failures[name]] if name in failures else []
        if len(seconds) < len(done):
            status.append(f"no final event in {len(done) - len(seconds)} of {len(done)} runs "
                          f"(nothing for {measures.STALL:.0f} s)")
        if not seconds:
            values[name] = {"failed": "; ".join(status), "lines_received_min": worst}
            continue
        values[name] = {**stats(seconds), "lines_received_min": worst,
                        "lines_per_s": scale.seq_lines / statistics.median(seconds)}
        if worst < scale.seq_lines:
            status.append(f"lost {1 - worst / scale.seq_lines:.0%} of lines (worst of {len(done)} runs)")
        if status:
            values[name]["status"] = "; ".join(status)
    bench.add(Row(label, "s", values, usage=usage_record(usages)))


def rate_row(bench: Bench, label: str, unit: str, measure: Callable[[Server], measures.Rate], note: str) -> None:
    results, usages = bench.each(label, measure)
    values: dict[str, dict[str, Any]] = {}
    for name, result in results.items():
        if isinstance(result, str):
            values[name] = {"failed": result}
            continue
        values[name] = {"median": result.per_s, "done": result.done, "wanted": result.wanted,
                        "outcome": result.outcome}
        status = [f"{result.outcome}: {result.done:,} of {result.wanted:,} replies"] if result.done < result.wanted else []
        if result.listen_overflows:
            values[name]["listen_overflows"] = result.listen_overflows
            status.append(f"{result.listen_overflows:,} connections overflowed its listen queue")
        if status:
            values[name]["status"] = "; ".join(status)
    bench.add(Row(label, unit, values, note=note, higher_is_better=True, usage=usage_record(usages)))


def fanout_rows(bench: Bench, scale: Scale) -> None:
    for subscribers in (1, 10, 100):
        label = f"line deliveries/s, {subscribers} subscriber(s) of one task, {scale.fanout_lines:,} lines"
        offsets = {server.name: server.log_size() for server in bench.servers}

        def measure(server: Server, subscribers: int = subscribers) -> measures.Fanout:
            budget = scale.subject_budget if server.name == OURS else scale.baseline_budget
            return measures.fanout(server, subscribers, scale.fanout_lines, budget)

        results, usages = bench.each(label, measure)
        values: dict[str, dict[str, Any]] = {}
        for server in bench.servers:
            result = results.get(server.name)
            if result is None or isinstance(result, str):
                values[server.name] = {"failed": result or "not measured"}
                continue
            values[server.name] = {"median": result.rate, **result.__dict__, "expected": result.expected}
            drops = server.log_count(offsets.get(server.name, 0), "Can't queue push")
            if drops:
                values[server.name]["framework_dropped_pushes"] = drops
            values[server.name]["status"] = _fanout_status(result, drops)
        bench.add(Row(label, "lines/s", values, higher_is_better=True, usage=usage_record(usages),
                      note=f"afb-spawn may take {scale.subject_budget:.0f} s, the others "
                           f"{scale.baseline_budget:.0f} s (then: the rate over what they delivered)"))


def _fanout_status(result: measures.Fanout, drops: int) -> str:
    dropped = f"; its binder logged {drops:,} dropped pushes (job queue full)" if drops else ""
    if result.outcome == "complete":
        if result.received == result.expected:
            return ""
        return f"lost {1 - result.received / result.expected:.0%} of lines{dropped}"
    why = f"{result.budget:.0f} s budget reached" if result.outcome == "budget" else \
        f"no final event (nothing for {measures.STALL:.0f} s)"
    return f"{why}: {result.received:,} of {result.expected:,} delivered, task stopped{dropped}"


def stream_rows(bench: Bench, scale: Scale) -> None:
    for verb, label in ((configs.RAW, "raw encoder (sync reply)"), (configs.TEXT, "text encoder (one event)")):
        label = f"{label}, {scale.stream_bytes / 1e6:.0f} MB of 80-byte lines end to end"

        def measure(server: Server, verb: str = verb) -> float:
            return statistics.median(measures.stream_seconds(server, verb, scale.stream_bytes)
                                     for _ in range(scale.stream_rounds))

        results, usages = bench.each(label, measure)
        values = {name: {"failed": result} if isinstance(result, str) else
                  {"median": scale.stream_bytes / 1e6 / result, "seconds": result}
                  for name, result in results.items()}
        bench.add(Row(label, "MB/s", values, higher_is_better=True, usage=usage_record(usages)))


def gauge_row(bench: Bench, label: str, unit: str, read: Callable[[Server], float]) -> None:
    """RSS or fds of each server now; a server restarted since start says so."""
    values: dict[str, dict[str, Any]] = {}
    for server in bench.servers:
        values[server.name] = {"median": read(server)}
        if server.restarts:
            values[server.name]["status"] = f"restarted ({server.restarts[-1]})"
    bench.add(Row(label, unit, values))


def config_load_rows(bench: Bench, sizes: tuple[int, ...], kinds: list[str]) -> None:
    """Configs of growing size: loaded in process, and binder start to the first reply."""
    runtime = bench.runtime
    started: dict[int, dict[str, dict[str, Any]]] = {}
    for size in sizes:
        path = runtime.write(f"load-{size}.json", configs.compact(configs.many_commands(size)))
        label = f"config of {size:,} commands: load + compile in process (afb-spawn)"
        try:
            seconds = _inprocess_load(runtime, path)
        except subprocess.CalledProcessError as error:
            last = (error.stderr or "").strip().splitlines()[-1:] or [f"status {error.returncode}"]
            bench.add(Row(label, "s", {OURS: {"failed": f"failed: {last[0][:200]}"}}))
        else:
            bench.add(Row(label, "s", {OURS: {"median": seconds}}, note=f"{seconds / size * 1e3:.3f} ms per command"))
        started[size] = {}
        for kind in kinds:
            try:
                server = _start(kind, runtime, path, configs.LOAD_API)
            except RuntimeError as error:
                started[size][kind] = {"failed": f"did not start: {str(error).splitlines()[0][:150]}"}
                continue
            if server is not None:
                started[size][kind] = {"median": server.started}
                server.stop()
    smallest = sizes[0]
    for size in sizes:
        bench.add(Row(f"config of {size:,} commands: binder start → first reply", "s", started[size],
                      note=_per_command(started, smallest, size)))


def _per_command(started: dict[int, dict[str, dict[str, Any]]], smallest: int, size: int) -> str:
    """Each binder's start time per command over the smallest config's: the cost that must stay flat."""
    if size < 100 * smallest:  # below, the start's noise is larger than the commands' cost
        return ""
    parts = []
    for name, value in started[size].items():
        base = started[smallest].get(name, {}).get("median")
        if "median" in value and base is not None:
            parts.append(f"{name}: {(value['median'] - base) / (size - smallest) * 1e3:.3f} ms")
    return f"per command beyond {smallest}: " + ", ".join(parts) if parts else ""


def _start(kind: str, runtime: Runtime, config: Path, api: str) -> Server | None:
    if kind == C_NAME:
        return start_c(runtime, config, api)
    extra = libafb_host_argv() if kind == LIBAFB_NAME else None
    server = start_embedded(runtime, config, api, extra)
    server.name = kind
    return server


def _inprocess_load(runtime: Runtime, path: Path) -> float:
    """Median of 3 runs of attach() (load, validate, compile plans and encoders, register) in a fresh process."""
    code = ("import asyncio, sys, time\n"
            "from afbspawn.afb.embedded.server import EmbeddedBinder\n"
            "from afbspawn.binding.api import attach\n"
            "import afbspawn.config.loader, afbspawn.sandbox  # imports are not load time\n"
            "async def main():\n"
            "    start = time.perf_counter(); await attach(EmbeddedBinder(), [sys.argv[1]])\n"
            "    print(time.perf_counter() - start)\n"
            "asyncio.run(main())\n")
    runs = []
    for _ in range(3 if path.stat().st_size < 1_000_000 else 1):
        out = subprocess.run(runtime.command([runtime.python, "-c", code, str(path)]), capture_output=True,
                             text=True, check=True, cwd=runtime.root,
                             env={**os.environ, "PYTHONPATH": runtime.pythonpath, "PYTHONNOUSERSITE": "1"})
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(runs)


# -- the run ------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"cpus": os.cpu_count(), "cpu": model, "kernel": platform.release(), "python": platform.python_version(),
            "system": _os_release(), "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


def _os_release() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def start_servers(runtime: Runtime, config: Path, notes: list[str]) -> tuple[list[Server], Server | None]:
    """afb-spawn, the C binding and the libafb host (those installed), and the stdlib-loop variant."""
    servers = [start_embedded(runtime, config, API)]
    try:
        c_server = start_c(runtime, config, API)
    except RuntimeError as error:
        notes.append(f"{C_NAME}: did not start ({str(error)[:300]})")
    else:
        if c_server is None:
            notes.append(f"{C_NAME}: absent (no afb-binder with spawn-binding.so found)")
        else:
            servers.append(c_server)
    libafb = libafb_host_argv()
    if libafb is None:
        notes.append(f"{LIBAFB_NAME}: absent (no libafb host here, or skipped with BENCH_LIBAFB=0)")
    else:
        try:
            server = start_embedded(runtime, config, API, libafb)
        except RuntimeError as error:
            notes.append(f"{LIBAFB_NAME}: absent (did not start: {str(error)[:300]})")
        else:
            server.name = LIBAFB_NAME
            servers.append(server)
    try:
        variant = start_embedded(runtime, config, API, env={"AFB_SPAWN_LOOP": "asyncio"})
        variant.name = VARIANT
    except RuntimeError as error:
        notes.append(f"{VARIANT}: did not start ({str(error)[:300]})")
        variant = None
    return servers, variant


def measure_servers(bench: Bench, variant: Server | None, scale: Scale) -> None:
    """Every row measured on the running servers, in this order (the RSS rows depend on it)."""
    servers = bench.servers
    idle = {s.name: {"median": s.rss_mb()} for s in servers}
    fds_before = {s.name: {"median": s.fds()} for s in servers}
    floor = floors.measure_as(bench.runtime, scale.sync)
    latency_rows(bench, variant, scale, floor)
    seq_row(bench, variant, scale)
    gauge_row(bench, "peak RSS after these", "MB", Server.peak_mb)
    if variant is not None:
        variant.stop()
    for concurrency, count in scale.tasks:
        rate_row(bench, f"tasks/s, {concurrency} concurrent client(s), sync `/bin/true`", "tasks/s",
                 lambda server, c=concurrency, n=count: measures.tasks_per_second(server, c, n, scale.rate_budget),
                 f"{count:,} tasks")
    bench.add(Row("RSS idle (after start)", "MB", idle))
    gauge_row(bench, f"RSS after {sum(count for _, count in scale.tasks):,} tasks", "MB", Server.rss_mb)
    fanout_rows(bench, scale)
    stream_rows(bench, scale)
    gauge_row(bench, "RSS after the streams", "MB", Server.rss_mb)
    gauge_row(bench, "peak RSS overall", "MB", Server.peak_mb)
    for connections in (1, 16):
        rate_row(bench, f"REST `GET /api/{API}/ping`, {connections} connection(s) in flight", "req/s",
                 lambda server, c=connections: measures.rest_rate(server, scale.rest, c, scale.rest_budget),
                 f"{scale.rest:,} requests")
    bench.add(Row("open fds before", "fds", fds_before))
    gauge_row(bench, "open fds after", "fds", Server.fds)


def run(scale: Scale) -> dict[str, Any]:
    began = time.perf_counter()
    start_machine = machine()
    runtime = Runtime()
    notes: list[str] = []
    config = runtime.write("bench.json", json.dumps(configs.bench_config(), indent=1))
    servers, variant = start_servers(runtime, config, notes)
    bench = Bench(runtime, servers)
    names = [server.name for server in servers]
    print(f"servers: {', '.join(f'{s.name} (pid {s.pid})' for s in servers)}; running as {runtime.user}",
          file=sys.stderr)
    try:
        measure_servers(bench, variant, scale)
    except Exception as error:  # noqa: BLE001 (a bench bug must not lose the rows measured so far)
        notes.append(f"the run was cut short by {error!r} (the rows above were measured)")
        traceback.print_exc()
    finally:
        for server in [*bench.servers, *([variant] if variant else [])]:
            server.stop()
    try:
        config_load_rows(bench, scale.config_sizes, names)
    except Exception as error:  # noqa: BLE001 (idem)
        notes.append(f"the config-load rows were cut short by {error!r}")
        traceback.print_exc()
    runtime.cleanup()
    during = [row.load for row in bench.rows]
    return {"machine": start_machine, "user": runtime.user, "servers": names, "notes": notes,
            "columns": [OURS, C_NAME, LIBAFB_NAME, VARIANT], "rows": [row.__dict__ for row in bench.rows],
            "incidents": bench.incidents, "scale": scale.__dict__,
            "load": {"during": during, "end": [round(x, 2) for x in os.getloadavg()]},
            "seconds": time.perf_counter() - began, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run to check the bench itself")
    parser.add_argument("--table", metavar="JSON", help="print the table of an earlier run's results file")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(Path(args.table).read_text())))
        return 0
    socket.setdefaulttimeout(measures.STALL)  # a blocking read waiting longer than this: a stuck server
    result = run(Scale.quick() if args.quick else Scale())
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"compare-{result['when'].replace(':', '')}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(f"\nresults: {path.relative_to(RESULTS.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
