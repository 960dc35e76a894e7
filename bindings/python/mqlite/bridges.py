"""Bridges to upstream brokers: :class:`Bridge`, with its
:class:`BridgeTopic` list and :class:`BridgeTLS` settings, given to
:class:`~mqlite.Broker` (``bridges=[...]``) or added while it runs
(:meth:`~mqlite.Broker.add_bridge`); :class:`BridgeStats` from
:meth:`~mqlite.Broker.bridge_stats`.

As for listeners, the values are checked for their types when made
(``TypeError``); their ranges, and what cannot work together, when the
bridge is given to a broker, which raises :class:`~mqlite.InvalidArgument`
(a ``ValueError``).
"""

from __future__ import annotations

import math
import threading
from ctypes import byref, c_bool, c_size_t, c_void_p, sizeof
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from . import _args, _native
from .errors import ArgumentTypeError, _check, _invalid
from .listeners import PathLike, _check_bool, _check_path, _check_str, _type_name

#: The names ``BridgeTopic.direction`` takes (mosquitto's), and the C
#: constants.
DIRECTIONS = {"in": 1, "out": 2, "both": 3}
#: The names ``Bridge.protocol`` takes (mosquitto's
#: ``bridge_protocol_version``), and the protocol levels.
PROTOCOLS = {"mqttv31": 3, "mqttv311": 4, "mqttv50": 5}
#: The names ``Bridge.start`` takes (mosquitto's ``start_type``).
STARTS = ("automatic", "once", "lazy")

_U32_MAX = (1 << 32) - 1


