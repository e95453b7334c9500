"""Runtime argument templates (spec §9.2): `%name%` mandatory, `?name?` optional.

Parsed once at load into model.ArgTemplate so that a launch only substitutes.
A `%` or `?` that neither doubles (`%%`, `??`) nor opens a well-formed label is a
load-time error: the C binding silently ate the rest of the argument instead.
"""
from __future__ import annotations

import re

from afbspawn.config.model import ArgPart, ArgTemplate, Placeholder

MAX_LABEL = 64
_LABEL = re.compile(r"([%?])([A-Za-z_][A-Za-z0-9_-]{0," + str(MAX_LABEL - 1) + r"})\1")


class TemplateError(ValueError):
    """A stray `%`/`?` in a config argument."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


def parse_template(text: str) -> ArgTemplate:
    """Split one config argument into literal text and placeholders."""
    parts: list[ArgPart] = []
    literal: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char not in "%?":
            literal.append(char)
            pos += 1
        elif text.startswith(char * 2, pos):
            literal.append(char)
            pos += 2
        elif match := _LABEL.match(text, pos):
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(Placeholder(match.group(2), mandatory=char == "%"))
            pos = match.end()
        else:
            raise TemplateError(
                f"'{char}' at offset {pos} does not form a {char}name{char} placeholder",
                f"write {char}{char} for a literal '{char}'; names are letters, digits, '_' or '-' "
                f"(at most {MAX_LABEL})",
            )
    if literal:
        parts.append("".join(literal))
    return ArgTemplate(tuple(parts))


def escape(text: str) -> str:
    """The template text that stands for `text` literally (inverse of parse for literals)."""
    return text.replace("%", "%%").replace("?", "??")
