"""aiohttp's own log lines: a malformed request is the client's fault, worth one line at -v.

aiohttp logs every unparsable request (LineTooLong, BadHttpMessage, ...) with a full
traceback on `aiohttp.server`; anyone can send those, so they would flood the log.
They become one NOTICE line on `afbspawn.afb`; any other error (a bug of ours
reached through aiohttp) keeps its traceback at ERROR.
"""
from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

from afbspawn.afb.embedded.monitor import NOTICE

log = logging.getLogger("afbspawn.afb")
AIOHTTP_LOGGER = "aiohttp"


class _OneLine(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, (HttpProcessingError, ConnectionError)):
            summary = " ".join(str(error).split()) or type(error).__name__
            log.log(NOTICE, "%s: %s: %s", record.getMessage(), type(error).__name__, summary[:200])
        elif record.levelno >= logging.WARNING:
            log.log(record.levelno, "%s", record.getMessage(), exc_info=record.exc_info)


def quiet_http_errors() -> None:
    """Route aiohttp's records through `_OneLine` (idempotent)."""
    logger = logging.getLogger(AIOHTTP_LOGGER)
    if not any(isinstance(handler, _OneLine) for handler in logger.handlers):
        logger.addHandler(_OneLine())
    logger.propagate = False
