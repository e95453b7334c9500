"""Task lifecycle with real processes: pipes drained, pidfd reaping, timeouts, grace, cleanup.

The launcher is the real sandbox launcher (spawnfakes.RecordingLauncher, an unconfined
plan); processes, pipes, signals and pidfds are real.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import pytest
from procs import members_gone, open_fds, status_kib
from spawnfakes import CollectFactory, FakeEvent, RecordingLauncher

from afbspawn.config.model import Cgroups, Command, Sandbox
from afbspawn.sandbox import SandboxError, compile_plan
from afbspawn.tasks import CommandSite, start_task
from afbspawn.tasks.record import Requester

SH = "/bin/sh"


def make_site(script: str, *, synchronous: bool = False, timeout: int | None = None,
              grace: float = 2.0, launcher: Any = None, factory: Any = None) -> CommandSite:
    command = Command(uid="cmd", verb="cmd", cmdpath=SH, timeout=timeout)
    site = CommandSite("api", Sandbox(uid="box"), command, launcher or RecordingLauncher(),
                       factory or CollectFactory(synchronous), {}, FakeEvent("api/cmd"), grace)
    site.script = script  # type: ignore[attr-defined]
    return site


async def run_async(site: CommandSite) -> list[Any]:
    """Start the site's script and wait for its final event; returns every push."""
    task = start_task(site, ["cmd", "-c", site.script], requester=Requester("s", 1))  # type: ignore[attr-defined]
    event = site.event
    assert isinstance(event, FakeEvent)
    while not any(p.get("type") == "final-event" for p in event.pushed):
        await asyncio.sleep(0.01)
    assert task.pid not in site.tasks
    return event.pushed


async def run_sync(site: CommandSite) -> dict[str, Any]:
    result: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    start_task(site, ["cmd", "-c", site.script], on_final=result.set_result)  # type: ignore[attr-defined]
    return await result


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_async_output_then_final_event_with_exit_code() -> None:
    pushed = run(run_async(make_site("echo out; echo err >&2; exit 3")))
    pid = pushed[0]["pid"]
    stats = pushed[-1].pop("stats")
    assert pushed == [{"type": "data", "pid": pid, "stdout": "out\n", "stderr": "err\n"},
                      {"type": "final-event", "pid": pid, "status": {"exit": 3}}]
    assert list(stats) == ["wall_s", "user_s", "system_s", "peak_rss_kib"] and 0 <= stats["wall_s"] < 30, stats


def test_stats_measure_the_task() -> None:
    """A CPU-bound task shows its CPU time; a sleeping one its wall time (counted from before
    the launch, so never below what the task slept), not CPU."""
    busy = run(run_async(make_site("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done")))[-1]["stats"]
    idle = run(run_async(make_site("sleep 0.5")))[-1]["stats"]
    assert busy["user_s"] + busy["system_s"] >= 0.05 and busy["wall_s"] >= busy["user_s"] * 0.5, busy
    assert idle["wall_s"] >= 0.5 and idle["user_s"] + idle["system_s"] < 0.25, idle


def touching(kib: int) -> str:
    """A script whose process touches `kib` KiB of memory (every page written) and exits."""
    return f"exec {sys.executable} -c 'b = b\"x\" * ({kib} * 1024)'"


def test_peak_rss_from_rusage_is_the_tasks_or_the_binders_peak() -> None:
    """Without memory.peak the figure is the reaped child's rusage: the launcher's child shares
    the binder's memory until execve (CLONE_VM) and the kernel keeps that memory's high-water
    mark, so it is about the binder's own peak RSS at least; a task touching more shows its own."""
    plan = RecordingLauncher().plan
    assert plan.cgroup is None or "memory" not in plan.cgroup.path.joinpath("cgroup.controllers").read_text().split()
    binder_peak = status_kib(os.getpid(), "VmHWM")
    small = run(run_async(make_site("exit 0")))[-1]["stats"]["peak_rss_kib"]
    slack = 4 * 1024  # the kernel's RSS counters are per-CPU approximations
    assert binder_peak - slack <= small <= status_kib(os.getpid(), "VmHWM") + slack, (binder_peak, small)
    big = status_kib(os.getpid(), "VmHWM") + 64 * 1024
    hungry = run(run_async(make_site(touching(big))))[-1]
    assert hungry["status"] == {"exit": 0} and big <= hungry["stats"]["peak_rss_kib"] <= big + 64 * 1024, hungry


def test_peak_rss_from_memory_peak_is_the_tasks_own() -> None:
    """With the memory controller, memory.peak of the task's leaf: the task's own memory (the
    binder's is not in the leaf), so a small task shows little and a hungry one what it touched."""
    try:
        plan = compile_plan(Sandbox(uid="mempeak", cgroups=Cgroups(mem_max="2G")))
    except SandboxError as error:
        pytest.skip(f"no memory controller for this test's cgroup here: {error}")
    launcher = RecordingLauncher(plan)
    big = 96 * 1024
    small = run(run_async(make_site("exit 0", launcher=launcher)))[-1]["stats"]["peak_rss_kib"]
    hungry = run(run_async(make_site(touching(big), launcher=launcher)))[-1]["stats"]["peak_rss_kib"]
    assert small < 32 * 1024 and big <= hungry <= big + 64 * 1024, (small, hungry)


