"""JSON Schema validation of a config document, turned into Problems with exact
JSON paths, readable messages and hints (the schema's descriptions, "did you mean")."""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any

from afbspawn.config.collector import Collector
from afbspawn.config.names import suggest
from afbspawn.config.schemacheck import SchemaChecker, is_integer

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

_JSON_TYPES = ((dict, "object"), (list, "array"), (str, "string"), (bool, "boolean"), (int, "integer"),
               (float, "number"), (type(None), "null"))


def _json_type(value: Any) -> str:
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__)


@functools.cache
def schema() -> dict[str, Any]:
    """The published config schema (package data)."""
    return json.loads(resources.files("afbspawn.config").joinpath("schema.json").read_text())


@functools.cache
def _validator(definition: str | None = None) -> Any:
    """jsonschema's validator of a whole config, or of one of the schema's $defs (e.g.
    "command"); imported on first use: only an invalid document needs it (~3 MB resident)."""
    from jsonschema import Draft202012Validator, validators
    config_validator = validators.extend(
        Draft202012Validator,
        type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", lambda _, instance: is_integer(instance)))
    if definition is None:
        return config_validator(schema())
    return config_validator({"$defs": schema()["$defs"], "$ref": f"#/$defs/{definition}"})


class SchemaFaults:
    """Where the document breaks the schema, so that compilation skips those parts only
    and still reports the semantic problems of every well-formed sandbox and command."""

    def __init__(self, paths: list[tuple[str | int, ...]]):
        self.paths = paths

    def __bool__(self) -> bool:
        return bool(self.paths)

    def within(self, path: tuple[str | int, ...], besides: str | None = None) -> bool:
        """A fault at or under `path`, not counting those under `path + (besides,)`."""
        size = len(path)
        return any(fault[:size] == path and not (besides and fault[size:size + 1] == (besides,))
                   for fault in self.paths)


@functools.cache
def _checker(definition: str | None = None) -> SchemaChecker:
    return SchemaChecker(schema(), definition)


def validate(doc: Any, problems: Collector, definition: str | None = None) -> SchemaFaults:
    """Adds one Problem per schema violation and returns where they are.

    The compiled check passes a valid document alone; jsonschema describes the faults."""
    if _checker(definition)(doc):
        return SchemaFaults([])
    found = [described for error in _validator(definition).iter_errors(doc) for described in _describe(error)]
    found.sort(key=lambda item: [(0, part) if isinstance(part, int) else (1, part) for part in item[0]])
    for path, message, hint in found:
        problems.add(path, message, hint)
    return SchemaFaults([tuple(path) for path, _, _ in found])


def _describe(error: ValidationError) -> Iterator[tuple[list[str | int], str, str | None]]:
    path = list(error.absolute_path)
    kind, instance, sub = error.validator, error.instance, error.schema
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = list(sub.get("properties", {}))
        patterns = list(sub.get("patternProperties", {}))
        for key in instance:
            if key not in known and not any(re.search(p, key) for p in patterns):
                yield path + [key], f"unknown key '{key}'", suggest(key, known) or f"known keys: {', '.join(known)}"
    elif kind == "required":
        missing = re.match(r"'(.*)' is a required property", error.message)
        yield path, f"missing required key '{missing.group(1) if missing else error.message}'", None
    elif kind == "type":
        expected = error.validator_value
        expected_text = " or ".join(expected) if isinstance(expected, list) else expected
        yield path, f"expected {expected_text}, got {_json_type(instance)}", \
            sub.get("description")
    elif kind == "pattern":
        yield path, f"invalid value {json.dumps(instance)}", sub.get("description")
    elif kind == "enum" and isinstance(instance, str):
        yield path, f"unknown name '{instance}'", suggest(instance, error.validator_value) or \
            f"expected one of {', '.join(error.validator_value)}"
    else:
        yield path, error.message, sub.get("description")
