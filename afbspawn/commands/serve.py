"""`afb-spawn [options]`: serve configs through a host, embedded binder by default (afb-binder options).

`--host libafb` serves them inside the real AFB framework (afbspawn.commands.serve_libafb).

stdout is left to task output (the log encoder writes there and compatibility
tests compare it byte for byte): every message of the binder goes to stderr.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from afbspawn.afb.embedded.monitor import NOTICE, ROOT_LOGGER
from afbspawn.afb.embedded.permissions import load_policy
from afbspawn.afb.embedded.server import (
    DEFAULT_PORT,
    DEFAULT_WS_MAXLEN,
    HANDSHAKE_SECONDS,
    BinderOptions,
    EmbeddedBinder,
    Listen,
    StartupError,
    configure_trace,
)
from afbspawn.afb.embedded.websocket import WsLimits
from afbspawn.afb.framework import FrameworkMissing
from afbspawn.binding.api import attach
from afbspawn.sandbox.containment import end_everything, set_default_root

if TYPE_CHECKING:
    from afbspawn.binding.reload import SpawnBinding

log = logging.getLogger("afbspawn")
LOOP_ENV = "AFB_SPAWN_LOOP"
VERBOSITY = {-2: logging.CRITICAL, -1: logging.ERROR, 0: logging.WARNING, 1: NOTICE, 2: logging.INFO, 3: logging.DEBUG}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="afb-spawn", description="Serve afb-spawn configs as AFB APIs.")
    p.add_argument("--host", choices=("embedded", "libafb"), default="embedded",
                   help="embedded: the built-in binder (default); libafb: inside the AFB framework (afb-libpython)")
    p.add_argument("--ws-server", action="append", default=[], metavar="URI",
                   help="libafb host: export an API to other binders (unix:@API, unix:/path/API, tcp:HOST:PORT/API)")
    p.add_argument("-C", "--config", action="append", default=[], metavar="FILE",
                   help="config file or directory (repeatable)")
    p.add_argument("-b", "--binding", action="append", default=[], metavar="PATH:CONFIG",
                   help="afb-binder style; PATH is ignored, CONFIG is loaded")
    p.add_argument("-p", "--port", type=int, default=None, help=f"TCP port (default {DEFAULT_PORT}; 0 = any free)")
    p.add_argument("-i", "--interface", action="append", default=[], metavar="IFACE",
                   help="HOST, tcp:HOST:PORT or unix:/path (repeatable; default 127.0.0.1)")
    p.add_argument("-n", "--name", help="binder name (exported as AFB_NAME)")
    p.add_argument("--roothttp", metavar="DIR", help="serve static files from DIR at /")
    p.add_argument("--alias", action="append", default=[], metavar="/PREFIX:DIR", help="static alias (repeatable)")
    p.add_argument("--rootapi", default="/api", metavar="PATH", help="API root (default /api)")
    p.add_argument("--rootdir", metavar="DIR", help="base of relative alias directories (exported AFB_ROOTDIR)")
    p.add_argument("-w", "--workdir", metavar="DIR", help="chdir to DIR first (exported AFB_WORKDIR)")
    p.add_argument("-v", "--verbose", action="count", default=0)
    p.add_argument("-q", "--quiet", action="count", default=0)
    p.add_argument("--tracereq", nargs="?", const="common", metavar="LEVEL",
                   help="log every request, reply and event to stderr")
    p.add_argument("--no-httpd", action="store_true", help="no HTTP listener (ignored with --port/--interface)")
    p.add_argument("--trap-faults", nargs="?", const="yes", help="accepted for compatibility; no effect")
    p.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="browser Origin allowed to open WebSockets (repeatable; '*' = any)")
    p.add_argument("--permissions", metavar="FILE",
                   help="permission policy (YAML or JSON); with it, the embedded host serves spawn-admin/reload")
    p.add_argument("--admin", action="store_true",
                   help="libafb host: serve spawn-admin/reload, guarded by urn:afb-spawn:reload "
                        "through the framework's permission backend")
    p.add_argument("--cgroup-root", metavar="DIR", default=None,
                   help="writable cgroup2 directory holding this binder's task groups "
                        "(default: $AFB_SPAWN_CGROUP_ROOT, else the binder's own cgroup, the binder then "
                        "moving into a leaf of its own); both hosts")
    p.add_argument("--ws-maxlen", type=int, default=DEFAULT_WS_MAXLEN, metavar="BYTES",
                   help=f"maximum WebSocket frame (default {DEFAULT_WS_MAXLEN}; smaller values ignored)")
    limits = WsLimits()
    p.add_argument("--ws-stall", type=_positive, default=limits.stall_seconds, metavar="SECONDS",
                   help=f"close a WebSocket that takes nothing for this long (default {limits.stall_seconds:g})")
    p.add_argument("--ws-idle", type=_positive, default=limits.idle_seconds, metavar="SECONDS",
                   help=f"ping a silent WebSocket after this long, close it without pong (default {limits.idle_seconds:g})")
    p.add_argument("--ws-pending", type=int, default=limits.max_pending, metavar="CALLS",
                   help=f"calls of one WebSocket running at once (default {limits.max_pending})")
    p.add_argument("--handshake-timeout", type=_positive, default=HANDSHAKE_SECONDS, metavar="SECONDS",
                   help=f"an HTTP connection must send a request this soon (default {HANDSHAKE_SECONDS:g})")
    p.add_argument("--max-tasks", type=_count, default=None, metavar="N",
                   help="at most N tasks run at once in the whole binder (default: no limit)")
    return p


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seconds between 0 and 86400")
    return value


def config_paths(args: argparse.Namespace) -> list[str]:
    """--config, then the CONFIG part of --binding; AFB_SPAWN_CONFIG when neither is given."""
    paths = list(args.config)
    for spec in args.binding:
        _, sep, config = spec.partition(":")
        if sep and config:
            paths.append(config)
    if not paths and os.environ.get("AFB_SPAWN_CONFIG"):
        paths.append(os.environ["AFB_SPAWN_CONFIG"])
    return paths


def listeners(args: argparse.Namespace) -> list[Listen]:
    """127.0.0.1 unless told otherwise: a command runner is not put on the network by default."""
    port = DEFAULT_PORT if args.port is None else args.port
    if args.interface:
        return [Listen.parse(spec, port) for spec in args.interface]
    if args.no_httpd and args.port is None:
        return []
    return [Listen(port=port)]


def binder_options(args: argparse.Namespace) -> BinderOptions:
    rootdir = args.rootdir or "."
    aliases = []
    for spec in args.alias:
        prefix, sep, directory = spec.partition(":")
        if not sep or not prefix.startswith("/") or not directory:
            raise ValueError(f"--alias {spec!r}: expected /PREFIX:DIR")
        aliases.append((prefix, os.path.join(rootdir, directory)))
    return BinderOptions(
        listen=listeners(args), rootapi="/" + args.rootapi.strip("/"), roothttp=args.roothttp,
        aliases=aliases, allow_origins=args.allow_origin,
        policy=load_policy(args.permissions) if args.permissions else None,
        ws_maxlen=max(args.ws_maxlen, DEFAULT_WS_MAXLEN), tracereq=tracing(args),
        ws_limits=WsLimits(stall_seconds=args.ws_stall, idle_seconds=args.ws_idle, max_pending=max(1, args.ws_pending)),
        handshake_seconds=args.handshake_timeout,
    )


def tracing(args: argparse.Namespace) -> bool:
    """--tracereq with no value or any level but no/none."""
    return args.tracereq not in (None, "no", "none")


def setup_logging(verbosity: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("afb-spawn: %(levelname)s: %(message)s"))
    root = logging.getLogger(ROOT_LOGGER)
    root.addHandler(handler)
    root.setLevel(VERBOSITY[max(-2, min(3, verbosity))])


def _config_errors() -> tuple[type[BaseException], ...]:
    """ConfigError comes with the config loader, which may not be merged yet."""
    try:
        config_error: type[BaseException] = importlib.import_module("afbspawn.config.errors").ConfigError
    except (ImportError, AttributeError):
        return (ValueError,)
    return (config_error, ValueError)


class Reloader:
    """SIGHUP: reload the configs (ignored until they are loaded; never kills the binder)."""

    def __init__(self) -> None:
        self.binding: SpawnBinding | None = None
        self._running: set[asyncio.Future[object]] = set()  # reloads in progress

    def __call__(self) -> None:
        if self.binding is None:
            log.warning("SIGHUP received before the configs were loaded: ignored")
            return
        task = asyncio.ensure_future(self.binding.try_reload())
        self._running.add(task)
        task.add_done_callback(self._running.discard)


def arm_signals(on_hangup: Callable[[], None]) -> asyncio.Event:
    """SIGTERM/SIGINT set the returned event (a clean stop); SIGHUP calls `on_hangup`."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    return stop


