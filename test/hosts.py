"""The two hosts as one test parameter, and the installed AFB framework's programs.

A suite parametrised with `HOSTS` asserts each behaviour once and checks it against the
embedded binder and against the real framework (libafb host). Tests needing a piece of
the framework skip with one line saying which piece is missing.
"""
from __future__ import annotations

import importlib.util

import pytest

from afbspawn.afb.framework import INSTALL_HINT, add_prefix_paths, program

HOSTS = ("embedded", "libafb")


def libafb_missing() -> str | None:
    """Why `libafb` cannot be imported, or None (found without loading it in the test process)."""
    add_prefix_paths()
    if importlib.util.find_spec("libafb") is None:
        return f"libafb (afb-libpython) is not installed: {INSTALL_HINT}"
    return None


def require_host(host: str) -> None:
    if host == "libafb" and (reason := libafb_missing()):
        pytest.skip(reason)


def host_args(host: str) -> list[str]:
    """The afb-spawn arguments selecting `host`."""
    require_host(host)
    return ["--host", host]


def framework_program(name: str) -> str:
    """Path of `afb-client`/`afb-binder`; skip when it is not installed."""
    path = program(name)
    if path is None:
        pytest.skip(f"{name} is not installed: {INSTALL_HINT}")
    return path
