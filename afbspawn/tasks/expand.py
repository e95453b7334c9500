"""`$NAME` expansion in a task's context (log encoder file names), by the config's expander."""
from __future__ import annotations

import os
from collections.abc import Callable

from afbspawn.config.variables import Expander
from afbspawn.tasks.site import CommandSite


def task_expander(site: CommandSite, pid: int) -> Callable[[str], str]:
    """Expand with API_NAME, SANDBOX_UID, COMMAND_UID and TASK_PID over the builtins and environ.

    Raises afbspawn.config.variables.ExpansionError (a ValueError) on an unknown name.
    """
    context = {"API_NAME": site.api, "SANDBOX_UID": site.sandbox.uid,
               "COMMAND_UID": site.command.uid, "TASK_PID": str(pid)}
    return Expander(os.environ, context).expand
