"""The measures of bench/compare.py, each on one server (or alternating between servers).

Every measure is bounded: a server that stops answering for STALL seconds, or that is still
at it when its time budget runs out, ends the measure with what was counted so far and says
so (`outcome`); an error on one server never ends a row for the others. The clients are
blocking or `selectors` sockets that never decode event JSON (bench/wsclient.py).
"""
from __future__ import annotations

import selectors
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import configs
from servers import Server
from wsclient import MarkerCounter, WsClient, frame, split_frames

API = configs.API
STALL = 15.0  # seconds without any progress: the server is stuck, the measure says so and moves on
DATA, FINAL = b'"stdout":', b'"final-event"'
KEEPALIVE = 20.0  # seconds between the pings of a client that only reads


class MeasureError(RuntimeError):
    """A server failed a measure (refused a connection, answered an error, closed on us)."""


@dataclass
class Usage:
    """CPU seconds of the bench client and of each server over one measure, and its wall time:
    a client using far less CPU than the server it drives is not what bounds the figure."""

    wall: float = 0.0
    client_cpu: float = 0.0
    server_cpu: dict[str, float] = field(default_factory=dict)

    def add(self, other: Usage) -> None:
        self.wall += other.wall
        self.client_cpu += other.client_cpu
        for name, cpu in other.server_cpu.items():
            self.server_cpu[name] = self.server_cpu.get(name, 0.0) + cpu


class Meter:
    """Starts counting at creation; `usage()` is what was spent since."""

    def __init__(self, servers: list[Server]) -> None:
        self.servers = servers
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        self.server_cpu = {server.name: server.cpu_seconds() for server in servers}

    def usage(self) -> Usage:
        return Usage(time.perf_counter() - self.wall, time.process_time() - self.cpu,
                     {s.name: s.cpu_seconds() - self.server_cpu[s.name] for s in self.servers})


def quiesce(server: Server, limit: float = 30.0) -> float:
    """Wait until the server's CPU use stops (work left from a cut measure); seconds waited."""
    start = time.perf_counter()
    before = server.cpu_seconds()
    while time.perf_counter() - start < limit:
        time.sleep(0.25)
        now = server.cpu_seconds()
        if not now - before > 0.02:  # < 8 % of a core over the step, or dead (NaN)
            break
        before = now
    return time.perf_counter() - start


def select_until(selector: selectors.BaseSelector, deadline: float) -> list[Any] | str:
    """The ready keys, or why there are none: "budget" (past `deadline`) or "stalled" (STALL s idle)."""
    wait = min(STALL, deadline - time.perf_counter())
    events = selector.select(wait) if wait > 0 else []
    if events:
        return events
    return "budget" if time.perf_counter() >= deadline else "stalled"


# -- request/response ---------------------------------------------------------------------------
def alternate(servers: list[Server], rounds: int, once: Callable[[Server, WsClient], None], budget: float,
              warmup: int = 20) -> tuple[dict[str, list[float]], dict[str, str], Usage]:
    """ms per call of `once` on each server, rounds alternating between the servers.

    A server that fails (or hangs for STALL) leaves the rotation with its failure recorded;
    the row stops when `budget` seconds are spent, with the rounds made so far.
    """
    clients: dict[str, WsClient] = {}
    failures: dict[str, str] = {}
    for server in servers:
        try:
            clients[server.name] = WsClient(server.port)
        except OSError as error:
            failures[server.name] = f"could not connect: {error!r}"
    samples: dict[str, list[float]] = {name: [] for name in clients}

    def call(server: Server, client: WsClient) -> float | None:
        start = time.perf_counter_ns()
        try:
            once(server, client)
        except (OSError, RuntimeError, IndexError, KeyError, ValueError) as error:
            failures[server.name] = f"failed at call {len(samples[server.name]) + 1}: {error!r}"[:300]
            clients.pop(server.name).close()
            return None
        return (time.perf_counter_ns() - start) / 1e6

    by_name = {server.name: server for server in servers}
    for _ in range(warmup):
        for name in list(clients):
            call(by_name[name], clients[name])
    meter = Meter(servers)
    deadline = time.perf_counter() + budget
    for made in range(rounds):
        if time.perf_counter() > deadline:
            for name in clients:
                failures.setdefault(name, f"row budget of {budget:.0f} s reached after {made} rounds")
            break
        for name in list(clients):
            took = call(by_name[name], clients[name])
            if took is not None:
                samples[name].append(took)
    usage = meter.usage()
    for client in clients.values():
        client.close()
    return {name: values for name, values in samples.items() if values}, failures, usage


def ping(server: Server, client: WsClient) -> None:
    reply = client.call(f"{API}/ping", True)
    if reply[0] != 3:
        raise MeasureError(f"ping failed: {reply}")


