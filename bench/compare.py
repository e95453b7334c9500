"""afb-spawn against the C spawn-binding (and the launch floors), side by side in one run.

Every server runs the same config on its own port, as nobody when we are root; each
figure is measured on all of them in the same run, calls alternating between servers
round by round so that the machine's load hits them alike. Prints a markdown table and
writes every figure to bench/results/compare-<UTC time>.json.

Run: `make bench` (or .venv/bin/python bench/compare.py [--quick]). Asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import selectors
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import configs
import floors
from servers import Runtime, Server, libafb_host_argv, start_c, start_embedded
from wsclient import MarkerCounter, WsClient, split_frames

RESULTS = Path(__file__).resolve().parent / "results"
API = configs.API
STALL = 15.0  # seconds without any progress: the server is stuck, the measure says so and moves on


@dataclass
class Scale:
    """How much each measure does; --quick divides it for a smoke run."""

    ping: int = 2000
    sync: int = 300
    namespace: int = 200
    seq_lines: int = 100_000
    seq_rounds: int = 5
    fanout_lines: int = 1_000_000
    fanout_lines_100: int = 1_000_000
    tasks: tuple[tuple[int, int], ...] = ((1, 1000), (16, 3000), (64, 6000))  # (clients, tasks): 10,000
    stream_bytes: int = 8_000_000
    stream_rounds: int = 3
    rest: int = 3000
    config_sizes: tuple[int, ...] = (10, 100, 1000, 10000)

    @classmethod
    def quick(cls) -> Scale:
        return cls(200, 50, 30, 20_000, 2, 50_000, 10_000, ((1, 100), (16, 300), (64, 600)), 1_000_000, 1, 300,
                   (10, 100, 1000))


@dataclass
class Row:
    """One figure for every server (and its floor); values are medians unless `unit` says /s."""

    measure: str
    unit: str
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    floor: dict[str, Any] | None = None
    note: str = ""
    higher_is_better: bool = False


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median": statistics.median(ordered), "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "n": len(ordered)}


class ClientClock:
    """Client CPU time against wall time: a client near 100 % would be the bottleneck."""

    def __init__(self) -> None:
        self.cpu = time.process_time()
        self.wall = time.perf_counter()

    def share(self) -> float:
        return (time.process_time() - self.cpu) / max(1e-9, time.perf_counter() - self.wall)


# -- request/response measures ----------------------------------------------------------------
def alternate(servers: list[Server], rounds: int, once: Callable[[Server, WsClient], None],
              warmup: int = 20) -> tuple[dict[str, list[float]], float]:
    """ms per call of `once` on each server, rounds alternating; also the client's CPU share."""
    clients = {server.name: WsClient(server.port) for server in servers}
    samples: dict[str, list[float]] = {server.name: [] for server in servers}
    for _ in range(warmup):
        for server in servers:
            once(server, clients[server.name])
    clock = ClientClock()
    for _ in range(rounds):
        for server in servers:
            client = clients[server.name]
            start = time.perf_counter_ns()
            once(server, client)
            samples[server.name].append((time.perf_counter_ns() - start) / 1e6)
    share = clock.share()
    for client in clients.values():
        client.close()
    return samples, share


def ping(server: Server, client: WsClient) -> None:
    reply = client.call(f"{API}/ping", True)
    if reply[0] != 3:
        raise RuntimeError(f"{server.name}: ping failed: {reply}")


def sync_call(verb: str, problems: dict[str, int], expect_stdout: list[str] | None = None
              ) -> Callable[[Server, WsClient], None]:
    """Start a sync verb and wait for its reply; counts replies missing the expected stdout."""
    def once(server: Server, client: WsClient) -> None:
        reply = client.call(f"{API}/{verb}", {"action": "start"})
        response = reply[2].get("response") if reply[0] == 3 else None
        if response is None or response.get("status") != {"exit": 0} or expect_stdout is not None and response.get("stdout") != expect_stdout:
            problems[server.name] = problems.get(server.name, 0) + 1
    return once


