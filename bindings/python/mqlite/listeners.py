"""Listeners with their own transport and settings: :class:`Listener` (TCP
or a Unix socket; MQTT over WebSocket; per-listener limits and access
files) and its :class:`TLS` settings, given to :class:`~mqlite.Broker`
(``listeners=[...]``). See docs/LISTENERS.md.

The values are checked for their types when made (``TypeError``); their
ranges and the combinations that cannot work are checked by the library
when the broker is made, which raises :class:`~mqlite.InvalidArgument` for
a bad value and :class:`~mqlite.MqliteError` (code
``MQLITE_LISTENER_FAILED``) for a listener that cannot start: a
certificate or key that cannot be read, a socket path in a missing
directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional, Union

from . import _codes
from .errors import ArgumentTypeError, _invalid

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

#: The names ``tls_version`` takes (mosquitto's), and the C constants.
TLS_VERSIONS = {"tlsv1.2": 12, "tlsv1.3": 13}


def _type_name(value: Any) -> str:
    return type(value).__name__


def _check_path(value: Any, what: str, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, (str, bytes, os.PathLike)):
        allowed = "a str, bytes, os.PathLike or None" if optional else "a str, bytes or os.PathLike"
        raise ArgumentTypeError(f"{what} must be {allowed}, not {_type_name(value)}")


def _check_bool(value: Any, what: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{what} must be a bool{' or None' if optional else ''}, "
                                f"not {_type_name(value)}")


def _check_int(value: Any, what: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(f"{what} must be an int or None, not {_type_name(value)}")


def _check_str(value: Any, what: str) -> None:
    if value is not None and not isinstance(value, str):
        raise ArgumentTypeError(f"{what} must be a str or None, not {_type_name(value)}")


@dataclass(frozen=True)
class TLS:
    """TLS on a listener, from PEM files (mosquitto's ``certfile``,
    ``keyfile``, ``cafile``, ``capath``, ``require_certificate``,
    ``use_identity_as_username``, ``use_subject_as_username``,
    ``tls_version``).

    - ``certfile``: the server's certificate chain, its own certificate
      first; ``keyfile``: its private key (PKCS#8, PKCS#1 or SEC1; not
      encrypted). Both are read when the broker is made and again by
      :meth:`~mqlite.Broker.reload`.
    - ``cafile`` / ``capath``: CA certificates (a file, a directory of
      files) that client certificates are verified against; a client
      certificate is then verified when given, and required with
      ``require_certificate``.
    - ``use_identity_as_username``: the client certificate's Common Name
      is the client's user name (the CONNECT's user name and password are
      ignored; the password file is not asked). ``use_subject_as_username``:
      the whole subject (``CN=dev1,O=Acme``). Both need
      ``require_certificate``, and exclude each other.
    - ``tls_version``: the oldest version accepted, ``"tlsv1.2"`` (the
      default) or ``"tlsv1.3"``.
    """

    certfile: PathLike
    keyfile: PathLike
    cafile: Optional[PathLike] = None
    capath: Optional[PathLike] = None
    require_certificate: bool = False
    use_identity_as_username: bool = False
    use_subject_as_username: bool = False
    tls_version: str = "tlsv1.2"

    def __post_init__(self) -> None:
        _check_path(self.certfile, "certfile", optional=False)
        _check_path(self.keyfile, "keyfile", optional=False)
        _check_path(self.cafile, "cafile")
        _check_path(self.capath, "capath")
        _check_bool(self.require_certificate, "require_certificate")
        _check_bool(self.use_identity_as_username, "use_identity_as_username")
        _check_bool(self.use_subject_as_username, "use_subject_as_username")
        if not isinstance(self.tls_version, str):
            raise ArgumentTypeError(
                f"tls_version must be a str, not {_type_name(self.tls_version)}")


@dataclass(frozen=True)
class Listener:
    """One listener of a :class:`~mqlite.Broker`: where it listens, how
    clients speak to it, and the settings that differ from the broker-wide
    ones for its clients.

    Where: TCP with ``port`` (0 picks a free one; read it from
    :attr:`~mqlite.Broker.ports`) and ``host`` (an IP address or a host
    name, resolved when the broker is made; default ``"127.0.0.1"``),
    or a Unix domain socket with ``path`` (the file is made when the broker
    is, replacing a stale one, with ``mode`` (e.g. ``0o660``), ``owner``
    and ``group`` if given, and removed when the broker stops). ``path``
    excludes ``port`` and ``host``; ``mode``, ``owner`` and ``group`` are
    for a Unix socket only.

    How: ``tls=TLS(...)`` for MQTT over TLS (every client must speak TLS),
    ``websocket=True`` for MQTT over WebSocket (any path, subprotocol
    ``mqtt``); both for ``wss://``.

    Settings of its own (None: the broker-wide one): ``max_connections``
    (the broker-wide limit still bounds them all), ``allow_anonymous``
    (False by default when the listener has its own password file),
    ``password_file`` and ``acl_file`` (mosquitto's formats). Hooks set on
    the broker decide for every listener instead of the files; they see
    which listener a client came in on (``ConnectInfo.listener``,
    ``ClientInfo.listener``).
    """

    port: Optional[int] = None
    host: Optional[str] = None
    path: Optional[PathLike] = None
    tls: Optional[TLS] = None
    websocket: bool = False
    max_connections: Optional[int] = None
    allow_anonymous: Optional[bool] = None
    password_file: Optional[PathLike] = None
    acl_file: Optional[PathLike] = None
    mode: Optional[int] = None
    owner: Optional[str] = None
    group: Optional[str] = None

    def __post_init__(self) -> None:
        _check_int(self.port, "port")
        _check_str(self.host, "host")
        _check_path(self.path, "path")
        if self.tls is not None and not isinstance(self.tls, TLS):
            raise ArgumentTypeError(f"tls must be a TLS or None, not {_type_name(self.tls)}")
        _check_bool(self.websocket, "websocket")
        _check_int(self.max_connections, "max_connections")
        _check_bool(self.allow_anonymous, "allow_anonymous", optional=True)
        _check_path(self.password_file, "password_file")
        _check_path(self.acl_file, "acl_file")
        _check_int(self.mode, "mode")
        _check_str(self.owner, "owner")
        _check_str(self.group, "group")
        if self.path is not None:
            if self.port is not None or self.host is not None:
                raise _invalid("Listener", _codes.MQLITE_INVALID_ARGUMENT,
                               "a Listener listens on a TCP host/port or on a Unix socket "
                               "path, not both")
        else:
            if self.port is None:
                object.__setattr__(self, "port", 0)
            if self.host is None:
                object.__setattr__(self, "host", "127.0.0.1")
            unix_only = [name for name in ("mode", "owner", "group")
                         if getattr(self, name) is not None]
            if unix_only:
                raise _invalid("Listener", _codes.MQLITE_INVALID_ARGUMENT,
                               f"{', '.join(unix_only)}: only for a Unix socket listener "
                               "(path=...)")

    @property
    def is_unix(self) -> bool:
        """Whether it listens on a Unix socket."""
        return self.path is not None

    def describe(self) -> str:
        """What it is, as the library's logs and errors name it:
        ``mqtt://127.0.0.1:0``, ``mqtts://...``, ``ws://...``, ``wss://...``
        or ``unix:PATH`` (the port as given, 0 before the broker binds it)."""
        scheme = {(False, False): "mqtt", (False, True): "mqtts",
                  (True, False): "ws", (True, True): "wss"}[(self.websocket, self.tls is not None)]
        if self.path is not None:
            path = os.fsdecode(self.path)
            return f"unix:{path}" if scheme == "mqtt" else f"{scheme}+unix:{path}"
        host = self.host or "127.0.0.1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}"
