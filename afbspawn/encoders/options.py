"""Option validation shared by the builtin encoders.

The C binding read `maxlen`/`maxline` from uninitialised variables when only one
of them was given; here every option is checked on its own, with its default.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAXLEN_DEFAULT = 512  # bytes of one line buffer (C LINE_BUF default)
MAXLINE_DEFAULT = 128  # lines kept per stream by text/sync (C default)
MAXLEN_CAP = 16 * 1024 * 1024  # upper bound of any byte-size option: memory stays bounded
MAXLEN_MIN = 3  # a cut line keeps at least one byte before its continuation mark


class UnknownOptions(ValueError):
    """Options an encoder does not understand: the config loader reports them as a warning
    naming them and goes on without them, as the C binding did (its `maxlen` on `log`)."""

    def __init__(self, encoder: str, unknown: list[str], known: tuple[str, ...]) -> None:
        self.names = unknown
        super().__init__(f"encoder {encoder}: unknown option {unknown[0]!r} (known: {', '.join(known)})")


def reject_unknown(opts: Mapping[str, Any], known: tuple[str, ...], encoder: str) -> None:
    """Refuse options the encoder does not understand (a typo must not pass silently)."""
    unknown = sorted(set(opts) - set(known))
    if unknown:
        raise UnknownOptions(encoder, unknown, known)


def bounded_int(
    opts: Mapping[str, Any],
    key: str,
    default: int,
    encoder: str,
    cap: int = MAXLEN_CAP,
    low: int = 1,
) -> int:
    """`opts[key]` as an int in low..cap, or `default` when absent."""
    value = opts.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        # ValueError, not TypeError: the factory contract reports every bad option so
        raise ValueError(  # noqa: TRY004
            f"encoder {encoder}: option {key!r} must be an integer, got {value!r}"
        )
    if not low <= value <= cap:
        raise ValueError(f"encoder {encoder}: option {key!r} must be in {low}..{cap}, got {value}")
    return value


def line_maxlen(opts: Mapping[str, Any], encoder: str) -> int:
    """The `maxlen` of a line buffer (LineSplitter): 3..16 MiB, default 512."""
    return bounded_int(opts, "maxlen", MAXLEN_DEFAULT, encoder, low=MAXLEN_MIN)


def optional_str(opts: Mapping[str, Any], key: str, encoder: str) -> str | None:
    """`opts[key]` as a non-empty string, or None when absent."""
    value = opts.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"encoder {encoder}: option {key!r} must be a non-empty string")
    return value
