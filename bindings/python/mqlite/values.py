"""The values mqlite's hooks see and return: the ``MQLITE_*`` enumerations,
:class:`Message` and its :class:`PublishProperties`, :class:`ClientInfo`,
:class:`ConnectInfo` and the enhanced-authentication answers
(:class:`AuthContinue`, :class:`AuthAcceptWith`, :class:`AuthRefuse`),
:class:`ClientCertificate`, :class:`Event` and :class:`Stats`, and their
conversions from and to the C views."""

from __future__ import annotations

import ctypes
import enum
from ctypes import byref, c_bool, c_int64, c_size_t, c_uint8, c_uint32, c_void_p
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence, Tuple, Union

from . import _args, _native
from ._native import view_bytes, view_optional_str, view_str
from .errors import ArgumentTypeError, _check, _invalid

Payload = Union[bytes, bytearray, memoryview, str]


class AuthDecision(enum.IntEnum):
    """The answer of an ``on_auth`` hook (``MQLITE_AUTH_*``)."""

    ACCEPT = 0
    BAD_CREDENTIALS = 1
    NOT_AUTHORIZED = 2
    PENDING = 3
    #: MQTT 5 enhanced authentication: a challenge without data (return
    #: :class:`AuthContinue` to send data).
    CONTINUE = 4
    #: Accept; with no data this is ``ACCEPT`` (return
    #: :class:`AuthAcceptWith` to send data).
    ACCEPT_WITH_DATA = 5


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
    #: A client's queue is full and messages for it are dropped: told at
    #: the start of an overflow, then at most once a second while it lasts
    #: (``dropped``, ``queued``).
    QUEUE_OVERFLOW = 5


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
    DISCONNECT_WITH_WILL = 10
    OTHER = 255


UserProperties = Tuple[Tuple[str, str], ...]


def _user_properties(value: Any, what: str) -> UserProperties:
    """A tuple of (name, value) str pairs from any iterable of pairs."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ArgumentTypeError(f"{what} must be an iterable of (name, value) pairs, "
                                f"not {type(value).__name__}")
    pairs = []
    for pair in value:
        if not (isinstance(pair, tuple) or isinstance(pair, list)) or len(pair) != 2:
            raise ArgumentTypeError(f"{what} must hold (name, value) pairs, not {pair!r}")
        name, text = pair
        if not isinstance(name, str) or not isinstance(text, str):
            raise ArgumentTypeError(f"{what} must hold (str, str) pairs, not {pair!r}")
        pairs.append((name, text))
    return tuple(pairs)


@dataclass(frozen=True)
class PublishProperties:
    """The MQTT 5 properties of an application message: given to
    :meth:`Broker.publish` (``properties=``), and read from
    :attr:`Message.properties` of the messages local subscriptions and
    ``on_message`` receive. MQTT 3.1.1 subscribers get messages without
    them.

    - ``payload_is_utf8``: the Payload Format Indicator (the payload is
      UTF-8 text).
    - ``message_expiry_interval``: seconds (0 to 4294967295) after which
      the message is dropped from queues and the retained store; None (the
      default) for never. A received message's is what it has left when
      the callback runs, rounded up to whole seconds, as an MQTT 5
      subscriber would get it.
    - ``content_type``, ``response_topic`` (a topic name, no wildcards):
      strings, or None.
    - ``correlation_data``: bytes, or None.
    - ``user_properties``: (name, value) pairs in order (names may repeat);
      any iterable of pairs is kept as a tuple.
    """

    payload_is_utf8: bool = False
    message_expiry_interval: Optional[int] = None
    content_type: Optional[str] = None
    response_topic: Optional[str] = None
    correlation_data: Optional[bytes] = None
    user_properties: UserProperties = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_properties",
                           _user_properties(self.user_properties, "user_properties"))
        if self.correlation_data is not None and not isinstance(self.correlation_data, bytes):
            if not isinstance(self.correlation_data, (bytearray, memoryview)):
                raise ArgumentTypeError("correlation_data must be bytes or None, not "
                                        f"{type(self.correlation_data).__name__}")
            object.__setattr__(self, "correlation_data", bytes(self.correlation_data))


@dataclass(frozen=True)
class Message:
    """An application message. Returned from ``on_message`` it replaces the
    message the hook was given (with its ``properties``;
    ``dataclasses.replace(message, topic=...)`` keeps them)."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    properties: PublishProperties = field(default_factory=PublishProperties)