def test_sync_result_carries_identity_status_and_fields() -> None:
    result = run(run_sync(make_site("printf 'a\\nb'", synchronous=True)))
    assert list(result) == ["api", "sandbox", "command", "pid", "status", "stdout"]
    assert result["status"] == {"exit": 0} and result["stdout"] == "a\nb"
    assert (result["api"], result["sandbox"], result["command"]) == ("api", "box", "cmd")


def test_other_pipe_is_drained_after_the_first_closes() -> None:
    # stdout closes first; stderr still carries data afterwards: both must be complete
    script = "exec 1>&-; sleep 0.2; head -c 300000 /dev/zero | tr '\\0' e >&2"
    result = run(run_sync(make_site(script, synchronous=True)))
    assert result["stderr"] == "e" * 300000


def test_large_output_is_complete() -> None:
    result = run(run_sync(make_site("head -c 5000000 /dev/zero | tr '\\0' x", synchronous=True)))
    assert len(result["stdout"]) == 5000000


def test_killed_by_signal_reports_strsignal_text() -> None:
    result = run(run_sync(make_site("kill -TERM $$", synchronous=True)))
    assert result["status"] == {"signal": "Terminated"}


def test_timeout_kills_group_and_says_so() -> None:
    result = run(run_sync(make_site("sleep 30 & sleep 30", synchronous=True, timeout=1)))
    assert result["status"] == {"signal": "Killed", "info": "timeout"}
    assert members_gone(result["pid"])


def test_grandchild_holding_pipe_is_killed_after_grace_and_flagged() -> None:
    script = "sleep 60 & echo started; exit 0"
    pushed = run(run_async(make_site(script, grace=0.3)))
    final = pushed[-1]
    assert final["status"] == {"exit": 0} and final["truncated"] is True
    assert pushed[0]["stdout"] == "started\n"
    assert members_gone(final["pid"])


def test_no_fd_or_zombie_left_after_tasks() -> None:
    before = open_fds()

    async def many() -> None:
        await asyncio.gather(*(run_sync(make_site(f"echo {i}", synchronous=True)) for i in range(50)))

    run(many())
    assert open_fds() == before
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


class FailingLauncher:
    def launch(self, *args: Any, **kwargs: Any) -> Any:
        raise OSError("mount /usr (bind, ro): No such file or directory")


def test_launch_error_propagates_and_leaks_no_fd() -> None:
    async def attempt() -> None:
        with pytest.raises(OSError, match="mount /usr"):
            start_task(make_site("true", launcher=FailingLauncher()), ["cmd"])

    before = open_fds()
    run(attempt())
    assert open_fds() == before


class BrokenFactory(CollectFactory):
    def create(self, *args: Any) -> Any:
        raise OSError("cannot open /nonexistent/log")


def test_encoder_error_kills_and_reaps_the_child() -> None:
    launcher = RecordingLauncher()

    async def attempt() -> None:
        with pytest.raises(OSError, match="cannot open"):
            start_task(make_site("sleep 30", launcher=launcher, factory=BrokenFactory()),
                       ["cmd", "-c", "sleep 30"])

    before = open_fds()
    run(attempt())
    assert open_fds() == before
    with pytest.raises(ProcessLookupError):
        os.kill(launcher.launched[0].pid, 0)  # reaped, not a zombie


def test_signal_reaches_whole_group() -> None:
    async def scenario() -> dict[str, Any]:
        site = make_site("sleep 30 & wait", synchronous=True)
        result: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        task = start_task(site, ["cmd", "-c", site.script], on_final=result.set_result)  # type: ignore[attr-defined]
        await asyncio.sleep(0.2)
        task.signal(signal.SIGTERM)  # (sh makes background jobs ignore SIGINT)
        return await result

    result = run(scenario())
    assert result["status"] == {"signal": "Terminated"}
    assert "truncated" not in result  # the background sleep died with its group


class ExplodingFactory(CollectFactory):
    def create(self, *args: Any) -> Any:
        encoder = super().create(*args)

        def feed(stream: str, data: bytes) -> None:
            raise RuntimeError("plugin bug")

        encoder.feed = feed  # type: ignore[method-assign]
        return encoder


def test_failing_encoder_costs_its_output_not_the_task() -> None:
    result = run(run_sync(make_site("echo hi", synchronous=True, factory=ExplodingFactory(True))))
    assert result["status"] == {"exit": 0} and result["truncated"] is True and "stdout" not in result


def test_child_reaped_elsewhere_gives_unknown_status() -> None:
    async def scenario() -> dict[str, Any]:
        site = make_site("exit 7", synchronous=True)
        result: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        task = start_task(site, ["cmd", "-c", "exit 7"], on_final=result.set_result)
        os.waitpid(task.pid, 0)  # noqa: ASYNC222 (on purpose: a stray waiter takes the status first)
        return await result

    assert run(scenario())["status"] == {"unknown": 255}
