"""The Python face of mqlite: :class:`Broker` and the values its hooks see."""

from __future__ import annotations

import ctypes
import enum
import logging
import os
import select
import threading
from ctypes import byref, c_bool, c_int, c_int64, c_uint16, c_uint64, c_void_p
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, TypeVar, Union

from . import _native
from ._native import view_bytes, view_optional_str, view_str

log = logging.getLogger("mqlite")

F = TypeVar("F", bound=Callable[..., Any])
Payload = Union[bytes, bytearray, memoryview, str]


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


def _encode_payload(payload: Payload) -> bytes:
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    raise TypeError(f"payload must be bytes or str, not {type(payload).__name__}")


def _check_qos(qos: int) -> int:
    if qos not in (0, 1, 2):
        raise ValueError(f"qos must be 0, 1 or 2, not {qos!r}")
    return int(qos)


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

_HOOKS = ("auth", "acl", "message", "event")


class Broker:
    """An mqlite broker in this process.

    The listeners are bound when the object is made, so :attr:`port` is
    known at once. Run it with :meth:`start` (a background thread) or
    :meth:`run` (this thread); as a context manager it is started on entry
    (if not yet running) and stopped and freed on exit.

    Hooks (:meth:`on_auth`, :meth:`on_acl`, :meth:`on_message`,
    :meth:`on_event`) and local subscriptions' callbacks run on the
    broker's thread and must not block. An exception inside one is logged
    (logger ``mqlite``) and treated as a refusal: authentication refused,
    ACL denied, message dropped. Hooks may be set or replaced at any time,
    also while the broker runs.

    Args:
        port: TCP port; 0 picks a free one (read it from :attr:`port`).
        host: IP address to listen on.
        db: SQLite file for persistent sessions and retained messages, or
            None to keep everything in memory.
        listeners: a list of ``"IP:PORT"`` strings, replacing host/port.
        **limits: ``max_connections``, ``max_packet_size``, ``max_inflight``,
            ``max_queued_messages``, ``max_queued_bytes``,
            ``max_pending_output``, ``connect_timeout_ms``,
            ``auth_timeout_ms``, ``session_expiry_s`` (-1: never),
            ``sys_interval_s`` (0: off), ``allow_zero_length_client_id``.

    Raises:
        MqliteError: an unusable limit, an address that cannot be bound, a
            persistence file that cannot be opened.
        TypeError: an unknown keyword.
        LibraryNotFound: libmqlite.so cannot be loaded.
    """

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        db: Union[str, "os.PathLike[str]", None] = None,
        *,
        listeners: Optional[List[str]] = None,
        **limits: Any,
    ):
        unknown = sorted(set(limits) - set(_LIMITS))
        if unknown:
            raise TypeError(
                f"unknown broker option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(_LIMITS))}"
            )
        self._lib = _native.load()
        self._broker: Optional[int] = None
        self._handle: Optional[int] = None
        self._thread: Optional[threading.Thread] = None
        self._loop_thread: Optional[int] = None  # ident of the thread in the loop
        self._state = threading.Lock()
        self._hooks: Dict[str, Optional[Callable[..., Any]]] = {name: None for name in _HOOKS}
        self._installed: set = set()
        self._pending_installs: List[str] = []
        self._installed_event = threading.Condition(self._state)
        self._subscriptions: Dict[int, Callable[[Message], Any]] = {}  # key -> callback
        self._keys: Dict[int, int] = {}  # subscription id -> key
        self._closed = False

        lib = self._lib
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
        self._broker = broker.value
        handle = c_void_p()
        _check("mqlite_broker_handle", lib.mqlite_broker_handle(self._broker, byref(handle)))
        self._handle = handle.value
        ports = []
        for index in range(len(addresses)):
            value = c_uint16()
            _check("mqlite_broker_local_port",
                   lib.mqlite_broker_local_port(self._broker, index, byref(value)))
            ports.append(value.value)
        self._ports = ports
        fd = c_int()
        _check("mqlite_broker_fd", lib.mqlite_broker_fd(self._broker, byref(fd)))
        self._fd = fd.value
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

        # The C function pointers: made once, kept for the broker's life so
        # ctypes never frees one the library may still call.
        self._c_auth = _native.AUTH_CALLBACK(self._auth_trampoline)
        self._c_acl = _native.ACL_CALLBACK(self._acl_trampoline)
        self._c_message = _native.MESSAGE_CALLBACK(self._message_trampoline)
        self._c_event = _native.EVENT_CALLBACK(self._event_trampoline)
        self._c_local = _native.LOCAL_CALLBACK(self._local_trampoline)
        self._next_key = 1

    # --- properties ----------------------------------------------------------

    @property
    def port(self) -> int:
        """The port of the first listener."""
        return self._ports[0]

    @property
    def ports(self) -> List[int]:
        """The ports of all listeners, in order."""
        return list(self._ports)

    @property
    def running(self) -> bool:
        """Whether a thread is serving the broker now."""
        return self._loop_thread is not None

    # --- running -------------------------------------------------------------

    def start(self) -> "Broker":
        """Serves in a background (daemon) thread; returns self.

        Raises:
            RuntimeError: already running, or closed.
        """
        with self._state:
            self._require_open()
            if self._loop_thread is not None or (self._thread and self._thread.is_alive()):
                raise RuntimeError("the broker is already running")
            ready = threading.Event()
            self._thread = threading.Thread(
                target=self._serve, args=(ready,), name=f"mqlite:{self.port}", daemon=True
            )
            self._thread.start()
        ready.wait()
        return self

    def run(self) -> None:
        """Serves in the calling thread until :meth:`stop` (from a hook or
        another thread) or Ctrl-C, which stops the broker cleanly and is
        then raised again.

        Raises:
            RuntimeError: already running, or closed.
            MqliteError: the poll failed.
        """
        with self._state:
            self._require_open()
            if self._loop_thread is not None:
                raise RuntimeError("the broker is already running")
        self._serve(None)

    def stop(self, timeout: Optional[float] = 10.0) -> None:
        """Stops the broker: it stops accepting, closes every client,
        flushes, and :meth:`run` / the :meth:`start` thread returns. Waits
        up to ``timeout`` seconds for the background thread (not when called
        from a hook). Harmless when stopped or closed."""
        if self._handle is None:
            return
        self._lib.mqlite_handle_stop(self._handle)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def close(self) -> None:
        """Stops the broker and frees it. The object is unusable afterwards.
        Harmless when called again.

        Raises:
            RuntimeError: called from a hook (use :meth:`stop` there).
        """
        if self._closed:
            return
        if self._loop_thread == threading.get_ident():
            raise RuntimeError("close() from a hook; call stop() there and close() afterwards")
        self.stop()
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("the broker thread did not stop; not freed")
        with self._state:
            if self._loop_thread is not None:
                raise RuntimeError("the broker is still running in another thread")
            self._closed = True
        self._lib.mqlite_handle_free(self._handle)
        self._lib.mqlite_broker_free(self._broker)
        self._handle = None
        self._broker = None
        os.close(self._wake_r)
        os.close(self._wake_w)

    def __del__(self) -> None:
        # Best effort for a broker never closed: free it if no thread runs
        # it (a running one is kept alive by its thread anyway).
        try:
            if not self._closed and self._broker is not None and self._loop_thread is None:
                self.close()
        except Exception:
            pass

    def __enter__(self) -> "Broker":
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _require_open(self) -> None:
        if self._closed:
            raise RuntimeError("the broker is closed")

    def _serve(self, ready: Optional[threading.Event]) -> None:
        """The loop: waits on the broker's descriptor and the wake pipe,
        applies hook installs between passes, runs passes."""
        lib = self._lib
        broker = self._broker
        with self._state:
            self._loop_thread = threading.get_ident()
        if ready is not None:
            ready.set()
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        running = c_bool(True)
        deadline = c_int64(-1)
        interrupted: Optional[BaseException] = None
        try:
            while True:
                try:
                    self._apply_installs()
                    _check("mqlite_broker_next_deadline_ms",
                           lib.mqlite_broker_next_deadline_ms(broker, byref(deadline)))
                    events = poller.poll(None if deadline.value < 0 else deadline.value)
                    if any(fd == self._wake_r for fd, _ in events):
                        try:
                            while os.read(self._wake_r, 512):
                                pass
                        except BlockingIOError:
                            pass
                    _check("mqlite_broker_run_once",
                           lib.mqlite_broker_run_once(broker, 0, byref(running)))
                    if not running.value:
                        break
                except KeyboardInterrupt as error:
                    # Ctrl-C in run(): stop cleanly, then raise it again.
                    interrupted = error
                    lib.mqlite_handle_stop(self._handle)
        finally:
            with self._state:
                self._loop_thread = None
                self._installed_event.notify_all()
        if interrupted is not None:
            raise interrupted

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass  # the pipe is full: a wake-up is already pending

    # --- hooks ---------------------------------------------------------------

    def _set_hook(self, kind: str, func: Optional[Callable[..., Any]]) -> None:
        with self._state:
            self._require_open()
            self._hooks[kind] = func
            if func is None or kind in self._installed:
                return  # the installed trampoline now calls the new function
            if self._loop_thread is None:
                self._install(kind)
                return
            # The loop holds the broker: it installs between two passes.
            if kind not in self._pending_installs:
                self._pending_installs.append(kind)
            if self._loop_thread == threading.get_ident():
                return  # from a hook: installed after this pass
            self._wake()
            while kind not in self._installed and self._loop_thread is not None:
                self._installed_event.wait(5.0)
            if kind not in self._installed and self._loop_thread is None:
                self._install(kind)

    def _apply_installs(self) -> None:
        with self._state:
            while self._pending_installs:
                self._install(self._pending_installs.pop(0))
            self._installed_event.notify_all()

    def _install(self, kind: str) -> None:
        """Sets the C trampoline of ``kind`` (lock held, broker not in a pass)."""
        if kind in self._installed:
            return
        lib = self._lib
        setter, pointer = {
            "auth": ("mqlite_broker_set_auth_callback", self._c_auth),
            "acl": ("mqlite_broker_set_acl_callback", self._c_acl),
            "message": ("mqlite_broker_set_message_callback", self._c_message),
            "event": ("mqlite_broker_set_event_callback", self._c_event),
        }[kind]
        _check(setter, getattr(lib, setter)(self._broker, pointer, None))
        self._installed.add(kind)

    def on_auth(self, func: Optional[F]) -> Optional[F]:
        """Sets the authentication hook (usable as a decorator); None removes
        it (everyone is accepted).

        ``func(info: ConnectInfo)`` returns True (accept), False or None
        (refused: CONNACK 5), or an :class:`AuthDecision` (``PENDING``:
        answer later with :meth:`complete_auth` and ``info.token``). An
        exception refuses the client.
        """
        self._set_hook("auth", func)
        return func

    def on_acl(self, func: Optional[F]) -> Optional[F]:
        """Sets the ACL hook (usable as a decorator); None removes it
        (everything allowed).

        ``func(client: ClientInfo, access: AclAccess, topic: str)`` returns
        a truth value: allowed or not. It runs for each PUBLISH, each
        subscription filter, and each delivery (``RECEIVE``): keep it
        cheap. An exception denies.
        """
        self._set_hook("acl", func)
        return func

    def on_message(self, func: Optional[F]) -> Optional[F]:
        """Sets the message hook (usable as a decorator); None removes it.

        ``func(client: ClientInfo | None, message: Message)`` sees every
        accepted PUBLISH (``client`` is None for the host's own) and returns
        None or True (pass), False or ``MessageDecision.DROP`` (drop), or a
        :class:`Message` to deliver instead. An exception drops the message.
        """
        self._set_hook("message", func)
        return func

    def on_event(self, func: Optional[F]) -> Optional[F]:
        """Sets the event hook (usable as a decorator); None removes it.

        ``func(event: Event)`` is told of connections, disconnections,
        subscriptions and unsubscriptions. Exceptions are logged.
        """
        self._set_hook("event", func)
        return func

    def _auth_trampoline(self, userdata: Any, info_ptr: Any) -> int:
        try:
            hook = self._hooks["auth"]
            if hook is None:
                return int(AuthDecision.ACCEPT)
            view = info_ptr.contents
            password = view_bytes(view.password, view.password_len) if view.password else None
            info = ConnectInfo(
                client_id=view_str(view.client_id, view.client_id_len),
                username=view_optional_str(view.username, view.username_len),
                password=password,
                peer=view_str(view.peer, view.peer_len),
                protocol_level=view.protocol_level,
                clean_session=bool(view.clean_session),
                token=view.token,
            )
            answer = hook(info)
            if isinstance(answer, bool) or answer is None:
                return int(AuthDecision.ACCEPT if answer else AuthDecision.NOT_AUTHORIZED)
            return int(AuthDecision(answer))
        except BaseException:
            log.exception("on_auth hook raised; the client is refused")
            return int(AuthDecision.NOT_AUTHORIZED)

    def _acl_trampoline(self, userdata: Any, client_ptr: Any, access: int, topic: Any,
                        topic_len: int) -> bool:
        try:
            hook = self._hooks["acl"]
            if hook is None:
                return True
            return bool(hook(_client(client_ptr.contents), AclAccess(access),
                             view_str(topic, topic_len)))
        except BaseException:
            log.exception("on_acl hook raised; access denied")
            return False

    def _message_trampoline(self, userdata: Any, origin_ptr: Any, message_ptr: Any,
                            rewrite: Any) -> int:
        try:
            hook = self._hooks["message"]
            if hook is None:
                return int(MessageDecision.PASS)
            origin = _client(origin_ptr.contents) if origin_ptr else None
            answer = hook(origin, _message(message_ptr.contents))
            if answer is None or answer is True:
                return int(MessageDecision.PASS)
            if answer is False:
                return int(MessageDecision.DROP)
            if isinstance(answer, Message):
                topic = answer.topic.encode("utf-8")
                payload = _encode_payload(answer.payload)
                _check("mqlite_message_rewrite_set", self._lib.mqlite_message_rewrite_set(
                    rewrite, topic, len(topic), payload, len(payload),
                    _check_qos(answer.qos), bool(answer.retain)))
                return int(MessageDecision.REWRITE)
            decision = MessageDecision(answer)
            if decision == MessageDecision.REWRITE:
                raise ValueError("return a Message to rewrite, not MessageDecision.REWRITE")
            return int(decision)
        except BaseException:
            log.exception("on_message hook raised; the message is dropped")
            return int(MessageDecision.DROP)

    def _event_trampoline(self, userdata: Any, event_ptr: Any) -> None:
        try:
            hook = self._hooks["event"]
            if hook is None:
                return
            view = event_ptr.contents
            try:
                reason = CloseReason(view.reason)
            except ValueError:
                reason = CloseReason.OTHER
            event = Event(
                kind=EventKind(view.kind),
                client=_client(view.client),
                protocol_level=view.protocol_level,
                clean_session=bool(view.clean_session),
                session_present=bool(view.session_present),
                qos=view.qos,
                reason=reason,
                filter=view_optional_str(view.filter, view.filter_len),
            )
            hook(event)
        except BaseException:
            log.exception("on_event hook raised")

    def _local_trampoline(self, userdata: Any, message_ptr: Any) -> None:
        try:
            callback = self._subscriptions.get(userdata or 0)
            if callback is None:
                return  # unsubscribed; the broker had not yet heard
            callback(_message(message_ptr.contents))
        except BaseException:
            log.exception("local subscription callback raised")

    # --- the thread-safe side ------------------------------------------------

    def _live_handle(self) -> int:
        if self._handle is None:
            raise RuntimeError("the broker is closed")
        return self._handle

    def publish(self, topic: str, payload: Payload = b"", qos: int = 0,
                retain: bool = False) -> None:
        """Publishes a message as the host (from any thread, hooks
        included). A str payload is sent as UTF-8.

        Raises:
            MqliteError: an invalid topic, or the broker has stopped.
        """
        data = _encode_payload(payload)
        _check("mqlite_handle_publish", self._lib.mqlite_handle_publish(
            self._live_handle(), topic.encode("utf-8"), data, len(data), _check_qos(qos),
            bool(retain)))

    def subscribe(self, filter: str, callback: Optional[Callable[[Message], Any]] = None,
                  qos: int = 0) -> Any:
        """Subscribes the host to ``filter``: ``callback(message)`` runs on
        the broker thread for each matching message (retained ones first),
        from the broker's next pass on.

        With a callback, returns the subscription id (for
        :meth:`unsubscribe`). Without one, returns a decorator::

            @broker.subscribe("sensors/#", qos=1)
            def on_sensor(message): ...

        (the decorated function gets a ``subscription`` attribute).

        Raises:
            MqliteError: an invalid filter, or the broker has stopped.
        """
        if callback is None:
            def decorator(func: F) -> F:
                func.subscription = self.subscribe(filter, func, qos)  # type: ignore[attr-defined]
                return func
            return decorator
        with self._state:
            key = self._next_key
            self._next_key += 1
            self._subscriptions[key] = callback
        sub_id = c_uint64()
        try:
            _check("mqlite_handle_subscribe_local", self._lib.mqlite_handle_subscribe_local(
                self._live_handle(), filter.encode("utf-8"), _check_qos(qos), self._c_local,
                c_void_p(key), byref(sub_id)))
        except BaseException:
            with self._state:
                self._subscriptions.pop(key, None)
            raise
        with self._state:
            self._keys[sub_id.value] = key
        return sub_id.value

    def unsubscribe(self, subscription: int) -> None:
        """Ends a local subscription; its callback is not called again.

        Raises:
            MqliteError: the broker has stopped.
        """
        with self._state:
            key = self._keys.pop(subscription, None)
            if key is not None:
                self._subscriptions.pop(key, None)
        _check("mqlite_handle_unsubscribe_local",
               self._lib.mqlite_handle_unsubscribe_local(self._live_handle(), subscription))

    def complete_auth(self, token: int, decision: Union[AuthDecision, bool]) -> None:
        """Answers an authentication the hook left ``PENDING`` (from any
        thread). True/False mean ACCEPT/NOT_AUTHORIZED.

        Raises:
            MqliteError: ``PENDING`` given, or the broker has stopped.
        """
        if isinstance(decision, bool):
            decision = AuthDecision.ACCEPT if decision else AuthDecision.NOT_AUTHORIZED
        _check("mqlite_handle_complete_auth", self._lib.mqlite_handle_complete_auth(
            self._live_handle(), token, int(decision)))

    def kick(self, client_id: str) -> None:
        """Closes a client's connection (its will is published).

        Raises:
            MqliteError: the broker has stopped.
        """
        _check("mqlite_handle_kick",
               self._lib.mqlite_handle_kick(self._live_handle(), client_id.encode("utf-8")))

    def stats(self, timeout: float = 5.0) -> Stats:
        """The broker's counters, waiting up to ``timeout`` seconds for the
        broker thread (do not call it from a hook).

        Raises:
            MqliteError: the broker has stopped or did not answer.
        """
        out = _native.StatsC()
        _check("mqlite_handle_stats", self._lib.mqlite_handle_stats(
            self._live_handle(), int(timeout * 1000), byref(out)))
        return Stats(**{name: getattr(out, name) for name in _native.STATS_FIELDS})

    @property
    def stopped(self) -> bool:
        """Whether the broker has stopped."""
        if self._handle is None:
            return True
        return bool(self._lib.mqlite_handle_is_stopped(self._handle))


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