async def serve(args: argparse.Namespace, verbosity: int) -> int:
    if args.host == "libafb":
        from afbspawn.commands.serve_libafb import serve_libafb
        return await serve_libafb(args, verbosity, config_paths(args))
    if args.ws_server:
        raise ValueError("--ws-server exports through the AFB framework: it needs --host libafb")
    if args.admin:
        raise ValueError("--admin is a libafb-host option: the embedded host serves spawn-admin/reload "
                         "with a --permissions policy granting urn:afb-spawn:reload")
    reloader = Reloader()
    stop = arm_signals(reloader)  # armed first: a signal during start-up still stops cleanly
    binder = EmbeddedBinder(binder_options(args))
    # spawn-admin/reload needs a permission only a policy can grant: it exists with --permissions
    reloader.binding = await attach(binder, config_paths(args), verbosity, args.max_tasks,
                                    admin=bool(args.permissions))
    await binder.start()
    os.environ["AFB_PORT"] = str(binder.ports[0] if binder.ports else "")
    if verbosity >= 0:
        print(f"afb-spawn: serving {' '.join(binder.urls) or 'no HTTP'}", file=sys.stderr, flush=True)
    return await serve_until_stopped(stop, binder.stop)


async def serve_until_stopped(stop: asyncio.Event, stop_host: Callable[[], Awaitable[None]]) -> int:
    """Whichever host: at SIGTERM/SIGINT every process of every task ends (its whole cgroup
    leaf, else its process group) before the host stops, so nothing a task started outlives it."""
    await stop.wait()
    end_everything()
    await stop_host()
    return 0


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it halves the loop's own cost per call, docs/performance.md);
    AFB_SPAWN_LOOP=asyncio chooses the stdlib loop (None: asyncio's default)."""
    if os.environ.get(LOOP_ENV, "uvloop") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    verbosity = args.verbose - args.quiet
    setup_logging(verbosity)
    if tracing(args):
        configure_trace()
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    set_default_root(args.cgroup_root)
    try:
        if args.workdir:
            os.chdir(args.workdir)
            os.environ["AFB_WORKDIR"] = os.getcwd()
        if args.rootdir:
            os.environ["AFB_ROOTDIR"] = os.path.abspath(args.rootdir)
        if args.name:
            os.environ["AFB_NAME"] = args.name
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            code = runner.run(serve(args, verbosity))
    except _config_errors() as error:
        print(f"afb-spawn: {error}", file=sys.stderr)
        return 1
    except (OSError, StartupError, FrameworkMissing) as error:
        print(f"afb-spawn: {error}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    if args.host == "libafb":
        from afbspawn.commands.serve_libafb import leave
        leave(code)
    return code
