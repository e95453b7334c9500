"""Runtime expansion: the query's `args` fill a command's compiled argv templates.

Runs in the server before any process starts, so a bad argument is refused with
a reply naming it (the C binding started the child and let it fail).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from afbspawn.config.argsschema import allows_leading_dash, first_error
from afbspawn.config.model import ArgTemplate, Command, Placeholder

MAX_VALUE = 4096  # bytes of one substituted value
MAX_ARGV = 131072  # bytes of the whole argv (well under the kernel's ARG_MAX)


class ArgumentError(ValueError):
    """The query's arguments cannot fill the command line; the message names the argument."""


def build_argv(command: Command, query_args: Any) -> list[str]:
    """The full argv (argv[0] = command uid) for a start with `query_args`.

    `None` (no args in the query) counts as `{}`: a mandatory placeholder is then an
    error instead of reaching the program as literal `%name%` text (C behaviour).
    """
    args = {} if query_args is None else query_args
    if command.args_schema is not None and (reason := first_error(command.args_schema, args)) is not None:
        raise ArgumentError(f"invalid args: {reason}")
    needs_values = any(not template.is_literal for template in command.args)
    if needs_values and not isinstance(args, Mapping):
        raise ArgumentError(f"args must be an object of named values, got {type(args).__name__}")
    argv = [command.uid] + [_fill(template, args, command) for template in command.args]
    total = sum(len(arg.encode()) + 1 for arg in argv)
    if total > MAX_ARGV:
        raise ArgumentError(f"the command line is {total} bytes, over the limit of {MAX_ARGV} bytes")
    return argv


def written_argv(command: Command) -> list[str]:
    """The argv as the config writes it, placeholders unfilled (`%dirname%`, `?seconds?`): what
    `explain` shows before any argument is given."""
    def written(part: str | Placeholder) -> str:
        if isinstance(part, str):
            return part
        mark = "%" if part.mandatory else "?"
        return f"{mark}{part.name}{mark}"

    return [command.uid] + ["".join(written(part) for part in template.parts) for template in command.args]


def _fill(template: ArgTemplate, args: Mapping[str, Any], command: Command) -> str:
    if template.is_literal:
        return "".join(template.parts)  # type: ignore[arg-type]
    whole = len(template.parts) == 1
    out: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = _value(part, args)
        if whole and value.startswith("-") and not allows_leading_dash(command.args_schema, part.name):
            raise ArgumentError(
                f"argument '{part.name}' starts with '-' and would be read as an option; "
                f"declare it in the command's \"args\" schema (pattern/enum or \"x-allow-dash\": true) to allow it"
            )
        out.append(value)
    return "".join(out)


def _value(placeholder: Placeholder, args: Mapping[str, Any]) -> str:
    name = placeholder.name
    if name not in args:
        if placeholder.mandatory:
            raise ArgumentError(f"missing mandatory argument '{name}'")
        return ""
    value = args[name]
    if value is None:
        raise ArgumentError(f"argument '{name}' is null")
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if "\0" in text:
        raise ArgumentError(f"argument '{name}' contains a NUL character")
    try:
        size = len(text.encode())
    except UnicodeEncodeError:
        raise ArgumentError(f"argument '{name}' is not valid Unicode text (lone surrogate)") from None
    if size > MAX_VALUE:
        raise ArgumentError(f"argument '{name}' is longer than the limit of {MAX_VALUE} bytes")
    return text
