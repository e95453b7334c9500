"""json-c's pretty printer, as `afb-client --human` prints replies and events.

Rules (json-c 0.16, JSON_C_TO_STRING_PRETTY | NOSLASHESCAPE): two-space indent,
`"key":value` without space, one member or item per line; an empty object or
array still opens, breaks the line and closes at its own indentation; strings
escape `"` `\\` and control characters only (`/` and non-ASCII stay raw);
doubles are `%.17g` with `.0` added when they look like integers.
"""
from __future__ import annotations

import math
from typing import Any

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\f": "\\f"}


def dumps(value: Any) -> str:
    """`value` as json-c prints it pretty (no trailing newline)."""
    return _dump(value, 0)


def _indent(level: int) -> str:
    return "  " * level


def _dump(value: Any, level: int) -> str:
    if isinstance(value, dict):
        items = [f'{_indent(level + 1)}{_string(k)}:{_dump(v, level + 1)}' for k, v in value.items()]
        return _container("{", "}", items, level)
    if isinstance(value, (list, tuple)):
        items = [f"{_indent(level + 1)}{_dump(v, level + 1)}" for v in value]
        return _container("[", "]", items, level)
    if isinstance(value, str):
        return _string(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return _double(value)
    return str(int(value))


def _container(opening: str, closing: str, items: list[str], level: int) -> str:
    body = ",\n".join(items) + "\n" if items else ""
    return f"{opening}\n{body}{_indent(level)}{closing}"


def _string(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char < " ":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _double(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    text = format(number, ".17g")
    if "." not in text and "e" not in text:
        text += ".0"
    return text
