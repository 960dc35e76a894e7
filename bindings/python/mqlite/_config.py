"""The broker's options: checking the keywords, and building the C broker
from them through an ``mqlite_config``."""

from __future__ import annotations

import os
from ctypes import byref, c_void_p
from typing import Any, Dict, List, Optional, Tuple, Union

from .errors import _check

# Broker options: keyword -> (C setter, converter).
_LIMITS: Dict[str, str] = {
    "max_connections": "mqlite_config_set_max_connections",
    "max_packet_size": "mqlite_config_set_max_packet_size",
    "max_inflight": "mqlite_config_set_max_inflight",
    "max_queued_messages": "mqlite_config_set_max_queued_messages",
    "max_queued_bytes": "mqlite_config_set_max_queued_bytes",
    "max_pending_output": "mqlite_config_set_max_pending_output",
    "connect_timeout_ms": "mqlite_config_set_connect_timeout_ms",
    "auth_timeout_ms": "mqlite_config_set_auth_timeout_ms",
    "session_expiry_s": "mqlite_config_set_session_expiry_s",
    "sys_interval_s": "mqlite_config_set_sys_interval_s",
    "allow_zero_length_client_id": "mqlite_config_set_allow_zero_length_client_id",
}


def _check_limits(limits: Dict[str, Any]) -> None:
    """Raises TypeError for a keyword that is not a known option."""
    unknown = sorted(set(limits) - set(_LIMITS))
    if unknown:
        raise TypeError(
            f"unknown broker option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_LIMITS))}"
        )


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
    config = lib.mqlite_config_new()
    if not config:
        raise MemoryError("mqlite_config_new")
    try:
        addresses = listeners if listeners is not None else [_address(host, port)]
        for address in addresses:
            _check("mqlite_config_add_listener",
                   lib.mqlite_config_add_listener(config, address.encode("utf-8")))
        for name, value in limits.items():
            setter = _LIMITS[name]
            _check(setter, getattr(lib, setter)(config, value))
        if db is not None:
            _check("mqlite_config_set_persistence_path",
                   lib.mqlite_config_set_persistence_path(config, os.fsencode(db)))
        broker = c_void_p()
        _check("mqlite_broker_new", lib.mqlite_broker_new(config, byref(broker)))
    finally:
        lib.mqlite_config_free(config)
    return broker.value, addresses


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
