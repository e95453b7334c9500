"""Load-time logic of the sandbox: every setting that cannot be applied is refused with a clear error."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from afbspawn.config import model as m
from afbspawn.sandbox import LaunchError, SandboxError, compile_plan
from afbspawn.sandbox.cgroups import filesystem_type, find_cgroup2_mount, prepare_cgroup
from afbspawn.sandbox.containment import Containment, open_containment
from afbspawn.sandbox.environ import build_environment
from afbspawn.sandbox.identity import resolve_identity
from afbspawn.sandbox.namespaces import (
    CLONE_NEWNET,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    compile_namespaces,
)
from afbspawn.sandbox.seccomp import compile_seccomp

ME = os.geteuid()
MOUNTINFO = """\
22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw
30 22 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
41 30 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""


def identity_of(uid: int | None = None, gid: int | None = None) -> m.Identity:
    return m.Identity(uid=uid, gid=gid)


# ---- environment ----

def test_environment_never_carries_the_binder_variables() -> None:
    ident = resolve_identity("e", identity_of(), privileged=True)
    env = build_environment(m.Environment(), ident, {"SECRET_TOKEN": "x", "LANG": "fr_FR.UTF-8", "PATH": "/evil"})
    assert set(env) == {"PATH", "LANG", "HOME", "USER", "LOGNAME"}
    assert env["LANG"] == "fr_FR.UTF-8" and env["PATH"] == "/usr/local/bin:/usr/bin:/bin"


def test_environment_settings_apply_in_order_then_acls_paths() -> None:
    ident = resolve_identity("e", identity_of(), privileged=True)
    config = m.Environment(settings=(m.EnvSetting("A", value="1"), m.EnvSetting("HOME", m.EnvMode.UNSET)),
                           path="/opt/bin", ldpath="/opt/lib")
    env = build_environment(config, ident, {})
    assert env["A"] == "1" and "HOME" not in env
    assert env["PATH"] == "/opt/bin" and env["LD_LIBRARY_PATH"] == "/opt/lib"


def test_environment_inherit_is_explicit() -> None:
    ident = resolve_identity("e", identity_of(), privileged=True)
    env = build_environment(m.Environment(inherit=True), ident, {"KEEP": "yes"})
    assert env["KEEP"] == "yes" and env["USER"] == ident.user


# ---- identity ----

def test_unprivileged_binder_refuses_another_identity() -> None:
    with pytest.raises(SandboxError, match="cannot run tasks as uid"):
        resolve_identity("id", identity_of(ME + 1, 12345), privileged=False)


def test_same_identity_is_no_change() -> None:
    assert not resolve_identity("id", identity_of(ME, os.getegid()), privileged=False).change


# ---- namespaces ----

def test_all_disable_creates_every_namespace() -> None:
    setup = compile_namespaces("n", m.Namespace(shares=m.Shares(all=m.Share.DISABLE)), privileged=True,
                               target_uid=0, target_gid=0)
    assert setup.clone_flags & CLONE_NEWPID and setup.clone_flags & CLONE_NEWNET and setup.unshare_cgroup


def test_share_enable_overrides_all() -> None:
    shares = m.Shares(all=m.Share.DISABLE, net=m.Share.ENABLE)
    setup = compile_namespaces("n", m.Namespace(shares=shares), privileged=True, target_uid=0, target_gid=0)
    assert not setup.clone_flags & CLONE_NEWNET


def test_unprivileged_gets_a_user_namespace_mapping_its_own_ids() -> None:
    setup = compile_namespaces("n", m.Namespace(), privileged=False, target_uid=ME, target_gid=os.getegid())
    assert setup.clone_flags & CLONE_NEWUSER and setup.deny_setgroups
    assert setup.uid_map == f"{ME} {ME} 1\n"


def test_unprivileged_sharing_users_is_refused() -> None:
    with pytest.raises(SandboxError, match="shares.users"):
        compile_namespaces("n", m.Namespace(shares=m.Shares(users=m.Share.ENABLE)), privileged=False,
                           target_uid=ME, target_gid=0)


def test_hostname_with_shared_uts_is_refused() -> None:
    with pytest.raises(SandboxError, match="hostname"):
        compile_namespaces("n", m.Namespace(shares=m.Shares(uts=m.Share.ENABLE), hostname="h"), privileged=True,
                           target_uid=0, target_gid=0)


# ---- mounts ----

def test_missing_bind_source_is_a_load_error(tmp_path: Path) -> None:
    sandbox = m.Sandbox(uid="mnt", namespace=m.Namespace(mounts=(m.Mount("/x", m.MountMode.RO, str(tmp_path / "no")),)))
    with pytest.raises(SandboxError, match="does not exist.*autocreate"):
        compile_plan(sandbox)


