"""Builtin encoders: event shapes, line rules, caps and chunking independence."""
from __future__ import annotations

from typing import Any

import pytest
from encoder_harness import chunked, run
from hypothesis import given, settings
from hypothesis import strategies as st

from afbspawn.encoders.lines import LineSplitter

FILES = ["test-encoders.binder.reference", "test-encoders.client.reference",
         "test-encoders.json", "test-encoders.sh"]
LISTING = "".join(f"{f}\n" for f in FILES).encode()

# (encoder, opts, stdout bytes, stderr bytes, expected events, expected end() fields)
CASES: list[tuple[str, dict[str, Any], bytes, bytes, list[dict[str, Any]], dict[str, Any]]] = [
    ("text", {}, LISTING, b"", [{"stdout": FILES}], {}),
    ("text", {}, b"", b"", [{}], {}),
    ("text", {}, b"a\r\nb\r\n\r\n", b"", [{"stdout": ["a", "b", ""]}], {}),
    ("text", {}, b"a\rb\n\n\nend", b"", [{"stdout": ["a\rb", "", "", "end"]}], {}),
    ("text", {}, b"", b"oops\n", [{"stderr": ["oops"]}], {}),
    ("text", {}, b"o\n", b"e\n", [{"stdout": ["o"], "stderr": ["e"]}], {}),
    ("text", {"maxline": 2}, b"1\n2\n", b"", [{"stdout": ["1", "2"]}], {}),
    ("text", {"maxline": 2}, b"1\n2\n3\n4\n", b"x\ny\nz", [
        {"stdout": ["1", "2", "..."], "stderr": ["x", "y", "..."],
         "stdout-overflow": True, "stderr-overflow": True}], {}),
    ("text", {"maxlen": 6}, b"abcde\nabcdefghij\n", b"", [
        {"stdout": ["abcde", "abcd\\", "efgh\\", "ij"]}], {}),
    ("text", {"maxlen": 6}, b"abcde\r\n", b"", [{"stdout": ["abcde"]}], {}),
    # a cut never splits a UTF-8 sequence: "é" (2 bytes) moves to the next chunk
    ("text", {"maxlen": 6}, "abcéfg\n".encode(), b"", [{"stdout": ["abc\\", "éfg"]}], {}),
    ("text", {}, b"a\xffb\n\xe2\x82\n", b"", [{"stdout": ["a\ufffdb", "\ufffd"]}], {}),
    ("text", {}, "naïve ✓ 😀\n".encode(), b"", [{"stdout": ["naïve ✓ 😀"]}], {}),
    ("sync", {}, LISTING, b"", [], {"stdout": FILES}),
    ("sync", {}, b"", b"", [], {}),
    ("sync", {"maxline": 1}, b"", b"a\nb\n", [],
     {"stderr": ["a", "..."], "stderr-overflow": True}),
    ("line", {}, LISTING, b"", [{"stdout": f} for f in FILES], {}),
    ("line", {}, b"a\r\n\nb", b"", [{"stdout": "a"}, {"stdout": ""}, {"stdout": "b"}], {}),
    ("line", {}, b"", b"e1\ne2", [{"stderr": "e1"}, {"stderr": "e2"}], {}),
    ("line", {"maxlen": 5}, b"abcdefg\n", b"", [
        {"stdout": "abc\\"}, {"stdout": "defg"}], {}),
    ("line", {}, b"", b"", [], {}),
    ("raw", {}, LISTING, b"", [], {"stdout": LISTING.decode(), "stderr": ""}),
    ("raw", {}, b"", b"", [], {"stdout": "", "stderr": ""}),
    ("raw", {}, b"a\r\nb", b"e\n", [], {"stdout": "a\r\nb", "stderr": "e\n"}),
    ("raw", {"maxlen": 4}, b"abcdef", b"xyz", [],
     {"stdout": "abcd", "stderr": "xyz", "stdout-overflow": True}),
    ("raw", {"maxlen": 4}, "abcé".encode(), b"", [],
     {"stdout": "abc", "stderr": "", "stdout-overflow": True}),
    ("raw", {}, b"\xff\n", b"", [], {"stdout": "\ufffd\n", "stderr": ""}),
    ("raw", {"maxlen": 20_000}, b"x" * 20_000, b"", [], {"stdout": "x" * 20_000, "stderr": ""}),
]


