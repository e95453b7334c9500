"""Whatever a child prints, an encoder's memory stays bounded by its options.

Each encoder gets 100 MiB on stdout (and some on stderr): half as ~1 KiB lines,
half as one endless line without newline. tracemalloc measures what the encoder
allocates; the sink only counts events (the task forwards them, never keeps them).
"""
from __future__ import annotations

import tracemalloc
from collections import Counter

import pytest
from encoder_harness import CountingSink, task_context

from afbspawn.config.model import EncoderSpec
from afbspawn.encoders.registry import find_factory

CHUNK = 64 * 1024
TOTAL = 100 * 1024 * 1024
LINES_CHUNK = (b"x" * 1000 + b"\n") * (CHUNK // 1001) + b"y" * (CHUNK % 1001)
ENDLESS_CHUNK = "é".encode() * (CHUNK // 2)
JSON_CHUNK = (b'{"k": "' + b"v" * 990 + b'"}\n') * (CHUNK // 1000)
PEAK_LIMIT = 10 * 1024 * 1024


def feed_100_mib(
    name: str, opts: dict, lines: bytes, plugin: str | None = None
) -> tuple[int, Counter[str], dict]:
    """(tracemalloc peak, event keys seen, end() fields) for 50 MiB of `lines`
    then 50 MiB of one endless line."""
    factory = find_factory(EncoderSpec(name, plugin))
    sink = CountingSink()
    tracemalloc.start()
    try:
        encoder = factory.create(factory.check(opts), sink, task_context())
        for index in range(TOTAL // CHUNK):
            encoder.feed("stdout", lines if index < TOTAL // CHUNK // 2 else ENDLESS_CHUNK)
            if index % 64 == 0:
                encoder.feed("stderr", LINES_CHUNK)
        result = encoder.end()
        encoder.close()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, sink.keys, result


@pytest.mark.parametrize(
    "name,opts,plugin,outcome",
    [
        ("text", {}, None, lambda keys, end: keys["stdout-overflow"] == 1),
        ("sync", {"maxline": 1000}, None, lambda keys, end: end["stdout-overflow"]),
        ("line", {}, None, lambda keys, end: keys["stdout"] > 150_000),
        ("raw", {"maxlen": 1 << 20}, None, lambda keys, end: end["stdout-overflow"]),
        ("log", {"stdout": "/dev/null", "stderr": "/dev/null"}, None,
         lambda keys, end: not keys and end == {}),
        ("my-custom-encoder", {"blkcount": 100}, "encoder_sample",
         lambda keys, end: keys["linecount"] == 1 and keys["data"] > 1500),
    ],
)
def test_line_encoders_stay_bounded(name, opts, plugin, outcome):
    peak, keys, end = feed_100_mib(name, opts, LINES_CHUNK, plugin)
    assert peak < PEAK_LIMIT
    assert outcome(keys, end)


def test_json_stays_bounded_and_flags_the_endless_garbage():
    peak, keys, _ = feed_100_mib("json", {}, JSON_CHUNK)
    assert peak < PEAK_LIMIT
    assert keys["stdout"] == (TOTAL // CHUNK // 2) * (CHUNK // 1000)  # every value delivered
    assert keys["json-error"] == 2  # the endless garbage line, then the end of data
    assert keys["stderr"] > 0


def test_json_refuses_an_endless_string_in_bounded_memory():
    factory = find_factory(EncoderSpec("json"))
    sink = CountingSink()
    encoder = factory.create(factory.check({"maxsize": 4096}), sink, task_context())
    tracemalloc.start()
    try:
        encoder.feed("stdout", b'{"endless": "')
        for _ in range(200):
            encoder.feed("stdout", ENDLESS_CHUNK)
        encoder.feed("stdout", b'"}\n[1]\n')
        encoder.end()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_LIMIT
    assert sink.keys == {"json-error": 2, "stdout": 1}


def test_text_flags_what_it_dropped():
    factory = find_factory(EncoderSpec("sync"))
    encoder = factory.create(factory.check({"maxline": 3}), CountingSink(), task_context())
    for _ in range(100):
        encoder.feed("stdout", LINES_CHUNK)
    fields = encoder.end()
    assert fields["stdout"][-1] == "..." and fields["stdout-overflow"] is True
