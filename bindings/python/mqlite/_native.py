"""Loading libmqlite and declaring its C API for ctypes.

Everything here mirrors include/mqlite.h; keep the two in step. Pointers
inside structs and callback arguments are declared ``c_void_p`` (not
``c_char_p``) because the strings the library lends are pointer + length and
NOT NUL-terminated: read them with :func:`view_bytes`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import List, Optional, Tuple

# The header's numbers, re-exported (``X as X``: for type checkers too).
from ._codes import (
    MQLITE_AUTH_ACCEPT_WITH_DATA as MQLITE_AUTH_ACCEPT_WITH_DATA,
    MQLITE_AUTH_CONTINUE as MQLITE_AUTH_CONTINUE,
    MQLITE_AUTH_REFUSE_REASON as MQLITE_AUTH_REFUSE_REASON,
    MQLITE_BIND_FAILED as MQLITE_BIND_FAILED,
    MQLITE_BUSY as MQLITE_BUSY,
    MQLITE_ERROR as MQLITE_ERROR,
    MQLITE_INVALID_ADDRESS as MQLITE_INVALID_ADDRESS,
    MQLITE_INVALID_ARGUMENT as MQLITE_INVALID_ARGUMENT,
    MQLITE_INVALID_CONFIG as MQLITE_INVALID_CONFIG,
    MQLITE_INVALID_TOPIC as MQLITE_INVALID_TOPIC,
    MQLITE_INVALID_UTF8 as MQLITE_INVALID_UTF8,
    MQLITE_LISTENER_FAILED as MQLITE_LISTENER_FAILED,
    MQLITE_NOT_FOUND as MQLITE_NOT_FOUND,
    MQLITE_OK as MQLITE_OK,
    MQLITE_ON_BROKER_THREAD as MQLITE_ON_BROKER_THREAD,
    MQLITE_STOPPED as MQLITE_STOPPED,
    MQLITE_TLS_VERSION_1_2 as MQLITE_TLS_VERSION_1_2,
    MQLITE_TLS_VERSION_1_3 as MQLITE_TLS_VERSION_1_3,
)
from .errors import MqliteError

LIB_NAME = "libmqlite.so"
# The name the package's build gives the library it ships (setup.py: the
# RustExtension ``mqlite._libmqlite``); the file name then ends with the
# interpreter's extension suffix (``.abi3.so``, ``.cpython-311-...so``,
# ``.pyd``), which ctypes loads like any shared library.
SHIPPED_STEM = "_libmqlite"
_LIBRARY_SUFFIXES = (".so", ".dylib", ".pyd", ".dll")


class LibraryNotFound(MqliteError, OSError):
    """libmqlite could not be loaded from any of the places tried.

    ``tried`` lists ``(place, reason)`` pairs, in the order they were tried.
    Both an :class:`~mqlite.MqliteError` (``code`` ``MQLITE_ERROR``) and an
    ``OSError``.
    """

    def __init__(self, tried: List[Tuple[str, str]]) -> None:
        self.tried = tried
        lines = "\n".join(f"  - {place}: {reason}" for place, reason in tried)
        message = (
            "cannot load the mqlite C library (libmqlite); tried:\n"
            f"{lines}\n"
            "`pip install` the package (its build compiles and ships the library), "
            "or build it with `cargo build --release` and set MQLITE_LIB to "
            "target/release/libmqlite.so, or install it (scripts/install.sh)."
        )
        OSError.__init__(self, message)
        self.function = ""
        self.code = MQLITE_ERROR
        self.text = "the C library cannot be loaded"
        self.detail = message


# --- C structs -------------------------------------------------------------


class ConnectInfoC(Structure):
    _fields_ = [
        ("client_id", c_void_p),
        ("client_id_len", c_size_t),
        ("username", c_void_p),
        ("username_len", c_size_t),
        ("password", c_void_p),
        ("password_len", c_size_t),
        ("peer", c_void_p),
        ("peer_len", c_size_t),
        ("token", c_uint64),
        ("protocol_level", c_uint8),
        ("clean_session", c_bool),
    ]


class ClientInfoC(Structure):
    _fields_ = [
        ("client_id", c_void_p),
        ("client_id_len", c_size_t),
        ("username", c_void_p),
        ("username_len", c_size_t),
        ("peer", c_void_p),
        ("peer_len", c_size_t),
    ]


class MessageC(Structure):
    _fields_ = [
        ("topic", c_void_p),
        ("topic_len", c_size_t),
        ("payload", c_void_p),
        ("payload_len", c_size_t),
        ("qos", c_uint8),
        ("retain", c_bool),
    ]


class EventC(Structure):
    _fields_ = [
        ("kind", c_uint32),
        ("client", ClientInfoC),
        ("protocol_level", c_uint8),
        ("clean_session", c_bool),
        ("session_present", c_bool),
        ("qos", c_uint8),
        ("reason", c_uint32),
        ("filter", c_void_p),
        ("filter_len", c_size_t),
    ]


STATS_FIELDS = (
    "connections",
    "connections_total",
    "connections_refused",
    "clients_connected",
    "sessions",
    "subscriptions",
    "retained_messages",
    "messages_received",
    "messages_sent",
    "messages_dropped",
    "bytes_received",
    "bytes_sent",
)


class StatsC(Structure):
    _fields_ = [(name, c_uint64) for name in STATS_FIELDS]


BRIDGE_STATS_FIELDS = ("connected", "connections", "sent", "received", "queued", "dropped")


class BridgeStatsC(Structure):
    _fields_ = [(name, c_uint64) for name in BRIDGE_STATS_FIELDS]


# The management API's entries (mqlite_client_entry, ...): uint64_t fields
# only, passed with their size, as mqlite_bridge_stats.
CLIENT_ENTRY_FIELDS = ("protocol_level", "listener", "connected_at_ms", "persistent",
                       "subscriptions", "queued", "inflight", "messages_sent",
                       "messages_dropped")
SESSION_ENTRY_FIELDS = ("connected", "persistent", "expiry_interval", "expires_in_ms",
                        "subscriptions", "queued", "inflight")
SUBSCRIPTION_ENTRY_FIELDS = ("qos", "no_local", "retain_as_published", "identifier")


class ClientEntryC(Structure):
    _fields_ = [(name, c_uint64) for name in CLIENT_ENTRY_FIELDS]


class SessionEntryC(Structure):
    _fields_ = [(name, c_uint64) for name in SESSION_ENTRY_FIELDS]


class SubscriptionEntryC(Structure):
    _fields_ = [(name, c_uint64) for name in SUBSCRIPTION_ENTRY_FIELDS]


# --- callback types ----------------------------------------------------------

AUTH_CALLBACK = CFUNCTYPE(c_uint32, c_void_p, POINTER(ConnectInfoC))
ACL_CALLBACK = CFUNCTYPE(c_bool, c_void_p, POINTER(ClientInfoC), c_uint32, c_void_p, c_size_t)
MESSAGE_CALLBACK = CFUNCTYPE(c_uint32, c_void_p, POINTER(ClientInfoC), POINTER(MessageC), c_void_p)
EVENT_CALLBACK = CFUNCTYPE(None, c_void_p, POINTER(EventC))
LOCAL_CALLBACK = CFUNCTYPE(None, c_void_p, POINTER(MessageC))
LOG_CALLBACK = CFUNCTYPE(None, c_void_p, c_uint32, c_void_p, c_size_t, c_void_p, c_size_t)

# --- constants (the header's #defines) ---------------------------------------

# name, argtypes, restype
_R = c_uint32  # mqlite_result
_P = c_void_p  # opaque pointers
_SIGNATURES = [
    ("mqlite_result_text", [c_uint32], c_char_p),
    ("mqlite_version", [], c_char_p),
    ("mqlite_last_error_text", [c_char_p, c_size_t], c_size_t),
    ("mqlite_message_rewrite_set",
     [_P, c_void_p, c_size_t, c_void_p, c_size_t, c_uint8, c_bool], _R),
    ("mqlite_config_new", [], _P),
    ("mqlite_config_free", [_P], None),
    ("mqlite_config_add_listener", [_P, c_char_p], _R),
    ("mqlite_config_set_max_connections", [_P, c_size_t], _R),
    ("mqlite_config_set_max_packet_size", [_P, c_size_t], _R),
    ("mqlite_config_set_max_inflight", [_P, c_uint16], _R),
    ("mqlite_config_set_max_queued_messages", [_P, c_size_t], _R),
    ("mqlite_config_set_max_queued_bytes", [_P, c_size_t], _R),
    ("mqlite_config_set_max_pending_output", [_P, c_size_t], _R),
    ("mqlite_config_set_connect_timeout_ms", [_P, c_uint64], _R),
    ("mqlite_config_set_auth_timeout_ms", [_P, c_uint64], _R),
    ("mqlite_config_set_session_expiry_s", [_P, c_int64], _R),
    ("mqlite_config_set_sys_interval_s", [_P, c_uint64], _R),
    ("mqlite_config_set_allow_zero_length_client_id", [_P, c_bool], _R),
    ("mqlite_config_set_persistence_path", [_P, c_char_p], _R),
    ("mqlite_broker_new", [_P, POINTER(c_void_p)], _R),
    ("mqlite_broker_free", [_P], None),
    ("mqlite_broker_local_port", [_P, c_size_t, POINTER(c_uint16)], _R),
    ("mqlite_broker_run", [_P], _R),
    ("mqlite_broker_run_once", [_P, c_int64, POINTER(c_bool)], _R),
    ("mqlite_broker_fd", [_P, POINTER(c_int)], _R),
    ("mqlite_broker_next_deadline_ms", [_P, POINTER(c_int64)], _R),
    ("mqlite_broker_handle", [_P, POINTER(c_void_p)], _R),
    ("mqlite_broker_set_auth_callback", [_P, AUTH_CALLBACK, c_void_p], _R),
    ("mqlite_broker_set_acl_callback", [_P, ACL_CALLBACK, c_void_p], _R),
    ("mqlite_broker_set_message_callback", [_P, MESSAGE_CALLBACK, c_void_p], _R),
    ("mqlite_broker_set_event_callback", [_P, EVENT_CALLBACK, c_void_p], _R),
    ("mqlite_broker_subscribe_local",
     [_P, c_char_p, c_uint8, LOCAL_CALLBACK, c_void_p, POINTER(c_uint64)], _R),
    ("mqlite_broker_unsubscribe_local", [_P, c_uint64], _R),
    ("mqlite_broker_stats", [_P, POINTER(StatsC)], _R),
    ("mqlite_broker_publish", [_P, c_char_p, c_char_p, c_size_t, c_uint8, c_bool], _R),
    ("mqlite_handle_free", [_P], None),
    ("mqlite_handle_publish", [_P, c_char_p, c_char_p, c_size_t, c_uint8, c_bool], _R),
    ("mqlite_handle_subscribe_local",
     [_P, c_char_p, c_uint8, LOCAL_CALLBACK, c_void_p, POINTER(c_uint64)], _R),
    ("mqlite_handle_unsubscribe_local", [_P, c_uint64], _R),
    ("mqlite_handle_complete_auth", [_P, c_uint64, c_uint32], _R),
    ("mqlite_handle_kick", [_P, c_char_p], _R),
    ("mqlite_handle_stats", [_P, c_uint64, POINTER(StatsC)], _R),
    ("mqlite_handle_stop", [_P], _R),
    ("mqlite_handle_is_stopped", [_P], c_bool),
    ("mqlite_set_log_callback", [LOG_CALLBACK, c_void_p, c_uint32], _R),
    # MQTT 5: the properties of a message to publish.
    ("mqlite_properties_new", [], _P),
    ("mqlite_properties_free", [_P], None),
    ("mqlite_properties_set_payload_format", [_P, c_uint8], _R),
    ("mqlite_properties_set_message_expiry_interval", [_P, c_int64], _R),
    ("mqlite_properties_set_content_type", [_P, c_char_p], _R),
    ("mqlite_properties_set_response_topic", [_P, c_char_p], _R),
    ("mqlite_properties_set_correlation_data", [_P, c_char_p, c_size_t], _R),
    ("mqlite_properties_add_user_property", [_P, c_char_p, c_char_p], _R),
    ("mqlite_handle_publish_with",
     [_P, c_char_p, c_char_p, c_size_t, c_uint8, c_bool, _P], _R),
    ("mqlite_message_rewrite_set_with",
     [_P, c_void_p, c_size_t, c_void_p, c_size_t, c_uint8, c_bool, _P], _R),
    # MQTT 5: a lent message's properties.
    ("mqlite_message_payload_format", [POINTER(MessageC), POINTER(c_uint8)], _R),
    ("mqlite_message_expiry_interval", [POINTER(MessageC), POINTER(c_int64)], _R),
    ("mqlite_message_content_type",
     [POINTER(MessageC), POINTER(c_void_p), POINTER(c_size_t)], _R),
    ("mqlite_message_response_topic",
     [POINTER(MessageC), POINTER(c_void_p), POINTER(c_size_t)], _R),
    ("mqlite_message_correlation_data",
     [POINTER(MessageC), POINTER(c_void_p), POINTER(c_size_t)], _R),
    ("mqlite_message_user_property_count", [POINTER(MessageC), POINTER(c_size_t)], _R),
    ("mqlite_message_user_property",
     [POINTER(MessageC), c_size_t, POINTER(c_void_p), POINTER(c_size_t), POINTER(c_void_p),
      POINTER(c_size_t)], _R),
    # MQTT 5: enhanced authentication and CONNECT properties.
    ("mqlite_connect_info_authentication_method",
     [POINTER(ConnectInfoC), POINTER(c_void_p), POINTER(c_size_t)], _R),
    ("mqlite_connect_info_authentication_data",
     [POINTER(ConnectInfoC), POINTER(c_void_p), POINTER(c_size_t)], _R),
    ("mqlite_connect_info_auth_step", [POINTER(ConnectInfoC), POINTER(c_uint32)], _R),
    ("mqlite_connect_info_reauthentication", [POINTER(ConnectInfoC), POINTER(c_bool)], _R),
    ("mqlite_connect_info_user_property_count",
     [POINTER(ConnectInfoC), POINTER(c_size_t)], _R),
    ("mqlite_connect_info_user_property",
     [POINTER(ConnectInfoC), c_size_t, POINTER(c_void_p), POINTER(c_size_t),
      POINTER(c_void_p), POINTER(c_size_t)], _R),
    ("mqlite_connect_info_set_reply_data", [POINTER(ConnectInfoC), c_char_p, c_size_t], _R),
    ("mqlite_handle_complete_auth_with_data", [_P, c_uint64, c_uint32, c_char_p, c_size_t], _R),
    # Listeners with their own transport and settings.
    ("mqlite_listener_new_tcp", [c_char_p, POINTER(c_void_p)], _R),
    ("mqlite_listener_new_unix", [c_char_p, POINTER(c_void_p)], _R),
    ("mqlite_listener_free", [_P], None),
    ("mqlite_listener_set_tls", [_P, c_char_p, c_char_p], _R),
    ("mqlite_listener_set_tls_ca_file", [_P, c_char_p], _R),
    ("mqlite_listener_set_tls_ca_path", [_P, c_char_p], _R),
    ("mqlite_listener_set_tls_require_certificate", [_P, c_bool], _R),
    ("mqlite_listener_set_tls_use_identity_as_username", [_P, c_bool], _R),
    ("mqlite_listener_set_tls_use_subject_as_username", [_P, c_bool], _R),
    ("mqlite_listener_set_tls_min_version", [_P, c_uint32], _R),
    ("mqlite_listener_set_websocket", [_P, c_bool], _R),
    ("mqlite_listener_set_unix_mode", [_P, c_int32], _R),
    ("mqlite_listener_set_unix_owner", [_P, c_char_p], _R),
    ("mqlite_listener_set_unix_group", [_P, c_char_p], _R),
    ("mqlite_listener_set_max_connections", [_P, c_size_t], _R),
    ("mqlite_listener_set_allow_anonymous", [_P, c_int32], _R),
    ("mqlite_listener_set_password_file", [_P, c_char_p], _R),
    ("mqlite_listener_set_acl_file", [_P, c_char_p], _R),
    ("mqlite_config_add_custom_listener", [_P, _P], _R),
    ("mqlite_broker_custom_port", [_P, c_size_t, POINTER(c_uint16)], _R),
    ("mqlite_broker_reload", [_P], _R),
    ("mqlite_handle_reload", [_P, c_uint64], _R),
    ("mqlite_connect_info_listener", [POINTER(ConnectInfoC), POINTER(c_size_t)], _R),
    ("mqlite_client_info_listener", [POINTER(ClientInfoC), POINTER(c_size_t)], _R),
    ("mqlite_connect_info_certificate_subject",
     [POINTER(ConnectInfoC), POINTER(c_void_p), POINTER(c_size_t)], _R),
    ("mqlite_connect_info_certificate_common_name",
     [POINTER(ConnectInfoC), POINTER(c_void_p), POINTER(c_size_t)], _R),
    # Bridges to upstream brokers.
    ("mqlite_bridge_new", [c_char_p, c_char_p, POINTER(c_void_p)], _R),
    ("mqlite_bridge_free", [_P], None),
    ("mqlite_bridge_add_address", [_P, c_char_p], _R),
    ("mqlite_bridge_add_topic", [_P, c_char_p, c_uint32, c_uint8, c_char_p, c_char_p], _R),
    ("mqlite_bridge_set_round_robin", [_P, c_bool], _R),
    ("mqlite_bridge_set_clean_session", [_P, c_bool], _R),
    ("mqlite_bridge_set_local_clean_session", [_P, c_int32], _R),
    ("mqlite_bridge_set_remote_client_id", [_P, c_char_p], _R),
    ("mqlite_bridge_set_remote_credentials", [_P, c_char_p, c_char_p], _R),
    ("mqlite_bridge_set_keepalive_s", [_P, c_uint16], _R),
    ("mqlite_bridge_set_restart_timeout_s", [_P, c_uint32, c_int64], _R),
    ("mqlite_bridge_set_start_once", [_P, c_bool], _R),
    ("mqlite_bridge_set_start_lazy", [_P, c_uint64, c_uint32], _R),
    ("mqlite_bridge_set_try_private", [_P, c_bool], _R),
    ("mqlite_bridge_set_notifications", [_P, c_bool], _R),
    ("mqlite_bridge_set_notification_topic", [_P, c_char_p], _R),
    ("mqlite_bridge_set_protocol_version", [_P, c_uint8], _R),
    ("mqlite_bridge_set_tls", [_P, c_char_p, c_char_p, c_char_p, c_char_p, c_bool], _R),
    ("mqlite_config_add_bridge", [_P, _P], _R),
    ("mqlite_broker_add_bridge", [_P, _P], _R),
    ("mqlite_broker_remove_bridge", [_P, c_char_p, POINTER(c_bool)], _R),
    ("mqlite_broker_bridge_stats", [_P, POINTER(c_void_p)], _R),
    ("mqlite_handle_add_bridge", [_P, _P, c_uint64], _R),
    ("mqlite_handle_remove_bridge", [_P, c_char_p, c_uint64, POINTER(c_bool)], _R),
    ("mqlite_handle_bridge_stats", [_P, c_uint64, POINTER(c_void_p)], _R),
    ("mqlite_bridge_stats_size", [], c_size_t),
    ("mqlite_bridge_stats_list_free", [_P], None),
    ("mqlite_bridge_stats_list_count", [_P, POINTER(c_size_t)], _R),
    ("mqlite_bridge_stats_list_name", [_P, c_size_t, POINTER(c_void_p), POINTER(c_size_t)], _R),
    ("mqlite_bridge_stats_list_get", [_P, c_size_t, POINTER(BridgeStatsC), c_size_t], _R),
    # The MQTT-SN gateway.
    ("mqlite_config_set_mqttsn", [_P, c_char_p], _R),
    ("mqlite_config_add_mqttsn_address", [_P, c_char_p], _R),
    ("mqlite_config_set_mqttsn_gateway_id", [_P, c_uint8], _R),
    ("mqlite_config_set_mqttsn_advertise_interval_s", [_P, c_uint32], _R),
    ("mqlite_config_add_mqttsn_advertise_to", [_P, c_char_p], _R),
    ("mqlite_config_add_mqttsn_predefined_topic", [_P, c_uint16, c_char_p], _R),
    ("mqlite_config_set_mqttsn_credentials", [_P, c_char_p, c_char_p], _R),
    ("mqlite_config_set_mqttsn_retry", [_P, c_uint64, c_uint32], _R),
    ("mqlite_config_set_mqttsn_max_registered_topics", [_P, c_size_t], _R),
    ("mqlite_config_set_mqttsn_max_clients", [_P, c_size_t], _R),
    ("mqlite_broker_mqttsn_port", [_P, c_size_t, POINTER(c_uint16)], _R),
    # The management API.
    ("mqlite_event_queue_overflow", [POINTER(EventC), POINTER(c_uint64), POINTER(c_size_t)], _R),
    ("mqlite_broker_clients", [_P, POINTER(c_void_p)], _R),
    ("mqlite_handle_clients", [_P, c_uint64, POINTER(c_void_p)], _R),
    ("mqlite_broker_sessions", [_P, POINTER(c_void_p)], _R),
    ("mqlite_handle_sessions", [_P, c_uint64, POINTER(c_void_p)], _R),
    ("mqlite_broker_session_subscriptions", [_P, c_char_p, POINTER(c_void_p)], _R),
    ("mqlite_handle_session_subscriptions", [_P, c_char_p, c_uint64, POINTER(c_void_p)], _R),
    ("mqlite_broker_retained", [_P, c_char_p, POINTER(c_void_p)], _R),
    ("mqlite_handle_retained", [_P, c_char_p, c_uint64, POINTER(c_void_p)], _R),
    ("mqlite_broker_delete_session", [_P, c_char_p, POINTER(c_bool)], _R),
    ("mqlite_handle_delete_session", [_P, c_char_p, c_uint64, POINTER(c_bool)], _R),
    ("mqlite_broker_delete_retained", [_P, c_char_p, POINTER(c_bool)], _R),
    ("mqlite_handle_delete_retained", [_P, c_char_p, c_uint64, POINTER(c_bool)], _R),
    ("mqlite_client_list_free", [_P], None),
    ("mqlite_client_list_count", [_P, POINTER(c_size_t)], _R),
    ("mqlite_client_list_id", [_P, c_size_t, POINTER(c_void_p), POINTER(c_size_t)], _R),
    ("mqlite_client_list_username", [_P, c_size_t, POINTER(c_void_p), POINTER(c_size_t)], _R),
    ("mqlite_client_list_peer", [_P, c_size_t, POINTER(c_void_p), POINTER(c_size_t)], _R),
    ("mqlite_client_list_get", [_P, c_size_t, POINTER(ClientEntryC), c_size_t], _R),
    ("mqlite_session_list_free", [_P], None),
    ("mqlite_session_list_count", [_P, POINTER(c_size_t)], _R),
    ("mqlite_session_list_id", [_P, c_size_t, POINTER(c_void_p), POINTER(c_size_t)], _R),
    ("mqlite_session_list_username", [_P, c_size_t, POINTER(c_void_p), POINTER(c_size_t)], _R),
    ("mqlite_session_list_get", [_P, c_size_t, POINTER(SessionEntryC), c_size_t], _R),
    ("mqlite_subscription_list_free", [_P], None),
    ("mqlite_subscription_list_count", [_P, POINTER(c_size_t)], _R),
    ("mqlite_subscription_list_filter", [_P, c_size_t, POINTER(c_void_p), POINTER(c_size_t)],
     _R),
    ("mqlite_subscription_list_get", [_P, c_size_t, POINTER(SubscriptionEntryC), c_size_t], _R),
    ("mqlite_retained_list_free", [_P], None),
    ("mqlite_retained_list_count", [_P, POINTER(c_size_t)], _R),
    ("mqlite_retained_list_get", [_P, c_size_t, POINTER(POINTER(MessageC))], _R),
]


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    for name, argtypes, restype in _SIGNATURES:
        function = getattr(lib, name)  # AttributeError: not an mqlite library
        function.argtypes = argtypes
        function.restype = restype
    return lib


def _shipped() -> List[str]:
    """The libraries the package's build placed next to this file."""
    here = os.path.dirname(os.path.abspath(__file__))
    found = sorted(path for path in glob.glob(os.path.join(here, SHIPPED_STEM + ".*"))
                   if path.endswith(_LIBRARY_SUFFIXES))
    return found + [os.path.join(here, LIB_NAME)]