# -- streams ----------------------------------------------------------------------------------
def stream_until_final(client: WsClient, verb: str, args: dict[str, Any]) -> tuple[int, float, float]:
    """Start an async verb, count its data lines until its final event: (lines, seconds, client CPU share)."""
    counter = MarkerCounter(b'"stdout":', b'"final-event"')
    clock = ClientClock()
    start = time.perf_counter()
    client.send_call(f"{API}/{verb}", {"action": "start", "args": args})
    counter.feed(client.buffer)
    client.buffer = b""
    try:
        while not counter.finished:
            data = client.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("closed")
            counter.feed(data)
    except TimeoutError:  # no final event: the lines counted say what arrived
        return counter.count, float("inf"), clock.share()
    return counter.count, time.perf_counter() - start, clock.share()


def fanout(server: Server, subscribers: int, lines: int) -> dict[str, Any]:
    """One task printing `lines` lines to `subscribers` clients; every line of every client counted.

    The command sleeps first, so the others can subscribe to the task before its output
    (the C binding subscribes to running tasks only); the clock runs from the first line received
    to the last client's final event.
    """
    clients = [WsClient(server.port) for _ in range(subscribers)]
    started = clients[0].call(f"{API}/{configs.DELAYED_SEQ}", {"action": "start", "args": {"count": str(lines)}})
    pid = started[2]["response"]["pid"]
    for client in clients[1:]:
        reply = client.call(f"{API}/{configs.DELAYED_SEQ}", {"action": "subscribe", "args": {"pid": pid}})
        if reply[0] != 3:
            raise RuntimeError(f"{server.name}: subscribe failed: {reply}")
    counters = {}
    selector = selectors.DefaultSelector()
    for client in clients:
        counter = MarkerCounter(b'"stdout":', b'"final-event"')
        counter.feed(client.buffer)
        client.sock.setblocking(False)
        selector.register(client.sock, selectors.EVENT_READ, counter)
        counters[client] = counter
    clock = ClientClock()
    first: float | None = None
    last = time.perf_counter()
    open_clients = len(clients)
    while open_clients:
        events = selector.select(STALL)
        if not events:
            break  # stalled: the counts say what arrived
        for key, _ in events:
            counter = key.data
            try:
                data = key.fileobj.recv(1 << 20)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            if not data:
                raise ConnectionError(f"{server.name}: a subscriber was disconnected")
            if first is None:
                first = time.perf_counter()
            counter.feed(data)
            if counter.finished:
                selector.unregister(key.fileobj)
                open_clients -= 1
                last = time.perf_counter()
    share = clock.share()
    selector.close()
    for client in clients:
        client.sock.setblocking(True)
        client.close()
    counts = [counter.count for counter in counters.values()]
    seconds = last - (first or last)
    return {"subscribers": subscribers, "lines": lines, "received": sum(counts), "expected": lines * subscribers,
            "min_per_client": min(counts), "seconds": seconds, "deliveries_per_s": sum(counts) / max(seconds, 1e-9),
            "client_cpu_share": share, "stalled": open_clients > 0}


