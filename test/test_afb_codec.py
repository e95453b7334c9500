"""x-afb-ws-json1 codec vectors (spec afb-protocols §1.3-1.7): no socket involved.

The embedded binder's own codec (the libafb host uses the framework's); both hosts' frames on
the wire are compared byte for byte in test_afb_rawframes.py.
"""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afbspawn.afb.embedded import codec
from afbspawn.afb.embedded.codec import Call, FrameError


@pytest.mark.parametrize("text, call", [
    ('[2,"1","demo/ping",{}]', Call("1", "demo", "ping", {})),
    ('[2,156,"demo/ping",null]', Call("156", "demo", "ping", None)),
    ('[2,"7","a/b/c",[1,2],"TOKEN"]', Call("7", "a", "b/c", [1, 2], "TOKEN")),
    ('[2,"999999","hello/ping",foo bar]', Call("999999", "hello", "ping", "foo bar")),
    ('[2,"9","hello/ping",{"a":"x,]"}, "T"]', Call("9", "hello", "ping", {"a": "x,]"}, "T")),
    ('[2,"9","hello/ping",[1, {"b":"\\""}], raw]', Call("9", "hello", "ping", [1, {"b": '"'}], "raw")),
    ('[2,true,"x/y",1]', Call("true", "x", "y", 1)),
])
def test_calls(text, call):
    assert codec.parse(text) == call


def test_client_events_are_ignored():
    assert codec.parse('[5,"any",{"x":1}]') is None


@pytest.mark.parametrize("text, code, reason", [
    ('[2,"1","noslash",null]', 1008, ""),
    ('[2,"1","api/",null]', 1008, "invalid-frame"),
    ('[2,"1","api//x",null]', 1008, "invalid-frame"),
    ('[3,"1",{}]', 1008, "unbound-call-id"),
    ('[4,"1",{}]', 1008, "unbound-call-id"),
    ('[]', 1008, "invalid-frame"),
    ('{"a":1}', 1008, "invalid-frame"),
    ('[9,"1","a/b",null]', 1008, "invalid-frame"),
    ('["2","1","a/b",null]', 1008, "invalid-frame"),
    ('[2,"1","a/b"]', 1008, "invalid-frame"),
    ('[5,"x"]', 1008, "invalid-frame"),
    ('[2,"1",7,null]', 1008, "invalid-frame"),
    ('not json', 1008, "invalid-frame"),
    ('[2,"1","a/b",{]', 1008, "invalid-frame"),
    ('[2,"1","a/b",,]', 1008, "invalid-frame"),
    ('[1,2,3,4,5,6,7,8,9,10,x]', 1008, "invalid-frame"),
    ('[2,"1","a/b",' + "[" * 100000 + "]" * 100000 + "]", 1008, "invalid-frame"),
    ('[2,"1","a/b",' + "[" * 100000 + "]" * 100000 + ",x]", 1008, "invalid-frame"),
])
def test_invalid_frames(text, code, reason):
    with pytest.raises(FrameError) as caught:
        codec.parse(text)
    assert (caught.value.code, caught.value.reason) == (code, reason)


@pytest.mark.parametrize("args, frame", [
    ((0, {"pong": 1}), '[3,"1",{"jtype":"afb-reply","request":{"status":"success","code":0},"response":{"pong":1}}]'),
    ((0,), '[3,"1",{"jtype":"afb-reply","request":{"status":"success","code":0}}]'),
    ((-4,), '[4,"1",{"jtype":"afb-reply","request":{"status":"unknown-verb","code":-4}}]'),
    ((-1, {"x": 1}), '[4,"1",{"jtype":"afb-reply","request":{"status":"internal-error","info":"{\\"x\\":1}","code":-1}}]'),
    ((-9, None, "why"), '[4,"1",{"jtype":"afb-reply","request":{"status":"insufficient-scope","info":"why","code":-9}}]'),
    ((-12, "text"), '[4,"1",{"jtype":"afb-reply","request":{"status":"invalid-request","info":"text","code":-12}}]'),
    ((-1000, [1, 2]), '[4,"1",{"jtype":"afb-reply","request":{"status":"error","code":-1000},"response":[1,2]}]'),
    ((-500,), '[4,"1",{"jtype":"afb-reply","request":{"status":"internal-error","code":-500}}]'),
    ((0, "a\nb"), '[3,"1",{"jtype":"afb-reply","request":{"status":"success","code":0},"response":"a\\nb"}]'),
])
def test_reply_frames(args, frame):
    assert codec.reply_frame("1", *args) == frame


def test_reply_id_is_json_escaped():
    assert codec.reply_frame('a"b', 0).startswith('[3,"a\\"b",')


def test_event_frame_data_always_present():
    assert codec.event_frame("demo/tick") == '[5,"demo/tick",{"jtype":"afb-event","event":"demo/tick","data":null}]'
    assert codec.event_frame("demo/tick", {"n": "é"}) == \
        '[5,"demo/tick",{"jtype":"afb-event","event":"demo/tick","data":{"n":"é"}}]'


def test_to_wire_keeps_utf8_and_escapes_lone_surrogates():
    assert codec.to_wire(codec.dumps("é")) == '"é"'.encode()
    assert codec.to_wire(codec.dumps("\udcff")) == b'"\\udcff"'


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=5) | st.integers(), children, max_size=4),
    max_leaves=12)


@given(JSON_VALUES)
@settings(max_examples=400, deadline=None)
def test_dumps_writes_the_stdlib_text_whichever_encoder_runs(value: object) -> None:
    """orjson serves the plain values, the stdlib the rest: the text must be the stdlib's for all."""
    assert codec.dumps(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@given(st.text(), JSON_VALUES)
@settings(max_examples=200, deadline=None)
def test_event_wire_is_the_event_frame_on_the_wire(name: str, data: object) -> None:
    assert codec.event_wire(name, codec.event_head(name), data) == codec.to_wire(codec.event_frame(name, data))


def test_dumps_falls_back_for_what_orjson_refuses() -> None:
    for value in ({"big": 2 ** 70}, {1: "int key"}, ["\ud800"], {"x": 1e16}):
        assert codec.dumps(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
