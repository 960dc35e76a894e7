"""The errors mqlite raises, all under :class:`MqliteError`, each also of
the built-in type a caller would expect:

- :class:`InvalidArgument` (a ``ValueError``): an argument with a bad value;
- :class:`ArgumentTypeError` (a ``TypeError``): an argument of the wrong type;
- :class:`BrokerStateError` (a ``RuntimeError``): a call the broker cannot
  take in its present state (closed, already running, ...);
- :class:`~mqlite.LibraryNotFound` (an ``OSError``, in ``_native``): the C
  library cannot be loaded;
- :class:`MqliteError` itself: what the C library refuses for another
  reason (an address in use, a broker that has stopped, ...).

And turning a C result code into one of them.
"""

from __future__ import annotations

import ctypes

from . import _codes


class MqliteError(Exception):
    """The base of every error mqlite raises; raised as such for what the
    C library refuses that is neither a bad argument nor a wrong type.

    Attributes: ``function`` (the C function, or the bindings' check,
    that failed; ``""`` when none applies), ``code`` (the ``MQLITE_*``
    number), ``text`` (what ``mqlite_result_text`` says about it),
    ``detail`` (this failure's own detail: the field, address or topic at
    fault).
    """

    def __init__(self, function: str, code: int, text: str, detail: str = "") -> None:
        self.function = function
        self.code = code
        self.text = text
        self.detail = detail
        message = f"{function}: {text} (code {code})" if function else f"{text} (code {code})"
        if detail:
            message += f": {detail}"
        super().__init__(message)


class InvalidArgument(MqliteError, ValueError):
    """An argument with an unusable value: a topic or filter that is not
    valid MQTT, an address that is not ``IP:PORT`` or a host name that does
    not resolve, an unusable limit, a QoS above 2, or a string with a NUL
    character (which C would cut short). Both an :class:`MqliteError` and a
    ``ValueError``; ``code`` is the one the C library gives for such a
    value (``MQLITE_INVALID_TOPIC``, ``MQLITE_INVALID_ADDRESS``,
    ``MQLITE_INVALID_CONFIG``, ``MQLITE_INVALID_ARGUMENT``,
    ``MQLITE_INVALID_UTF8``), whether the library or the bindings found it."""


class ArgumentTypeError(MqliteError, TypeError):
    """An argument of the wrong type (``kick(None)``, a bytes topic, an
    unknown keyword). Both an :class:`MqliteError` and a ``TypeError``;
    ``code`` is ``MQLITE_INVALID_ARGUMENT``, ``detail`` the message."""

    def __init__(self, message: str) -> None:
        # Not MqliteError.__init__: the message stays the plain sentence a
        # TypeError usually carries, without a function or code around it.
        Exception.__init__(self, message)
        self.function = ""
        self.code = _codes.MQLITE_INVALID_ARGUMENT
        self.text = _FALLBACK_TEXTS[_codes.MQLITE_INVALID_ARGUMENT]
        self.detail = message


class BrokerStateError(MqliteError, RuntimeError):
    """A call the broker cannot take now: it is closed, already running
    (in a thread or on an event loop), still running in another thread, or
    ``close()`` was called from one of its own hooks. Both an
    :class:`MqliteError` and a ``RuntimeError``; ``code`` is
    ``MQLITE_STOPPED`` for a closed broker, ``MQLITE_BUSY`` otherwise."""

    def __init__(self, message: str, code: int = _codes.MQLITE_BUSY) -> None:
        Exception.__init__(self, message)
        self.function = ""
        self.code = code
        self.text = _FALLBACK_TEXTS.get(code, "error")
        self.detail = message


# The result codes that mean "a bad value was passed".
_INVALID = frozenset({
    _codes.MQLITE_INVALID_UTF8,
    _codes.MQLITE_INVALID_ARGUMENT,
    _codes.MQLITE_INVALID_ADDRESS,
    _codes.MQLITE_INVALID_TOPIC,
    _codes.MQLITE_INVALID_CONFIG,
})

# What the library says of the codes the bindings raise by themselves, for
# when the library itself cannot be loaded to say it (a bad value found
# before the library is needed must not turn into LibraryNotFound).
_FALLBACK_TEXTS = {
    _codes.MQLITE_INVALID_UTF8: "a string argument is not valid UTF-8",
    _codes.MQLITE_INVALID_ARGUMENT: "invalid argument",
    _codes.MQLITE_INVALID_ADDRESS: "invalid listener address (expected IP:PORT)",
    _codes.MQLITE_INVALID_TOPIC: "invalid topic name or filter",
    _codes.MQLITE_INVALID_CONFIG: "invalid configuration value",
    _codes.MQLITE_STOPPED: "the broker has stopped",
    _codes.MQLITE_BUSY: "the broker is busy",
    _codes.MQLITE_ERROR: "error",
}


def _result_text(code: int) -> str:
    # Imported here: _native imports this module (for LibraryNotFound).
    from . import _native

    try:
        lib = _native.load()
    except _native.LibraryNotFound:
        return _FALLBACK_TEXTS.get(code, f"error {code}")
    text = lib.mqlite_result_text(code)
    return (text or b"").decode("utf-8", "replace")


def _invalid(function: str, code: int, detail: str) -> InvalidArgument:
    """The :class:`InvalidArgument` for a value the bindings refuse before
    calling ``function``, with the library's text for ``code``."""
    return InvalidArgument(function, code, _result_text(code), detail)


def _check(function: str, code: int) -> None:
    """Raises :class:`MqliteError` (:class:`InvalidArgument` for a bad
    value) for a non-zero result of ``function``."""
    if code == _codes.MQLITE_OK:
        return
    from . import _native

    lib = _native.load()
    text = _result_text(code)
    size = lib.mqlite_last_error_text(None, 0)
    buffer = ctypes.create_string_buffer(size + 1)
    lib.mqlite_last_error_text(buffer, size + 1)
    detail = buffer.value.decode("utf-8", "replace")
    if detail.startswith(function + ": "):
        detail = detail[len(function) + 2:]
    raise (InvalidArgument if code in _INVALID else MqliteError)(function, code, text, detail)