def test_autocreate_makes_the_source(tmp_path: Path) -> None:
    source = tmp_path / "made"
    namespace = m.Namespace(mounts=(m.Mount("/x", m.MountMode.RW, str(source)),), autocreate=True)
    compile_plan(m.Sandbox(uid="mnt", namespace=namespace))
    assert source.is_dir() and (source.stat().st_mode & 0o7777) == 0o755


@pytest.mark.parametrize("mount, message", [
    (m.Mount("/run/lock", m.MountMode.LOCK), "not supported"),
    (m.Mount("relative", m.MountMode.TMPFS), "absolute"),
    (m.Mount("/a/../etc", m.MountMode.TMPFS), "absolute"),
])
def test_mounts_that_cannot_be_applied_are_refused(mount: m.Mount, message: str) -> None:
    with pytest.raises(SandboxError, match=message):
        compile_plan(m.Sandbox(uid="mnt", namespace=m.Namespace(mounts=(mount,))))


def test_unprivileged_proc_needs_a_pid_namespace() -> None:
    namespace = m.Namespace(mounts=(m.Mount("/proc", m.MountMode.PROC),))
    with pytest.raises(SandboxError, match="new pid namespace"):
        compile_plan(m.Sandbox(uid="mnt", namespace=namespace), privileged=False)


def test_execfd_content_is_captured_at_load() -> None:
    namespace = m.Namespace(mounts=(m.Mount("/etc/hello", m.MountMode.EXECFD, "echo hello"),))
    plan = compile_plan(m.Sandbox(uid="mnt", namespace=namespace))
    assert [op.data for op in plan.mounts.ops if op.data] == [b"hello\n"]


# ---- seccomp ----

def test_seccomp_rules_and_rulespath_are_exclusive(tmp_path: Path) -> None:
    config = m.Seccomp(rules=(m.SeccompRule("mkdir", "SCMP_ACT_KILL"),), rulespath=str(tmp_path / "f"))
    with pytest.raises(SandboxError, match="exclusive"):
        compile_seccomp("s", config)


def test_seccomp_unknown_syscall_and_action_are_refused() -> None:
    with pytest.raises(SandboxError, match="nosuchcall"):
        compile_seccomp("s", m.Seccomp(default="SCMP_ACT_ALLOW", rules=(m.SeccompRule("nosuchcall", "SCMP_ACT_KILL"),)))
    with pytest.raises(SandboxError, match="SCMP_ACT_NOTIFY"):
        compile_seccomp("s", m.Seccomp(default="SCMP_ACT_ALLOW", rules=(m.SeccompRule("mkdir", "SCMP_ACT_NOTIFY"),)))


