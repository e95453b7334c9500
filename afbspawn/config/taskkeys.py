"""The new per-command task keys (issue 10): history, stdin, maxtasks/queue, stop/grace, env.

The JSON Schema has checked their types; what it cannot say (a signal name the kernel knows,
a pattern that compiles, `single` against `maxtasks`) is checked here, with the fix named.
"""
from __future__ import annotations

import re
import signal
from typing import Any

from afbspawn.config import model
from afbspawn.config.collector import Collector, Path


def history(node: Any) -> model.History:
    """`history`: an integer (events kept) or {"lines","bytes","tasks"}; defaults for the rest."""
    if node is None:
        return model.History()
    if isinstance(node, int):
        return model.History(lines=node)
    default = model.History()
    return model.History(lines=node.get("lines", default.lines), bytes=node.get("bytes", default.bytes),
                         tasks=node.get("tasks", default.tasks))


def stop_signal(node: dict[str, Any], path: Path, problems: Collector) -> int | None:
    """`stop`: a signal number or a SIG* name (any case); None when absent (the C's signals)."""
    value = node.get("stop")
    if value is None:
        return None
    if isinstance(value, int) and value in signal.valid_signals() and value > 0:
        return value
    if isinstance(value, str) and value.upper().startswith("SIG") and value.upper() in signal.Signals.__members__:
        return int(signal.Signals[value.upper()])
    problems.add(path + ("stop",), f"unknown signal {value!r}", 'give a number or a name such as "SIGTERM"')
    return None


def maxtasks(node: dict[str, Any], single: bool, path: Path, problems: Collector) -> int | None:
    """`maxtasks` (single/once mean 1); a queue without a limit is refused: it would never fill."""
    limit = node.get("maxtasks")
    if single and limit not in (None, 1):
        problems.add(path + ("maxtasks",), f"'single' means maxtasks 1, not {limit}", "give only one of them")
    if single:
        limit = 1
    if node.get("queue") and limit is None:
        problems.add(path + ("queue",), "a queue needs a limit to wait for", 'add "maxtasks": N')
    return limit


def env_rules(node: Any, path: Path, problems: Collector) -> tuple[model.EnvRule, ...]:
    """`env`: {"NAME": true | "PATTERN"}; a pattern must compile (it is matched in full)."""
    rules = []
    for name, spec in (node or {}).items():
        pattern = spec if isinstance(spec, str) else None
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as error:
                problems.add(path + ("env", name), f"invalid pattern: {error}", "give a Python regular expression")
                continue
        rules.append(model.EnvRule(name, pattern))
    return tuple(rules)
