"""A spawn binder (`python -m afbspawn`) from a config dict, as a real subprocess on a free port.

Its commands run as `nobody` (a root binder requires acls.user); the security and stress
suites drive it over real sockets and read what it logged on stderr.
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from binderproc import Binder, start_binder
from conftest import free_port


def api_config(api: str, commands: Sequence[Mapping[str, Any]], **sandbox: Any) -> dict[str, Any]:
    """One API, one sandbox running as nobody (unless `acls` is given), these commands."""
    box = {"uid": "box", "acls": {"user": "nobody"}, **sandbox, "commands": list(commands)}
    return {"metadata": {"uid": api, "api": api, "version": "1.0"}, "sandboxes": [box]}


@contextlib.contextmanager
def live_binder(config: Mapping[str, Any], *options: str,
                env: Mapping[str, str] | None = None) -> Iterator[tuple[Binder, int]]:
    root = Path(tempfile.mkdtemp(prefix="afbspawn-live-"))
    (root / "api.json").write_text(json.dumps(config))
    port = free_port()
    binder = start_binder([sys.executable, "-m", "afbspawn", "--config", str(root / "api.json"), "-p", str(port),
                           *options], cwd=root, env=env)
    try:
        yield binder, port
    finally:
        binder.stop()
        shutil.rmtree(root, ignore_errors=True)


def wait_for_log(binder: Binder, needle: bytes, timeout: float = 60) -> bytes:
    """Read the binder's stderr until a line contains `needle`; returns what was read."""
    assert binder.process.stderr is not None
    fd = binder.process.stderr.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            raise AssertionError(f"{needle!r} not logged; got {seen.decode(errors='replace')}")
        seen += chunk
    return seen


LONG = os.environ.get("AFB_SPAWN_LONG") == "1"  # `make test-long`: the full-size suites


def scaled(short: int, long: int) -> int:
    """`short` in `make test`, `long` in `make test-long`."""
    return long if LONG else short