def tasks_per_second(server: Server, concurrency: int, tasks: int) -> tuple[float, float, int]:
    """`concurrency` clients each keeping one sync /bin/true call in flight.

    Returns (tasks/s, client CPU share, tasks done): fewer than `tasks` when the server stalled.
    """
    clients = [WsClient(server.port) for _ in range(concurrency)]
    selector = selectors.DefaultSelector()
    sent = done = 0
    request = b'[2,"t","' + f"{API}/{configs.TRUE}".encode() + b'",{"action":"start"}]'
    from wsclient import frame
    wire = frame(request)
    clock = ClientClock()
    start = time.perf_counter()
    for client in clients:
        client.sock.setblocking(False)
        selector.register(client.sock, selectors.EVENT_READ, client)
        client.sock.send(wire)
        sent += 1
    while done < tasks:
        events = selector.select(STALL)
        if not events:
            break
        for key, _ in events:
            client = key.data
            try:
                data = client.sock.recv(1 << 16)
            except BlockingIOError:
                continue
            payloads, client.buffer = split_frames(client.buffer + data)
            for payload in payloads:
                if payload.startswith((b'[3,"t"', b'[4,"t"')):
                    done += 1
                    if sent < tasks:
                        client.sock.send(wire)
                        sent += 1
    elapsed = time.perf_counter() - start - (STALL if done < tasks else 0)
    share = clock.share()
    selector.close()
    for client in clients:
        client.sock.setblocking(True)
        client.close()
    return done / elapsed, share, done


def rest_rate(server: Server, requests: int, connections: int) -> tuple[float, float, int]:
    """GET ping over HTTP/1.1, one request in flight per connection: (req/s, client CPU share, replies).

    Connections are kept alive, unless the server answers `Connection: close` (afb-binder does):
    then the next request goes on a new connection, as a browser would do.
    """
    wire = f"GET /api/{API}/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    selector = selectors.DefaultSelector()
    buffers: dict[socket.socket, bytes] = {}

    def open_and_send() -> None:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        buffers[sock] = b""
        sock.send(wire)

    sent = done = resets = 0
    clock = ClientClock()
    start = time.perf_counter()
    for _ in range(connections):
        open_and_send()
        sent += 1
    while done < requests:
        events = selector.select(STALL)
        if not events:
            break  # stalled: the count of replies says so
        for key, _ in events:
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                buffers[sock] += sock.recv(1 << 16)
            except BlockingIOError:
                continue
            except ConnectionResetError:  # counted, then the request is sent again
                resets += 1
                selector.unregister(sock)
                del buffers[sock]
                sock.close()
                open_and_send()
                continue
            head, sep, rest = buffers[sock].partition(b"\r\n\r\n")
            if not sep:
                continue
            lower = head.lower()
            length = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
            if len(rest) < length:
                continue
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"{server.name}: REST ping answered {head[:40]!r}")
            buffers[sock] = rest[length:]
            done += 1
            closing = b"connection: close" in lower
            if closing:
                selector.unregister(sock)
                del buffers[sock]
                sock.close()
            if sent < requests:
                sent += 1
                if closing:
                    open_and_send()
                else:
                    sock.send(wire)
    elapsed = time.perf_counter() - start - (STALL if done < requests else 0)
    share = clock.share()
    for sock in buffers:
        sock.close()
    selector.close()
    if resets:
        print(f"  {server.name}: {resets} REST connection(s) reset by the server", file=sys.stderr)
    return done / elapsed, share, done


# -- the run ----------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "cpu": model, "kernel": platform.release(), "python": platform.python_version(),
            "system": _os_release(), "loadavg_at_start": [round(x, 2) for x in load]}