def _feeds(stdout: bytes, stderr: bytes, cuts: list[int]) -> list[tuple[str, bytes]]:
    return [("stdout", c) for c in chunked(stdout, cuts)] + [
        ("stderr", c) for c in chunked(stderr, cuts)
    ]


@pytest.mark.parametrize("name,opts,stdout,stderr,events,fields", CASES)
def test_whole_feed(name, opts, stdout, stderr, events, fields):
    got_events, got_fields = run(name, _feeds(stdout, stderr, []), opts)
    assert got_events == events
    assert got_fields == fields


@pytest.mark.parametrize("name,opts,stdout,stderr,events,fields", CASES)
def test_byte_by_byte(name, opts, stdout, stderr, events, fields):
    cuts = list(range(max(len(stdout), len(stderr)) + 1))
    assert run(name, _feeds(stdout, stderr, cuts), opts) == (events, fields)


@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from(CASES), cuts=st.lists(st.integers(0, 30_000), max_size=12))
def test_any_chunking_gives_the_same_output(case, cuts):
    name, opts, stdout, stderr, events, fields = case
    assert run(name, _feeds(stdout, stderr, cuts), opts) == (events, fields)


def test_text_keys_follow_the_c_order():
    events, _ = run("text", [("stderr", b"e\n" * 3), ("stdout", b"o\n" * 3)], {"maxline": 1})
    assert list(events[0]) == ["stdout", "stderr", "stdout-overflow", "stderr-overflow"]


def test_raw_keys_follow_the_c_order():
    _, fields = run("raw", [("stderr", b"e" * 9), ("stdout", b"o")], {"maxlen": 4})
    assert list(fields) == ["stdout", "stderr", "stderr-overflow"]


@settings(max_examples=80, deadline=None)
@given(
    data=st.binary(max_size=300),
    maxlen=st.integers(3, 40),
    cuts=st.lists(st.integers(0, 300), max_size=10),
)
def test_lines_are_independent_of_chunking_and_bounded(data, maxlen, cuts):
    """Any bytes, any chunking: same lines, each within maxlen-1 characters' bytes."""
    whole, _ = run("line", [("stdout", data)], {"maxlen": maxlen})
    pieces, _ = run("line", [("stdout", c) for c in chunked(data, cuts)], {"maxlen": maxlen})
    assert pieces == whole
    for event in whole:
        assert len(event["stdout"].encode("utf-8", "surrogatepass")) <= 3 * (maxlen - 1)


TEXT_WITHOUT_MARKS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\\\r"),
    max_size=200,
)


@given(text=TEXT_WITHOUT_MARKS, maxlen=st.integers(6, 30))
@settings(max_examples=80, deadline=None)
def test_cut_lines_rejoin_to_the_original_text(text, maxlen):
    """Valid UTF-8 is never mangled by cutting: removing the marks gives the input back."""
    events, _ = run("line", [("stdout", text.encode())], {"maxlen": maxlen})
    rebuilt = []
    for event in events:
        line = event["stdout"]
        if line.endswith("\\"):
            assert len(line.encode()) <= maxlen - 1
            rebuilt.append(line[:-1])
        else:
            rebuilt.append(line + "\n")
    expected = text if not text or text.endswith("\n") else text + "\n"
    assert "".join(rebuilt) == expected


class _BytewiseSplitter(LineSplitter):
    """The splitter without its whole-chunk shortcut: the per-byte rules as written."""

    def _split_short_lines(self, data: bytes) -> None:
        return None


@given(st.integers(3, 40), st.lists(st.binary(max_size=60) | st.sampled_from(
    [b"\n", b"\r\n", b"\xe2\x82\xac\n", b"\xe2\x82", b"\xac", b"x" * 45 + b"\n", b"\xff\n"]), max_size=12))
@settings(max_examples=500, deadline=None)
def test_whole_chunk_split_gives_the_lines_of_the_bytewise_rules(maxlen: int, chunks: list[bytes]) -> None:
    fast, reference = LineSplitter(maxlen), _BytewiseSplitter(maxlen)
    for chunk in chunks:
        assert list(fast.feed(chunk)) == list(reference.feed(chunk))
    assert list(fast.finish()) == list(reference.finish())
