"""Config errors that point at the exact place: file + JSON pointer + what to do.

A loader collects every Problem of a file before raising, so that a user fixes
a config in one pass instead of one error per run.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    path: str  # JSON pointer into the file, e.g. /sandboxes/1/commands/3/exec/cmdpath ("" = whole file)
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.file}: {self.path or '/'}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text

    def as_dict(self) -> dict[str, str | None]:
        return {"file": self.file, "path": self.path, "message": self.message, "hint": self.hint}


class ConfigError(Exception):
    """One or more problems in one or more config files."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def pointer(parts: Sequence[str | int]) -> str:
    """JSON pointer (RFC 6901) of a path given as keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
