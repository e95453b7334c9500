"""`afb-spawn run`: a real config, a real sandboxed launch, output and exit status passed through."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import new_cgroup_root

from afbspawn.sandbox.containment import ROOT_ENV, end_tree

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the sample sandbox runs its task as nobody")

NAMESPACE_SAMPLE = """\
metadata: { uid: ns-sample, api: nsdemo }
sandboxes:
  - uid: box
    prefix: ""
    acls: { user: nobody, group: nogroup }
    namespace:
      opts: { hostname: demo-box }
      shares: { all: disable }
      mounts:
        - { target: /usr, mode: ro }
        - { target: /bin, source: usr/bin, mode: symlink }
        - { target: /lib, source: usr/lib, mode: symlink }
        - { target: /lib64, source: usr/lib64, mode: symlink }
        - { target: /proc, mode: procfs }
    commands:
      - uid: show
        exec: { cmdpath: /bin/sh, args: ["-c", "echo %what% on $$(cat /proc/sys/kernel/hostname) as $$(id -u); exit 3"] }
  - uid: plain
    acls: { user: nobody, group: nogroup }
    commands:
      - uid: killed
        exec: { cmdpath: /bin/sh, args: ["-c", "kill -9 $$$$"] }
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "ns.yaml"
    path.write_text(NAMESPACE_SAMPLE)
    return path


def afb_spawn_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "afbspawn", "run", *args], check=False, capture_output=True, text=True,
                          timeout=60)


@needs_root
def test_run_prints_output_and_passes_the_exit_status(config: Path) -> None:
    done = afb_spawn_run(str(config), "show", "--arg", "what=hello")
    assert done.stdout == "hello on demo-box as 65534\n", done.stderr
    assert done.returncode == 3


@needs_root
def test_run_reports_a_signal_as_128_plus_n(config: Path) -> None:
    assert afb_spawn_run(str(config), "nsdemo/plain/killed").returncode == 128 + 9


@needs_root
def test_explain_lists_the_namespace_steps_and_runs_nothing(config: Path) -> None:
    done = afb_spawn_run(str(config), "show", "--arg", "what=x", "--explain")
    assert done.returncode == 0, done.stderr
    for step in ("new namespaces (clone flags): user, mount, pid, net, uts, ipc", "mount /usr (bind, ro) from /usr",
                 "hostname demo-box", "uid 65534 'nobody' (setresuid)", "execve /bin/sh"):
        assert step in done.stdout
    assert "hello" not in done.stdout


def test_unknown_verb_lists_the_known_ones(config: Path) -> None:
    done = afb_spawn_run(str(config), "nope", "--explain")
    assert done.returncode == 2 and "known: nsdemo/" in done.stderr


def test_bad_arg_syntax_is_a_usage_error(config: Path) -> None:
    done = afb_spawn_run(str(config), "show", "--arg", "novalue")
    assert done.returncode == 2 and "expected NAME=VALUE" in done.stderr


@needs_root
def test_a_launch_the_host_refuses_is_one_line_and_status_125(config: Path) -> None:
    """The task's cgroup leaf cannot be made (its tree's cgroup.max.descendants is reached, a
    real kernel refusal): status 125 and one line naming the step, never a traceback."""
    root = new_cgroup_root("runleaf")
    if root is None:
        pytest.skip("no writable cgroup2 tree here")
    try:
        (root / "cgroup.max.descendants").write_text("3")  # the binder's subtree and its two sandbox groups
        done = subprocess.run([sys.executable, "-m", "afbspawn", "run", str(config), "nsdemo/plain/killed"],
                              check=False, capture_output=True, text=True, timeout=60,
                              env={**os.environ, ROOT_ENV: str(root)})
        assert done.returncode == 125, done
        leaf = rf"{re.escape(str(root))}/afb-spawn-\d+-\d+/plain/task-\d+"
        assert re.fullmatch(rf"afb-spawn run: create the task's cgroup leaf {leaf}: Resource temporarily unavailable\n",
                            done.stderr), done.stderr
    finally:
        end_tree(root)