def sync_call(verb: str, problems: dict[str, int], expect_stdout: list[str] | None = None
              ) -> Callable[[Server, WsClient], None]:
    """Start a sync verb and wait for its reply; counts replies missing the expected stdout."""
    def once(server: Server, client: WsClient) -> None:
        reply = client.call(f"{API}/{verb}", {"action": "start"})
        response = reply[2].get("response") if reply[0] == 3 else None
        if response is None or response.get("status") != {"exit": 0} or (
                expect_stdout is not None and response.get("stdout") != expect_stdout):
            problems[server.name] = problems.get(server.name, 0) + 1
    return once


# -- streams ------------------------------------------------------------------------------------
def stream_until_final(server: Server, verb: str, args: dict[str, Any]) -> tuple[int, float]:
    """Start an async verb on a fresh connection, count its data lines until its final event:
    (lines, seconds); seconds is inf when no final event came (the count says what arrived)."""
    client = WsClient(server.port)
    counter = MarkerCounter(DATA, FINAL)
    start = time.perf_counter()
    try:
        client.send_call(f"{API}/{verb}", {"action": "start", "args": args})
        counter.feed(client.buffer)
        while not counter.finished:
            data = client.sock.recv(1 << 20)
            if not data:
                raise MeasureError("the server closed the connection")
            counter.feed(data)
    except TimeoutError:
        return counter.count, float("inf")
    finally:
        client.close()
    return counter.count, time.perf_counter() - start


def stream_seconds(server: Server, verb: str, size: int) -> float:
    """Start to the reply (raw, sync) or the final event (text) of `size` bytes of output."""
    client = WsClient(server.port)
    try:
        start = time.perf_counter()
        call_id = client.send_call(f"{API}/{verb}", {"action": "start", "args": {"bytes": str(size)}})
        if verb == configs.RAW:
            reply = client.reply(call_id)
            received = len(reply[2].get("response", {}).get("stdout", ""))
            if received != size:
                print(f"  {server.name}: raw reply carried {received} of {size} bytes", file=sys.stderr)
        else:
            for payload in client.frames():
                if FINAL in payload:
                    break
        return time.perf_counter() - start
    finally:
        client.close()