def _os_release() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def run(scale: Scale) -> dict[str, Any]:
    runtime = Runtime()
    rows: list[Row] = []
    servers: list[Server] = []
    notes: list[str] = []
    try:
        config = runtime.write("bench.json", json.dumps(configs.bench_config(), indent=1))
        servers.append(start_embedded(runtime, config, API))
        c_server = start_c(runtime, config, API)
        if c_server is None:
            notes.append("C spawn-binding: absent (no afb-binder with spawn-binding.so found)")
        else:
            servers.append(c_server)
        libafb = libafb_host_argv()
        if libafb is None:
            notes.append("afb-spawn on the libafb host: absent (this tree or machine has no libafb host)")
        else:
            server = start_embedded(runtime, config, API, libafb)
            server.name = "afb-spawn libafb"
            servers.append(server)
        names = [server.name for server in servers]
        print(f"servers: {', '.join(f'{s.name} (pid {s.pid})' for s in servers)}; running as {runtime.user}",
              file=sys.stderr)
        idle = {s.name: {"median": s.rss_mb()} for s in servers}
        fds_before = {s.name: {"median": s.fds()} for s in servers}
        floor_figures = floors.measure_as(runtime, scale.sync)

        def progress(text: str) -> None:
            print(f"  {text} ...", file=sys.stderr, flush=True)

        progress("ping")
        samples, share = alternate(servers, scale.ping, ping)
        rows.append(Row("`ping` round trip", "ms", {n: stats(v) for n, v in samples.items()},
                        note=f"client CPU {share:.0%} of wall"))
        for label, verb, rounds, expect, floor_key in (
                ("sync `/bin/true` start → reply", configs.TRUE, scale.sync, None, "posix_spawn"),
                ("sync `echo hello`", configs.ECHO, scale.sync, ["hello"], "posix_spawn"),
                ("namespace sandbox `/bin/true`", configs.NS_TRUE, scale.namespace, None, "bwrap")):
            progress(label)
            problems: dict[str, int] = {}
            samples, share = alternate(servers, rounds, sync_call(verb, problems, expect), warmup=10)
            bad = ", ".join(f"{n}: {k}/{rounds}" for n, k in problems.items())
            rows.append(Row(label, "ms", {n: stats(v) for n, v in samples.items()}, floor_figures.get(floor_key),
                            note=(f"bad or missing output {bad}; " if bad else "") + f"client CPU {share:.0%}"))
        progress("line encoder seq")
        seq_rows: dict[str, list[tuple[int, float, float]]] = {n: [] for n in names}
        for _ in range(scale.seq_rounds):
            for server in servers:
                client = WsClient(server.port)
                seq_rows[server.name].append(stream_until_final(client, configs.SEQ, {"count": str(scale.seq_lines)}))
                client.close()
        rows.append(Row(f"line encoder `seq {scale.seq_lines}` → final event", "s",
                        {n: {**stats([t for _, t, _ in v]), "lines_received_min": min(c for c, _, _ in v),
                             "lines_per_s": scale.seq_lines / statistics.median([t for _, t, _ in v])}
                         for n, v in seq_rows.items()},
                        note=_lines_note(seq_rows, scale.seq_lines)))
        rows.append(Row("peak RSS after these", "MB", {s.name: {"median": s.peak_mb()} for s in servers}))

        progress("tasks/s")
        for concurrency, count in scale.tasks:
            values = {}
            shares = []
            stalls = []
            for server in servers:
                rate, share, done = tasks_per_second(server, concurrency, count)
                values[server.name] = {"median": rate, "done": done}
                shares.append(share)
                if done < count:
                    stalls.append(f"{server.name} stalled after {done} replies (no reply for {STALL:.0f} s)")
            rows.append(Row(f"tasks/s, {concurrency} concurrent client(s), sync `/bin/true`", "tasks/s", values,
                            note="; ".join([f"{count} tasks", *stalls, f"client CPU ≤ {max(shares):.0%}"]),
                            higher_is_better=True))
        rows.append(Row("RSS idle (after start)", "MB", idle))
        rows.append(Row(f"RSS after {sum(c for _, c in scale.tasks) + 2 * scale.sync + scale.namespace:,} tasks",
                        "MB", {s.name: {"median": s.rss_mb()} for s in servers}))

        progress("fan-out")
        for subscribers in (1, 10, 100):
            lines = scale.fanout_lines if subscribers < 100 else scale.fanout_lines_100
            values = {}
            shares = []
            for server in servers:
                result = fanout(server, subscribers, lines)
                values[server.name] = {"median": result["deliveries_per_s"], **result}
                shares.append(result["client_cpu_share"])
            lost = "; ".join(f"{n}: {v['received']:,}/{v['expected']:,} delivered" for n, v in values.items())
            rows.append(Row(f"line deliveries/s, {subscribers} subscriber(s) of one task, {lines:,} lines",
                            "lines/s", values, note=f"{lost}; client CPU ≤ {max(shares):.0%}",
                            higher_is_better=True))

        progress("raw/text MB/s")
        for verb, label in ((configs.RAW, "raw encoder (sync reply)"), (configs.TEXT, "text encoder (one event)")):
            timings: dict[str, list[float]] = {n: [] for n in names}
            for _ in range(scale.stream_rounds):
                for server in servers:
                    timings[server.name].append(_stream_seconds(server, verb, scale.stream_bytes))
            rows.append(Row(f"{label}, {scale.stream_bytes / 1e6:.0f} MB of 80-byte lines end to end", "MB/s",
                            {n: {"median": scale.stream_bytes / 1e6 / statistics.median(v)} for n, v in timings.items()},
                            higher_is_better=True))
        rows.append(Row("RSS after the streams", "MB", {s.name: {"median": s.rss_mb()} for s in servers}))
        rows.append(Row("peak RSS overall", "MB", {s.name: {"median": s.peak_mb()} for s in servers}))

        progress("REST")
        for connections in (1, 16):
            values = {}
            shares = []
            stalls = []
            for server in servers:
                rate, share, done = rest_rate(server, scale.rest, connections)
                values[server.name] = {"median": rate, "done": done}
                shares.append(share)
                if done < scale.rest:
                    stalls.append(f"{server.name} stalled after {done} replies")
            rows.append(Row(f"REST `GET /api/{API}/ping`, {connections} connection(s) in flight", "req/s", values,
                            note="; ".join([*stalls, f"client CPU ≤ {max(shares):.0%}"]), higher_is_better=True))
        rows.append(Row("open fds before", "fds", fds_before))
        rows.append(Row("open fds after", "fds", {s.name: {"median": s.fds()} for s in servers}))
    finally:
        for server in servers:
            server.stop()
    progress("config load")
    rows.extend(config_load_rows(runtime, scale.config_sizes, servers_available=names))
    runtime.cleanup()
    return {"machine": machine(), "user": runtime.user, "servers": names, "notes": notes,
            "rows": [row.__dict__ for row in rows], "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _lines_note(per_server: dict[str, list[tuple[int, float, float]]], expected: int) -> str:
    parts = []
    for name, runs in per_server.items():
        worst = min(count for count, _, _ in runs)
        parts.append(f"{name}: {'every line' if worst == expected else f'{worst / expected:.0%} of lines (worst run)'}")
    return "; ".join(parts)


def _stream_seconds(server: Server, verb: str, size: int) -> float:
    client = WsClient(server.port)
    start = time.perf_counter()
    call_id = client.send_call(f"{API}/{verb}", {"action": "start", "args": {"bytes": str(size)}})
    if verb == configs.RAW:
        reply = client.reply(call_id)
        received = len(reply[2].get("response", {}).get("stdout", ""))
        if received != size:
            print(f"  {server.name}: raw reply carried {received} of {size} bytes", file=sys.stderr)
    else:
        for payload in client.frames():
            if b'"final-event"' in payload:
                break
    seconds = time.perf_counter() - start
    client.close()
    return seconds


def config_load_rows(runtime: Runtime, sizes: tuple[int, ...], servers_available: list[str]) -> list[Row]:
    """Load (and compile) configs of growing size: in process, and binder start to first reply."""
    inproc: dict[str, dict[str, Any]] = {}
    started: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in servers_available}
    for size in sizes:
        path = runtime.write(f"load-{size}.json", json.dumps(configs.many_commands(size)))
        inproc[str(size)] = {"median": _inprocess_load(runtime, path)}
        for name in servers_available:
            starter = start_c if name.startswith("C") else start_embedded
            server = starter(runtime, path, configs.LOAD_API)
            if server is None:
                continue
            started[name][str(size)] = {"median": server.started}
            server.stop()
    rows = [Row(f"config of {size:,} commands: load + compile in process (afb-spawn)", "s",
                {"afb-spawn": inproc[str(size)]},
                note=f"{inproc[str(size)]['median'] / size * 1e3:.3f} ms per command") for size in sizes]
    for size in sizes:
        rows.append(Row(f"config of {size:,} commands: binder start → first reply", "s",
                        {name: started[name][str(size)] for name in servers_available if str(size) in started[name]}))
    return rows


