"""Encoder throughput: MiB/s of child output each encoder digests (no assertions).

Two inputs per encoder: 64 KiB chunks of 80-byte lines, and of JSON lines.
Run: .venv/bin/python bench/encoders.py
"""

from __future__ import annotations

import time

from afbspawn.config.model import EncoderSpec
from afbspawn.encoders.base import TaskContext
from afbspawn.encoders.registry import find_factory

CHUNK = 64 * 1024
TOTAL = 64 * 1024 * 1024
TEXT = (b"x" * 79 + b"\n") * (CHUNK // 80)
JSON = (b'{"line": "' + b"v" * 66 + b'"}\n') * (CHUNK // 80)
# text/sync/raw discard what is over their caps, so they are also run with big caps
ENCODERS = [
    ("text maxline=100000", {"maxline": 100_000}),
    ("raw maxlen=16MiB", {"maxlen": 1 << 24}),
    ("text", {}),
    ("sync", {}),
    ("line", {}),
    ("raw", {}),
    ("json", {}),
    ("log", {"stdout": "/dev/null", "stderr": "/dev/null"}),
]


class _Drop:
    def push(self, fields: dict) -> None:
        pass


def throughput(name: str, opts: dict, chunk: bytes) -> float:
    factory = find_factory(EncoderSpec(name.split()[0]))
    task = TaskContext("api", "sandbox", "bench", 0, lambda text: text)
    encoder = factory.create(factory.check(opts), _Drop(), task)
    started = time.perf_counter()
    for _ in range(TOTAL // len(chunk)):
        encoder.feed("stdout", chunk)
    encoder.end()
    encoder.close()
    return TOTAL / (1024 * 1024) / (time.perf_counter() - started)


def main() -> None:
    print(f"{'encoder':<20} {'80-byte lines MiB/s':>20} {'json lines MiB/s':>17}")
    for name, opts in ENCODERS:
        lines, json_lines = throughput(name, opts, TEXT), throughput(name, opts, JSON)
        print(f"{name:<20} {lines:>20.1f} {json_lines:>17.1f}")


if __name__ == "__main__":
    main()