@dataclass
class Fanout:
    """What the subscribers of one task received; `outcome` is complete, budget or stalled."""

    subscribers: int
    lines: int
    received: int = 0
    min_per_client: int = 0
    seconds: float = 0.0
    outcome: str = "complete"
    budget: float = 0.0

    @property
    def expected(self) -> int:
        return self.lines * self.subscribers

    @property
    def rate(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else 0.0


def fanout(server: Server, subscribers: int, lines: int, budget: float) -> Fanout:
    """One task printing `lines` lines to `subscribers` clients; every line of every client counted.

    The command sleeps first, so the others can subscribe to the task before its output (the
    C binding subscribes to running tasks only). The subscriptions are sent at once and every
    client reads from then on: a subscriber left unread while others subscribe would block
    the libafb binders' writer threads (docs/hosts.md). The clock runs from the first line
    received to the last one. Past `budget` seconds the task is stopped and the rate is what
    arrived by then (outcome "budget"); STALL seconds without a byte end it too ("stalled").
    """
    result = Fanout(subscribers, lines, budget=budget)
    clients: list[WsClient] = []
    selector = selectors.DefaultSelector()
    try:
        for index in range(subscribers):
            try:
                clients.append(WsClient(server.port))
            except OSError as error:
                raise MeasureError(f"subscriber {index + 1} of {subscribers} could not connect: {error!r}") from None
        started = clients[0].call(f"{API}/{configs.DELAYED_SEQ}", {"action": "start", "args": {"count": str(lines)}})
        if started[0] != 3:
            raise MeasureError(f"start failed: {started}")
        pid = started[2]["response"]["pid"]
        readers = [_Subscriber(clients[0], None)]
        for client in clients[1:]:
            call_id = client.send_call(f"{API}/{configs.DELAYED_SEQ}", {"action": "subscribe", "args": {"pid": pid}})
            readers.append(_Subscriber(client, call_id))
        for reader in readers:
            reader.feed(reader.client.buffer)
            reader.client.buffer = b""
            reader.client.sock.setblocking(False)
            selector.register(reader.client.sock, selectors.EVENT_READ, reader)
        deadline = time.perf_counter() + budget
        first: float | None = None
        last = time.perf_counter()
        open_clients = len(readers)
        pinged = time.perf_counter()
        while open_clients:
            if time.perf_counter() - pinged > KEEPALIVE:
                pinged = time.perf_counter()
                for reader in readers:
                    if not reader.counter.finished:
                        reader.client.send_ping()
            events = select_until(selector, deadline)
            if isinstance(events, str):
                result.outcome = events
                break
            for key, _ in events:
                reader = key.data
                try:
                    data = key.fileobj.recv(1 << 20)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                if not data:
                    raise MeasureError("a subscriber was disconnected by the server")
                last = time.perf_counter()
                if first is None:
                    first = last
                reader.feed(data)
                if reader.counter.finished:
                    selector.unregister(key.fileobj)
                    open_clients -= 1
        counts = [reader.counter.count for reader in readers]
        result.received, result.min_per_client = sum(counts), min(counts)
        result.seconds = last - (first or last)
        if open_clients:
            stop_task(server, configs.DELAYED_SEQ, pid)
        return result
    finally:
        selector.close()
        for client in clients:
            client.sock.setblocking(True)
            client.close()


class _Subscriber:
    """One fan-out client: frames parsed until its subscribe reply, then raw marker counting."""

    def __init__(self, client: WsClient, call_id: str | None) -> None:
        self.client = client
        self.counter = MarkerCounter(DATA, FINAL)
        self._reply = None if call_id is None else f',"{call_id}",'.encode()
        self._pending = b""

    def feed(self, data: bytes) -> None:
        if self._reply is None:
            self.counter.feed(data)
            return
        payloads, self._pending = split_frames(self._pending + data)
        for index, payload in enumerate(payloads):
            if payload[1:2] in (b"3", b"4") and payload[2:2 + len(self._reply)] == self._reply:
                if payload[1:2] != b"3":
                    raise MeasureError(f"subscribe failed: {payload[:200]!r}")
                self._reply = None
                for later in payloads[index + 1:]:
                    self.counter.feed(later)
                self.counter.feed(self._pending)
                self._pending = b""
                return
            self.counter.feed(payload)


def stop_task(server: Server, verb: str, pid: int) -> None:
    """SIGKILL a task left running by a cut measure (best effort: the server may be gone)."""
    try:
        client = WsClient(server.port)
    except OSError:
        return
    client.sock.settimeout(5.0)
    try:
        client.call(f"{API}/{verb}", {"action": "stop", "args": {"pid": pid, "signal": "SIGKILL"}})
    except OSError:
        pass
    finally:
        client.close()


# -- rates --------------------------------------------------------------------------------------
@dataclass
class Rate:
    """Replies per second; `done` < `wanted` when the server stalled or the budget ran out."""

    per_s: float
    done: int
    wanted: int
    outcome: str = "complete"
    listen_overflows: int = 0  # connections the kernel dropped from a full listen queue meanwhile


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full (TcpExt
    ListenOverflows): a server with a short backlog leaves clients to retry their SYN after 1 s."""
    netstat = Path("/proc/net/netstat").read_text().splitlines()
    lines = [line.split() for line in netstat if line.startswith("TcpExt:")]
    return int(lines[1][lines[0].index("ListenOverflows")]) if len(lines) == 2 else 0


def tasks_per_second(server: Server, concurrency: int, tasks: int, budget: float) -> Rate:
    """`concurrency` clients each keeping one sync /bin/true call in flight until `tasks` replies."""
    clients = [WsClient(server.port) for _ in range(concurrency)]
    selector = selectors.DefaultSelector()
    sent = done = 0
    wire = frame(b'[2,"t","' + f"{API}/{configs.TRUE}".encode() + b'",{"action":"start"}]')
    outcome = "complete"
    start = time.perf_counter()
    deadline = start + budget
    last = start
    try:
        for client in clients:
            client.sock.setblocking(False)
            selector.register(client.sock, selectors.EVENT_READ, client)
            client.sock.send(wire)
            sent += 1
        while done < tasks:
            events = select_until(selector, deadline)
            if isinstance(events, str):
                outcome = events
                break
            for key, _ in events:
                client = key.data
                try:
                    data = client.sock.recv(1 << 16)
                except BlockingIOError:
                    continue
                if not data:
                    raise MeasureError(f"connection closed by the server after {done} replies")
                payloads, client.buffer = split_frames(client.buffer + data)
                for payload in payloads:
                    if payload.startswith((b'[3,"t"', b'[4,"t"')):
                        done += 1
                        last = time.perf_counter()
                        if sent < tasks:
                            client.sock.send(wire)
                            sent += 1
    finally:
        selector.close()
        for client in clients:
            client.sock.setblocking(True)
            client.close()
    return Rate(done / max(last - start, 1e-9), done, tasks, outcome)


def rest_rate(server: Server, requests: int, connections: int, budget: float) -> Rate:
    """GET ping over HTTP/1.1, one request in flight per connection.

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
    outcome = "complete"
    overflows = listen_overflows()
    start = time.perf_counter()
    deadline = start + budget
    last = start
    try:
        for _ in range(connections):
            open_and_send()
            sent += 1
        while done < requests:
            events = select_until(selector, deadline)
            if isinstance(events, str):
                outcome = events
                break
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
                    raise MeasureError(f"REST ping answered {head[:40]!r}")
                buffers[sock] = rest[length:]
                done += 1
                last = time.perf_counter()
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
    finally:
        for sock in buffers:
            sock.close()
        selector.close()
    if resets:
        print(f"  {server.name}: {resets} REST connection(s) reset by the server", file=sys.stderr)
    return Rate(done / max(last - start, 1e-9), done, requests, outcome, listen_overflows() - overflows)