def _candidates() -> List[Tuple[str, str]]:
    """(place description, path or name to load), in search order."""
    explicit = os.environ.get("MQLITE_LIB")
    if explicit:
        return [(f"MQLITE_LIB={explicit}", explicit)]
    places = [(f"next to the package: {path}", path) for path in _shipped()]
    found = ctypes.util.find_library("mqlite")
    if found:
        places.append((f"system library path (find_library): {found}", found))
    else:
        places.append(("system library path (find_library('mqlite'))", ""))
    places.append((f"system library path (dlopen {LIB_NAME!r})", LIB_NAME))
    return places


_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None


def load() -> ctypes.CDLL:
    """The loaded library (loaded on first use)."""
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried: List[Tuple[str, str]] = []
        for place, target in _candidates():
            if not target:
                tried.append((place, "not found"))
                continue
            if os.sep in target and not os.path.exists(target):
                tried.append((place, "no such file"))
                continue
            try:
                lib = ctypes.CDLL(target)
            except OSError as error:
                tried.append((place, str(error)))
                continue
            try:
                _lib = _declare(lib)
            except AttributeError as error:
                tried.append((place, f"not the mqlite library ({error})"))
                continue
            return _lib
        raise LibraryNotFound(tried)


def view_bytes(pointer: Optional[int], length: int) -> bytes:
    """Copies ``length`` bytes lent by the library (b"" for none)."""
    if not pointer or length == 0:
        return b""
    return ctypes.string_at(pointer, length)


def view_str(pointer: Optional[int], length: int) -> str:
    """Copies a UTF-8 string lent by the library."""
    return view_bytes(pointer, length).decode("utf-8", errors="replace")


def view_optional_str(pointer: Optional[int], length: int) -> Optional[str]:
    """Like :func:`view_str`, but None for a NULL pointer."""
    if not pointer:
        return None
    return view_str(pointer, length)


def made(out: c_void_p, function: str) -> int:
    """The object a successful ``function`` wrote to ``out``.

    Raises:
        MqliteError: it wrote NULL (``MQLITE_ERROR``): a library that
            broke its own contract, refused here rather than passed on as
            a NULL pointer.
    """
    if out.value is None:
        raise MqliteError(function, MQLITE_ERROR, "error",
                          "returned MQLITE_OK without the object it makes")
    return out.value
