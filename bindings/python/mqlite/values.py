"""The values mqlite's hooks see and return: the ``MQLITE_*`` enumerations,
:class:`Message`, :class:`ClientInfo`, :class:`ConnectInfo`, :class:`Event`
and :class:`Stats`, and their conversions from and to the C views."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional, Union

from . import _args, _native
from ._native import view_bytes, view_optional_str, view_str

Payload = Union[bytes, bytearray, memoryview, str]


class AuthDecision(enum.IntEnum):
    """The answer of an ``on_auth`` hook (``MQLITE_AUTH_*``)."""

    ACCEPT = 0
    BAD_CREDENTIALS = 1
    NOT_AUTHORIZED = 2
    PENDING = 3


class AclAccess(enum.IntEnum):
    """What a client asks to do, for ``on_acl`` (``MQLITE_ACL_*``)."""

    PUBLISH = 1
    SUBSCRIBE = 2
    RECEIVE = 3


class MessageDecision(enum.IntEnum):
    """The answer of an ``on_message`` hook (``MQLITE_MESSAGE_*``); return a
    :class:`Message` to rewrite."""

    PASS = 0
    DROP = 1
    REWRITE = 2


class EventKind(enum.IntEnum):
    """What an :class:`Event` reports (``MQLITE_EVENT_*``)."""

    CONNECTED = 1
    DISCONNECTED = 2
    SUBSCRIBED = 3
    UNSUBSCRIBED = 4


class CloseReason(enum.IntEnum):
    """Why a connection ended (``MQLITE_CLOSE_*``)."""

    NONE = 0
    DISCONNECT = 1
    KEEPALIVE_TIMEOUT = 2
    CONNECT_TIMEOUT = 3
    PROTOCOL_ERROR = 4
    TAKEOVER = 5
    NETWORK = 6
    REFUSED = 7
    KICKED = 8
    SHUTDOWN = 9
    OTHER = 255


@dataclass(frozen=True)
class Message:
    """An application message. Returned from ``on_message`` it replaces the
    message the hook was given."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


@dataclass(frozen=True)
class ClientInfo:
    """Who a connected client is."""

    client_id: str
    username: Optional[str]
    peer: str


@dataclass(frozen=True)
class ConnectInfo:
    """What a client presented in CONNECT, for ``on_auth``. Keep ``token``
    to answer a ``PENDING`` decision with :meth:`Broker.complete_auth`."""

    client_id: str
    username: Optional[str]
    password: Optional[bytes]
    peer: str
    protocol_level: int
    clean_session: bool
    token: int


@dataclass(frozen=True)
class Event:
    """Something that happened to a client, for ``on_event``. Fields that do
    not apply to ``kind`` are 0 / False / None."""

    kind: EventKind
    client: ClientInfo
    protocol_level: int = 0
    clean_session: bool = False
    session_present: bool = False
    qos: int = 0
    reason: CloseReason = CloseReason.NONE
    filter: Optional[str] = None


@dataclass(frozen=True)
class Stats:
    """The broker's counters."""

    connections: int
    connections_total: int
    connections_refused: int
    clients_connected: int
    sessions: int
    subscriptions: int
    retained_messages: int
    messages_received: int
    messages_sent: int
    messages_dropped: int
    bytes_received: int
    bytes_sent: int


def _encode_payload(payload: Payload) -> bytes:
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    raise TypeError(f"payload must be bytes or str, not {type(payload).__name__}")


def _check_qos(qos: int, function: str) -> int:
    """A QoS for ``function``: TypeError if not an int, InvalidArgument if
    not 0, 1 or 2."""
    return _args.c_int(qos, "qos", function, _native.MQLITE_INVALID_ARGUMENT, 0, 2)


def _client(view: "_native.ClientInfoC") -> ClientInfo:
    return ClientInfo(
        client_id=view_str(view.client_id, view.client_id_len),
        username=view_optional_str(view.username, view.username_len),
        peer=view_str(view.peer, view.peer_len),
    )


def _message(view: "_native.MessageC") -> Message:
    return Message(
        topic=view_str(view.topic, view.topic_len),
        payload=view_bytes(view.payload, view.payload_len),
        qos=view.qos,
        retain=bool(view.retain),
    )
