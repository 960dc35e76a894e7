"""The Python face of mqlite: :class:`Broker` and the values its hooks see.

The values live in :mod:`mqlite.values`, errors in :mod:`mqlite.errors`,
the hooks in ``_hooks``, the options in ``_config`` and the log bridge in
``_log_bridge``; everything is importable from here as well.
"""

from __future__ import annotations

import logging
import os
import threading
from ctypes import byref, c_int, c_uint16, c_uint64, c_void_p
from typing import Any, Callable, Dict, List, Optional, Set, Union

from . import _args, _native
from ._aio import _Attachment, _EventLoop
from ._serving import _Serving
from ._config import _LIMITS, _address, _check_limits, _new_broker  # noqa: F401
from .bridges import (  # noqa: F401 (re-exported)
    Bridge,
    BridgeStats,
    BridgeTLS,
    BridgeTopic,
    _Bridges,
    _check_bridges,
)
from .mqttsn import MqttSnGateway, _bound_ports, _check_gateway  # noqa: F401 (re-exported)
from ._hooks import _HOOKS, F, _Hooks
from ._native import view_bytes, view_optional_str, view_str  # noqa: F401
from ._log_bridge import (  # noqa: F401 (re-exported)
    _LEVELS,
    _log_callback,  # the value at import; the live one is _log_bridge._log_callback
    _log_trampoline,
    disable_logging,
    enable_logging,
)
from .errors import (  # noqa: F401 (re-exported)
    ArgumentTypeError,
    BrokerStateError,
    InvalidArgument,
    MqliteError,
    _check,
)
from .listeners import TLS, Listener  # noqa: F401 (re-exported)
from .management import (  # noqa: F401 (re-exported)
    ConnectedClient,
    SessionInfo,
    Subscription,
    _Management,
)
from .values import (  # noqa: F401 (re-exported)
    AclAccess,
    AuthAcceptWith,
    AuthContinue,
    AuthDecision,
    AuthRefuse,
    ClientCertificate,
    ClientInfo,
    CloseReason,
    ConnectInfo,
    Event,
    EventKind,
    Message,
    MessageDecision,
    Payload,
    PublishProperties,
    Stats,
    _CProperties,
    _check_qos,
    _client,
    _encode_payload,
    _message,
)

log = logging.getLogger("mqlite")


