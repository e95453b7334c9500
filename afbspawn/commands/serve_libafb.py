"""`afb-spawn --host libafb`: the same options as the embedded host, mapped onto `libafb.binder`.

Runs inside the real AFB framework (afb-libpython): its HTTP/WebSocket server, its
`monitor`, its permission backend, and `--ws-server` export of APIs to other binders.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from afbspawn.afb.embedded.monitor import ROOT_LOGGER
from afbspawn.afb.embedded.server import DEFAULT_PORT, Listen
from afbspawn.afb.framework import import_libafb
from afbspawn.afb.host import StartupError
from afbspawn.afb.libafb.host import LibafbHost, LibafbOptions
from afbspawn.afb.libafb.logs import LibafbLogHandler
from afbspawn.binding.api import attach
from afbspawn.commands.serve import Reloader, arm_signals, serve_until_stopped

EMBEDDED_ONLY = ("permissions", "allow_origin")  # options the framework provides its own way


def interfaces(args: argparse.Namespace, port: int) -> list[str]:
    """libafb `intf` specs; 127.0.0.1 unless told otherwise, as the embedded host."""
    specs = []
    for spec in args.interface:
        listen = Listen.parse(spec, port)
        specs.append(f"unix:{listen.unix}" if listen.unix else f"tcp:{listen.host}:{listen.port}")
    return specs or [f"tcp:127.0.0.1:{port}"]


def export_api(uri: str) -> str:
    """The API a --ws-server URI names (afb-binder's rule): `?as-api=NAME`, else after `@`, else the last `/`."""
    spec, _, query = uri.partition("?")
    for item in query.split("&"):
        if item.startswith("as-api=") and item[len("as-api="):]:
            return item[len("as-api="):]
    if not spec.startswith(("unix:", "tcp:")):
        raise ValueError(f"--ws-server {uri!r}: expected unix:@API, unix:/path/API or tcp:HOST:PORT/API")
    name = spec.rsplit("@", 1)[1] if spec.startswith("unix:@") else spec.rsplit("/", 1)[-1]
    if not name or name.startswith(("unix:", "tcp:")):
        raise ValueError(f"--ws-server {uri!r}: the URI names no API (…/API or unix:@API)")
    return name


def libafb_options(args: argparse.Namespace, verbosity: int) -> LibafbOptions:
    for option in EMBEDDED_ONLY:
        if getattr(args, option):
            raise ValueError(f"--{option.replace('_', '-')} is an embedded-host option: with --host libafb "
                             "the framework decides (permissions: its backend, e.g. Cynagora)")
    port = DEFAULT_PORT if args.port is None else args.port
    no_http = args.no_httpd and args.port is None and not args.interface
    if port == 0 and not no_http:
        raise ValueError("--port 0 (any free port) is embedded-host only: libafb needs a port number")
    specs = [] if no_http else interfaces(args, port)
    tcp_ports = [int(spec.rsplit(":", 1)[1]) for spec in specs if spec.startswith("tcp:")]
    for spec in args.alias:
        prefix, sep, directory = spec.partition(":")
        if not sep or not prefix.startswith("/") or not directory:
            raise ValueError(f"--alias {spec!r}: expected /PREFIX:DIR")
    return LibafbOptions(
        name=args.name or "afb-spawn", port=0 if no_http else (tcp_ports[0] if tcp_ports else port),
        interfaces=specs, rootapi="/" + args.rootapi.strip("/"), roothttp=args.roothttp,
        aliases=list(args.alias), rootdir=args.rootdir, verbose=verbosity,
        exports={export_api(uri): uri for uri in args.ws_server})


async def serve_libafb(args: argparse.Namespace, verbosity: int, config_paths: list[str]) -> int:
    options = libafb_options(args, verbosity)
    libafb = import_libafb()
    handler = LibafbLogHandler(libafb)
    root = logging.getLogger(ROOT_LOGGER)
    for previous in list(root.handlers):
        root.removeHandler(previous)
    root.addHandler(handler)
    host = LibafbHost(libafb, options)
    reloader = Reloader()
    # SIGHUP reloads; spawn-admin/reload only on request: a framework without a permission
    # backend grants every permission (docs/hosts.md)
    reloader.binding = await attach(host, config_paths, verbosity, args.max_tasks, admin=args.admin)
    missing = sorted(set(options.exports) - set(host.api_names))
    if missing:
        raise StartupError(f"--ws-server: no API named {missing[0]!r} (APIs: {', '.join(host.api_names) or 'none'})")
    await host.start()
    handler.binder = host.binder
    stop = arm_signals(reloader)  # after libafb.binder(): replaces its handlers, which exit(1) at once
    if host.urls:
        os.environ["AFB_PORT"] = str(options.port)
    if verbosity >= 0:
        where = " ".join([*host.urls, *options.exports.values()]) or "no HTTP"
        print(f"afb-spawn: serving {where} (libafb)", file=sys.stderr, flush=True)
    return await serve_until_stopped(stop, host.stop)


def leave(code: int) -> None:
    """End the process now: libafb threads may be stuck in the framework (docs/hosts.md)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

