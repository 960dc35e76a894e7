"""The broker's options: checking the keywords and their values, and
building the C broker from them through an ``mqlite_config``."""

from __future__ import annotations

import ctypes
import os
from ctypes import byref, c_void_p
from typing import Any, Dict, List, Optional, Tuple, Union

from . import _args, _native
from .errors import _check

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
        raise TypeError(
            f"unknown broker option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_LIMITS))}"
        )
    for name, value in limits.items():
        setter, bounds = _LIMITS[name]
        if bounds is None:
            _args.c_bool(value, name)
        else:
            _args.c_int(value, name, setter, _native.MQLITE_INVALID_CONFIG, *bounds)


def _listener_addresses(host: Any, port: Any, listeners: Any) -> List[bytes]:
    """The listener addresses as C strings, checked."""
    function = "mqlite_config_add_listener"
    if listeners is None:
        if not isinstance(host, str):
            raise TypeError(f"host must be a str, not {type(host).__name__}")
        _args.c_int(port, "port", function, _native.MQLITE_INVALID_ADDRESS, 0, _args.U16_MAX)
        listeners = [_address(host, port)]
    elif isinstance(listeners, (str, bytes)) or not isinstance(listeners, (list, tuple)):
        raise TypeError(
            f"listeners must be a list of \"IP:PORT\" strings, not {type(listeners).__name__}"
        )
    return [_args.c_string(address, "listener address", function,
                           _native.MQLITE_INVALID_ADDRESS) for address in listeners]


def _new_broker(
    lib: Any,
    host: str,
    port: int,
    db: Union[str, "os.PathLike[str]", None],
    listeners: Optional[List[str]],
    limits: Dict[str, Any],
) -> Tuple[Optional[int], List[str]]:
    """Makes the C broker (``mqlite_broker_new``) from the options; returns
    its pointer and the listener addresses, in order."""
    addresses = _listener_addresses(host, port, listeners)
    path = None
    if db is not None:
        path = _args.c_path(db, "db", "mqlite_config_set_persistence_path")
    config = lib.mqlite_config_new()
    if not config:
        raise MemoryError("mqlite_config_new")
    try:
        for address in addresses:
            _check("mqlite_config_add_listener", lib.mqlite_config_add_listener(config, address))
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
    return broker.value, [address.decode("utf-8") for address in addresses]


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
