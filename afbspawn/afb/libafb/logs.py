"""afb-spawn's log records written through libafb's logger (its format, levels and mask)."""
from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from afbspawn.afb.embedded.monitor import NOTICE


class LibafbLogHandler(logging.Handler):
    """Forwards records to `libafb.error/warning/notice/info/debug` once the binder exists."""

    def __init__(self, libafb: ModuleType) -> None:
        super().__init__()
        self._libafb = libafb
        self.binder: Any = None
        self._fallback = logging.StreamHandler()
        self.setFormatter(logging.Formatter("%(message)s"))
        self._fallback.setFormatter(logging.Formatter("afb-spawn: %(levelname)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if self.binder is None:
            self._fallback.emit(record)
            return
        try:
            self._writer(record.levelno)(self.binder, "%s", self.format(record))
        except Exception:  # noqa: BLE001 - logging must never break the caller
            self.handleError(record)

    def _writer(self, level: int) -> Any:
        if level >= logging.ERROR:
            return self._libafb.error
        if level >= logging.WARNING:
            return self._libafb.warning
        if level >= NOTICE:
            return self._libafb.notice
        return self._libafb.info if level >= logging.INFO else self._libafb.debug
