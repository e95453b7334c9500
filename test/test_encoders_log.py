"""The log encoder: raw copies to files or to the binder's own stdio, no events."""
from __future__ import annotations

import pytest
from encoder_harness import ListSink, task_context

from afbspawn.config.model import EncoderSpec
from afbspawn.encoders.registry import find_factory


def start(opts: dict, variables: dict | None = None):
    factory = find_factory(EncoderSpec("log"))
    sink = ListSink()
    return factory.create(factory.check(opts), sink, task_context(variables)), sink


def test_appends_raw_bytes_to_expanded_files(tmp_path):
    out, err = tmp_path / "out-42.log", tmp_path / "err.log"
    out.write_bytes(b"earlier\n")
    encoder, sink = start({"stdout": f"{tmp_path}/out-$PID.log", "stderr": str(err)}, {"PID": "42"})
    encoder.feed("stdout", b"line 1\r\n\xff")
    encoder.feed("stderr", b"oops")
    encoder.feed("stdout", b"partial")
    assert encoder.end() == {}
    encoder.close()
    assert out.read_bytes() == b"earlier\nline 1\r\n\xffpartial"
    assert err.read_bytes() == b"oops"
    assert sink.events == []


def test_unopenable_file_fails_at_create_with_a_clear_error(tmp_path):
    with pytest.raises(OSError, match="log encoder: cannot open stderr file .*missing/err.log"):
        start({"stdout": str(tmp_path / "ok.log"), "stderr": str(tmp_path / "missing/err.log")})


def test_defaults_to_the_binders_own_stdout_and_stderr(capfd):
    encoder, sink = start({})
    encoder.feed("stdout", b"to stdout\n")
    encoder.feed("stderr", b"to stderr\n")
    encoder.end()
    encoder.close()
    captured = capfd.readouterr()
    assert captured.out == "to stdout\n"
    assert captured.err == "to stderr\n"
    assert sink.events == []


@pytest.mark.parametrize(
    "opts,error", [({"stdout": 3}, "'stdout' must be"), ({"file": "x"}, "unknown option 'file'")]
)
def test_option_errors(opts, error):
    with pytest.raises(ValueError, match=error):
        find_factory(EncoderSpec("log")).check(opts)


def test_binder_without_stdout_fails_at_create(monkeypatch):
    monkeypatch.setattr("sys.stdout", None)
    with pytest.raises(OSError, match="binder's stdout has no byte stream"):
        start({"stderr": "/dev/null"})


def test_write_failure_is_reported_once_and_never_raised():
    encoder, sink = start({"stdout": "/dev/full"})
    encoder.feed("stdout", b"x" * 100_000)  # larger than the buffer: the write reaches the disk
    encoder.feed("stdout", b"more")
    encoder.end()
    encoder.close()
    assert sink.events == [{"log-error": "stdout: No space left on device"}]