def _check_seconds(value: Any, what: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        allowed = "a number of seconds or None" if optional else "a number of seconds"
        raise ArgumentTypeError(f"{what} must be {allowed}, not {_type_name(value)}")


def _whole_seconds(value: Union[int, float], what: str, function: str, low: int,
                   high: int) -> int:
    """A duration the C API takes in whole seconds, within ``low`` ..=
    ``high``."""
    if not (math.isfinite(value) and value == int(value) and low <= value <= high):
        raise _invalid(function, _native.MQLITE_INVALID_ARGUMENT,
                       f"{what} must be a whole number of seconds within {low}..={high}, "
                       f"not {value!r}")
    return int(value)


@dataclass(frozen=True)
class BridgeTopic:
    """One topic a bridge carries (mosquitto's ``topic PATTERN DIRECTION
    QOS LOCAL-PREFIX REMOTE-PREFIX``).

    Locally its messages are on ``local_prefix + pattern``, upstream on
    ``remote_prefix + pattern``; a message that crosses has the one prefix
    replaced by the other. ``pattern`` is a topic filter (wildcards
    allowed), or ``""`` when a prefix alone names the topic.
    ``direction``: ``"out"`` (to the upstream; the default), ``"in"`` (from
    it) or ``"both"``. ``qos``: 0, 1 or 2, the QoS messages cross at (a
    QoS 0 message on a QoS 1 topic is queued and acknowledged like a QoS 1
    one). The prefixes may not hold wildcards.
    """

    pattern: str
    direction: str = "out"
    qos: int = 0
    local_prefix: str = ""
    remote_prefix: str = ""

    def __post_init__(self) -> None:
        for name in ("pattern", "direction", "local_prefix", "remote_prefix"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ArgumentTypeError(f"{name} must be a str, not {_type_name(value)}")
        if isinstance(self.qos, bool) or not isinstance(self.qos, int):
            raise ArgumentTypeError(f"qos must be an int, not {_type_name(self.qos)}")


@dataclass(frozen=True)
class BridgeTLS:
    """TLS for a bridge's connection (mosquitto's ``bridge_cafile``,
    ``bridge_capath``, ``bridge_certfile``, ``bridge_keyfile``,
    ``bridge_insecure``): the CAs the upstream's certificate is verified
    against (``cafile`` or ``capath``, one of them needed), the bridge's
    own certificate and key for an upstream that asks for one (both or
    neither), and ``insecure`` to skip checking the host name (never in
    production).

    The files are read when the bridge is added (a missing or unreadable
    one: :class:`~mqlite.InvalidArgument`, code ``MQLITE_INVALID_CONFIG``,
    naming it) and again at each connection.
    """

    cafile: Optional[PathLike] = None
    capath: Optional[PathLike] = None
    certfile: Optional[PathLike] = None
    keyfile: Optional[PathLike] = None
    insecure: bool = False

    def __post_init__(self) -> None:
        for name in ("cafile", "capath", "certfile", "keyfile"):
            _check_path(getattr(self, name), name)
        _check_bool(self.insecure, "insecure")


@dataclass(frozen=True)
class Bridge:
    """A bridge to an upstream broker (mosquitto's ``connection`` block):
    an MQTT client inside the broker that forwards ``topics`` out to the
    upstream and in from it, keeping what goes out queued (in the ``db``
    file, when there is one) while the link is down.

    - ``name``: unique among the broker's bridges; names its local session,
      its log lines and its default client id (not empty, no ``/``, ``+``
      or ``#``).
    - ``addresses``: ``"HOST[:PORT]"`` strings (or one such string), tried
      in turn; the port defaults to 1883, host names are resolved at each
      connection. ``round_robin``: after a failure go on to the next
      address, rather than back to the first.
    - ``topics``: :class:`BridgeTopic` objects, at least one.
    - ``clean_session``: the upstream session's Clean Session flag
      (default False: the upstream keeps what is for the bridge while the
      link is down). ``local_clean_session``: whether the local queue is
      dropped at a restart (None: as ``clean_session``).
    - ``remote_client_id`` (None: ``<hostname>.<name>``),
      ``remote_username``, ``remote_password`` (needs a user name): who the
      bridge is upstream.
    - ``keepalive``: seconds, 1 to 65535 (default 60).
      ``restart_timeout``: seconds before reconnecting (default 5), with a
      backoff up to ``restart_timeout_cap`` (default 30; None: a constant
      wait). Whole seconds: the C API takes seconds.
    - ``start``: ``"automatic"`` (at start and after every disconnection),
      ``"once"``, or ``"lazy"``: once ``threshold`` messages (default 10)
      wait for the upstream, disconnecting again after ``idle_timeout``
      seconds (default 60) without traffic.
    - ``try_private``: tell the upstream it is a bridge, so that it does not
      send back what the bridge published (default True).
    - ``notifications``: publish the link's state (``1`` up, ``0`` down,
      retained) locally and upstream, on ``notification_topic`` (None:
      ``$SYS/broker/connection/<remote client id>/state``).
    - ``protocol``: ``"mqttv31"``, ``"mqttv311"`` (the default) or
      ``"mqttv50"``.
    - ``tls``: :class:`BridgeTLS`, or None for plain TCP.
    """

    name: str
    addresses: Union[str, Sequence[str]]
    topics: Sequence[BridgeTopic]
    round_robin: bool = False
    clean_session: bool = False
    local_clean_session: Optional[bool] = None
    remote_client_id: Optional[str] = None
    remote_username: Optional[str] = None
    remote_password: Optional[str] = None
    keepalive: Union[int, float] = 60
    restart_timeout: Union[int, float] = 5
    restart_timeout_cap: Optional[Union[int, float]] = 30
    start: str = "automatic"
    threshold: int = 10
    idle_timeout: Union[int, float] = 60
    try_private: bool = True
    notifications: bool = True
    notification_topic: Optional[str] = None
    protocol: str = "mqttv311"
    tls: Optional[BridgeTLS] = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise ArgumentTypeError(f"name must be a str, not {_type_name(self.name)}")
        addresses = self.addresses
        if isinstance(addresses, str):
            addresses = (addresses,)
        if not isinstance(addresses, (list, tuple)) or not all(
                isinstance(address, str) for address in addresses):
            raise ArgumentTypeError("addresses must be a \"HOST[:PORT]\" str or a list of "
                                    f"them, not {_type_name(self.addresses)}")
        object.__setattr__(self, "addresses", tuple(addresses))
        if not isinstance(self.topics, (list, tuple)) or not all(
                isinstance(topic, BridgeTopic) for topic in self.topics):
            raise ArgumentTypeError("topics must be a list of BridgeTopic, not "
                                    f"{_type_name(self.topics)}")
        object.__setattr__(self, "topics", tuple(self.topics))
        for name in ("round_robin", "clean_session", "try_private", "notifications"):
            _check_bool(getattr(self, name), name)
        _check_bool(self.local_clean_session, "local_clean_session", optional=True)
        for name in ("remote_client_id", "remote_username", "remote_password",
                     "notification_topic"):
            _check_str(getattr(self, name), name)
        _check_seconds(self.keepalive, "keepalive")
        _check_seconds(self.restart_timeout, "restart_timeout")
        _check_seconds(self.restart_timeout_cap, "restart_timeout_cap", optional=True)
        for name in ("start", "protocol"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ArgumentTypeError(f"{name} must be a str, not {_type_name(value)}")
        if self.tls is not None and not isinstance(self.tls, BridgeTLS):
            raise ArgumentTypeError(f"tls must be a BridgeTLS or None, not {_type_name(self.tls)}")


@dataclass(frozen=True)
class BridgeStats:
    """A bridge's state and counters, from
    :meth:`~mqlite.Broker.bridge_stats`: whether the link is up, how many
    times it came up, messages sent upstream (resends not counted again)
    and received from it, waiting to go upstream (queued or in flight),
    and dropped (a full queue, or a QoS 0 topic's message while the link
    was down)."""

    name: str
    connected: bool
    connections: int
    sent: int
    received: int
    queued: int
    dropped: int


def _optional_text(value: Optional[str], what: str, function: str,
                   code: int = _native.MQLITE_INVALID_ARGUMENT) -> Optional[bytes]:
    return None if value is None else _args.c_string(value, what, function, code)


def _optional_path(value: Any, what: str) -> Optional[bytes]:
    return None if value is None else _args.c_path(value, what, "mqlite_bridge_set_tls")


def _c_bridge(lib: Any, bridge: Bridge) -> int:
    """A new ``mqlite_bridge`` made from ``bridge``; the caller frees it."""
    if not isinstance(bridge, Bridge):
        raise ArgumentTypeError(f"a bridge must be a Bridge, not {_type_name(bridge)}")
    function = "mqlite_bridge_new"
    if not bridge.addresses:
        raise _invalid(function, _native.MQLITE_INVALID_ADDRESS,
                       f"bridge {bridge.name}: at least one address is needed")
    address_code = _native.MQLITE_INVALID_ADDRESS
    name = _args.c_string(bridge.name, "name", function, _native.MQLITE_INVALID_ARGUMENT)
    addresses = [_args.c_string(address, "address", function, address_code)
                 for address in bridge.addresses]
    made = c_void_p()
    _check(function, lib.mqlite_bridge_new(name, addresses[0], byref(made)))
    pointer = _native.made(made, function)
    try:
        calls: List[Tuple[str, Tuple[Any, ...]]] = [
            ("mqlite_bridge_add_address", (address,)) for address in addresses[1:]]
        for topic in bridge.topics:
            setter = "mqlite_bridge_add_topic"
            if topic.direction not in DIRECTIONS:
                raise _invalid(setter, _native.MQLITE_INVALID_ARGUMENT,
                               f"direction {topic.direction!r} is not one of "
                               f"{', '.join(sorted(DIRECTIONS))}")
            topic_code = _native.MQLITE_INVALID_TOPIC
            calls.append((setter, (
                _args.c_string(topic.pattern, "pattern", setter, topic_code),
                DIRECTIONS[topic.direction],
                _args.c_int(topic.qos, "qos", setter, _native.MQLITE_INVALID_ARGUMENT, 0, 2),
                _args.c_string(topic.local_prefix, "local_prefix", setter, topic_code),
                _args.c_string(topic.remote_prefix, "remote_prefix", setter, topic_code),
            )))
        if bridge.start not in STARTS:
            raise _invalid("mqlite_bridge_set_start_once", _native.MQLITE_INVALID_ARGUMENT,
                           f"start {bridge.start!r} is not one of {', '.join(STARTS)}")
        if bridge.protocol not in PROTOCOLS:
            raise _invalid("mqlite_bridge_set_protocol_version",
                           _native.MQLITE_INVALID_ARGUMENT,
                           f"protocol {bridge.protocol!r} is not one of "
                           f"{', '.join(sorted(PROTOCOLS))}")
        restart = "mqlite_bridge_set_restart_timeout_s"
        base = _whole_seconds(bridge.restart_timeout, "restart_timeout", restart, 1, _U32_MAX)
        cap = -1
        if bridge.restart_timeout_cap is not None:
            cap = _whole_seconds(bridge.restart_timeout_cap, "restart_timeout_cap", restart,
                                 base, _U32_MAX)
        local_clean = bridge.local_clean_session
        credentials = "mqlite_bridge_set_remote_credentials"
        calls += [
            ("mqlite_bridge_set_round_robin", (bridge.round_robin,)),
            ("mqlite_bridge_set_clean_session", (bridge.clean_session,)),
            ("mqlite_bridge_set_local_clean_session",
             (-1 if local_clean is None else int(local_clean),)),
            ("mqlite_bridge_set_remote_client_id",
             (_optional_text(bridge.remote_client_id, "remote_client_id",
                             "mqlite_bridge_set_remote_client_id"),)),
            (credentials,
             (_optional_text(bridge.remote_username, "remote_username", credentials),
              _optional_text(bridge.remote_password, "remote_password", credentials))),
            ("mqlite_bridge_set_keepalive_s",
             (_whole_seconds(bridge.keepalive, "keepalive", "mqlite_bridge_set_keepalive_s",
                             1, _args.U16_MAX),)),
            (restart, (base, cap)),
            ("mqlite_bridge_set_start_once", (bridge.start == "once",)),
        ]
        if bridge.start == "lazy":
            lazy = "mqlite_bridge_set_start_lazy"
            calls.append((lazy, (
                _args.c_int(bridge.threshold, "threshold", lazy,
                            _native.MQLITE_INVALID_ARGUMENT, 1, 2**63 - 1),
                _whole_seconds(bridge.idle_timeout, "idle_timeout", lazy, 1, _U32_MAX))))
        calls += [
            ("mqlite_bridge_set_try_private", (bridge.try_private,)),
            ("mqlite_bridge_set_notifications", (bridge.notifications,)),
            ("mqlite_bridge_set_notification_topic",
             (_optional_text(bridge.notification_topic, "notification_topic",
                             "mqlite_bridge_set_notification_topic",
                             _native.MQLITE_INVALID_TOPIC),)),
            ("mqlite_bridge_set_protocol_version", (PROTOCOLS[bridge.protocol],)),
        ]
        tls = bridge.tls
        if tls is not None:
            calls.append(("mqlite_bridge_set_tls", (
                _optional_path(tls.cafile, "cafile"), _optional_path(tls.capath, "capath"),
                _optional_path(tls.certfile, "certfile"), _optional_path(tls.keyfile, "keyfile"),
                tls.insecure)))
        for setter, args in calls:
            _check(setter, getattr(lib, setter)(pointer, *args))
    except BaseException:
        lib.mqlite_bridge_free(pointer)
        raise
    return pointer


def _check_bridges(bridges: Any) -> List[Bridge]:
    """The ``bridges`` given to ``Broker()``, checked for their types."""
    if bridges is None:
        return []
    if not isinstance(bridges, (list, tuple)):
        raise ArgumentTypeError(f"bridges must be a list of Bridge, not {_type_name(bridges)}")
    for bridge in bridges:
        if not isinstance(bridge, Bridge):
            raise ArgumentTypeError(f"a bridge must be a Bridge, not {_type_name(bridge)}")
    return list(bridges)


def _add_to_config(lib: Any, config: int, bridges: List[Bridge]) -> None:
    """Adds copies of ``bridges`` to the C config."""
    for bridge in bridges:
        pointer = _c_bridge(lib, bridge)
        try:
            _check("mqlite_config_add_bridge", lib.mqlite_config_add_bridge(config, pointer))
        finally:
            lib.mqlite_bridge_free(pointer)


def _read_list(lib: Any, pointer: int) -> List[BridgeStats]:
    """The entries of a ``mqlite_bridge_stats_list``, which it frees."""
    try:
        count = c_size_t()
        _check("mqlite_bridge_stats_list_count",
               lib.mqlite_bridge_stats_list_count(pointer, byref(count)))
        entries = []
        for index in range(count.value):
            name = c_void_p()
            length = c_size_t()
            _check("mqlite_bridge_stats_list_name",
                   lib.mqlite_bridge_stats_list_name(pointer, index, byref(name), byref(length)))
            stats = _native.BridgeStatsC()
            _check("mqlite_bridge_stats_list_get",
                   lib.mqlite_bridge_stats_list_get(pointer, index, byref(stats), sizeof(stats)))
            entries.append(BridgeStats(
                name=_native.view_str(name.value, length.value),
                connected=bool(stats.connected),
                **{field: getattr(stats, field) for field in _native.BRIDGE_STATS_FIELDS
                   if field != "connected"},
            ))
        return entries
    finally:
        lib.mqlite_bridge_stats_list_free(pointer)


class _Bridges:
    """The bridge half of :class:`~mqlite.Broker` (a mixin: the state below
    is made by ``Broker.__init__``). Like :meth:`~mqlite.Broker.reload`,
    each call goes straight to the broker when no thread runs it (or from
    the event loop it is attached to), and through the handle, waiting for
    the broker thread, when one does; do not call them from a hook."""

    _lib: Any
    _broker: Optional[int]
    _state: threading.Lock
    _loop_thread: Optional[int]
    _require_open: Callable[[], None]
    _live_handle: Callable[[], int]
    _runs_here: Callable[[], bool]

    def add_bridge(self, bridge: Bridge, timeout: float = 5.0) -> None:
        """Adds ``bridge`` (a copy) to the broker; it connects at once.

        Raises:
            InvalidArgument: a value the bridge cannot have (an address
                that is not ``HOST[:PORT]``, an invalid topic, ...), a
                bridge without a topic or whose name is taken, TLS files
                that cannot be read; a negative or infinite timeout.
            ArgumentTypeError: not a :class:`Bridge`; a timeout that is not a
                number.
            MqliteError: the broker has stopped or did not answer in time.
        """
        function = "mqlite_handle_add_bridge"
        milliseconds = min(int(_args.seconds(timeout, "timeout", function) * 1000),
                           _args.U64_MAX)
        lib = self._lib
        pointer = _c_bridge(lib, bridge)
        try:
            with self._state:
                self._require_open()
                if self._runs_here():
                    _check("mqlite_broker_add_bridge",
                           lib.mqlite_broker_add_bridge(self._broker, pointer))
                    return
            _check(function, lib.mqlite_handle_add_bridge(self._live_handle(), pointer,
                                                          milliseconds))
        finally:
            lib.mqlite_bridge_free(pointer)

    def remove_bridge(self, name: str, timeout: float = 5.0) -> bool:
        """Removes the bridge ``name``: its link closes and what it still
        had queued for the upstream is dropped. Returns whether there was
        such a bridge.

        Raises:
            InvalidArgument: a name with a NUL character; a negative or
                infinite timeout.
            ArgumentTypeError: a name that is not a str; a timeout that is not a
                number.
            MqliteError: the broker has stopped or did not answer in time.
        """
        function = "mqlite_handle_remove_bridge"
        encoded = _args.c_string(name, "name", function, _native.MQLITE_INVALID_ARGUMENT)
        milliseconds = min(int(_args.seconds(timeout, "timeout", function) * 1000),
                           _args.U64_MAX)
        removed = c_bool(False)
        with self._state:
            self._require_open()
            if self._runs_here():
                _check("mqlite_broker_remove_bridge",
                       self._lib.mqlite_broker_remove_bridge(self._broker, encoded,
                                                             byref(removed)))
                return removed.value
        _check(function, self._lib.mqlite_handle_remove_bridge(
            self._live_handle(), encoded, milliseconds, byref(removed)))
        return removed.value

    def bridge_stats(self, timeout: float = 5.0) -> List[BridgeStats]:
        """Every bridge's state and counters, at one moment, in the order
        they were added (those given to ``Broker()`` first).

        Raises:
            InvalidArgument: a negative or infinite timeout.
            ArgumentTypeError: a timeout that is not a number.
            MqliteError: the broker has stopped or did not answer in time.
        """
        function = "mqlite_handle_bridge_stats"
        milliseconds = min(int(_args.seconds(timeout, "timeout", function) * 1000),
                           _args.U64_MAX)
        made = c_void_p()
        with self._state:
            self._require_open()
            if self._runs_here():
                _check("mqlite_broker_bridge_stats",
                       self._lib.mqlite_broker_bridge_stats(self._broker, byref(made)))
                return _read_list(self._lib, _native.made(made, "mqlite_broker_bridge_stats"))
        _check(function, self._lib.mqlite_handle_bridge_stats(
            self._live_handle(), milliseconds, byref(made)))
        return _read_list(self._lib, _native.made(made, function))
