"""Config text -> document (JSON or YAML), keeping track of duplicated keys.

Both parsers silently keep the last of two equal keys; a config where a key is
given twice has lost a value, so the loader reports it instead.

A document is bounded before anything walks it (docs/security.md): MAX_DEPTH levels,
MAX_NODES values once YAML aliases are expanded (an alias bomb is refused before it
is built), integers within what the kernel takes; a NUL character, which C would
silently truncate at, is refused wherever it is.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

Path = tuple[str | int, ...]
MAX_DEPTH = 64
MAX_NODES = 100_000
INT_MIN, INT_MAX = -(2**63), 2**64 - 1  # the widest kernel integers (rlim_t is u64)


class DocumentError(ValueError):
    """The text is not a JSON/YAML document."""


class JsonObject(dict):  # type: ignore[type-arg]
    """A parsed mapping that remembers which of its keys were given more than once."""

    duplicates: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, Any]]) -> JsonObject:
    obj = JsonObject(pairs)
    if len(obj) < len(pairs):  # a key given twice: the rare case pays for finding which
        keys = [key for key, _ in pairs]
        obj.duplicates = tuple(sorted({key for key in keys if keys.count(key) > 1}))
    return obj


def parse(text: str, is_json: bool) -> Any:
    """The document of `text`; raises DocumentError with the position of a syntax error."""
    try:
        if is_json:
            return _parse_json(text)
        from afbspawn.config.yamldoc import (
            parse_yaml,  # ~1 MB resident: only YAML configs pay it
        )
        return parse_yaml(text)
    except RecursionError:
        raise DocumentError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:  # e.g. an integer of more than 4300 digits
        if isinstance(error, DocumentError):
            raise
        raise DocumentError(f"invalid number: {str(error).splitlines()[0]}") from None


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as error:
        raise DocumentError(f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None


def bounds_problems(doc: Any) -> Iterator[tuple[Path, str]]:
    """(path, message) of every value out of bounds: depth, count, integer range, NUL."""
    stack: list[tuple[Any, Path]] = [(doc, ())]
    count = 0
    while stack:
        node, path = stack.pop()
        count += 1
        if count > MAX_NODES:
            yield (), f"more than {MAX_NODES} values"
            return
        if len(path) > MAX_DEPTH:
            yield path, f"nested deeper than {MAX_DEPTH} levels"
            continue
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and "\0" in key:
                    yield path + (key.replace("\0", "\\0"),), "a key contains a NUL character"
                stack.append((value, path + (key,)))
        elif isinstance(node, list):
            stack.extend((value, path + (index,)) for index, value in enumerate(node))
        elif isinstance(node, str) and "\0" in node:
            yield path, "contains a NUL character (the kernel would cut the string there)"
        elif isinstance(node, int) and not isinstance(node, bool) and not INT_MIN <= node <= INT_MAX:
            yield path, f"integer out of range (at most {INT_MAX})"
        elif isinstance(node, float) and not math.isfinite(node):
            yield path, "not a finite number"


def duplicate_keys(node: Any, path: Path = ()) -> Iterator[Path]:
    """Paths of every key given twice in its mapping, anywhere in the document."""
    if isinstance(node, dict):
        for key in getattr(node, "duplicates", ()):
            yield path + (key,)
        for key, value in node.items():
            yield from duplicate_keys(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from duplicate_keys(value, path + (index,))
