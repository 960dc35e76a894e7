"""The management API: the clients connected, the sessions (offline ones
too) and a session's subscriptions, the retained messages, and discarding
a session or a retained message. Each answer is a snapshot, copied out of
the library's list (which is freed at once) into plain dataclasses.
"""

from __future__ import annotations

import datetime
import threading
from ctypes import POINTER, byref, c_bool, c_size_t, c_void_p, sizeof
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from . import _args, _native
from .errors import MqliteError, _check
from .values import Message

_NEVER = 0xFFFFFFFF
_NO_DEADLINE = _args.U64_MAX


@dataclass(frozen=True)
class ConnectedClient:
    """A client connected now (past CONNACK)."""

    client_id: str
    #: The user name it connected with, if any.
    username: Optional[str]
    #: Who is at the other end, as text (``127.0.0.1:50000``, ``unix:/path``).
    peer: str
    #: 3 (MQTT 3.1), 4 (3.1.1) or 5.
    protocol_level: int
    #: The listener it came in on (numbered as ``ClientInfo.listener``).
    listener: int
    #: When its CONNECT was accepted (UTC).
    connected_at: datetime.datetime
    #: Whether its session outlives the connection.
    persistent: bool
    subscriptions: int
    #: QoS 1/2 messages waiting for room in its in-flight window.
    queued: int
    #: QoS 1/2 messages sent and not yet acknowledged.
    inflight: int
    messages_sent: int
    messages_dropped: int


@dataclass(frozen=True)
class SessionInfo:
    """A session, connected or not."""

    client_id: str
    connected: bool
    #: Whether it outlives its connection (a clean one is listed only while
    #: its client is connected).
    persistent: bool
    #: Seconds it outlives its connection; None: for ever.
    expiry_interval: Optional[int]
    #: For an offline session that expires: seconds left before it does.
    expires_in: Optional[float]
    #: The user name of its latest connection, if any.
    username: Optional[str]
    subscriptions: int
    queued: int
    inflight: int


@dataclass(frozen=True)
class Subscription:
    """One subscription of a session, as granted."""

    filter: str
    qos: int
    no_local: bool
    retain_as_published: bool
    #: The MQTT 5 Subscription Identifier, if one was given.
    identifier: Optional[int]


def _text(lib: Any, accessor: str, pointer: int, index: int) -> Optional[str]:
    text, length = c_void_p(), c_size_t()
    _check(accessor, getattr(lib, accessor)(pointer, index, byref(text), byref(length)))
    return _native.view_optional_str(text.value, length.value)


def _entry(lib: Any, accessor: str, pointer: int, index: int, struct: type) -> Any:
    entry = struct()
    _check(accessor, getattr(lib, accessor)(pointer, index, byref(entry), sizeof(entry)))
    return entry


def _count(lib: Any, kind: str, pointer: int) -> int:
    count = c_size_t()
    function = f"mqlite_{kind}_list_count"
    _check(function, getattr(lib, function)(pointer, byref(count)))
    return count.value


def _read_clients(lib: Any, pointer: int) -> List[ConnectedClient]:
    clients = []
    for index in range(_count(lib, "client", pointer)):
        entry = _entry(lib, "mqlite_client_list_get", pointer, index, _native.ClientEntryC)
        connected_at = datetime.datetime.fromtimestamp(entry.connected_at_ms / 1000,
                                                       tz=datetime.timezone.utc)
        clients.append(ConnectedClient(
            client_id=_text(lib, "mqlite_client_list_id", pointer, index) or "",
            username=_text(lib, "mqlite_client_list_username", pointer, index),
            peer=_text(lib, "mqlite_client_list_peer", pointer, index) or "",
            protocol_level=entry.protocol_level,
            listener=entry.listener,
            connected_at=connected_at,
            persistent=bool(entry.persistent),
            subscriptions=entry.subscriptions,
            queued=entry.queued,
            inflight=entry.inflight,
            messages_sent=entry.messages_sent,
            messages_dropped=entry.messages_dropped,
        ))
    return clients


