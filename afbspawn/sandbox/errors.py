"""The two ways a sandbox can fail: at load (a setting cannot be applied) or per launch."""
from __future__ import annotations

import os


class SandboxError(Exception):
    """A setting of a sandbox cannot be applied on this host: raised at load, never ignored."""

    def __init__(self, sandbox: str, setting: str, why: str, fix: str = "") -> None:
        self.sandbox, self.setting, self.why, self.fix = sandbox, setting, why, fix
        text = f"sandbox '{sandbox}': {setting}: {why}"
        super().__init__(f"{text} (fix: {fix})" if fix else text)


class LaunchError(Exception):
    """One launch failed at a named step: `mount /usr (bind, ro): No such file or directory`."""

    def __init__(self, step: str, errno: int, detail: str = "") -> None:
        self.step, self.errno, self.detail = step, errno, detail
        where = f"{step} {detail}" if detail else step
        super().__init__(f"{where}: {os.strerror(errno)}")
