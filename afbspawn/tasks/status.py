"""How a task ended, in the C binding's words, and which signals a client may send.

The status object is what clients parse (`{"exit": n}`, `{"signal": "Killed"}`), so its
keys and texts are those of the C binding (strsignal texts).
"""
from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from afbspawn.tasks.reaper import Reaped

DEFAULT_STOP_SIGNAL = signal.SIGINT


def exit_status(info: os.waitid_result | Reaped | None) -> dict[str, Any]:
    """The status object of a reaped child (None: reaped elsewhere, status unknown)."""
    if info is None:
        return {"unknown": 255}
    if info.si_code == os.CLD_EXITED:
        return {"exit": info.si_status}
    if info.si_code in (os.CLD_KILLED, os.CLD_DUMPED):
        return {"signal": signal.strsignal(info.si_status) or f"signal {info.si_status}"}
    return {"unknown": 255}


def parse_signal(value: Any) -> int:
    """A signal number from a client's `signal`: a number, or a SIG* name in any case.

    Raises ValueError for anything the kernel would not accept, so a typo is refused
    instead of silently sending nothing (the C binding's defect).
    """
    if isinstance(value, bool):
        raise ValueError(value)  # noqa: TRY004 (one error type for every refused value)
    if isinstance(value, int):
        if value in signal.valid_signals() and value > 0:
            return value
        raise ValueError(value)
    if isinstance(value, str) and value.upper().startswith("SIG"):
        try:
            return int(signal.Signals[value.upper()])
        except KeyError:
            raise ValueError(value) from None
    raise ValueError(value)
