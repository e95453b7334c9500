"""A yes/no check of a document against the config schema, compiled once into closures.

jsonschema walks the schema anew for every node (a validator evolved per descent, every
$ref looked up): 80 % of loading a large config. Valid documents are the common case, so
they are checked here, ~20x faster, and jsonschema runs only to describe what is wrong
with an invalid one. The schema stays the one source of truth; this supports exactly the
keywords it uses and refuses any other (a schema change must extend it, and the tests
check both agree).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset({"description", "title", "$schema", "$id", "$defs", "$comment", "default", "examples"})


def is_integer(value: Any) -> bool:
    """The config's integers (this check and validation.py's jsonschema type checker):
    a Python int, never a bool nor an integral float (`1e308` or `3.0` would reach uids
    and rlimits as floats)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "integer": is_integer,
    "number": _is_number,
}


def _equal(one: Any, two: Any) -> bool:
    """JSON equality: `true` is not `1` (Python's bool is an int)."""
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[key], two[key]) for key in one)
    return type(one) in (int, float, str, type(None)) and type(two) in (int, float, str, type(None)) \
        and one == two


class SchemaChecker:
    """`checker(doc)` is True exactly when the schema's validator finds no error in doc."""

    def __init__(self, root: dict[str, Any], definition: str | None = None):
        self._root = root
        self._refs: dict[str, Check] = {}
        self.check = self.compile({"$ref": f"#/$defs/{definition}"} if definition else root)

    def __call__(self, doc: Any) -> bool:
        return self.check(doc)

    def resolve(self, ref: str) -> Check:
        """Compiled once per target; a forward slot lets a definition refer to itself."""
        if ref not in self._refs:
            if not ref.startswith("#/"):
                raise ValueError(f"unsupported $ref {ref!r}: only local JSON pointers")
            target: Any = self._root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            compiled: list[Check] = []
            self._refs[ref] = lambda value: compiled[0](value)
            compiled.append(self.compile(target))
            self._refs[ref] = compiled[0]
        return self._refs[ref]

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda value: True
        if schema is False:
            return lambda value: False
        unknown = set(schema) - _ANNOTATIONS - set(_KEYWORDS)
        if unknown:
            raise ValueError(f"schema keywords not supported by the fast check: {sorted(unknown)}")
        checks = [check for keyword, build in _KEYWORDS.items() if keyword in schema
                  for check in [build(self, schema[keyword], schema)] if check is not None]
        if not checks:
            return lambda value: True
        if len(checks) == 1:
            return checks[0]
        return lambda value: all(check(value) for check in checks)


Builder = Callable[[SchemaChecker, Any, dict[str, Any]], "Check | None"]


def _type(checker: SchemaChecker, kinds: Any, schema: dict[str, Any]) -> Check:
    tests = tuple(_TYPES[kind] for kind in ([kinds] if isinstance(kinds, str) else kinds))
    if len(tests) == 1:
        return tests[0]
    return lambda value: any(test(value) for test in tests)


def _properties(checker: SchemaChecker, properties: dict[str, Any], schema: dict[str, Any]) -> Check:
    compiled = [(name, checker.compile(sub)) for name, sub in properties.items()]

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        return all(sub(value[name]) for name, sub in compiled if name in value)
    return check


def _pattern_properties(checker: SchemaChecker, patterns: dict[str, Any], schema: dict[str, Any]) -> Check:
    compiled = [(re.compile(pattern), checker.compile(sub)) for pattern, sub in patterns.items()]

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        return all(sub(item) for key, item in value.items() for regex, sub in compiled if regex.search(key))
    return check


def _additional_properties(checker: SchemaChecker, additional: Any, schema: dict[str, Any]) -> Check:
    known = frozenset(schema.get("properties", {}))
    patterns = "|".join(schema.get("patternProperties", {}))
    matches = re.compile(patterns).search if patterns else (lambda key: None)
    rest = checker.compile(additional)

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        return all(rest(item) for key, item in value.items() if key not in known and not matches(key))
    return check


def _property_names(checker: SchemaChecker, names: Any, schema: dict[str, Any]) -> Check:
    compiled = checker.compile(names)
    return lambda value: not isinstance(value, dict) or all(compiled(key) for key in value)


def _required(checker: SchemaChecker, required: list[str], schema: dict[str, Any]) -> Check:
    return lambda value: not isinstance(value, dict) or all(name in value for name in required)


def _items(checker: SchemaChecker, items: Any, schema: dict[str, Any]) -> Check:
    if "prefixItems" in schema:
        raise ValueError("prefixItems is not supported by the fast check")
    compiled = checker.compile(items)
    return lambda value: not isinstance(value, list) or all(compiled(item) for item in value)


def _min_items(checker: SchemaChecker, least: int, schema: dict[str, Any]) -> Check:
    return lambda value: not isinstance(value, list) or len(value) >= least


def _max_items(checker: SchemaChecker, most: int, schema: dict[str, Any]) -> Check:
    return lambda value: not isinstance(value, list) or len(value) <= most


def _min_length(checker: SchemaChecker, least: int, schema: dict[str, Any]) -> Check:
    return lambda value: not isinstance(value, str) or len(value) >= least


def _pattern(checker: SchemaChecker, pattern: str, schema: dict[str, Any]) -> Check:
    search = re.compile(pattern).search
    return lambda value: not isinstance(value, str) or search(value) is not None


def _minimum(checker: SchemaChecker, least: float, schema: dict[str, Any]) -> Check:
    return lambda value: not _is_number(value) or not value < least


def _maximum(checker: SchemaChecker, most: float, schema: dict[str, Any]) -> Check:
    return lambda value: not _is_number(value) or not value > most


def _enum(checker: SchemaChecker, options: list[Any], schema: dict[str, Any]) -> Check:
    return lambda value: any(_equal(value, option) for option in options)


def _const(checker: SchemaChecker, constant: Any, schema: dict[str, Any]) -> Check:
    return lambda value: _equal(value, constant)


def _any_of(checker: SchemaChecker, subs: list[Any], schema: dict[str, Any]) -> Check:
    compiled = [checker.compile(sub) for sub in subs]
    return lambda value: any(check(value) for check in compiled)


def _if(checker: SchemaChecker, condition: Any, schema: dict[str, Any]) -> Check:
    test = checker.compile(condition)
    then = checker.compile(schema.get("then", True))
    otherwise = checker.compile(schema.get("else", True))
    return lambda value: then(value) if test(value) else otherwise(value)


def _ref(checker: SchemaChecker, ref: str, schema: dict[str, Any]) -> Check:
    return checker.resolve(ref)


def _applied_by_if(checker: SchemaChecker, sub: Any, schema: dict[str, Any]) -> None:
    """`then` and `else` are compiled by `if`; alone they do nothing (as in JSON Schema)."""
    return


_KEYWORDS: dict[str, Builder] = {
    "type": _type, "required": _required, "properties": _properties, "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties, "propertyNames": _property_names, "items": _items,
    "minItems": _min_items, "maxItems": _max_items, "minLength": _min_length, "pattern": _pattern,
    "minimum": _minimum, "maximum": _maximum, "enum": _enum, "const": _const, "anyOf": _any_of,
    "if": _if, "then": _applied_by_if, "else": _applied_by_if, "$ref": _ref,
}
