"""The json-c pretty printer matches afb-client --human, byte for byte."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonc import dumps

REFERENCES = Path(__file__).resolve().parents[2] / "shared" / "reference" / "spawn-binding-c"
PID_PLACEHOLDER = 987654321


def test_members_and_items_one_per_line():
    assert dumps({"a": 1, "b": [True, None, "x"]}) == (
        '{\n  "a":1,\n  "b":[\n    true,\n    null,\n    "x"\n  ]\n}'
    )


def test_empty_containers_span_two_lines_at_their_own_indentation():
    assert dumps({"a": [], "b": {}}) == '{\n  "a":[\n  ],\n  "b":{\n  }\n}'
    assert dumps([]) == "[\n]"
    assert dumps({"x": {"y": []}}) == '{\n  "x":{\n    "y":[\n    ]\n  }\n}'


def test_strings():
    assert dumps("a/b") == '"a/b"'
    assert dumps("é ✓ 😀") == '"é ✓ 😀"'
    assert dumps('q"\\\t\n\r\b\f\x01\x1f') == '"q\\"\\\\\\t\\n\\r\\b\\f\\u0001\\u001f"'


@pytest.mark.parametrize(
    "number,text",
    [
        (1.5, "1.5"),
        (2.0, "2.0"),
        (0.1, "0.10000000000000001"),
        (-3, "-3"),
        (1e300, "1.0000000000000001e+300"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        (10**12, "1000000000000"),
    ],
)
def test_numbers(number, text):
    assert dumps(number) == text


def _json_blocks(transcript: str) -> list[str]:
    """Every pretty-printed JSON block of a client transcript (from `{` to `}` at column 0)."""
    return re.findall(r"^\{\n.*?^\}$", transcript, flags=re.MULTILINE | re.DOTALL)


TRANSCRIPTS = sorted(REFERENCES.glob("*/*.client.reference"))


@pytest.mark.skipif(not TRANSCRIPTS, reason=f"reference transcripts absent from {REFERENCES}")
@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.parent.name)
def test_reference_blocks_reprint_identically(path):
    transcript = path.read_text()
    blocks = _json_blocks(transcript)
    assert len(blocks) == len(re.findall(r"^ON-(?:REPLY|EVENT) ", transcript, re.MULTILINE)) > 0
    for block in blocks:
        with_pid = re.sub(r'"pid":(?=,?\n)', f'"pid":{PID_PLACEHOLDER}', block)
        reprinted = dumps(json.loads(with_pid))
        assert reprinted.replace(f'"pid":{PID_PLACEHOLDER}', '"pid":') == block
