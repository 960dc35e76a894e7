"""The MQTT-SN gateway: :class:`MqttSnGateway`, given to
:class:`~mqlite.Broker` (``mqttsn=MqttSnGateway(...)``, or
``mqttsn_port=PORT`` for one with the defaults); the ports it is bound to
from :attr:`~mqlite.Broker.mqttsn_ports`.

As for listeners and bridges, the values are checked for their types when
made (``TypeError``); their ranges, and what cannot work together, when
the gateway is given to a broker, which raises
:class:`~mqlite.InvalidArgument` (a ``ValueError``).
"""

from __future__ import annotations

import math
import ctypes
from ctypes import byref, c_uint16
from dataclasses import dataclass, replace
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

from . import _args, _codes, _hosts
from .errors import ArgumentTypeError, _check, _invalid
from .listeners import _check_str, _type_name

_U8_MAX = (1 << 8) - 1
_U32_MAX = (1 << 32) - 1
_SIZE_MAX = (1 << (8 * ctypes.sizeof(ctypes.c_size_t))) - 1

#: What ``predefined_topics`` takes: ``{id: topic}`` or ``[(id, topic), ...]``.
PredefinedTopics = Union[Mapping[int, str], Sequence[Tuple[int, str]]]


@dataclass(frozen=True)
class MqttSnGateway:
    """The MQTT-SN 1.2 gateway inside the broker: a UDP listener whose
    devices become clients of the broker, with sessions, retained messages,
    wills, hooks and ACLs like any other (docs/MQTTSN.md).

    - ``listen``: ``"IP:PORT"`` UDP addresses (or one such string; port 0
      picks a free port, read from :attr:`~mqlite.Broker.mqttsn_ports`).
      Default: every IPv4 and IPv6 address, port 1884.
    - ``gateway_id``: 0 to 255, sent in ADVERTISE and GWINFO (default 1).
    - ``advertise_interval``: whole seconds between ADVERTISE messages, 0
      to 65535 (0: none; default 900). ``advertise_to``: where they go,
      ``"IP:PORT"`` strings (default ``"255.255.255.255:1884"``).
    - ``predefined_topics``: ``{id: topic}`` or ``[(id, topic), ...]``:
      topic ids every client knows (1 to 65534, each once; topic names
      without wildcards).
    - ``username``, ``password`` (needs a user name): what the auth hook
      and the password file see for every MQTT-SN client, whose CONNECT
      carries none.
    - ``retry_interval``: seconds (more than 0; millisecond precision)
      before a PUBLISH, PUBREL or REGISTER is sent again (default 10);
      ``max_retries``: how many times before the client is given up as
      lost (default 4).
    - ``max_registered_topics``: topic ids one client may register
      (default 1000); ``max_clients``: clients kept at once, at least 1
      (default 10 000).
    """

    listen: Union[str, Sequence[str]] = ("0.0.0.0:1884", "[::]:1884")
    gateway_id: int = 1
    advertise_interval: int = 900
    advertise_to: Union[str, Sequence[str]] = ("255.255.255.255:1884",)
    predefined_topics: PredefinedTopics = ()
    username: Optional[str] = None
    password: Optional[str] = None
    retry_interval: Union[int, float] = 10
    max_retries: int = 4
    max_registered_topics: int = 1000
    max_clients: int = 10_000

    def __post_init__(self) -> None:
        for name in ("listen", "advertise_to"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            if not isinstance(value, (list, tuple)) or not all(
                    isinstance(address, str) for address in value):
                raise ArgumentTypeError(f"{name} must be an \"IP:PORT\" str or a list of "
                                        f"them, not {_type_name(getattr(self, name))}")
            object.__setattr__(self, name, tuple(value))
        topics = self.predefined_topics
        pairs = list(topics.items()) if isinstance(topics, Mapping) else topics
        if isinstance(pairs, (str, bytes)) or not isinstance(pairs, (list, tuple)) or not all(
                isinstance(pair, tuple) and len(pair) == 2 for pair in pairs):
            raise ArgumentTypeError("predefined_topics must be a {id: topic} dict or a list "
                                    f"of (id, topic) pairs, not {_type_name(topics)}")
        for topic_id, topic in pairs:
            if isinstance(topic_id, bool) or not isinstance(topic_id, int):
                raise ArgumentTypeError(f"a topic id must be an int, not {_type_name(topic_id)}")
            if not isinstance(topic, str):
                raise ArgumentTypeError(f"a topic must be a str, not {_type_name(topic)}")
        object.__setattr__(self, "predefined_topics", tuple(pairs))
        for name in ("gateway_id", "advertise_interval", "max_retries",
                     "max_registered_topics", "max_clients"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ArgumentTypeError(f"{name} must be an int, not {_type_name(value)}")
        retry = self.retry_interval
        if isinstance(retry, bool) or not isinstance(retry, (int, float)):
            raise ArgumentTypeError("retry_interval must be a number of seconds, not "
                                    f"{_type_name(retry)}")
        _check_str(self.username, "username")
        _check_str(self.password, "password")


def _check_gateway(mqttsn: Any, mqttsn_port: Any, host: str) -> Optional[MqttSnGateway]:
    """The gateway ``Broker()`` was given: ``mqttsn``, with its listen
    addresses replaced by ``host:mqttsn_port`` when that is given (as the
    binary's ``--mqttsn-port`` does), or None."""
    if mqttsn is not None and not isinstance(mqttsn, MqttSnGateway):
        raise ArgumentTypeError(f"mqttsn must be an MqttSnGateway or None, not "
                                f"{_type_name(mqttsn)}")
    if mqttsn_port is None:
        return mqttsn
    function = "mqlite_config_set_mqttsn"
    port = _args.c_int(mqttsn_port, "mqttsn_port", function, _codes.MQLITE_INVALID_ADDRESS, 0,
                       _args.U16_MAX)
    listen = _hosts.address(_hosts.resolve(host, function), port)
    if mqttsn is None:
        return MqttSnGateway(listen=listen)
    return replace(mqttsn, listen=listen)


def _udp_address(text: str, function: str) -> bytes:
    return _args.c_string(text, "address", function, _codes.MQLITE_INVALID_ADDRESS)


def _add_to_config(lib: Any, config: int, gateway: Optional[MqttSnGateway]) -> None:
    """Turns the gateway on in the C config (nothing when None)."""
    if gateway is None:
        return
    if not gateway.listen:
        raise _invalid("mqlite_config_set_mqttsn", _codes.MQLITE_INVALID_CONFIG,
                       "mqttsn.listen: at least one address is needed")
    invalid = _codes.MQLITE_INVALID_ARGUMENT
    retry = "mqlite_config_set_mqttsn_retry"
    seconds = gateway.retry_interval
    if not (math.isfinite(seconds) and 0 < seconds * 1000 <= _args.U64_MAX):
        raise _invalid(retry, invalid,
                       f"retry_interval must be a finite number of seconds above 0, "
                       f"not {seconds!r}")
    milliseconds = max(1, round(seconds * 1000))
    if not gateway.advertise_to and gateway.advertise_interval != 0:
        raise _invalid("mqlite_config_add_mqttsn_advertise_to", _codes.MQLITE_INVALID_CONFIG,
                       "mqttsn.advertise_to: at least one address is needed, unless "
                       "advertise_interval is 0")
    credentials = "mqlite_config_set_mqttsn_credentials"
    calls: List[Tuple[str, Tuple[Any, ...]]] = [
        ("mqlite_config_set_mqttsn", (_udp_address(gateway.listen[0],
                                                   "mqlite_config_set_mqttsn"),)),
    ]
    calls += [("mqlite_config_add_mqttsn_address",
               (_udp_address(address, "mqlite_config_add_mqttsn_address"),))
              for address in gateway.listen[1:]]
    calls += [
        ("mqlite_config_set_mqttsn_gateway_id",
         (_args.c_int(gateway.gateway_id, "gateway_id", "mqlite_config_set_mqttsn_gateway_id",
                      invalid, 0, _U8_MAX),)),
        ("mqlite_config_set_mqttsn_advertise_interval_s",
         (_args.c_int(gateway.advertise_interval, "advertise_interval",
                      "mqlite_config_set_mqttsn_advertise_interval_s", invalid, 0,
                      _args.U16_MAX),)),
    ]
    calls += [("mqlite_config_add_mqttsn_advertise_to",
               (_udp_address(address, "mqlite_config_add_mqttsn_advertise_to"),))
              for address in gateway.advertise_to]
    topic_function = "mqlite_config_add_mqttsn_predefined_topic"
    topics = gateway.predefined_topics
    for topic_id, topic in (topics.items() if isinstance(topics, Mapping) else topics):
        calls.append((topic_function, (
            _args.c_int(topic_id, "topic id", topic_function, invalid, 1, _args.U16_MAX - 1),
            _args.c_string(topic, "topic", topic_function, _codes.MQLITE_INVALID_TOPIC))))
    calls += [
        (credentials, (
            None if gateway.username is None
            else _args.c_string(gateway.username, "username", credentials, invalid),
            None if gateway.password is None
            else _args.c_string(gateway.password, "password", credentials, invalid))),
        (retry, (milliseconds, _args.c_int(gateway.max_retries, "max_retries", retry, invalid,
                                           0, _U32_MAX))),
        ("mqlite_config_set_mqttsn_max_registered_topics",
         (_args.c_int(gateway.max_registered_topics, "max_registered_topics",
                      "mqlite_config_set_mqttsn_max_registered_topics", invalid, 0,
                      _SIZE_MAX),)),
        ("mqlite_config_set_mqttsn_max_clients",
         (_args.c_int(gateway.max_clients, "max_clients", "mqlite_config_set_mqttsn_max_clients",
                      invalid, 1, _SIZE_MAX),)),
    ]
    for setter, args in calls:
        _check(setter, getattr(lib, setter)(config, *args))


def _bound_ports(lib: Any, broker: Optional[int]) -> List[int]:
    """The UDP ports the gateway is bound to, in the order of its
    addresses; empty without one."""
    ports: List[int] = []
    while True:
        port = c_uint16()
        code = lib.mqlite_broker_mqttsn_port(broker, len(ports), byref(port))
        if code == _codes.MQLITE_NOT_FOUND:
            return ports
        _check("mqlite_broker_mqttsn_port", code)
        ports.append(port.value)
