"""Config-time `$NAME` expansion (spec §9.1): builtins first, then the environment.

Accepted forms: `$NAME`, `${NAME}`, `$(NAME)`; `$$` is a literal `$`. A name
that is neither a builtin nor in the environment is an error naming it, so a
typo never silently becomes an empty string (afb-binder's pre-expansion bug).
"""
from __future__ import annotations

import datetime
import os
import re
import uuid
from collections.abc import Callable, Mapping

MAX_EXPANDED = 4096  # bytes of one expanded string
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TOKEN = re.compile(rf"\$(?:\$|(?P<plain>{_NAME})|\{{(?P<brace>{_NAME})\}}|\((?P<paren>{_NAME})\))")


class ExpansionError(ValueError):
    """An unknown `$NAME`, a `$` that does not form a reference, or a too long result."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def _sbindir() -> str:
    return "/usr/sbin" if not os.path.exists("/sbin/mkfs") or os.path.islink("/sbin/mkfs") else "/sbin"


def process_builtins(environ: Mapping[str, str]) -> dict[str, Callable[[], str]]:
    """The context-free builtins of spec §9.1 (values computed when referenced)."""
    return {
        "LOGNAME": lambda: environ.get("LOGNAME", "Unknown"),
        "HOSTNAME": lambda: environ.get("HOSTNAME", "localhost"),
        "HOME": lambda: environ.get("HOME", "/sandbox"),
        "AFB_ROOTDIR": lambda: environ.get("AFB_ROOTDIR", "."),
        "AFB_NAME": lambda: environ.get("AFB_NAME", "afb-spawn"),
        "SBINDIR": _sbindir,
        "PID": lambda: str(os.getpid()),
        "UID": lambda: str(os.getuid()),
        "GID": lambda: str(os.getgid()),
        "TODAY": lambda: datetime.datetime.now().astimezone().strftime("%d-%b-%Y %H:%M:%S (%Z)"),
        "UUID": lambda: str(uuid.uuid4()),
    }


class Expander:
    """Expands `$NAME` with a context (API_NAME, SANDBOX_UID, ...) over builtins and environ."""

    def __init__(self, environ: Mapping[str, str], context: Mapping[str, str] | None = None):
        self._environ = environ
        self._builtins = process_builtins(environ)
        self._context = dict(context or {})

    def with_context(self, **context: str) -> Expander:
        """A child expander that also knows these names (e.g. SANDBOX_UID for a sandbox)."""
        return Expander(self._environ, {**self._context, **context})

    def lookup(self, name: str) -> str | None:
        if name in self._context:
            return self._context[name]
        if name in self._builtins:
            return self._builtins[name]()
        return self._environ.get(name)

    def expand(self, text: str) -> str:
        """`text` with every reference replaced; raises ExpansionError naming the problem."""
        if "$" not in text:
            return text
        out: list[str] = []
        pos = 0
        for match in _TOKEN.finditer(text):
            out.append(self._literal(text[pos:match.start()]))
            name = match.group("plain") or match.group("brace") or match.group("paren")
            if name is None:
                out.append("$")
            else:
                value = self.lookup(name)
                if value is None:
                    raise ExpansionError(f"unknown variable ${name}", self._unknown_hint(name))
                out.append(value)
            pos = match.end()
        out.append(self._literal(text[pos:]))
        result = "".join(out)
        if len(result.encode()) > MAX_EXPANDED:
            raise ExpansionError(f"expanded text is longer than the limit of {MAX_EXPANDED} bytes")
        return result

    @staticmethod
    def _literal(chunk: str) -> str:
        if "$" in chunk:
            raise ExpansionError(
                "'$' does not start a variable reference",
                "write $$ for a literal '$' (e.g. \"awk '{print $$1}'\", \"$$(date)\")",
            )
        return chunk

    def _unknown_hint(self, name: str) -> str:
        known = sorted(set(self._context) | set(self._builtins))
        return (f"set {name} in the environment, or use one of the builtins {', '.join(known)}; "
                "write $$ for a literal '$'")