def test_seccomp_rulespath_must_be_bpf(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bpf"
    bad.write_bytes(b"123")
    with pytest.raises(SandboxError, match="not a BPF program"):
        compile_seccomp("s", m.Seccomp(rulespath=str(bad)))
    good = tmp_path / "good.bpf"
    good.write_bytes(b"\x06\x00\x00\x00\x00\x00\xff\x7f")  # RET ALLOW
    assert compile_seccomp("s", m.Seccomp(rulespath=str(good))).program == good.read_bytes()


def test_seccomp_locked_alone_is_no_new_privs_without_filter() -> None:
    plan = compile_plan(m.Sandbox(uid="s", seccomp=m.Seccomp(locked=True, filters=False)))
    assert plan.seccomp is None and plan.no_new_privs


# ---- rlimits ----

def test_unknown_rlimit_is_refused() -> None:
    with pytest.raises(SandboxError, match="unknown resource"):
        compile_plan(m.Sandbox(uid="r", rlimits=(m.Rlimit("NOPE", 1, 1),)))


# ---- cgroups (file logic on a temporary tree; the kernel path is in test_sandbox_launch) ----

def test_cgroup2_mount_found_in_mountinfo() -> None:
    assert find_cgroup2_mount(MOUNTINFO) == "/sys/fs/cgroup/unified"
    assert find_cgroup2_mount("22 1 0:21 / /sys rw - sysfs sysfs rw\n") is None


def test_the_filesystem_of_a_path_is_that_of_the_deepest_mount_covering_it() -> None:
    assert filesystem_type("/sys/fs/cgroup/unified/a/b", MOUNTINFO) == "cgroup2"
    assert filesystem_type("/sys/fs/cgroup/unifiedx", MOUNTINFO) == "tmpfs"
    assert filesystem_type("/sys/kernel", MOUNTINFO) == "sysfs"
    assert filesystem_type("/tmp", MOUNTINFO) is None


def fake_files(root: Path, controllers: str) -> None:
    for name, text in (("cgroup.controllers", controllers), ("cgroup.subtree_control", ""), ("cgroup.procs", "")):
        (root / name).write_text(text)


def fake_tree(root: Path, controllers: str) -> Containment:
    """A directory shaped like a cgroup2 group (the kernel here lacks these controllers), taken as
    the binder's subtree directly: the binder itself refuses such a look-alike (next test)."""
    fake_files(root, controllers)
    (root / "afb-spawn-test").mkdir()
    return Containment(root / "afb-spawn-test")


def test_a_cgroup_look_alike_is_not_a_subtree(tmp_path: Path) -> None:
    """Plain files named like cgroup2's would take the limits and the tasks' pids and apply none."""
    fake_files(tmp_path, "pids")
    containment = open_containment(str(tmp_path))
    assert containment.subtree is None and containment.reason == f"{tmp_path} is not a cgroup2 directory"
    with pytest.raises(SandboxError, match="no writable cgroup2 subtree"):
        compile_plan(m.Sandbox(uid="c", cgroups=m.Cgroups(pids_max="32")), containment=containment)


def test_cgroup_limits_are_written_and_controllers_enabled(tmp_path: Path) -> None:
    containment = fake_tree(tmp_path, "cpu memory pids io cpuset")
    cgroups = m.Cgroups(mem_max="64M", mem_low="16M", mem_high="48M", mem_min="1M", mem_swap="0", pids_max="32",
                        cpu_weight="50", cpu_max="50000 100000", io_max="8:0 rbps=1048576", cpuset="0")
    group = prepare_cgroup("box", cgroups, containment)
    assert group is not None and containment.subtree is not None
    box = containment.subtree / "box"
    written = {name: (box / name).read_text() for name in ("memory.max", "memory.low", "memory.high", "memory.min",
               "memory.swap.max", "pids.max", "cpu.weight", "cpu.max", "io.max", "cpuset.cpus")}
    assert written == {"memory.max": "64M", "memory.low": "16M", "memory.high": "48M", "memory.min": "1M",
                       "memory.swap.max": "0", "pids.max": "32", "cpu.weight": "50", "cpu.max": "50000 100000",
                       "io.max": "8:0 rbps=1048576", "cpuset.cpus": "0"}
    assert (containment.subtree / "cgroup.subtree_control").read_text() == "+pids"  # the last of the writes
    leaf, fd = group.create_leaf()
    os.close(fd)
    assert leaf.path.parent == box and leaf.path.is_dir() and leaf in containment.live
    assert leaf.remove() and leaf.remove()
    assert not leaf.path.exists() and leaf not in containment.live
    shutil.rmtree(containment.subtree)


def test_missing_controller_names_it_and_the_tree(tmp_path: Path) -> None:
    containment = fake_tree(tmp_path, "cpu")
    with pytest.raises(SandboxError, match=f"'memory' is not available in the cgroup2 tree {tmp_path}"):
        prepare_cgroup("box", m.Cgroups(mem_max="64M"), containment)
    assert containment.subtree is not None
    os.rmdir(containment.subtree)


def test_cgroups_without_a_writable_subtree_are_refused_with_the_reason() -> None:
    with pytest.raises(SandboxError, match="no writable cgroup2 subtree: /x is not writable"):
        compile_plan(m.Sandbox(uid="c", cgroups=m.Cgroups()), containment=Containment(None, "/x is not writable"))
    plan = compile_plan(m.Sandbox(uid="c"), containment=Containment(None, "/x is not writable"))
    assert plan.cgroup is None
    assert any("process group only (/x is not writable)" in step for step in plan.explain("/bin/true", ["true"]))


# ---- explain and errors ----

def test_explain_lists_the_steps_in_launch_order() -> None:
    namespace = m.Namespace(shares=m.Shares(all=m.Share.DISABLE), hostname="h",
                            mounts=(m.Mount("/usr", m.MountMode.RO), m.Mount("/proc", m.MountMode.PROC)))
    plan = compile_plan(m.Sandbox(uid="x", namespace=namespace, seccomp=m.Seccomp(
        default="SCMP_ACT_ALLOW", rules=(m.SeccompRule("ptrace", "SCMP_ACT_KILL"),))))
    steps = plan.explain("/bin/true", ["true"])
    order = ["parent-death", "new namespaces", "mount /usr (bind, ro)", "pivot_root", "hostname h", "loopback",
             "environment PATH=", "no_new_privs", "close every other", "seccomp filter", "execve /bin/true"]
    positions = [next(i for i, s in enumerate(steps) if s.startswith(p)) for p in order]
    assert positions == sorted(positions), steps


def test_launch_error_text_names_the_step() -> None:
    error = LaunchError("mount", 2, "/usr (bind, ro)")
    assert str(error) == "mount /usr (bind, ro): No such file or directory"
    assert (error.step, error.errno, error.detail) == ("mount", 2, "/usr (bind, ro)")


def test_exec_failure_is_a_launch_error() -> None:
    plan = compile_plan(m.Sandbox(uid="x"))
    with pytest.raises(LaunchError, match="execve /nonexistent: No such file or directory"):
        plan.launch("/nonexistent", ["x"], 1, 2)
