"""Errors of the C library: :class:`MqliteError`, and turning a result code
into one."""

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


def _check(function: str, code: int) -> None:
    """Raises :class:`MqliteError` for a non-zero result of ``function``."""
    if code == _native.MQLITE_OK:
        return
    lib = _native.load()
    text = (lib.mqlite_result_text(code) or b"").decode("utf-8", "replace")
    size = lib.mqlite_last_error_text(None, 0)
    buffer = ctypes.create_string_buffer(size + 1)
    lib.mqlite_last_error_text(buffer, size + 1)
    detail = buffer.value.decode("utf-8", "replace")
    if detail.startswith(function + ": "):
        detail = detail[len(function) + 2:]
    raise MqliteError(function, code, text, detail)