# --- the log bridge ------------------------------------------------------------

_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG,
           5: logging.DEBUG}
_log_callback: Optional[Any] = None


def _log_trampoline(userdata: Any, level: int, target: Any, target_len: int, message: Any,
                    message_len: int) -> None:
    try:
        name = view_str(target, target_len).replace("::", ".")
        logging.getLogger(name).log(_LEVELS.get(level, logging.DEBUG),
                                    view_str(message, message_len))
    except BaseException:  # never let an exception reach the library
        pass


def enable_logging(level: int = logging.INFO) -> None:
    """Routes the C library's log records at ``level`` and above to the
    ``logging`` module, each under the logger named after the Rust module
    that logged (``mqlite.reactor``, ``mqlite.broker``, ...).

    The library's logger is process-global (one per process, for every
    broker); calling this again changes the level; ``disable_logging``
    turns it off.

    Raises:
        MqliteError: another logger owns the process (MQLITE_LOGGER_TAKEN).
    """
    global _log_callback
    if level <= logging.DEBUG:
        native = 5 if level < logging.DEBUG else 4
    elif level <= logging.INFO:
        native = 3
    elif level <= logging.WARNING:
        native = 2
    elif level <= logging.ERROR:
        native = 1
    else:
        native = 0
    lib = _native.load()
    if _log_callback is None:
        _log_callback = _native.LOG_CALLBACK(_log_trampoline)
    _check("mqlite_set_log_callback", lib.mqlite_set_log_callback(_log_callback, None, native))


def disable_logging() -> None:
    """Stops routing the library's log records."""
    lib = _native.load()
    _check("mqlite_set_log_callback",
           lib.mqlite_set_log_callback(_native.LOG_CALLBACK(), None, 0))


def library_version() -> str:
    """The loaded C library's version (``mqlite_version()``)."""
    return _native.load().mqlite_version().decode("ascii")
