"""The broker's options: checking the keywords and their values, and
building the C broker from them through an ``mqlite_config``."""

from __future__ import annotations

import ctypes
import os
from ctypes import byref, c_void_p
from typing import Any, Dict, List, Optional, Tuple, Union

from . import _args, _hosts, _native
from .errors import ArgumentTypeError, _check, _invalid
from .bridges import Bridge, _add_to_config
from .listeners import TLS_VERSIONS, Listener
from .mqttsn import MqttSnGateway
from .mqttsn import _add_to_config as _add_gateway_to_config

_address = _hosts.address

_SIZE_MAX = (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1

# Broker options: keyword -> (C setter, the C parameter's range; None: a bool).
_LIMITS: Dict[str, Tuple[str, Optional[Tuple[int, int]]]] = {
    "max_connections": ("mqlite_config_set_max_connections", (0, _SIZE_MAX)),
    "max_packet_size": ("mqlite_config_set_max_packet_size", (0, _SIZE_MAX)),
    "max_inflight": ("mqlite_config_set_max_inflight", (0, _args.U16_MAX)),
    "max_queued_messages": ("mqlite_config_set_max_queued_messages", (0, _SIZE_MAX)),
    "max_queued_bytes": ("mqlite_config_set_max_queued_bytes", (0, _SIZE_MAX)),
    "max_pending_output": ("mqlite_config_set_max_pending_output", (0, _SIZE_MAX)),
    "connect_timeout_ms": ("mqlite_config_set_connect_timeout_ms", (0, _args.U64_MAX)),
    "auth_timeout_ms": ("mqlite_config_set_auth_timeout_ms", (0, _args.U64_MAX)),
    "session_expiry_s": ("mqlite_config_set_session_expiry_s", (_args.I64_MIN, _args.I64_MAX)),
    "sys_interval_s": ("mqlite_config_set_sys_interval_s", (0, _args.U64_MAX)),
    "allow_zero_length_client_id": ("mqlite_config_set_allow_zero_length_client_id", None),
}


def _check_limits(limits: Dict[str, Any]) -> None:
    """Raises TypeError for a keyword that is not a known option or a value
    of the wrong type, InvalidArgument for a value outside its C type."""
    unknown = sorted(set(limits) - set(_LIMITS))
    if unknown:
        raise ArgumentTypeError(
            f"unknown broker option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_LIMITS))}"
        )
    for name, value in limits.items():
        setter, bounds = _LIMITS[name]
        if bounds is None:
            _args.c_bool(value, name)
        else:
            _args.c_int(value, name, setter, _native.MQLITE_INVALID_CONFIG, *bounds)


# A listener as the C calls take it: ("plain", b"IP:PORT") for
# mqlite_config_add_listener, ("custom", Listener) for
# mqlite_config_add_custom_listener.
_Spec = Tuple[str, Any]


def _listener_specs(host: Any, port: Any, listeners: Any) -> List[_Spec]:
    """The listeners, in the order given, checked."""
    function = "mqlite_config_add_listener"
    if listeners is None:
        _args.c_string(host, "host", function, _native.MQLITE_INVALID_ADDRESS)
        _args.c_int(port, "port", function, _native.MQLITE_INVALID_ADDRESS, 0, _args.U16_MAX)
        listeners = [_address(_hosts.resolve(host, function), port)]
    elif isinstance(listeners, (str, bytes)) or not isinstance(listeners, (list, tuple)):
        raise ArgumentTypeError(
            "listeners must be a list of \"HOST:PORT\" strings and Listener objects, "
            f"not {type(listeners).__name__}"
        )
    specs: List[_Spec] = []
    for listener in listeners:
        if isinstance(listener, Listener):
            _check_listener(listener)
            specs.append(("custom", listener))
        elif isinstance(listener, str):
            _args.c_string(listener, "listener address", function,
                           _native.MQLITE_INVALID_ADDRESS)
            specs.append(("plain", _hosts.resolve_listener(listener, function).encode("utf-8")))
        else:
            raise ArgumentTypeError("a listener must be a \"HOST:PORT\" str or a Listener, not "
                                    f"{type(listener).__name__}")
    if not specs:
        raise _invalid("mqlite_broker_new", _native.MQLITE_INVALID_CONFIG,
                       "listeners: at least one listener is needed")
    return specs


def _check_listener(listener: Listener) -> None:
    """The values of a Listener that C would wrap or cut short."""
    invalid = _native.MQLITE_INVALID_ARGUMENT
    if listener.path is None:
        function = "mqlite_listener_new_tcp"
        _args.c_string(listener.host, "host", function, _native.MQLITE_INVALID_ADDRESS)
        _args.c_int(listener.port, "port", function, _native.MQLITE_INVALID_ADDRESS, 0,
                    _args.U16_MAX)
    else:
        _args.c_path(listener.path, "path", "mqlite_listener_new_unix")
    if listener.mode is not None:
        _args.c_int(listener.mode, "mode", "mqlite_listener_set_unix_mode", invalid, 0, 0o7777)
    for name in ("owner", "group"):
        value = getattr(listener, name)
        if value is not None:
            _args.c_string(value, name, f"mqlite_listener_set_unix_{name}", invalid)
    if listener.max_connections is not None:
        _args.c_int(listener.max_connections, "max_connections",
                    "mqlite_listener_set_max_connections", _native.MQLITE_INVALID_CONFIG, 1,
                    _SIZE_MAX)
    for name in ("password_file", "acl_file"):
        value = getattr(listener, name)
        if value is not None:
            _args.c_path(value, name, f"mqlite_listener_set_{name}")
    tls = listener.tls
    if tls is not None:
        _args.c_path(tls.certfile, "certfile", "mqlite_listener_set_tls")
        _args.c_path(tls.keyfile, "keyfile", "mqlite_listener_set_tls")
        for name in ("cafile", "capath"):
            value = getattr(tls, name)
            if value is not None:
                _args.c_path(value, name, f"mqlite_listener_set_tls_ca_{name[2:]}")
        if tls.tls_version not in TLS_VERSIONS:
            raise _invalid("mqlite_listener_set_tls_min_version", invalid,
                           f"tls_version {tls.tls_version!r} is not one of "
                           f"{', '.join(sorted(TLS_VERSIONS))}")


def _optional_path(value: Any, what: str, function: str) -> Optional[bytes]:
    return None if value is None else _args.c_path(value, what, function)


def _c_listener(lib: Any, listener: Listener) -> int:
    """A new ``mqlite_listener`` made from ``listener`` (checked); the
    caller frees it."""
    made = c_void_p()
    if listener.path is None:
        function = "mqlite_listener_new_tcp"
        host = _hosts.resolve("127.0.0.1" if listener.host is None else listener.host,
                              function)
        address = _address(host, listener.port or 0).encode("utf-8")
        _check("mqlite_listener_new_tcp", lib.mqlite_listener_new_tcp(address, byref(made)))
    else:
        path = _args.c_path(listener.path, "path", "mqlite_listener_new_unix")
        _check("mqlite_listener_new_unix", lib.mqlite_listener_new_unix(path, byref(made)))
    pointer = _native.made(made, "mqlite_listener_new")
    try:
        calls: List[Tuple[str, Tuple[Any, ...]]] = [
            ("mqlite_listener_set_websocket", (listener.websocket,)),
            ("mqlite_listener_set_max_connections", (listener.max_connections or 0,)),
            ("mqlite_listener_set_allow_anonymous",
             (-1 if listener.allow_anonymous is None else int(listener.allow_anonymous),)),
            ("mqlite_listener_set_password_file",
             (_optional_path(listener.password_file, "password_file",
                             "mqlite_listener_set_password_file"),)),
            ("mqlite_listener_set_acl_file",
             (_optional_path(listener.acl_file, "acl_file", "mqlite_listener_set_acl_file"),)),
        ]
        if listener.path is not None:
            calls += [
                ("mqlite_listener_set_unix_mode",
                 (-1 if listener.mode is None else listener.mode,)),
                ("mqlite_listener_set_unix_owner",
                 (None if listener.owner is None else listener.owner.encode("utf-8"),)),
                ("mqlite_listener_set_unix_group",
                 (None if listener.group is None else listener.group.encode("utf-8"),)),
            ]
        tls = listener.tls
        if tls is not None:
            calls += [
                ("mqlite_listener_set_tls",
                 (_args.c_path(tls.certfile, "certfile", "mqlite_listener_set_tls"),
                  _args.c_path(tls.keyfile, "keyfile", "mqlite_listener_set_tls"))),
                ("mqlite_listener_set_tls_ca_file",
                 (_optional_path(tls.cafile, "cafile", "mqlite_listener_set_tls_ca_file"),)),
                ("mqlite_listener_set_tls_ca_path",
                 (_optional_path(tls.capath, "capath", "mqlite_listener_set_tls_ca_path"),)),
                ("mqlite_listener_set_tls_require_certificate", (tls.require_certificate,)),
                ("mqlite_listener_set_tls_use_identity_as_username",
                 (tls.use_identity_as_username,)),
                ("mqlite_listener_set_tls_use_subject_as_username",
                 (tls.use_subject_as_username,)),
                ("mqlite_listener_set_tls_min_version", (TLS_VERSIONS[tls.tls_version],)),
            ]
        for setter, args in calls:
            _check(setter, getattr(lib, setter)(pointer, *args))
    except BaseException:
        lib.mqlite_listener_free(pointer)
        raise
    return pointer


def _new_broker(
    lib: Any,
    host: str,
    port: int,
    db: Union[str, "os.PathLike[str]", None],
    listeners: Optional[List[Any]],
    limits: Dict[str, Any],
    bridges: List[Bridge],
    mqttsn: Optional[MqttSnGateway] = None,
) -> Tuple[Optional[int], List[_Spec]]:
    """Makes the C broker (``mqlite_broker_new``) from the options; returns
    its pointer and the listeners, in the order given."""
    specs = _listener_specs(host, port, listeners)
    path = None
    if db is not None:
        path = _args.c_path(db, "db", "mqlite_config_set_persistence_path")
    config = lib.mqlite_config_new()
    if not config:
        raise MemoryError("mqlite_config_new")
    try:
        for kind, value in specs:
            if kind == "plain":
                _check("mqlite_config_add_listener", lib.mqlite_config_add_listener(config, value))
                continue
            listener = _c_listener(lib, value)
            try:
                _check("mqlite_config_add_custom_listener",
                       lib.mqlite_config_add_custom_listener(config, listener))
            finally:
                lib.mqlite_listener_free(listener)
        _add_to_config(lib, config, bridges)
        _add_gateway_to_config(lib, config, mqttsn)
        for name, value in limits.items():
            setter = _LIMITS[name][0]
            _check(setter, getattr(lib, setter)(config, value))
        if path is not None:
            _check("mqlite_config_set_persistence_path",
                   lib.mqlite_config_set_persistence_path(config, path))
        broker = c_void_p()
        _check("mqlite_broker_new", lib.mqlite_broker_new(config, byref(broker)))
    finally:
        lib.mqlite_config_free(config)
    return broker.value, specs
