"""Errors of the C library: :class:`MqliteError`, :class:`InvalidArgument`,
and turning a result code into one."""

from __future__ import annotations

import ctypes

from . import _native


class MqliteError(Exception):
    """An error from the C library.

    Attributes: ``code`` (the ``MQLITE_*`` number), ``text`` (what
    ``mqlite_result_text`` says about it), ``detail`` (the library's detail
    for this failure: the field, address or topic at fault).
    """

    def __init__(self, function: str, code: int, text: str, detail: str = ""):
        self.function = function
        self.code = code
        self.text = text
        self.detail = detail
        message = f"{function}: {text} (code {code})"
        if detail:
            message += f": {detail}"
        super().__init__(message)


class InvalidArgument(MqliteError, ValueError):
    """An argument with an unusable value: a topic or filter that is not
    valid MQTT, an address that is not ``IP:PORT``, an unusable limit, a
    QoS above 2, or a string with a NUL character (which C would cut
    short). Both an :class:`MqliteError` and a ``ValueError``; ``code`` is
    the one the C library gives for such a value (``MQLITE_INVALID_TOPIC``,
    ``MQLITE_INVALID_ADDRESS``, ``MQLITE_INVALID_CONFIG``,
    ``MQLITE_INVALID_ARGUMENT``, ``MQLITE_INVALID_UTF8``), whether the
    library or the bindings found it."""


# The result codes that mean "a bad value was passed".
_INVALID = frozenset({
    _native.MQLITE_INVALID_UTF8,
    _native.MQLITE_INVALID_ARGUMENT,
    _native.MQLITE_INVALID_ADDRESS,
    _native.MQLITE_INVALID_TOPIC,
    _native.MQLITE_INVALID_CONFIG,
})


def _result_text(code: int) -> str:
    text = _native.load().mqlite_result_text(code)
    return (text or b"").decode("utf-8", "replace")


def _invalid(function: str, code: int, detail: str) -> InvalidArgument:
    """The :class:`InvalidArgument` for a value the bindings refuse before
    calling ``function``, with the library's text for ``code``."""
    return InvalidArgument(function, code, _result_text(code), detail)


def _check(function: str, code: int) -> None:
    """Raises :class:`MqliteError` (:class:`InvalidArgument` for a bad
    value) for a non-zero result of ``function``."""
    if code == _native.MQLITE_OK:
        return
    lib = _native.load()
    text = _result_text(code)
    size = lib.mqlite_last_error_text(None, 0)
    buffer = ctypes.create_string_buffer(size + 1)
    lib.mqlite_last_error_text(buffer, size + 1)
    detail = buffer.value.decode("utf-8", "replace")
    if detail.startswith(function + ": "):
        detail = detail[len(function) + 2:]
    raise (InvalidArgument if code in _INVALID else MqliteError)(function, code, text, detail)
