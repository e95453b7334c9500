"""The json encoder: lenient like json-c, bounded, errors as json-error events."""

from __future__ import annotations

import json
import math

import pytest
from encoder_harness import chunked, run
from hypothesis import given, settings
from hypothesis import strategies as st

END = {"json-error": "unexpected end of data"}


def stdout_events(text: str, opts: dict | None = None, cuts: list[int] | None = None):
    data = text.encode()
    events, fields = run(
        "json", [("stdout", c) for c in chunked(data, cuts or [])], opts
    )
    assert fields == {}
    return events


def test_reference_listing_then_the_compat_end_error():
    names = ["a.json", "b.sh"]
    text = "".join(f'{{"line":"{n}"}}\n' for n in names)
    assert stdout_events(text) == [{"stdout": {"line": n}} for n in names] + [END]


def test_no_output_still_reports_end_of_data():
    assert stdout_events("") == [END]


@pytest.mark.parametrize(
    "text,values",
    [
        ("{'a': 'single'}", [{"a": "single"}]),
        ('[1, 2, ] {"k": 1,}', [[1, 2], {"k": 1}]),
        ('/* block */ {"a": 1} // line\n[]', [{"a": 1}, []]),
        ('{"a":1}{"b":2}[3]"s"', [{"a": 1}, {"b": 2}, [3], "s"]),
        ("1 2.5 -3e2 true false null", [1, 2.5, -300.0, True, False, None]),
        (
            '"esc \\" \\\\ \\/ \\n \\t \\u00e9 \\ud83d\\ude00"',
            ['esc " \\ / \n \t é 😀'],
        ),
        ("'it\\'s'", ["it's"]),
        ('{"nested": {"deep": [[{"x": []}]]}}', [{"nested": {"deep": [[{"x": []}]]}}]),
        ("42", [42]),  # a trailing scalar is flushed at end of data
        ('{"é": "ü"}', [{"é": "ü"}]),
    ],
)
def test_lenient_values(text, values):
    assert stdout_events(text) == [{"stdout": v} for v in values] + [END]


def test_nan_and_infinity():
    events = stdout_events("[NaN, Infinity, -Infinity]")
    nan, inf, ninf = events[0]["stdout"]
    assert math.isnan(nan) and inf == math.inf and ninf == -math.inf


@pytest.mark.parametrize(
    "text,message",
    [
        ('{"a" 1}\n', "object property name separator ':' expected"),
        ('{"a":1 "b":2}\n', "object value separator ',' expected"),
        ("[1 2]\n", "array value separator ',' expected"),
        ("{a:1}\n", "quoted object property name expected"),
        ("nul\n", "null expected"),
        ("tru\n", "boolean expected"),
        ("hello world\n", "unexpected character"),
        ("]\n", "unexpected character"),
        ('"bad \\q escape"\n', "invalid string sequence"),
        ("/x\n", "expected comment"),
    ],
)
def test_errors_use_json_c_messages_and_resync_on_the_next_line(text, message):
    events = stdout_events(text + '{"ok":true}\n')
    assert events == [{"json-error": message}, {"stdout": {"ok": True}}, END]


def test_maxdepth():
    assert stdout_events("[[[1]]]", {"maxdepth": 3}) == [{"stdout": [[[1]]]}, END]
    assert stdout_events("[[[[1]]]]\n[0]", {"maxdepth": 3}) == [
        {"json-error": "nesting too deep"},
        {"stdout": [0]},
        END,
    ]


def test_a_top_level_string_larger_than_maxsize_is_refused_even_in_one_read():
    events, _ = run(
        "json", [("stdout", b'"' + b"x" * 2000 + b'"\n[2]\n')], {"maxsize": 1000}
    )
    assert events == [{"json-error": "buffer size overflow"}, {"stdout": [2]}, END]


def test_a_value_larger_than_maxsize_is_refused_not_buffered():
    big = '{"k": "' + "x" * 5000 + '"}\n'
    assert stdout_events(big + "[1]\n", {"maxsize": 1000}) == [
        {"json-error": "buffer size overflow"},
        {"stdout": [1]},
        END,
    ]
    many = "[" + "1," * 3000 + "1]\n"
    assert stdout_events(many + "2\n", {"maxsize": 1000}) == [
        {"json-error": "buffer size overflow"},
        {"stdout": 2},
        END,
    ]


def test_unterminated_value_at_end():
    assert stdout_events('{"a": [1, 2') == [END]


def test_invalid_utf8_is_replaced():
    events, _ = run("json", [("stdout", b'{"a": "\xff"}\n')])
    assert events == [{"stdout": {"a": "\ufffd"}}, END]


def test_stderr_lines_are_separate_events():
    events, _ = run("json", [("stderr", b"warn 1\nwarn"), ("stdout", b"[1]\n")])
    assert events == [{"stderr": "warn 1"}, {"stdout": [1]}, END, {"stderr": "warn"}]


JSON_DOC = (
    '{\'a\': [1, 2.5, -3, true, null, NaN,], /* c */ "s": "\\u00e9\\n"}\n'
    '123 1e5 -Infinity true "x"[]{}\n// comment\n\'é\' garbage here\n[{"k": {"j": []}}]'
)


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(0, len(JSON_DOC.encode())), max_size=20))
def test_any_chunking_gives_the_same_events(cuts):
    whole = stdout_events(JSON_DOC)
    assert [next(iter(e)) for e in whole] == ["stdout"] * 9 + [
        "json-error",
        "stdout",
        "json-error",
    ]
    assert repr(stdout_events(JSON_DOC, cuts=cuts)) == repr(whole)


@pytest.mark.parametrize(
    "opts,error",
    [
        ({"maxdepth": 0}, "maxdepth"),
        ({"maxsize": "1"}, "maxsize"),
        ({"maxline": 3}, "maxline"),
    ],
)
def test_option_errors(opts, error):
    with pytest.raises(ValueError, match=error):
        run("json", [], opts)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    docs=st.lists(JSON_VALUES, min_size=1, max_size=4),
    indent=st.sampled_from([None, 2]),
    cuts=st.lists(st.integers(0, 2000), max_size=8),
)
def test_strict_json_streams_parse_like_the_standard_library(docs, indent, cuts):
    """Whatever the chunking (fast strict path or lenient tokens), values are json.loads'."""
    text = "\n".join(json.dumps(d, indent=indent) for d in docs) + "\n"
    expected = [{"stdout": json.loads(json.dumps(d))} for d in docs] + [END]
    assert stdout_events(text, cuts=cuts) == expected


JSONISH_BYTES = st.lists(
    st.sampled_from(
        list(b"{}[]:,\"'/*\\ \n\r\t-+.0123456789eEtrufalsnNIy\xc3\xa9\xff")
    ),
    max_size=60,
).map(bytes)


@settings(max_examples=400, deadline=None)
@given(
    data=JSONISH_BYTES,
    cuts=st.lists(st.integers(0, 60), max_size=6),
    depth=st.integers(1, 4),
)
def test_garbage_never_crashes_and_is_independent_of_chunking(data, cuts, depth):
    """Below the size bound, the events depend on the bytes only, never on the reads."""
    opts = {"maxsize": 100, "maxdepth": depth}
    whole = run("json", [("stdout", data)], opts)
    pieces = run("json", [("stdout", c) for c in chunked(data, cuts)], opts)
    assert repr(pieces) == repr(whole)
    assert whole[0][-1] == END