def _inprocess_load(runtime: Runtime, path: Path) -> float:
    """Median of 3 runs of attach() (load, validate, compile plans and encoders, register) in a fresh process."""
    code = ("import asyncio, sys, time\n"
            "from afbspawn.afb.embedded.server import EmbeddedBinder\n"
            "from afbspawn.binding.api import attach\n"
            "async def main():\n"
            "    start = time.perf_counter(); await attach(EmbeddedBinder(), [sys.argv[1]])\n"
            "    print(time.perf_counter() - start)\n"
            "asyncio.run(main())\n")
    runs = []
    for _ in range(3):
        out = subprocess.run(runtime.command([runtime.python, "-c", code, str(path)]), capture_output=True,
                             text=True, check=True, cwd=runtime.root,
                             env={**os.environ, "PYTHONPATH": runtime.pythonpath, "PYTHONNOUSERSITE": "1"})
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(runs)


# -- output -----------------------------------------------------------------------------------
def table(result: dict[str, Any]) -> str:
    names = result["servers"]
    ours, theirs = names[0], (names[1] if len(names) > 1 and names[1].startswith("C") else None)
    head = ["measure", *names, "floor"]
    if theirs:
        head.append(f"{ours} / C")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in result["rows"]:
        cells = [row["measure"]]
        for name in names:
            cells.append(_cell(row["values"].get(name), row["unit"]))
        floor = row.get("floor")
        cells.append(f"{_cell(floor, row['unit'])} ({floor['name']})" if floor else "")
        if theirs:
            cells.append(_ratio(row, ours, theirs))
        lines.append("| " + " | ".join(cells) + " |")
        if row["note"]:
            lines[-1] += f" {row['note']}"
    m = result["machine"]
    lines.insert(0, f"{result['when']}: {m['system']}, kernel {m['kernel']}, {m['cpus']} × {m['cpu']}, "
                    f"Python {m['python']}, servers as {result['user']}, load average at start "
                    f"{' '.join(map(str, m['loadavg_at_start']))}\n")
    for note in result["notes"]:
        lines.append(f"\n{note}")
    return "\n".join(lines)


def _cell(value: dict[str, Any] | None, unit: str) -> str:
    if value is None:
        return "absent"
    median = value["median"]
    text = f"{median:,.0f} {unit}" if median >= 1000 else f"{median:.3g} {unit}"
    if unit == "ms" and "p99" in value:
        text += f" (p99 {value['p99']:.3g})"
    if "lines_per_s" in value:
        text += f" ({value['lines_per_s']:,.0f} lines/s)"
    return text


def _ratio(row: dict[str, Any], ours: str, theirs: str) -> str:
    mine, other = row["values"].get(ours), row["values"].get(theirs)
    if not mine or not other or not other["median"]:
        return ""
    ratio = mine["median"] / other["median"]
    if row["higher_is_better"]:
        return f"{ratio:.2f}× ({'faster' if ratio >= 1 else 'slower'})"
    return f"{ratio:.2f}×"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run to check the bench itself")
    args = parser.parse_args()
    socket.setdefaulttimeout(STALL)  # a blocking read waiting longer than this means a stuck server
    result = run(Scale.quick() if args.quick else Scale())
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"compare-{result['when'].replace(':', '')}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(f"\nresults: {path.relative_to(RESULTS.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