@dataclass(frozen=True)
class ClientInfo:
    """Who a connected client is. ``peer`` is ``IP:PORT``, or ``unix:`` and
    the socket's path for a client on a Unix socket listener;
    ``listener`` is the place, in the broker's ``listeners`` (0 for a broker
    made with ``host``/``port``), of the listener the client came in on."""

    client_id: str
    username: Optional[str]
    peer: str
    listener: int = 0


@dataclass(frozen=True)
class ClientCertificate:
    """The certificate a client presented on a TLS listener, verified
    against the listener's CAs: ``subject`` as RFC 4514, most specific
    first (``CN=dev1,O=Acme``), and its ``common_name`` (None when the
    subject has none)."""

    subject: str
    common_name: Optional[str] = None


@dataclass(frozen=True)
class ConnectInfo:
    """What a client presented in CONNECT, for ``on_auth``. Keep ``token``
    to answer a ``PENDING`` decision with :meth:`Broker.complete_auth`.

    MQTT 5 enhanced authentication: ``authentication_method`` is the method
    the client named (None without one), ``authentication_data`` the data
    of this step (from CONNECT at step 0, then from each AUTH the client
    answers a challenge with), ``auth_step`` the step (0, 1, ...), and
    ``reauthentication`` whether a connected client is authenticating again
    (steps count from 0 again). ``user_properties`` are those of the packet
    of this step (CONNECT, or AUTH).

    ``listener``: the place, in the broker's ``listeners``, of the listener
    the client came in on. ``certificate``: the :class:`ClientCertificate`
    the client presented on a TLS listener with CAs, or None (on a listener
    with ``use_identity_as_username``, ``username`` is its Common Name)."""

    client_id: str
    username: Optional[str]
    password: Optional[bytes]
    peer: str
    protocol_level: int
    clean_session: bool
    token: int
    authentication_method: Optional[str] = None
    authentication_data: Optional[bytes] = None
    auth_step: int = 0
    reauthentication: bool = False
    user_properties: UserProperties = ()
    listener: int = 0
    certificate: Optional[ClientCertificate] = None


def _auth_data(data: Any) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        copy = bytes(data)
        if len(copy) > _args.U16_MAX:
            raise _invalid("mqlite_connect_info_set_reply_data", _native.MQLITE_INVALID_ARGUMENT,
                           f"authentication data is at most {_args.U16_MAX} bytes, "
                           f"not {len(copy)}")
        return copy
    raise ArgumentTypeError(f"authentication data must be bytes or str, not {type(data).__name__}")


@dataclass(frozen=True)
class AuthContinue:
    """An ``on_auth`` answer (or :meth:`Broker.complete_auth` decision) for
    MQTT 5 enhanced authentication: send the client ``data`` as a challenge
    (AUTH, Continue authentication); the hook is called again with its
    answer, as the next step. Only for a client that named a method."""

    data: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", _auth_data(self.data))


@dataclass(frozen=True)
class AuthAcceptWith:
    """An ``on_auth`` answer (or :meth:`Broker.complete_auth` decision):
    let the client in, sending ``data`` as the final Authentication Data
    (in CONNACK, or in AUTH for a re-authentication)."""

    data: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", _auth_data(self.data))


@dataclass(frozen=True)
class AuthRefuse:
    """An ``on_auth`` answer (or :meth:`Broker.complete_auth` decision):
    refuse with an MQTT 5 reason code from 0x80 to 0xFF (0x8A banned, 0x8C
    bad authentication method, ...). An MQTT 3.1.1 client gets the nearest
    CONNACK code; a re-authenticating client is disconnected."""

    reason_code: int

    def __post_init__(self) -> None:
        code = self.reason_code
        if isinstance(code, bool) or not isinstance(code, int):
            raise ArgumentTypeError(f"reason_code must be an int, not {type(code).__name__}")
        if not 0x80 <= code <= 0xFF:
            raise _invalid("AuthRefuse", _native.MQLITE_INVALID_ARGUMENT,
                           f"a refusal's reason code is within 0x80..=0xFF, not {code:#x}")

    @property
    def decision(self) -> int:
        """The C decision: ``MQLITE_AUTH_REFUSE_REASON | reason_code``."""
        return _native.MQLITE_AUTH_REFUSE_REASON | self.reason_code


