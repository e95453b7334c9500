"""Running commands: launch through the sandbox, pump output into encoders, reap, report.

Knows nothing of transports: results go to the command's event or to a callback.
"""
from afbspawn.tasks.launch import start_task
from afbspawn.tasks.site import DEFAULT_GRACE, Budget, CommandSite
from afbspawn.tasks.status import DEFAULT_STOP_SIGNAL, parse_signal
from afbspawn.tasks.task import Task

__all__ = ["DEFAULT_GRACE", "DEFAULT_STOP_SIGNAL", "Budget", "CommandSite", "Task", "parse_signal", "start_task"]