class Broker(_Serving, _Hooks, _Bridges, _EventLoop, _Management):
    """An mqlite broker in this process.

    The listeners are bound when the object is made, so :attr:`port` is
    known at once. Run it with :meth:`start` (a background thread),
    :meth:`run` (this thread) or on an asyncio event loop's thread
    (:meth:`attach`, :meth:`serve`). As a context manager it is started on
    entry (if not yet running) and stopped and freed on exit: ``with``
    starts it in a thread, ``async with`` on the running event loop.

    Hooks (:meth:`on_auth`, :meth:`on_acl`, :meth:`on_message`,
    :meth:`on_event`) and local subscriptions' callbacks run on the
    broker's thread and must not block. An exception inside one is logged
    (logger ``mqlite``) and treated as a refusal: authentication refused,
    ACL denied, message dropped. Hooks may be set or replaced at any time,
    also while the broker runs.

    Args:
        port: TCP port; 0 picks a free one (read it from :attr:`port`).
        host: IP address or host name to listen on (a name is resolved
            when the broker is made; it listens on the first address).
        db: SQLite file for persistent sessions and retained messages, or
            None to keep everything in memory.
        listeners: a list replacing host/port, of ``"HOST:PORT"`` strings
            (plain MQTT with the broker-wide settings) and :class:`Listener`
            objects (TLS, WebSocket, Unix sockets, settings of their own).
            :attr:`ports` gives their ports in this order, and the hooks'
            ``listener`` is a place in this list.
        bridges: :class:`Bridge` objects: bridges to upstream brokers,
            started with the broker (more with :meth:`add_bridge`; their
            state from :meth:`bridge_stats`).
        mqttsn: an :class:`MqttSnGateway`: the MQTT-SN gateway over UDP
            (None: none). Its ports from :attr:`mqttsn_ports`.
        mqttsn_port: a UDP port (0: a free one) for the MQTT-SN gateway on
            ``host``: the gateway of ``mqttsn`` listening there instead of
            on its ``listen`` addresses, or one with the defaults.
        **limits: ``max_connections``, ``max_packet_size``, ``max_inflight``,
            ``max_queued_messages``, ``max_queued_bytes``,
            ``max_pending_output``, ``connect_timeout_ms``,
            ``auth_timeout_ms``, ``session_expiry_s`` (-1: never),
            ``sys_interval_s`` (0: off), ``allow_zero_length_client_id``.

    Every method checks its arguments before they reach the C library: a
    wrong type raises :class:`ArgumentTypeError` (a ``TypeError``); a
    wrong value (an invalid topic or filter, a QoS above 2, a string with a
    NUL character, a number out of range) raises :class:`InvalidArgument`
    (a ``ValueError``); a call the broker cannot take in its state raises
    :class:`BrokerStateError` (a ``RuntimeError``). All three are
    :class:`MqliteError`.

    Raises:
        InvalidArgument: an unusable limit or address, a host name that
            does not resolve, a path or address
            with a NUL character, listener settings that cannot work
            together (``require_certificate`` without ``cafile`` or
            ``capath``, ...).
        MqliteError: an address that cannot be bound
            (``MQLITE_BIND_FAILED``), a listener that cannot start: a
            certificate or key that cannot be read or used, a socket path
            in a missing directory (``code`` ``MQLITE_LISTENER_FAILED``,
            7017, the detail naming the listener and the file), a
            persistence file that cannot be opened.
        ArgumentTypeError: an unknown keyword, an argument of the wrong
            type.
        LibraryNotFound: libmqlite cannot be loaded.

    A bridge with a value it cannot have, without a topic, or named like
    another raises :class:`InvalidArgument`; so does a gateway with one
    (an address that is not ``IP:PORT``, a reserved or repeated topic id,
    a zero retry interval or client limit, a password without a user
    name, a number outside its range).
    """

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        db: Union[str, "os.PathLike[str]", None] = None,
        *,
        listeners: Optional[List[Union[str, Listener]]] = None,
        bridges: Optional[List[Bridge]] = None,
        mqttsn: Optional[MqttSnGateway] = None,
        mqttsn_port: Optional[int] = None,
        **limits: Any,
    ):
        _check_limits(limits)
        bridge_list = _check_bridges(bridges)
        gateway = _check_gateway(mqttsn, mqttsn_port, host)
        self._lib = _native.load()
        self._broker: Optional[int] = None
        self._handle: Optional[int] = None
        self._thread: Optional[threading.Thread] = None
        self._loop_thread: Optional[int] = None  # ident of the thread in the loop
        # True while a pass runs (on the loop thread): hooks run then, and
        # calls that need the broker between passes must not be made.
        self._in_pass = False
        self._aio: Optional[_Attachment] = None
        self._state = threading.Lock()
        self._hooks: Dict[str, Optional[Callable[..., Any]]] = {name: None for name in _HOOKS}
        self._installed: Set[str] = set()
        self._pending_installs: List[str] = []
        self._installed_event = threading.Condition(self._state)
        self._subscriptions: Dict[int, Callable[[Message], Any]] = {}  # key -> callback
        self._keys: Dict[int, int] = {}  # subscription id -> key
        self._closed = False

        lib = self._lib
        self._broker, specs = _new_broker(lib, host, port, db, listeners, limits,
                                            bridge_list, gateway)
        handle = c_void_p()
        _check("mqlite_broker_handle", lib.mqlite_broker_handle(self._broker, byref(handle)))
        self._handle = handle.value
        # The C library numbers plain listeners first, then custom ones;
        # Python shows them in the order given.
        plain = [place for place, (kind, _) in enumerate(specs) if kind == "plain"]
        custom = [place for place, (kind, _) in enumerate(specs) if kind == "custom"]
        self._listener_places = plain + custom
        ports: List[Optional[int]] = [None] * len(specs)
        for index, place in enumerate(plain):
            value = c_uint16()
            _check("mqlite_broker_local_port",
                   lib.mqlite_broker_local_port(self._broker, index, byref(value)))
            ports[place] = value.value
        for index, place in enumerate(custom):
            value = c_uint16()
            _check("mqlite_broker_custom_port",
                   lib.mqlite_broker_custom_port(self._broker, index, byref(value)))
            ports[place] = None if specs[place][1].is_unix else value.value
        self._ports = ports
        self._mqttsn_ports = _bound_ports(lib, self._broker)
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
    def port(self) -> Optional[int]:
        """The port of the first TCP listener (None when every listener is
        a Unix socket)."""
        return next((port for port in self._ports if port is not None), None)

    @property
    def ports(self) -> List[Optional[int]]:
        """The ports the listeners are bound to, in the order given (None
        for a Unix socket listener)."""
        return list(self._ports)

    @property
    def mqttsn_port(self) -> Optional[int]:
        """The UDP port the MQTT-SN gateway is bound to on its first
        address (None without a gateway)."""
        return self._mqttsn_ports[0] if self._mqttsn_ports else None

    @property
    def mqttsn_ports(self) -> List[int]:
        """The UDP ports the MQTT-SN gateway is bound to, in the order of
        its ``listen`` addresses (empty without a gateway)."""
        return list(self._mqttsn_ports)

    def _name(self) -> str:
        port = self.port
        return str(port) if port is not None else "unix"

    @property
    def running(self) -> bool:
        """Whether the broker is being served now: by a thread
        (:meth:`start`, :meth:`run`) or an event loop (:meth:`attach`)."""
        return self._loop_thread is not None

    # --- running -------------------------------------------------------------

    def stop(self, timeout: Optional[float] = 10.0) -> None:
        """Stops the broker: it stops accepting, closes every client,
        flushes, and :meth:`run` / the :meth:`start` thread returns (on an
        event loop, the future of :meth:`attach` is done). Waits up to
        ``timeout`` seconds for the background thread (not when called
        from a hook). Harmless when stopped or closed.

        Raises:
            InvalidArgument: a negative or infinite timeout.
            ArgumentTypeError: a timeout that is neither a number nor None.
        """
        if timeout is not None:
            _args.seconds(timeout, "timeout", "mqlite_handle_stop")
        if self._handle is None:
            return
        self._lib.mqlite_handle_stop(self._handle)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def close(self) -> None:
        """Stops the broker and frees it. The object is unusable afterwards.
        Harmless when called again. On the event loop it is attached to,
        it runs the broker's last passes itself.

        Raises:
            BrokerStateError: called from a hook (use :meth:`stop` there);
                the broker did not stop (its thread, or the event loop
                thread it is attached to, did not finish in 10 s).
        """
        if self._closed:
            return
        if self._in_pass and self._loop_thread == threading.get_ident():
            raise BrokerStateError("close() from a hook; call stop() there and close() "
                                   "afterwards")
        self.stop()
        if self._aio is not None and self._loop_thread == threading.get_ident():
            self._aio_finish()
        if self._thread is not None and self._thread.is_alive():
            raise BrokerStateError("the broker thread did not stop; not freed")
        with self._state:
            # Attached to an event loop in another thread: that loop runs
            # the last passes.
            self._installed_event.wait_for(lambda: self._loop_thread is None, 10.0)
            if self._loop_thread is not None:
                raise BrokerStateError("the broker is still running in another thread")
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
            raise BrokerStateError("the broker is closed", _native.MQLITE_STOPPED)

    # --- local subscriptions (the hooks are in _hooks.py) --------------------

    def _local_trampoline(self, userdata: Any, message_ptr: Any) -> None:
        try:
            callback = self._subscriptions.get(userdata or 0)
            if callback is None:
                return  # unsubscribed; the broker had not yet heard
            callback(_message(self._lib, message_ptr))
        except BaseException:
            log.exception("local subscription callback raised")

    # --- the thread-safe side ------------------------------------------------

    def _live_handle(self) -> int:
        if self._handle is None:
            raise BrokerStateError("the broker is closed", _native.MQLITE_STOPPED)
        return self._handle

    def publish(self, topic: str, payload: Payload = b"", qos: int = 0,
                retain: bool = False, *,
                properties: Optional[PublishProperties] = None) -> None:
        """Publishes a message as the host (from any thread, hooks
        included). A str payload is sent as UTF-8.

        ``properties``: MQTT 5 properties (:class:`PublishProperties`), which
        MQTT 5 subscribers and local subscriptions get; MQTT 3.1.1
        subscribers get the message without them. A message expiry interval
        counts from when the broker thread takes the message.

        Raises:
            InvalidArgument: an invalid topic (wildcards, a NUL character,
                ...) or QoS; a property the protocol cannot carry (a
                response topic that is not a topic name, a string with a NUL
                character or over 65535 bytes, an expiry out of range).
            ArgumentTypeError: a topic that is not a str, a payload that is not
                bytes or str, properties that are not PublishProperties.
            MqliteError: the broker has stopped.
        """
        function = "mqlite_handle_publish_with"
        encoded = _args.c_string(topic, "topic", function, _native.MQLITE_INVALID_TOPIC)
        data = _encode_payload(payload)
        qos = _check_qos(qos, function)
        with _CProperties(self._lib, properties, function) as c_properties:
            _check(function, self._lib.mqlite_handle_publish_with(
                self._live_handle(), encoded, data, len(data), qos, bool(retain),
                c_properties))

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
            InvalidArgument: an invalid filter (a NUL character, ``#`` not
                last, ...) or QoS.
            ArgumentTypeError: a filter that is not a str, a callback that is not
                callable.
            MqliteError: the broker has stopped.
        """
        function = "mqlite_handle_subscribe_local"
        encoded = _args.c_string(filter, "filter", function, _native.MQLITE_INVALID_TOPIC)
        qos = _check_qos(qos, function)
        _args.callback(callback, "callback", optional=True)
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
            _check(function, self._lib.mqlite_handle_subscribe_local(
                self._live_handle(), encoded, qos, self._c_local, c_void_p(key),
                byref(sub_id)))
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
            ArgumentTypeError: ``subscription`` is not an int.
            InvalidArgument: ``subscription`` is negative or too large.
            MqliteError: the broker has stopped.
        """
        function = "mqlite_handle_unsubscribe_local"
        _args.c_int(subscription, "subscription", function, _native.MQLITE_INVALID_ARGUMENT,
                    0, _args.U64_MAX)
        with self._state:
            key = self._keys.pop(subscription, None)
            if key is not None:
                self._subscriptions.pop(key, None)
        _check(function, self._lib.mqlite_handle_unsubscribe_local(self._live_handle(),
                                                                  subscription))

    def complete_auth(self, token: int,
                      decision: Union[AuthDecision, bool, AuthContinue, AuthAcceptWith,
                                      AuthRefuse]) -> None:
        """Answers an authentication the hook left ``PENDING`` (from any
        thread). True/False mean ACCEPT/NOT_AUTHORIZED; every answer the
        hook itself may give is accepted (:class:`AuthContinue`,
        :class:`AuthAcceptWith` and :class:`AuthRefuse` included). A
        pending re-authentication is answered the same way.

        Raises:
            InvalidArgument: ``PENDING`` or an unknown decision given, a
                token out of range.
            ArgumentTypeError: a token that is not an int, a decision that is not
                an :class:`AuthDecision`, int, bool or one of the classes
                above.
            MqliteError: the broker has stopped.
        """
        function = "mqlite_handle_complete_auth_with_data"
        _args.c_int(token, "token", function, _native.MQLITE_INVALID_ARGUMENT, 0, _args.U64_MAX)
        data = b""
        if isinstance(decision, bool):
            code = int(AuthDecision.ACCEPT if decision else AuthDecision.NOT_AUTHORIZED)
        elif isinstance(decision, AuthContinue):
            code, data = _native.MQLITE_AUTH_CONTINUE, decision.data
        elif isinstance(decision, AuthAcceptWith):
            code, data = _native.MQLITE_AUTH_ACCEPT_WITH_DATA, decision.data
        elif isinstance(decision, AuthRefuse):
            code = decision.decision
        elif isinstance(decision, AuthDecision):
            code = int(decision)
        else:
            code = _args.c_int(decision, "decision", function,
                               _native.MQLITE_INVALID_ARGUMENT, 0, max(AuthDecision))
        _check(function, self._lib.mqlite_handle_complete_auth_with_data(
            self._live_handle(), token, code, data, len(data)))

    def kick(self, client_id: str) -> None:
        """Closes a client's connection (its will is published).

        Raises:
            InvalidArgument: a client id with a NUL character.
            ArgumentTypeError: a client id that is not a str.
            MqliteError: the broker has stopped.
        """
        function = "mqlite_handle_kick"
        encoded = _args.c_string(client_id, "client id", function,
                                 _native.MQLITE_INVALID_ARGUMENT)
        _check(function, self._lib.mqlite_handle_kick(self._live_handle(), encoded))

    def reload(self, timeout: float = 5.0) -> None:
        """Reads the password and ACL files (broker-wide and per-listener)
        and every TLS listener's certificate, key and CAs again, as SIGHUP
        does to mosquitto: new connections use them, connected clients keep
        what they connected with (except that a client the password file let
        in is disconnected if the new file no longer accepts its user name
        and password, as in mosquitto 2.0), hooks stay in place. If any file cannot
        be read nothing changes. Waits up to ``timeout`` seconds for the
        broker thread when one runs it; on the event loop it is attached
        to, it reloads at once. Do not call it from a hook.

        Raises:
            InvalidArgument: a password or ACL file that cannot be read or
                parsed (the detail names the file and line); a negative or
                infinite timeout.
            MqliteError: a certificate or key that cannot be read or used
                (``MQLITE_LISTENER_FAILED``; the detail names the listener
                and the file); called from a hook
                (``MQLITE_ON_BROKER_THREAD``); the broker has stopped or
                did not answer in time.
            ArgumentTypeError: a timeout that is not a number.
        """
        function = "mqlite_handle_reload"
        milliseconds = min(int(_args.seconds(timeout, "timeout", function) * 1000),
                           _args.U64_MAX)
        with self._state:
            self._require_open()
            if self._runs_here():
                # Between passes, on this thread: no need to ask the loop.
                _check("mqlite_broker_reload", self._lib.mqlite_broker_reload(self._broker))
                return
        _check(function, self._lib.mqlite_handle_reload(self._live_handle(), milliseconds))

    def stats(self, timeout: float = 5.0) -> Stats:
        """The broker's counters, waiting up to ``timeout`` seconds for the
        broker thread when one runs it (do not call it from a hook).

        Raises:
            InvalidArgument: a negative or infinite timeout.
            ArgumentTypeError: a timeout that is not a number.
            MqliteError: the broker has stopped or did not answer.
        """
        function = "mqlite_handle_stats"
        milliseconds = min(int(_args.seconds(timeout, "timeout", function) * 1000),
                           _args.U64_MAX)
        out = _native.StatsC()
        with self._state:
            self._require_open()
            here = self._runs_here()
            if here:
                _check("mqlite_broker_stats", self._lib.mqlite_broker_stats(self._broker,
                                                                            byref(out)))
        if not here:
            _check(function, self._lib.mqlite_handle_stats(
                self._live_handle(), milliseconds, byref(out)))
        return Stats(**{name: getattr(out, name) for name in _native.STATS_FIELDS})

    @property
    def stopped(self) -> bool:
        """Whether the broker has stopped."""
        if self._handle is None:
            return True
        return bool(self._lib.mqlite_handle_is_stopped(self._handle))


def library_version() -> str:
    """The loaded C library's version (``mqlite_version()``)."""
    version: bytes = _native.load().mqlite_version()
    return version.decode("ascii")
