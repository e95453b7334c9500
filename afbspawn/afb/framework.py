"""Finding an installed AFB framework the way redpesk lays it out.

`afb-binder`/`afb-client` on PATH and `libafb` (afb-libpython) importable; `AFB_PREFIX`
(default /opt/afb when that folder exists) adds PREFIX/bin to PATH and PREFIX/lib/python3
to the module path, for frameworks installed by hand outside the system folders.
"""
from __future__ import annotations

import os
import shutil
import sys
from types import ModuleType

DEFAULT_PREFIX = "/opt/afb"
INSTALL_HINT = ("install the AFB framework: on redpesk `dnf install afb-libpython afb-binder afb-client`, "
                "elsewhere those packages from the redpesk repositories, or set AFB_PREFIX to where it is installed")


class FrameworkMissing(Exception):
    """A piece of the AFB framework is not installed; the message says which and how to get it."""


def prefix() -> str | None:
    """AFB_PREFIX, else /opt/afb when it exists, else None (system folders only)."""
    value = os.environ.get("AFB_PREFIX")
    if value:
        return value
    return DEFAULT_PREFIX if os.path.isdir(DEFAULT_PREFIX) else None


def add_prefix_paths() -> None:
    """Put PREFIX/bin on PATH and PREFIX/lib/python3 on sys.path (once, idempotent)."""
    root = prefix()
    if root is None:
        return
    bindir, pydir = os.path.join(root, "bin"), os.path.join(root, "lib", "python3")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if bindir not in path:
        os.environ["PATH"] = os.pathsep.join([bindir, *filter(None, path)])
    if os.path.isdir(pydir) and pydir not in sys.path:
        sys.path.append(pydir)


def program(name: str) -> str | None:
    """Full path of a framework program (`afb-binder`, `afb-client`) or None."""
    add_prefix_paths()
    return shutil.which(name)


def import_libafb() -> ModuleType:
    """The `libafb` module; FrameworkMissing (one line) when it cannot be imported.

    The module prints a banner on stderr when it initialises: stderr is kept for our own
    messages, so the banner is swallowed.
    """
    add_prefix_paths()
    if "libafb" in sys.modules:
        return sys.modules["libafb"]
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            import libafb
    except ImportError as error:
        raise FrameworkMissing(f"the libafb Python module (afb-libpython) cannot be imported ({error}): "
                               f"{INSTALL_HINT}") from None
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return libafb
