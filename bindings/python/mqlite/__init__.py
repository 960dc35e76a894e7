"""mqlite: an embeddable MQTT 3.1/3.1.1/5.0 broker, from Python (ctypes).

>>> import mqlite
>>> with mqlite.Broker(port=0) as broker:
...     broker.publish("greeting", "hello", retain=True)

Listeners with TLS, WebSocket, a Unix socket or settings of their own:
:class:`Listener` and :class:`TLS`, given in ``Broker(listeners=[...])``.
Bridges to upstream brokers: :class:`Bridge` and :class:`BridgeTopic`, given
in ``Broker(bridges=[...])`` or to :meth:`Broker.add_bridge`.

See :class:`Broker`. The C library (libmqlite.so) is found through the
``MQLITE_LIB`` environment variable, next to this package, or on the system
library path; :class:`LibraryNotFound` lists the places tried.

Errors: :class:`MqliteError` for what the library refuses, and its subclass
:class:`InvalidArgument` (also a ``ValueError``) for a bad value: an invalid
topic or filter, a QoS above 2, a string with a NUL character. An argument
of the wrong type raises ``TypeError``.
"""

from ._native import LibraryNotFound
from .broker import (
    AclAccess,
    AuthAcceptWith,
    AuthContinue,
    AuthDecision,
    AuthRefuse,
    Bridge,
    BridgeStats,
    BridgeTLS,
    BridgeTopic,
    Broker,
    ClientCertificate,
    ClientInfo,
    CloseReason,
    ConnectInfo,
    ConnectedClient,
    Event,
    EventKind,
    InvalidArgument,
    Listener,
    Message,
    MessageDecision,
    MqliteError,
    PublishProperties,
    SessionInfo,
    Stats,
    Subscription,
    TLS,
    disable_logging,
    enable_logging,
    library_version,
)

__version__ = "0.1.0"

__all__ = [
    "AclAccess",
    "AuthAcceptWith",
    "AuthContinue",
    "AuthDecision",
    "AuthRefuse",
    "Bridge",
    "BridgeStats",
    "BridgeTLS",
    "BridgeTopic",
    "Broker",
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
    "PublishProperties",
    "SessionInfo",
    "Stats",
    "Subscription",
    "TLS",
    "disable_logging",
    "enable_logging",
    "library_version",
]
