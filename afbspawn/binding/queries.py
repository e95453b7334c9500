"""Reading a command verb's query (spec §8.1) and each action's `args`, before anything runs.

Every refusal is a RequestError carrying the AFB status and an info text naming what is wrong.
"""
from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass
from typing import Any

from afbspawn.afb.errors import Status
from afbspawn.config.model import EnvRule
from afbspawn.tasks import DEFAULT_STOP_SIGNAL, parse_signal

QUERY_KEYS = frozenset({"action", "args", "verbose", "env"})
TARGET_KEYS = frozenset({"pid", "signal"})
MAX_REQUEST_VERBOSE = 4
MAX_ENV_VALUE = 4096


class RequestError(Exception):
    """A request refused with an AFB status and an optional info text."""

    def __init__(self, status: Status, info: str | None = None) -> None:
        super().__init__(info or status.name)
        self.status = status
        self.info = info


@dataclass(frozen=True)
class Query:
    action: str  # lower case
    args: Any
    verbose: int | None  # 0..4 when the request overrides the task verbosity
    env: Any = None  # `start` only: the variables the request sets (checked against the whitelist)


def parse_query(raw: Any) -> Query:
    """The action, args, verbose and env of a query, exactly as spec §8.1 (plus `env`).

    Only an object whose keys are among action/args/verbose/env, with a string action,
    an integer verbose and an object env, is an envelope; anything else is the args of a `start`.
    """
    if raw is None:
        return Query("start", None, None)
    if not _is_envelope(raw):
        return Query("start", raw, None)
    verbose = raw.get("verbose")
    if verbose is not None and not 0 <= verbose <= MAX_REQUEST_VERBOSE:
        verbose = None
    return Query(raw.get("action", "start").lower(), raw.get("args"), verbose, raw.get("env"))


def _is_envelope(raw: Any) -> bool:
    return (isinstance(raw, dict) and raw.keys() <= QUERY_KEYS
            and isinstance(raw.get("action", ""), str)
            and (raw.get("verbose") is None or is_int(raw["verbose"]))
            and isinstance(raw.get("env", {}), dict))


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _object(args: Any, allowed: frozenset[str], usage: str) -> dict[str, Any]:
    if args is None:
        return {}
    if not isinstance(args, dict) or not args or not args.keys() <= allowed:
        raise RequestError(Status.INVALID_REQUEST, f"invalid args: expected {usage}")
    return args


def _pid(args: dict[str, Any], required: bool = False) -> int | None:
    pid = args.get("pid")
    if (pid is None and required) or (pid is not None and not is_int(pid)):
        raise RequestError(Status.INVALID_REQUEST, "invalid pid")
    return pid


def parse_target(args: Any) -> tuple[int | None, int]:
    """`{"pid"?: int, "signal"?: int|str}` of stop/unsubscribe → (pid, signal)."""
    fields = _object(args, TARGET_KEYS, '{"pid"?: integer, "signal"?: integer or "SIG..." name}')
    pid = _pid(fields)
    try:
        signum = parse_signal(fields["signal"]) if "signal" in fields else DEFAULT_STOP_SIGNAL
    except ValueError:
        raise RequestError(Status.INVALID_REQUEST, "invalid signal") from None
    return pid, signum


def explicit_signal(args: Any) -> bool:
    """Did `stop` name its signal (sent as is) or ask for the graceful stop?"""
    return isinstance(args, dict) and "signal" in args


def parse_subscribe(args: Any) -> tuple[int | None, bool]:
    """`{"pid"?: int, "replay"?: bool}` (a `signal` is accepted and ignored, as the C) → (pid, replay)."""
    fields = _object(args, TARGET_KEYS | {"replay"},
                     '{"pid"?: integer, "replay"?: boolean} (replay needs a pid)')
    replay = fields.get("replay", False)
    if not isinstance(replay, bool) or (replay and "pid" not in fields):
        raise RequestError(Status.INVALID_REQUEST, "invalid replay: a boolean, with a pid")
    if "signal" in fields:
        parse_target({"signal": fields["signal"]})
    return _pid(fields), replay


def parse_write(args: Any) -> tuple[int, bytes]:
    """`{"pid": int, "data": str, "encoding"?: "utf-8"|"base64"}` → (pid, bytes)."""
    fields = _object(args, frozenset({"pid", "data", "encoding"}),
                     '{"pid": integer, "data": string, "encoding"?: "utf-8" or "base64"}')
    pid = _pid(fields, required=True)
    assert pid is not None
    data, encoding = fields.get("data"), fields.get("encoding", "utf-8")
    if not isinstance(data, str):
        raise RequestError(Status.INVALID_REQUEST, "invalid data: a string")
    if encoding == "utf-8":
        return pid, data.encode()
    if encoding == "base64":
        try:
            return pid, base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(Status.INVALID_REQUEST, "invalid data: not base64") from None
    raise RequestError(Status.INVALID_REQUEST, 'invalid encoding: "utf-8" or "base64"')


def parse_close(args: Any) -> int:
    pid = _pid(_object(args, frozenset({"pid"}), '{"pid": integer}'), required=True)
    assert pid is not None
    return pid


def checked_env(rules: tuple[EnvRule, ...], env: Any) -> dict[str, str]:
    """A start's `env`, every variable whitelisted by the command and its value matching."""
    if env is None:
        return {}
    allowed = {rule.name: rule for rule in rules}
    checked = {}
    for name, value in env.items():
        rule = allowed.get(name)
        if rule is None:
            accepted = ", ".join(sorted(allowed)) or "none"
            raise RequestError(Status.INVALID_REQUEST, f"env {name}: not allowed (the command accepts: {accepted})")
        if not isinstance(value, str) or "\0" in value or len(value) > MAX_ENV_VALUE:
            raise RequestError(Status.INVALID_REQUEST,
                               f"env {name}: a string of at most {MAX_ENV_VALUE} characters without NUL")
        if rule.pattern is not None and not _compiled(rule.pattern).fullmatch(value):
            raise RequestError(Status.INVALID_REQUEST, f"env {name}: value does not match {rule.pattern!r}")
        checked[name] = value
    return checked


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
