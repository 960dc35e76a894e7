"""The log bridge: the C library's log records routed to the ``logging``
module (process-global, one per process)."""

from __future__ import annotations

import logging
from typing import Any, Optional

from . import _native
from ._native import view_str
from .errors import ArgumentTypeError, _check

_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG,
           5: logging.DEBUG}
_log_callback: Optional[Any] = None


def _log_trampoline(userdata: Any, level: int, target: Any, target_len: int, message: Any,
                    message_len: int) -> None:
    try:
        name = view_str(target, target_len).replace("::", ".")
        logging.getLogger(name).log(_LEVELS.get(level, logging.DEBUG),
                                    view_str(message, message_len))
    except BaseException:  # never let an exception reach the library
        pass


def enable_logging(level: int = logging.INFO) -> None:
    """Routes the C library's log records at ``level`` and above to the
    ``logging`` module, each under the logger named after the Rust module
    that logged (``mqlite.reactor``, ``mqlite.broker``, ...).

    The library's logger is process-global (one per process, for every
    broker); calling this again changes the level; ``disable_logging``
    turns it off.

    Raises:
        MqliteError: another logger owns the process (MQLITE_LOGGER_TAKEN).
        ArgumentTypeError: ``level`` is not an int.
    """
    global _log_callback
    if isinstance(level, bool) or not isinstance(level, int):
        raise ArgumentTypeError(
            f"level must be an int (a logging level), not {type(level).__name__}")
    if level <= logging.DEBUG:
        native = 5 if level < logging.DEBUG else 4
    elif level <= logging.INFO:
        native = 3
    elif level <= logging.WARNING:
        native = 2
    elif level <= logging.ERROR:
        native = 1
    else:
        native = 0
    lib = _native.load()
    if _log_callback is None:
        _log_callback = _native.LOG_CALLBACK(_log_trampoline)
    _check("mqlite_set_log_callback", lib.mqlite_set_log_callback(_log_callback, None, native))


def disable_logging() -> None:
    """Stops routing the library's log records."""
    lib = _native.load()
    _check("mqlite_set_log_callback",
           lib.mqlite_set_log_callback(_native.LOG_CALLBACK(), None, 0))