AuthAnswer = Union[bool, None, AuthDecision, AuthContinue, AuthAcceptWith, AuthRefuse]


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
    #: QUEUE_OVERFLOW: messages the client's queue refused since the
    #: previous such event of its session.
    dropped: int = 0
    #: QUEUE_OVERFLOW: messages in its queue now.
    queued: int = 0


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
    raise ArgumentTypeError(f"payload must be bytes or str, not {type(payload).__name__}")


def _check_qos(qos: int, function: str) -> int:
    """A QoS for ``function``: TypeError if not an int, InvalidArgument if
    not 0, 1 or 2."""
    return _args.c_int(qos, "qos", function, _native.MQLITE_INVALID_ARGUMENT, 0, 2)


def _listener_place(index: int, places: Optional[Sequence[int]]) -> int:
    """The place in the broker's ``listeners`` of the C listener number
    ``index`` (plain listeners first, then custom ones)."""
    if places is None or not 0 <= index < len(places):
        return index
    return places[index]


def _client(view: "_native.ClientInfoC", lib: Any = None,
            places: Optional[Sequence[int]] = None) -> ClientInfo:
    """A lent client view; with ``lib``, its listener too (``view`` must
    then be the struct the callback was lent, not a copy)."""
    listener = 0
    if lib is not None:
        index = c_size_t()
        if lib.mqlite_client_info_listener(byref(view), byref(index)) == _native.MQLITE_OK:
            listener = _listener_place(index.value, places)
    return ClientInfo(
        client_id=view_str(view.client_id, view.client_id_len),
        username=view_optional_str(view.username, view.username_len),
        peer=view_str(view.peer, view.peer_len),
        listener=listener,
    )


def _span(lib: Any, function: str, view: Any) -> Optional[bytes]:
    """A lent (pointer, length) property through accessor ``function``:
    the bytes, or None when absent."""
    pointer, length = c_void_p(), c_size_t()
    code = getattr(lib, function)(view, byref(pointer), byref(length))
    if code != _native.MQLITE_OK or not pointer.value:
        return None
    return ctypes.string_at(pointer.value, length.value)


def _text(raw: Optional[bytes]) -> Optional[str]:
    return None if raw is None else raw.decode("utf-8", errors="replace")


def _user_property_pairs(lib: Any, prefix: str, view: Any) -> UserProperties:
    """The user properties of a lent message or CONNECT, through the
    ``{prefix}_user_property_count`` / ``{prefix}_user_property`` accessors."""
    count = c_size_t()
    if getattr(lib, f"{prefix}_user_property_count")(view, byref(count)) != _native.MQLITE_OK:
        return ()
    read = getattr(lib, f"{prefix}_user_property")
    pairs = []
    name, name_len, value, value_len = c_void_p(), c_size_t(), c_void_p(), c_size_t()
    for index in range(count.value):
        if read(view, index, byref(name), byref(name_len), byref(value),
                byref(value_len)) != _native.MQLITE_OK:
            break
        pairs.append((view_str(name.value, name_len.value), view_str(value.value, value_len.value)))
    return tuple(pairs)


def _properties(lib: Any, message_ptr: Any) -> PublishProperties:
    """The MQTT 5 properties of a lent message (during its callback)."""
    indicator = c_uint8()
    lib.mqlite_message_payload_format(message_ptr, byref(indicator))
    expiry = c_int64(-1)
    lib.mqlite_message_expiry_interval(message_ptr, byref(expiry))
    return PublishProperties(
        payload_is_utf8=indicator.value == 1,
        message_expiry_interval=None if expiry.value < 0 else expiry.value,
        content_type=_text(_span(lib, "mqlite_message_content_type", message_ptr)),
        response_topic=_text(_span(lib, "mqlite_message_response_topic", message_ptr)),
        correlation_data=_span(lib, "mqlite_message_correlation_data", message_ptr),
        user_properties=_user_property_pairs(lib, "mqlite_message", message_ptr),
    )


def _message(lib: Any, message_ptr: Any) -> Message:
    """A lent message, properties included (during its callback)."""
    view = message_ptr.contents
    return Message(
        topic=view_str(view.topic, view.topic_len),
        payload=view_bytes(view.payload, view.payload_len),
        qos=view.qos,
        retain=bool(view.retain),
        properties=_properties(lib, message_ptr),
    )


