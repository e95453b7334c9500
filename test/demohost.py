"""Serve the test `demo` API (afbserver.Demo) on one host until SIGTERM: `demohost.py HOST PORT`.

The suites that check a behaviour on both hosts run it in a subprocess: the libafb host
owns its process (libafb's loop, threads and signal handlers), so the embedded one runs
the same way. Prints the binders' "serving" line on stderr once ready.
"""
from __future__ import annotations

import asyncio
import sys

from afbserver import Demo

from afbspawn.afb.embedded.server import BinderOptions, EmbeddedBinder, Listen
from afbspawn.afb.framework import import_libafb
from afbspawn.afb.libafb.host import LibafbHost, LibafbOptions
from afbspawn.commands.serve import arm_signals
from afbspawn.commands.serve_libafb import leave


async def serve(host: str, port: int) -> None:
    binder: EmbeddedBinder | LibafbHost
    if host == "embedded":
        binder = EmbeddedBinder(BinderOptions(listen=[Listen(port=port)]))
    else:
        binder = LibafbHost(import_libafb(), LibafbOptions(port=port))
    Demo(binder, guarded=host == "embedded")
    await binder.start()
    stop = arm_signals(lambda: None)  # after the start: libafb's own handlers exit(1) at once
    print(f"afb-spawn: serving http://127.0.0.1:{port}/ ({host})", file=sys.stderr, flush=True)
    await stop.wait()
    await binder.stop()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2])))
    leave(0)
