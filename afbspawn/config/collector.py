"""Accumulates the problems of one file while compiling it, with their JSON paths."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from afbspawn.config.errors import ConfigError, Problem, pointer

Path = tuple[str | int, ...]


class Collector:
    """Problems of one file; compilation goes on after a problem to report them all."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def add(self, path: Sequence[str | int], message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(self.file, pointer(path), message, hint))

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)


def items(node: Any, path: Path) -> Iterator[tuple[Any, Path]]:
    """The entries of a C "object or array" key with their paths (one object = one entry)."""
    if node is None:
        return
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield item, path + (index,)
    else:
        yield node, path


def alias(node: dict[str, Any], names: Sequence[str], path: Path, problems: Collector) -> Any:
    """Value of a key that has several accepted spellings; giving two of them is an error."""
    present = [name for name in names if name in node]
    if len(present) > 1:
        problems.add(path + (present[1],), f"'{present[1]}' is an alias of '{present[0]}': give only one")
    return node[present[0]] if present else None
