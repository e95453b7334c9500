"""Validation of a command's query arguments against its `args` JSON Schema.

`pattern` is matched against the WHOLE value (re.fullmatch), not searched: a
search lets `^ok` accept `ok; rm -rf /` and is the classic regex mistake of
tools in this family (spec peers.md §3.1 item 4).

`$ref` is resolved once, at load, and only within the schema (`#/...`): the schema a
call is checked against has none left, and its validator has no way to fetch any
(a remote `$ref` would be read on every call, a recursive one would never end).
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

ALLOW_DASH = "x-allow-dash"  # per-argument opt-in for values starting with '-'
MAX_RESOLVED_NODES = 10_000  # a schema whose $refs expand beyond this is refused


@functools.cache
def _jsonschema() -> tuple[Any, Any]:
    """(validator class, empty registry), imported on first use: jsonschema and referencing
    weigh ~3 MB of resident memory, paid only by a binder whose commands declare `args`."""
    import jsonschema
    import referencing
    from jsonschema.exceptions import ValidationError

    def full_pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
        if isinstance(instance, str) and not re.fullmatch(pattern, instance):
            yield ValidationError(f"{instance!r} does not match the whole pattern {pattern!r}")

    validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": full_pattern})
    return validator, referencing.Registry()  # the registry is empty: it retrieves nothing


class InvalidArgsSchema(ValueError):
    """An `args` value that is not a JSON Schema: `message` at `path` within it."""

    def __init__(self, message: str, path: tuple[str | int, ...]):
        super().__init__(message)
        self.message, self.path = message, path


def check_args_schema(schema: Mapping[str, Any]) -> None:
    """Raise InvalidArgsSchema when `schema` is not a valid JSON Schema."""
    import jsonschema
    try:
        _jsonschema()[0].check_schema(schema)
    except jsonschema.SchemaError as error:
        raise InvalidArgsSchema(error.message, tuple(error.absolute_path)) from None


class SchemaRefError(ValueError):
    """A `$ref` of an args schema that cannot be resolved at load."""


def resolve_refs(schema: Mapping[str, Any]) -> Any:
    """`schema` with every `$ref` replaced by what it points to within the schema.

    Raises SchemaRefError for a reference outside the schema, a missing target, a
    recursive reference or an expansion beyond MAX_RESOLVED_NODES.
    """
    budget = [MAX_RESOLVED_NODES]

    def resolve(node: Any, active: frozenset[str]) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise SchemaRefError(f"the schema expands to more than {MAX_RESOLVED_NODES} values through $ref")
        if isinstance(node, list):
            return [resolve(item, active) for item in node]
        if not isinstance(node, Mapping):
            return node
        for dynamic in ("$dynamicRef", "$recursiveRef"):
            if dynamic in node:
                raise SchemaRefError(f"{dynamic} is not supported: use a $ref within the schema")
        own = {key: resolve(value, active) for key, value in node.items() if key not in ("$ref", "$defs")}
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return own
        if ref in active:
            raise SchemaRefError(f"$ref {ref!r} refers to itself (recursive schemas are not supported)")
        target = resolve(_lookup(schema, ref), active | {ref})
        return {"allOf": [target, own]} if own else target

    return resolve(schema, frozenset())


def _lookup(schema: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#"):
        raise SchemaRefError(f"$ref {ref[:80]!r}: only references within the schema ('#/...') are allowed")
    node: Any = schema
    for part in [p.replace("~1", "/").replace("~0", "~") for p in ref[1:].split("/")[1:]]:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise SchemaRefError(f"$ref {ref[:80]!r}: no such place in the schema")
    return node


def first_error(schema: Mapping[str, Any], args: Any) -> str | None:
    """A readable reason why `args` does not satisfy `schema` (already resolved), or None."""
    import jsonschema
    import referencing.exceptions
    validator, no_retrieval = _jsonschema()
    try:
        error = jsonschema.exceptions.best_match(validator(schema, registry=no_retrieval).iter_errors(args))
    except referencing.exceptions.Unresolvable:  # not resolved at load (resolve_refs): never fetched now
        return "the command's args schema has an unresolved $ref"
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
