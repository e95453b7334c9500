"""Config fuzzing: random mutations of every sample in conf.d/ and of the C binding's
reference configs (../shared/reference/spawn-binding-c, when present) through the real loader.

Each mutated document loads or is refused with a ConfigError (file, JSON path, message)
— never another exception; the same text as YAML and as JSON gets the same verdict; and
`afb-spawn check` and the binder agree on it: both accept, or both refuse with the same
problems. The binder's side is its own start-up code (`attach` on an EmbeddedBinder, what
`afb-spawn` runs before listening) in-process for every example, and a real `afb-spawn`
process for a sample of them. `make test` runs a bounded number of examples, `make
test-long` many more.
"""
from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from conftest import REPO
from docmutations import mutate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livebinder import scaled

from afbspawn.afb.embedded.server import BinderOptions, EmbeddedBinder
from afbspawn.binding.api import attach
from afbspawn.commands import check
from afbspawn.config.documents import parse
from afbspawn.config.errors import ConfigError
from afbspawn.config.loader import load_paths

C_REFERENCE = REPO.parent / "shared/reference/spawn-binding-c"
SAMPLES = (sorted((REPO / "conf.d").glob("*.yaml")) + sorted((REPO / "conf.d").glob("*.json"))
           + sorted(C_REFERENCE.glob("*/*.json")))
DOCS = [parse(path.read_text(), is_json=path.suffix == ".json") for path in SAMPLES]
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30) | st.sampled_from(["nobody", "root", "%x%", "$HOME", "/bin/sh", "..", "\u0000", "unlimited",
                                                       "monitor", "spawn-admin"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)
MUTATION = st.tuples(st.integers(0, 10_000), st.sampled_from(["replace", "delete", "add", "wrap", "nest"]),
                     VALUES, st.text(max_size=12))


def verdict(text: str, suffix: str, privileged: bool) -> str:
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / f"fuzz{suffix}"
        file.write_text(text)
        try:
            load_paths([str(file)], environ={"HOME": "/root", "PATH": "/usr/bin:/bin"}, privileged=privileged)
        except ConfigError as error:
            assert error.problems and all(p.message for p in error.problems)
            return "refused"
    return "loaded"


@settings(max_examples=scaled(60, 3000), deadline=None, derandomize=not scaled(0, 1),
          suppress_health_check=[HealthCheck.too_slow])
@given(sample=st.integers(0, len(DOCS) - 1), mutations=st.lists(MUTATION, min_size=1, max_size=3),
       privileged=st.booleans())
def test_mutated_samples_load_or_are_refused_never_crash(sample: int, mutations: list[Any], privileged: bool) -> None:
    doc = mutated(sample, mutations)
    as_json = json.dumps(doc, default=str)
    as_yaml = yaml.safe_dump(json.loads(as_json), allow_unicode=False)
    assert verdict(as_json, ".json", privileged) == verdict(as_yaml, ".yaml", privileged)


def mutated(sample: int, mutations: list[Any]) -> Any:
    doc: Any = DOCS[sample]
    for mutation in mutations:
        doc = mutate(doc, mutation) if isinstance(doc, dict) else doc
    return doc


def check_verdict(file: Path) -> list[str]:
    """The problems `afb-spawn check --json` reports ([] when it accepts), run in-process."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = check.main(["--json", str(file)])
    report = json.loads(out.getvalue())
    assert code == (0 if report["ok"] else 1)
    return [] if report["ok"] else [problem_text(p) for p in report["problems"]]


def problem_text(problem: dict[str, Any]) -> str:
    text = f"{problem['file']}: {problem['path'] or '/'}: {problem['message']}"
    return f"{text} (hint: {problem['hint']})" if problem["hint"] else text


async def _binder_load(file: Path) -> list[str]:
    try:
        await attach(EmbeddedBinder(BinderOptions(listen=())), [str(file)])
    except ConfigError as error:
        return [str(problem) for problem in error.problems]
    except (ValueError, OSError) as error:  # what `afb-spawn` reports as a start-up error too
        return [f"start-up error: {error}"]
    return []


def binder_verdict(file: Path) -> list[str]:
    """The problems the binder's start-up code refuses `file` with ([] when it would serve it)."""
    return asyncio.run(_binder_load(file))


def binder_process_verdict(file: Path) -> list[str]:
    """A real `afb-spawn --config FILE`: [] when it serves (then stopped), else the problem lines it printed."""
    process = subprocess.Popen([sys.executable, "-m", "afbspawn", "--config", str(file), "-p", "0"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        printed = read_until_served(process)
    finally:
        process.terminate()
        printed += process.communicate(timeout=60)[1]
    text = printed.decode(errors="replace")
    assert "Traceback" not in text, text
    if "afb-spawn: serving" in text:
        assert process.returncode == 0, text
        return []
    assert process.returncode == 1, text
    return [line.removeprefix("afb-spawn: ") for line in text.splitlines()
            if not LOG_LINE.match(line) and not line.startswith("afb-spawn: serving")]


LOG_LINE = re.compile(r"afb-spawn: (DEBUG|INFO|NOTICE|WARNING|ERROR|CRITICAL|Level \d+): ")


def read_until_served(process: subprocess.Popen[bytes], timeout: float = 60) -> bytes:
    """What the binder prints until it says it serves, or until it exits."""
    assert process.stderr is not None
    fd, seen = process.stderr.fileno(), b""
    deadline = time.monotonic() + timeout
    while b"afb-spawn: serving" not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"the binder neither served nor exited in {timeout} s: {seen!r}"
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        seen += chunk
    return seen


def written(doc: Any, folder: str, sample: int) -> Path:
    file = Path(folder) / f"fuzz{SAMPLES[sample].suffix}"
    file.write_text(json.dumps(doc, default=str) if file.suffix == ".json" else
                    yaml.safe_dump(json.loads(json.dumps(doc, default=str)), allow_unicode=False))
    return file


AGREEMENT = settings(max_examples=scaled(60, 2000), deadline=None, derandomize=not scaled(0, 1),
                     suppress_health_check=[HealthCheck.too_slow])


@AGREEMENT
@given(sample=st.integers(0, len(DOCS) - 1), mutations=st.lists(MUTATION, min_size=0, max_size=3))
def test_check_and_the_binder_load_agree(sample: int, mutations: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        file = written(mutated(sample, mutations), folder, sample)
        assert check_verdict(file) == binder_verdict(file)


@settings(AGREEMENT, max_examples=scaled(8, 150))
@given(sample=st.integers(0, len(DOCS) - 1), mutations=st.lists(MUTATION, min_size=0, max_size=2))
def test_check_and_a_real_binder_start_agree(sample: int, mutations: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        file = written(mutated(sample, mutations), folder, sample)
        assert check_verdict(file) == binder_process_verdict(file)


def test_every_sample_is_fuzzed() -> None:
    assert len(DOCS) >= 2 and all(isinstance(doc, dict) for doc in DOCS)
    if C_REFERENCE.is_dir():
        assert any(path.is_relative_to(C_REFERENCE) for path in SAMPLES)
