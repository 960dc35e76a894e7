"""Checking the arguments that reach the C library, before they do.

Strings go to C NUL-terminated, so one with a NUL character inside would
arrive cut short (``"a\\x00b"`` as ``"a"``): it is refused. Numbers go
through ctypes, which wraps a value outside its C type silently: checked
against the type's range. A wrong type raises ``TypeError``, a wrong value
:class:`~mqlite.InvalidArgument` (a ``ValueError``).
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Optional

from . import _native
from .errors import ArgumentTypeError, _invalid

U16_MAX = (1 << 16) - 1
U64_MAX = (1 << 64) - 1
I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1


def _type_name(value: Any) -> str:
    return type(value).__name__


def c_string(value: Any, what: str, function: str, code: int) -> bytes:
    """``value`` (a str) as UTF-8 for a NUL-terminated C string argument of
    ``function``; ``code`` is the library's code for a bad ``what``."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{what} must be a str, not {_type_name(value)}")
    if "\x00" in value:
        raise _invalid(function, code, f"{what} {value!r} contains a NUL character")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise _invalid(function, _native.MQLITE_INVALID_UTF8,
                       f"{what} {value!r} is not valid UTF-8 ({error.reason})") from None


def c_path(value: Any, what: str, function: str) -> bytes:
    """A file system path (str, bytes or ``os.PathLike``) as bytes for a
    NUL-terminated C string argument of ``function``."""
    try:
        path = os.fsencode(value)
    except TypeError:
        raise ArgumentTypeError(
            f"{what} must be a str, bytes or os.PathLike, not {_type_name(value)}"
        ) from None
    if b"\x00" in path:
        raise _invalid(function, _native.MQLITE_INVALID_ARGUMENT,
                       f"{what} {value!r} contains a NUL character")
    return path


def c_int(value: Any, what: str, function: str, code: int, low: int, high: int) -> int:
    """An int (not a bool) within ``low`` ..= ``high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(f"{what} must be an int, not {_type_name(value)}")
    if not low <= value <= high:
        raise _invalid(function, code, f"{what} {value} is outside {low}..={high}")
    return int(value)


def c_bool(value: Any, what: str) -> bool:
    """A bool (ints and other truthy values are refused)."""
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{what} must be a bool, not {_type_name(value)}")
    return value


def seconds(value: Any, what: str, function: str) -> float:
    """A non-negative, finite number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(f"{what} must be a number of seconds, not {_type_name(value)}")
    if not (math.isfinite(value) and value >= 0):
        raise _invalid(function, _native.MQLITE_INVALID_ARGUMENT,
                       f"{what} must be a finite number >= 0, not {value!r}")
    return float(value)


def callback(value: Any, what: str, optional: bool = False) -> Optional[Callable[..., Any]]:
    """A callable (or None, when ``optional``)."""
    if value is None and optional:
        return None
    if not callable(value):
        allowed = "a callable or None" if optional else "a callable"
        raise ArgumentTypeError(f"{what} must be {allowed}, not {_type_name(value)}")
    checked: Callable[..., Any] = value
    return checked
