"""The compiled schema check agrees with jsonschema: on every sample, on every broken config
of test_config_broken, and on random mutations of them (hypothesis).

Only its "valid" verdict skips jsonschema, so a disagreement would let a bad config through
(or cost a slow path); each case compares both verdicts exactly.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from docmutations import mutate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_config_broken import BASE, CASES

from afbspawn.config.documents import parse
from afbspawn.config.schemacheck import SchemaChecker
from afbspawn.config.validation import _validator, schema

REPO = Path(__file__).resolve().parent.parent
SAMPLES = sorted((REPO / "conf.d").glob("*.yaml"))


def jsonschema_valid(doc: Any, definition: str | None = None) -> bool:
    return next(iter(_validator(definition).iter_errors(doc)), None) is None


def sample(path: Path) -> Any:
    return parse(path.read_text(), is_json=False)


def broken(mutate: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    mutate(doc)
    return doc


CHECK = SchemaChecker(schema())
COMMAND = SchemaChecker(schema(), "command")


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_samples_are_valid_for_both(path: Path) -> None:
    doc = sample(path)
    assert CHECK(doc) and jsonschema_valid(doc)


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_broken_configs_get_the_same_verdict(case: Any) -> None:
    doc = broken(case[1])
    assert CHECK(doc) == jsonschema_valid(doc)


def test_some_broken_configs_are_schema_faults_and_some_are_not() -> None:
    """The table above exercises both verdicts, not only one."""
    verdicts = {CHECK(broken(case[1])) for case in CASES}
    assert verdicts == {True, False}


EDGES = [
    ("comment keys where patternProperties allow them", lambda doc: (doc.update(_note="x"),
                                                                     doc["sandboxes"][0].update(_note=1))),
    ("a comment key where none is allowed", lambda doc: doc["metadata"].update(_note="x")),
    ("an integral float for an integer", lambda doc: doc["sandboxes"][0]["commands"][0].update(timeout=3.0)),
    ("an integer for an integer", lambda doc: doc["sandboxes"][0]["commands"][0].update(timeout=3)),
    ("a boolean for an integer", lambda doc: doc["sandboxes"][0]["commands"][0].update(verbose=True)),
    ("a float for a number", lambda doc: doc["sandboxes"][0].update(grace=0.5)),
    ("an integer over its maximum", lambda doc: doc["sandboxes"][0].update(verbose=10)),
    ("an empty name", lambda doc: doc["sandboxes"][0].update(uid="")),
    ("an empty plugin uid", lambda doc: doc.update(plugins=[{"uid": ""}])),
    ("a plugin uid", lambda doc: doc.update(plugins=[{"uid": "p"}])),
    ("an rlimit name not in its enum", lambda doc: doc["sandboxes"][0].update(rlimits={"bogus": 1})),
]


@pytest.mark.parametrize("case", EDGES, ids=[case[0] for case in EDGES])
def test_edges_get_the_same_verdict(case: Any) -> None:
    doc = broken(case[1])
    assert CHECK(doc) == jsonschema_valid(doc)


_SCALARS = st.sampled_from([None, True, False, 0, 1, -1, 3.0, 2.5, 4294967295, 2**31, "", "x", "x y", "a/b",
                            "/bin/true", "027", "0644", "10M", "unlimited", "text", "LINE", "*", "api://a#b",
                            "_comment", "disable", "ro", "tmpfs"])


def _property_names(node: Any) -> set[str]:
    """Every key the schema names: mutations use them to reach deep into its branches."""
    names: set[str] = set()
    if isinstance(node, dict):
        names |= set(node.get("properties", {})) if isinstance(node.get("properties"), dict) else set()
        for value in node.values():
            names |= _property_names(value)
    elif isinstance(node, list):
        for value in node:
            names |= _property_names(value)
    return names


_KEYS = st.sampled_from(sorted(_property_names(schema()) | {"x", "_c", "cpu", "nofile", "A_1", "1a"}))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
                       max_leaves=6)
_DOCS = [sample(path) for path in SAMPLES] + [broken(case[1]) for case in CASES]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(_DOCS) - 1),
       st.tuples(st.integers(0, 10_000), st.sampled_from(["replace", "delete", "add", "wrap", "nest"]), _VALUES, _KEYS))
def test_mutated_configs_get_the_same_verdict(which: int, mutation: tuple[int, str, Any, str]) -> None:
    doc = mutate(_DOCS[which], mutation)
    assert CHECK(doc) == jsonschema_valid(doc)


@settings(max_examples=200, deadline=None)
@given(_VALUES)
def test_a_command_alone_gets_the_same_verdict(value: Any) -> None:
    doc = {"uid": "c", "exec": {"cmdpath": "/bin/true"}}
    if isinstance(value, dict):
        doc.update(value)
    else:
        doc["exec"] = value
    assert COMMAND(doc) == jsonschema_valid(doc, "command")


def test_a_keyword_it_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="oneOf"):
        SchemaChecker({"oneOf": [{"type": "string"}]})