def _connect_info(lib: Any, info_ptr: Any,
                  places: Optional[Sequence[int]] = None) -> ConnectInfo:
    """A lent CONNECT (or AUTH step), with its MQTT 5 parts, its listener
    and its client certificate."""
    view = info_ptr.contents
    password = view_bytes(view.password, view.password_len) if view.password else None
    step, reauthentication = c_uint32(), c_bool()
    lib.mqlite_connect_info_auth_step(info_ptr, byref(step))
    lib.mqlite_connect_info_reauthentication(info_ptr, byref(reauthentication))
    index = c_size_t()
    lib.mqlite_connect_info_listener(info_ptr, byref(index))
    subject = _text(_span(lib, "mqlite_connect_info_certificate_subject", info_ptr))
    certificate = None
    if subject is not None:
        certificate = ClientCertificate(
            subject=subject,
            common_name=_text(_span(lib, "mqlite_connect_info_certificate_common_name",
                                    info_ptr)),
        )
    return ConnectInfo(
        client_id=view_str(view.client_id, view.client_id_len),
        username=view_optional_str(view.username, view.username_len),
        password=password,
        peer=view_str(view.peer, view.peer_len),
        protocol_level=view.protocol_level,
        clean_session=bool(view.clean_session),
        token=view.token,
        authentication_method=_text(
            _span(lib, "mqlite_connect_info_authentication_method", info_ptr)),
        authentication_data=_span(lib, "mqlite_connect_info_authentication_data", info_ptr),
        auth_step=step.value,
        reauthentication=bool(reauthentication.value),
        user_properties=_user_property_pairs(lib, "mqlite_connect_info", info_ptr),
        listener=_listener_place(index.value, places),
        certificate=certificate,
    )


class _CProperties:
    """A ``mqlite_properties`` filled from :class:`PublishProperties` for
    ``function``, freed on leaving the ``with`` block (None when there are
    none to give). Values the library would refuse raise
    :class:`~mqlite.InvalidArgument` before any call reaches C with them."""

    def __init__(self, lib: Any, properties: Optional[PublishProperties], function: str):
        if properties is not None and not isinstance(properties, PublishProperties):
            raise ArgumentTypeError("properties must be a PublishProperties or None, not "
                                    f"{type(properties).__name__}")
        self.lib = lib
        self.properties = properties
        self.function = function
        self.pointer: Optional[int] = None

    def __enter__(self) -> Optional[int]:
        p = self.properties
        if p is None or p == PublishProperties():
            return None
        f = self.function
        invalid = _native.MQLITE_INVALID_ARGUMENT
        content_type = (None if p.content_type is None
                        else _args.c_string(p.content_type, "content_type", f, invalid))
        response_topic = (None if p.response_topic is None else
                          _args.c_string(p.response_topic, "response_topic", f,
                                         _native.MQLITE_INVALID_TOPIC))
        expiry = (-1 if p.message_expiry_interval is None else
                  _args.c_int(p.message_expiry_interval, "message_expiry_interval", f, invalid,
                              0, (1 << 32) - 1))
        pairs = [(_args.c_string(name, "user property name", f, invalid),
                  _args.c_string(value, "user property value", f, invalid))
                 for name, value in p.user_properties]
        lib = self.lib
        self.pointer = lib.mqlite_properties_new()
        if not self.pointer:
            raise MemoryError("mqlite_properties_new failed")
        try:
            _check("mqlite_properties_set_payload_format",
                   lib.mqlite_properties_set_payload_format(self.pointer,
                                                            1 if p.payload_is_utf8 else 0))
            _check("mqlite_properties_set_message_expiry_interval",
                   lib.mqlite_properties_set_message_expiry_interval(self.pointer, expiry))
            _check("mqlite_properties_set_content_type",
                   lib.mqlite_properties_set_content_type(self.pointer, content_type))
            _check("mqlite_properties_set_response_topic",
                   lib.mqlite_properties_set_response_topic(self.pointer, response_topic))
            data = p.correlation_data
            _check("mqlite_properties_set_correlation_data",
                   lib.mqlite_properties_set_correlation_data(
                       self.pointer, data, 0 if data is None else len(data)))
            for name, value in pairs:
                _check("mqlite_properties_add_user_property",
                       lib.mqlite_properties_add_user_property(self.pointer, name, value))
        except BaseException:
            self.__exit__()
            raise
        return self.pointer

    def __exit__(self, *exc_info: Any) -> None:
        if self.pointer:
            self.lib.mqlite_properties_free(self.pointer)
            self.pointer = None
