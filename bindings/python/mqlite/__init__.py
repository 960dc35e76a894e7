"""mqlite: an embeddable MQTT 3.1/3.1.1/5.0 broker, from Python (ctypes).

>>> import mqlite
>>> with mqlite.Broker(port=0) as broker:
...     broker.publish("greeting", "hello", retain=True)

Listeners with TLS, WebSocket, a Unix socket or settings of their own:
:class:`Listener` and :class:`TLS`, given in ``Broker(listeners=[...])``.
Bridges to upstream brokers: :class:`Bridge` and :class:`BridgeTopic`, given
in ``Broker(bridges=[...])`` or to :meth:`Broker.add_bridge`. The MQTT-SN
gateway: :class:`MqttSnGateway`, given in ``Broker(mqttsn=...)``, or
``Broker(mqttsn_port=PORT)``.

See :class:`Broker`. The C library (libmqlite) is built and shipped inside
this package by its build (``pip install``); the ``MQLITE_LIB`` environment
variable overrides it, and the system library path is tried last;
:class:`LibraryNotFound` lists the places tried.

An asyncio program serves the broker on its event loop's own thread, with
no thread of its own: ``async with mqlite.Broker(port=0) as broker:``, or
:meth:`Broker.serve` / :meth:`Broker.attach`. Host names are accepted
where addresses are (``Broker(host="localhost")``). Under pytest the
``mqlite_broker`` fixture (:mod:`mqlite.pytest_plugin`) gives each test a
broker on a free port.

Errors all derive from :class:`MqliteError`: :class:`InvalidArgument` (also
a ``ValueError``) for a bad value (an invalid topic or filter, a QoS above
2, a string with a NUL character, a host name that does not resolve),
:class:`ArgumentTypeError` (also a ``TypeError``) for an argument of the
wrong type, :class:`BrokerStateError` (also a ``RuntimeError``) for a call
the broker cannot take now (closed, already running), and
:class:`LibraryNotFound` (also an ``OSError``); :class:`MqliteError` itself
for the rest of what the library refuses.
"""

from ._log_bridge import disable_logging, enable_logging
from ._native import LibraryNotFound
from .bridges import Bridge, BridgeStats, BridgeTLS, BridgeTopic
from .broker import Broker, library_version
from .errors import ArgumentTypeError, BrokerStateError, InvalidArgument, MqliteError
from .listeners import TLS, Listener
from .management import ConnectedClient, SessionInfo, Subscription
from .mqttsn import MqttSnGateway
from .values import (
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
    PublishProperties,
    Stats,
)

__version__ = "0.1.0"

__all__ = [
    "AclAccess",
    "ArgumentTypeError",
    "AuthAcceptWith",
    "AuthContinue",
    "AuthDecision",
    "AuthRefuse",
    "Bridge",
    "BridgeStats",
    "BridgeTLS",
    "BridgeTopic",
    "Broker",
    "BrokerStateError",
    "ClientCertificate",
    "ClientInfo",
    "CloseReason",
    "ConnectInfo",
    "ConnectedClient",
    "Event",
    "EventKind",
    "InvalidArgument",
    "LibraryNotFound",
    "Listener",
    "Message",
    "MessageDecision",
    "MqliteError",
    "MqttSnGateway",
    "PublishProperties",
    "SessionInfo",
    "Stats",
    "Subscription",
    "TLS",
    "disable_logging",
    "enable_logging",
    "library_version",
]
