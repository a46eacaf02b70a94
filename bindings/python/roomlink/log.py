"""Forwards roomlink's native log records to Python's `logging`.

Records arrive on roomlink's own threads; `logging` is thread-safe. Each goes to the logger named
after its Rust module path (`roomlink::engine::runtime` -> `roomlink.engine.runtime`; records of
other crates get a `roomlink.` prefix), so `logging.getLogger("roomlink")` configures them all.
"""

import atexit
import logging

from . import roomlink as _native

#: Python has no TRACE level; roomlink's sits below DEBUG.
TRACE = 5
logging.addLevelName(TRACE, "TRACE")

_TO_PYTHON = {
    _native.LogLevel.ERROR: logging.ERROR,
    _native.LogLevel.WARN: logging.WARNING,
    _native.LogLevel.INFO: logging.INFO,
    _native.LogLevel.DEBUG: logging.DEBUG,
    _native.LogLevel.TRACE: TRACE,
}


def _to_native(level: int) -> "_native.LogLevel":
    if level >= logging.ERROR:
        return _native.LogLevel.ERROR
    if level >= logging.WARNING:
        return _native.LogLevel.WARN
    if level >= logging.INFO:
        return _native.LogLevel.INFO
    if level >= logging.DEBUG:
        return _native.LogLevel.DEBUG
    return _native.LogLevel.TRACE


def _logger_name(target: str) -> str:
    name = target.replace("::", ".")
    return name if name == "roomlink" or name.startswith("roomlink.") else f"roomlink.{name}"


class _LoggingSink(_native.LogSink):
    def log(self, level, target, message):
        logging.getLogger(_logger_name(target)).log(_TO_PYTHON[level], "%s", message)


def forward_logs_to_logging(level: int = logging.INFO) -> None:
    """Sends roomlink's records at `level` and above (a `logging` level) to `logging`.

    Replaces any sink set before; `level` filters natively, so records below it cost nothing.
    """
    _native.set_log_sink(_LoggingSink(), _to_native(level))
    atexit.register(_stop_forwarding)


def _stop_forwarding() -> None:
    # An engine still alive at exit would otherwise log into an interpreter that is being torn
    # down, which aborts the process. `atexit` runs before finalization; registering twice is
    # harmless (the second call finds no sink).
    _native.set_log_sink(None, _native.LogLevel.ERROR)
