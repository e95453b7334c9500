"""Shared fixtures: repo paths, the ../shared folder, running code as `nobody`, and a cgroup
root of this test run's own (helpers run suites in parallel on one cgroup tree)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hosts import HOSTS

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
NOBODY_UID = 65534
NOBODY_GID = 65534


def new_cgroup_root(tag: str) -> Path | None:
    """A fresh empty group under the real cgroup2 mount, or None where it cannot be made."""
    from afbspawn.sandbox.cgroups import find_cgroup2_mount

    mount = find_cgroup2_mount()
    if mount is None or os.geteuid() != 0:
        return None
    path = Path(tempfile.mkdtemp(prefix=f"afbspawn-{tag}-", dir="/tmp")).name
    try:
        root = Path(mount) / path
        root.mkdir()
    except OSError:
        return None
    finally:
        os.rmdir(Path("/tmp") / path)
    return root


@pytest.fixture(scope="session", autouse=True)
def test_cgroup_root() -> Iterator[Path | None]:
    """Every binder and plan of this run keeps its task groups under one group of its own."""
    from afbspawn.sandbox.containment import ROOT_ENV, end_everything, end_tree

    root = new_cgroup_root("test")
    if root is not None:
        os.environ[ROOT_ENV] = str(root)
    yield root
    end_everything()
    if root is not None:
        end_tree(root)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the clone (spec and C references); skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: the C reference material is not available here")
    return SHARED


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _system_python() -> str | None:
    """A Python of the same minor version that any user may execute (not the pyenv one under /root)."""
    candidate = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    return candidate if os.access(candidate, os.X_OK) else None


@pytest.fixture(scope="session")
def as_nobody() -> Iterator[Callable[..., list[str]]]:
    """Build command lines that run `python -m ...` as nobody:nogroup with no capabilities.

    The clone (and the venv's interpreter under /root) may not be reachable by nobody,
    so the package and its dependencies are copied into a world-readable temporary
    directory and run with the system's Python of the same version.
    """
    if os.geteuid() != 0:
        pytest.skip("dropping to nobody needs root")
    python = _system_python()
    if python is None or shutil.which("setpriv") is None:
        pytest.skip("needs /usr/bin/python3.X of this version and setpriv to run as nobody")
    root = Path(tempfile.mkdtemp(prefix="afbspawn-nobody-"))
    site = root / "site"
    purelib = Path(sysconfig.get_paths()["purelib"])
    ignore = shutil.ignore_patterns("pip", "pip-*", "setuptools*", "_distutils_hack",
                                    "__editable__*", "*.pth", "__pycache__")
    shutil.copytree(purelib, site, ignore=ignore)
    shutil.copytree(REPO / "afbspawn", site / "afbspawn", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True)

    def command(*args: str) -> list[str]:
        return ["setpriv", f"--reuid={NOBODY_UID}", f"--regid={NOBODY_GID}", "--clear-groups",
                "--inh-caps=-all", "--",
                "env", f"PYTHONPATH={site}", "PYTHONNOUSERSITE=1", f"HOME={root}",
                python, *args]

    yield command
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module", params=HOSTS)
def demo_host(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    """(host, port) of the test demo API (test/afbserver.py) served by each host in turn
    (test/demohost.py), one binder per module and host; libafb skips when not installed."""
    from afbserver import demo_served

    with demo_served(request.param) as port:
        yield request.param, port
