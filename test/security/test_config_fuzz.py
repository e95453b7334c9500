"""Config fuzzing: random mutations of every sample in conf.d/ through the real loader.

Each mutated document loads or is refused with a ConfigError (file, JSON path, message)
— never another exception; the same text as YAML and as JSON gets the same verdict.
`make test` runs a bounded number of examples, `make test-long` many more.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from conftest import REPO
from docmutations import mutate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livebinder import scaled

from afbspawn.config.documents import parse
from afbspawn.config.errors import ConfigError
from afbspawn.config.loader import load_paths

SAMPLES = sorted((REPO / "conf.d").glob("*.yaml")) + sorted((REPO / "conf.d").glob("*.json"))
DOCS = [parse(path.read_text(), is_json=path.suffix == ".json") for path in SAMPLES]
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30) | st.sampled_from(["nobody", "root", "%x%", "$HOME", "/bin/sh", "..", "\u0000", "unlimited"]),
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
    doc: Any = DOCS[sample]
    for mutation in mutations:
        doc = mutate(doc, mutation) if isinstance(doc, dict) else doc
    as_json = json.dumps(doc, default=str)
    as_yaml = yaml.safe_dump(json.loads(as_json), allow_unicode=False)
    assert verdict(as_json, ".json", privileged) == verdict(as_yaml, ".yaml", privileged)


def test_every_sample_is_fuzzed() -> None:
    assert len(DOCS) >= 2 and all(isinstance(doc, dict) for doc in DOCS)
