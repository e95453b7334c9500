"""Validation of a command's query arguments against its `args` JSON Schema.

`pattern` is matched against the WHOLE value (re.fullmatch), not searched: a
search lets `^ok` accept `ok; rm -rf /` and is the classic regex mistake of
tools in this family (spec peers.md §3.1 item 4).
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

ALLOW_DASH = "x-allow-dash"  # per-argument opt-in for values starting with '-'


def _full_pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if isinstance(instance, str) and not re.fullmatch(pattern, instance):
        yield ValidationError(f"{instance!r} does not match the whole pattern {pattern!r}")


ArgsValidator = jsonschema.validators.extend(Draft202012Validator, {"pattern": _full_pattern})


def check_args_schema(schema: Mapping[str, Any]) -> None:
    """Raise jsonschema.SchemaError when `schema` is not a valid JSON Schema."""
    ArgsValidator.check_schema(schema)


def first_error(schema: Mapping[str, Any], args: Any) -> str | None:
    """A readable reason why `args` does not satisfy `schema`, or None."""
    error = jsonschema.exceptions.best_match(ArgsValidator(schema).iter_errors(args))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"argument '{where}': {error.message}" if where else error.message


def allows_leading_dash(schema: Mapping[str, Any] | None, name: str) -> bool:
    """Whether the author explicitly accepts option-like values for argument `name`.

    True when its schema spells the acceptable values out (`pattern`, `enum`,
    `const` — the value was already checked against them) or sets `x-allow-dash`.
    """
    if not schema:
        return False
    prop = schema.get("properties", {}).get(name)
    if not isinstance(prop, Mapping):
        return False
    return bool(prop.get(ALLOW_DASH)) or any(key in prop for key in ("pattern", "enum", "const"))
