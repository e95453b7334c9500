"""Encoder lookup (builtins, config plugins, entry points), options, the sample plugin."""
from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from encoder_harness import run

from afbspawn.config.model import EncoderSpec, Plugin
from afbspawn.encoders.registry import (
    BUILTINS,
    ENTRY_POINT_GROUP,
    find_factory,
    prepare,
)
from afbspawn.encoders.sample import MyCustomEncoderFactory


@pytest.mark.parametrize("name", ["text", "TEXT", "Sync", "line", "raw", "json", "LOG"])
def test_builtins_are_case_insensitive(name):
    assert find_factory(EncoderSpec(name)) is BUILTINS[name.lower()]


def test_synchronous_flags():
    assert {n for n, f in BUILTINS.items() if f.synchronous} == {"sync", "raw"}


def test_unknown_builtin():
    with pytest.raises(LookupError, match="ENCODER_NOT_FOUND: no builtin encoder 'document'"):
        find_factory(EncoderSpec("document"))


def test_a_plain_name_never_selects_a_plugin_encoder():
    with pytest.raises(LookupError, match="ENCODER_NOT_FOUND"):
        find_factory(EncoderSpec("my-custom-encoder"))


def test_sample_plugin_through_its_entry_point():
    assert any(ep.name == "my-custom-encoder" for ep in entry_points(group=ENTRY_POINT_GROUP))
    factory = find_factory(EncoderSpec("My-Custom-Encoder", plugin="ENCODER_SAMPLE"))
    assert isinstance(factory, MyCustomEncoderFactory)


def test_entry_point_encoder_of_another_plugin_is_not_found():
    with pytest.raises(LookupError, match="PLUGIN_NOT_FOUND: no plugin 'other'.*'encoder_sample'"):
        find_factory(EncoderSpec("my-custom-encoder", plugin="other"))


def test_config_plugin_module():
    plugins = (Plugin(uid="Mine", module="afbspawn.encoders.sample"),)
    factory = find_factory(EncoderSpec("my-custom-encoder", plugin="mine"), plugins)
    assert factory.name == "my-custom-encoder"
    with pytest.raises(LookupError, match="plugin 'Mine' has no encoder 'nope'.*my-custom-encoder"):
        find_factory(EncoderSpec("nope", plugin="mine"), plugins)


@pytest.mark.parametrize(
    "module,error",
    [
        ("no_such_module_xyz", "PLUGIN_NOT_FOUND: plugin 'p': cannot import module"),
        ("json", "INVALID_ENCODER: plugin 'p': module 'json' has no ENCODERS list"),
    ],
)
def test_config_plugin_errors(module, error):
    with pytest.raises(LookupError, match=error):
        find_factory(EncoderSpec("x", plugin="p"), (Plugin(uid="p", module=module),))


@pytest.mark.parametrize("name", ["text", "sync", "line", "raw"])
@pytest.mark.parametrize(
    "opts,error",
    [
        ({"maxlen": 0}, "'maxlen' must be in 3.."),
        ({"maxline": 0}, "'maxline' must be in 1.."),
        ({"maxline": -5, "maxlen": 10}, "'maxline'"),
        ({"maxlen": "12"}, "'maxlen' must be an integer"),
        ({"maxline": True}, "'maxline' must be an integer"),
        ({"maxlen": 1 << 40}, "'maxlen' must be in"),
        ({"maxlength": 10}, "unknown option 'maxlength'"),
    ],
)
def test_line_options_are_each_validated(name, opts, error):
    with pytest.raises(ValueError, match=error):
        BUILTINS[name].check(opts)


@pytest.mark.parametrize(
    "opts,normalised",
    [
        ({}, {"maxlen": 512, "maxline": 128}),
        ({"maxlen": 64}, {"maxlen": 64, "maxline": 128}),
        ({"maxline": 5}, {"maxlen": 512, "maxline": 5}),
    ],
)
def test_one_option_alone_gets_the_other_default(opts, normalised):
    assert BUILTINS["text"].check(opts) == normalised


def test_sample_plugin_blocks_and_counts():
    feeds = [("stdout", b"1\n2\n3\n"), ("stderr", b"e1\n"), ("stdout", b"4\n5"), ("stderr", b"e2")]
    events, fields = run("my-custom-encoder", feeds, {"blkcount": 2}, plugin="encoder_sample")
    assert fields == {}
    assert events == [
        {"data": ["1", "2"]},
        {"err": 1, "data": "e1"},
        {"data": ["3", "4"]},
        {"err": 2, "data": "e2"},
        {"data": ["5"]},
        {"errcount": 2, "linecount": 5},
    ]


def test_sample_plugin_options():
    factory = MyCustomEncoderFactory()
    assert factory.check({}) == {"blkcount": 10, "maxlen": 512}
    with pytest.raises(ValueError, match="'blkcount'"):
        factory.check({"blkcount": 0})


def test_prepare_checks_options_once_at_load():
    factory, opts = prepare(EncoderSpec("Line", opts={"maxlen": 64}))
    assert factory is BUILTINS["line"] and opts == {"maxlen": 64, "maxline": 128}
    with pytest.raises(ValueError, match="INVALID_OPTIONS: encoder line: unknown option 'max'"):
        prepare(EncoderSpec("line", opts={"max": 1}))


PLUGIN_MODULE = '''
from afbspawn.encoders.text import TextFactory


class Shout(TextFactory):
    name = "Shout"


ENCODERS = [Shout, "not a factory"]
'''


def test_config_plugin_module_from_a_path_with_classes_and_junk(tmp_path, monkeypatch):
    (tmp_path / "my_encoders_plugin.py").write_text(PLUGIN_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = (Plugin(uid="mine", module="my_encoders_plugin"),)
    assert find_factory(EncoderSpec("shout", plugin="mine"), plugins).name == "Shout"
    with pytest.raises(LookupError, match="INVALID_ENCODER: module 'my_encoders_plugin' is not"):
        find_factory(EncoderSpec("other", plugin="mine"), plugins)
