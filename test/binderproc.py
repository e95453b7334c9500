"""Start our binder (`python -m afbspawn ...`) as a real subprocess and stop it cleanly.

Ready means: it printed its "serving" line on stderr (the one line the compatibility
tests allow there from our own code; the libafb host's framework logs its own lines before
it, and the warnings logged while loading are kept in `preamble` too). Everything else it prints is kept for the test to inspect.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STARTUP_TIMEOUT = 30.0
LOGGED = re.compile(rb"afb-spawn: (DEBUG|INFO|NOTICE|WARNING): ")  # a log line, kept in `preamble`


@dataclass
class Binder:
    process: subprocess.Popen[bytes]
    serving_line: bytes
    preamble: bytes = b""

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> tuple[bytes, bytes]:
        """SIGTERM, wait, and return (stdout, rest of stderr)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            out, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return out, err


def start_binder(command: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None) -> Binder:
    """Run `command` and wait for its "serving" line on stderr (or fail with what it said)."""
    process = subprocess.Popen(list(command), cwd=cwd, env={**os.environ, **(env or {})},
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stderr is not None
    seen = b""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        line = b""
        while not line.endswith(b"\n"):
            ready, _, _ = select.select([process.stderr], [], [], max(0.0, deadline - time.monotonic()))
            byte = os.read(process.stderr.fileno(), 1) if ready else b""
            if not byte:
                process.kill()
                _, err = process.communicate()
                raise RuntimeError(f"binder did not start: {(seen + line + err).decode(errors='replace')}")
            line += byte
        if line.startswith(b"afb-spawn: serving"):
            return Binder(process, line, seen)
        if line.startswith(b"afb-spawn: ") and not LOGGED.match(line):  # our own message before serving: an error
            process.kill()
            _, err = process.communicate()
            raise RuntimeError(f"binder did not start: {(seen + line + err).decode(errors='replace')}")
        seen += line


@contextlib.contextmanager
def binder_on_config(as_nobody: Callable[..., list[str]], name: str, config: Any, *options: str,
                     env: Mapping[str, str] | None = None) -> Iterator[tuple[Binder, int, Path]]:
    """A binder run as nobody on `config` written to a world-readable NAME.json:
    (binder, port, config path); the folder (config and whatever the test adds) goes after."""
    root = Path(tempfile.mkdtemp(prefix=f"afbspawn-{name}-"))
    path = root / f"{name}.json"
    path.write_text(json.dumps(config))
    subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True)
    from conftest import free_port

    port = free_port()
    process = start_binder(as_nobody("-m", "afbspawn", "--config", str(path), "-p", str(port), *options),
                           cwd=root, env=env)
    try:
        yield process, port, path
    finally:
        process.stop()
        shutil.rmtree(root, ignore_errors=True)


def listening(port: int, process: subprocess.Popen[bytes], timeout: float = STARTUP_TIMEOUT) -> bool:
    """Wait until something accepts on 127.0.0.1:`port` (binders that print no ready line)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False
