"""mqlite: an embeddable MQTT 3.1/3.1.1 broker, from Python (ctypes).

>>> import mqlite
>>> with mqlite.Broker(port=0) as broker:
...     broker.publish("greeting", "hello", retain=True)

See :class:`Broker`. The C library (libmqlite.so) is found through the
``MQLITE_LIB`` environment variable, next to this package, or on the system
library path; :class:`LibraryNotFound` lists the places tried.
"""

from ._native import LibraryNotFound
from .broker import (
    AclAccess,
    AuthDecision,
    Broker,
    ClientInfo,
    CloseReason,
    ConnectInfo,
    Event,
    EventKind,
    Message,
    MessageDecision,
    MqliteError,
    Stats,
    disable_logging,
    enable_logging,
    library_version,
)

__version__ = "0.1.0"

__all__ = [
    "AclAccess",
    "AuthDecision",
    "Broker",
    "ClientInfo",
    "CloseReason",
    "ConnectInfo",
    "Event",
    "EventKind",
    "LibraryNotFound",
    "Message",
    "MessageDecision",
    "MqliteError",
    "Stats",
    "disable_logging",
    "enable_logging",
    "library_version",
]