def _read_sessions(lib: Any, pointer: int) -> List[SessionInfo]:
    sessions = []
    for index in range(_count(lib, "session", pointer)):
        entry = _entry(lib, "mqlite_session_list_get", pointer, index, _native.SessionEntryC)
        sessions.append(SessionInfo(
            client_id=_text(lib, "mqlite_session_list_id", pointer, index) or "",
            connected=bool(entry.connected),
            persistent=bool(entry.persistent),
            expiry_interval=None if entry.expiry_interval == _NEVER else entry.expiry_interval,
            expires_in=(None if entry.expires_in_ms == _NO_DEADLINE
                        else entry.expires_in_ms / 1000),
            username=_text(lib, "mqlite_session_list_username", pointer, index),
            subscriptions=entry.subscriptions,
            queued=entry.queued,
            inflight=entry.inflight,
        ))
    return sessions


def _read_subscriptions(lib: Any, pointer: int) -> List[Subscription]:
    subscriptions = []
    for index in range(_count(lib, "subscription", pointer)):
        entry = _entry(lib, "mqlite_subscription_list_get", pointer, index,
                       _native.SubscriptionEntryC)
        subscriptions.append(Subscription(
            filter=_text(lib, "mqlite_subscription_list_filter", pointer, index) or "",
            qos=entry.qos,
            no_local=bool(entry.no_local),
            retain_as_published=bool(entry.retain_as_published),
            identifier=entry.identifier or None,
        ))
    return subscriptions


def _read_retained(lib: Any, pointer: int) -> List[Message]:
    messages = []
    for index in range(_count(lib, "retained", pointer)):
        view = POINTER(_native.MessageC)()
        _check("mqlite_retained_list_get", lib.mqlite_retained_list_get(pointer, index,
                                                                         byref(view)))
        message = view.contents
        messages.append(Message(
            topic=_native.view_str(message.topic, message.topic_len),
            payload=_native.view_bytes(message.payload, message.payload_len),
            qos=message.qos,
            retain=bool(message.retain),
        ))
    return messages


class _Management:
    """The management half of :class:`~mqlite.Broker` (a mixin: the state
    below is made by ``Broker.__init__``). Like :meth:`~mqlite.Broker.reload`,
    each call goes straight to the broker when no thread runs it (or from
    the event loop it is attached to, between passes), and through the
    handle, waiting up to ``timeout`` seconds for the broker thread, when
    one does; do not call them from a hook
    (``MQLITE_ON_BROKER_THREAD``)."""

    _lib: Any
    _broker: Optional[int]
    _state: threading.Lock
    _require_open: Callable[[], None]
    _runs_here: Callable[[], bool]
    _live_handle: Callable[[], int]

    def _list(self, name: str, reader: Callable[[Any, int], List[Any]], kind: str,
              timeout: float, *args: Any) -> List[Any]:
        """Makes the list ``name`` (``mqlite_broker_<name>`` or
        ``mqlite_handle_<name>``), reads it with ``reader`` and frees it."""
        function = f"mqlite_handle_{name}"
        milliseconds = min(int(_args.seconds(timeout, "timeout", function) * 1000),
                           _args.U64_MAX)
        made = c_void_p()
        with self._state:
            self._require_open()
            if self._runs_here():
                direct = f"mqlite_broker_{name}"
                _check(direct, getattr(self._lib, direct)(self._broker, *args, byref(made)))
                return self._read(reader, kind, made.value)
        _check(function, getattr(self._lib, function)(self._live_handle(), *args,
                                                      milliseconds, byref(made)))
        return self._read(reader, kind, made.value)

    def _read(self, reader: Callable[[Any, int], List[Any]], kind: str,
              pointer: int) -> List[Any]:
        try:
            return reader(self._lib, pointer)
        finally:
            getattr(self._lib, f"mqlite_{kind}_list_free")(pointer)

    def _delete(self, name: str, what: str, value: str, timeout: float) -> bool:
        function = f"mqlite_handle_{name}"
        encoded = _args.c_string(value, what, function, _native.MQLITE_INVALID_ARGUMENT)
        milliseconds = min(int(_args.seconds(timeout, "timeout", function) * 1000),
                           _args.U64_MAX)
        deleted = c_bool()
        with self._state:
            self._require_open()
            if self._runs_here():
                direct = f"mqlite_broker_{name}"
                _check(direct, getattr(self._lib, direct)(self._broker, encoded,
                                                          byref(deleted)))
                return deleted.value
        _check(function, getattr(self._lib, function)(self._live_handle(), encoded,
                                                      milliseconds, byref(deleted)))
        return deleted.value

    def clients(self, timeout: float = 5.0) -> List[ConnectedClient]:
        """Every client connected now (the broker's own bridge links left
        out).

        Raises:
            InvalidArgument: a negative or infinite timeout.
            MqliteError: the broker has stopped or did not answer in time.
        """
        return self._list("clients", _read_clients, "client", timeout)

    def sessions(self, timeout: float = 5.0) -> List[SessionInfo]:
        """Every session, offline persistent ones included.

        Raises:
            InvalidArgument: a negative or infinite timeout.
            MqliteError: the broker has stopped or did not answer in time.
        """
        return self._list("sessions", _read_sessions, "session", timeout)

    def session_subscriptions(self, client_id: str,
                              timeout: float = 5.0) -> Optional[List[Subscription]]:
        """The subscriptions of the session of ``client_id``, sorted by
        filter; None when there is no such session.

        Raises:
            InvalidArgument: a client id with a NUL character; a negative or
                infinite timeout.
            TypeError: a client id that is not a str.
            MqliteError: the broker has stopped or did not answer in time.
        """
        function = "mqlite_handle_session_subscriptions"
        encoded = _args.c_string(client_id, "client id", function,
                                 _native.MQLITE_INVALID_ARGUMENT)
        try:
            return self._list("session_subscriptions", _read_subscriptions, "subscription",
                              timeout, encoded)
        except MqliteError as error:
            if error.code == _native.MQLITE_NOT_FOUND:
                return None
            raise

    def retained_messages(self, filter: Optional[str] = None,
                          timeout: float = 5.0) -> List[Message]:
        """The retained messages whose topic ``filter`` matches (None: all,
        ``$SYS`` ones included), sorted by topic. Their MQTT 5 properties
        are not read.

        Raises:
            InvalidTopic: an invalid filter.
            InvalidArgument: a negative or infinite timeout.
            TypeError: a filter that is not a str.
            MqliteError: the broker has stopped or did not answer in time.
        """
        encoded = None
        if filter is not None:
            encoded = _args.c_string(filter, "filter", "mqlite_handle_retained",
                                     _native.MQLITE_INVALID_TOPIC)
        return self._list("retained", _read_retained, "retained", timeout, encoded)

    def delete_session(self, client_id: str, timeout: float = 5.0) -> bool:
        """Discards the session of ``client_id``: a connected client is
        disconnected as by :meth:`kick` (its will is published), then the
        session, its subscriptions and queue go, from the persistence file
        too. False when there was no such session.

        Raises:
            InvalidArgument: a client id with a NUL character; a negative or
                infinite timeout.
            TypeError: a client id that is not a str.
            MqliteError: the broker has stopped or did not answer in time.
        """
        return self._delete("delete_session", "client id", client_id, timeout)

    def delete_retained(self, topic: str, timeout: float = 5.0) -> bool:
        """Clears the retained message of ``topic`` (from the persistence
        file too) without sending anything. False when it had none.

        Raises:
            InvalidArgument: a topic with a NUL character; a negative or
                infinite timeout.
            TypeError: a topic that is not a str.
            MqliteError: the broker has stopped or did not answer in time.
        """
        return self._delete("delete_retained", "topic", topic, timeout)
