"""The management API through the Python bindings: the clients connected
(paho-mqtt clients), sessions offline ones included, a session's
subscriptions, retained messages listed and deleted, a session discarded
(its client disconnected, and gone from the persistence file), the
queue-overflow event, and the same calls on a broker no thread runs.

The library and the package are found as in test_bindings.py.
"""

import datetime
import os
import pathlib
import queue
import sys
import time

import pytest

from conftest import TIMEOUT, Client

ROOT = pathlib.Path(__file__).resolve().parents[2]
if "MQLITE_LIB" not in os.environ and (ROOT / "target/release/libmqlite.so").exists():
    os.environ["MQLITE_LIB"] = str(ROOT / "target/release/libmqlite.so")
try:
    import mqlite
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(ROOT / "bindings/python"))
    import mqlite

from mqlite import EventKind  # noqa: E402


class At:
    """Where a conftest Client connects."""

    def __init__(self, broker):
        self.host = "127.0.0.1"
        self.port = broker.port


def wait_for(what, probe):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what} not within {TIMEOUT} s")


def test_clients_sessions_and_subscriptions():
    with mqlite.Broker(port=0, sys_interval_s=0) as broker:
        before = datetime.datetime.now(datetime.timezone.utc)
        live = Client(At(broker), "py-live")
        live.connect()
        live.subscribe("py/a", 1)
        live.subscribe("py/b/#", 0)
        away = Client(At(broker), "py-away", clean_session=False)
        away.connect()
        away.subscribe("py/#", 1)
        away.disconnect()
        wait_for("py-away offline",
                 lambda: [s for s in broker.sessions() if s.client_id == "py-away"
                          and not s.connected])
        broker.publish("py/x", b"queued", qos=1)
        wait_for("one message queued for py-away",
                 lambda: [s for s in broker.sessions() if s.client_id == "py-away"
                          and s.queued == 1])

        clients = broker.clients()
        assert [c.client_id for c in clients] == ["py-live"]
        client = clients[0]
        assert isinstance(client, mqlite.ConnectedClient)
        assert client.protocol_level == 4
        assert client.peer.startswith("127.0.0.1:")
        assert client.subscriptions == 2 and not client.persistent
        assert client.username is None
        assert before - datetime.timedelta(seconds=1) <= client.connected_at
        assert client.connected_at <= datetime.datetime.now(datetime.timezone.utc)

        sessions = {s.client_id: s for s in broker.sessions()}
        assert set(sessions) == {"py-live", "py-away"}
        assert sessions["py-away"].persistent and not sessions["py-away"].connected
        assert sessions["py-away"].expiry_interval is None
        assert sessions["py-live"].expiry_interval == 0
        assert sessions["py-live"].username is None

        subscriptions = broker.session_subscriptions("py-live")
        assert [(s.filter, s.qos) for s in subscriptions] == [("py/a", 1), ("py/b/#", 0)]
        assert subscriptions[0].identifier is None and not subscriptions[0].no_local
        assert broker.session_subscriptions("nobody") is None
        live.disconnect()


def test_delete_session_disconnects_and_persists(tmp_path):
    db = tmp_path / "store.db"
    with mqlite.Broker(port=0, db=db, sys_interval_s=0) as broker:
        doomed = Client(At(broker), "py-doomed", clean_session=False)
        doomed.connect()
        doomed.subscribe("d/#", 1)
        kept = Client(At(broker), "py-kept", clean_session=False)
        kept.connect()
        kept.disconnect()
        assert broker.delete_session("py-doomed") is True
        wait_for("py-doomed disconnected", lambda: doomed.disconnected.is_set())
        assert broker.delete_session("py-doomed") is False
        assert [s.client_id for s in broker.sessions()] == ["py-kept"]
    with mqlite.Broker(port=0, db=db, sys_interval_s=0) as broker:
        assert [s.client_id for s in broker.sessions()] == ["py-kept"]


def test_retained_messages_listed_and_deleted():
    with mqlite.Broker(port=0, sys_interval_s=0) as broker:
        broker.publish("r/a", b"1", qos=1, retain=True)
        broker.publish("r/b", b"2", retain=True)
        broker.publish("s/c", b"3", retain=True)
        everything = wait_for("three retained", lambda: (
            lambda found: found if len(found) == 3 else None)(broker.retained_messages()))
        assert [m.topic for m in everything] == ["r/a", "r/b", "s/c"]
        assert everything[0].payload == b"1" and everything[0].qos == 1
        assert everything[0].retain
        assert [m.topic for m in broker.retained_messages("r/+")] == ["r/a", "r/b"]
        with pytest.raises(mqlite.MqliteError):
            broker.retained_messages("r/#/x")
        assert broker.delete_retained("r/a") is True
        assert broker.delete_retained("r/a") is False
        late = Client(At(broker), "py-late")
        late.connect()
        late.subscribe("r/#", 0)
        assert late.expect_message().topic == "r/b"
        late.disconnect()


def test_queue_overflow_event():
    events = queue.Queue()
    with mqlite.Broker(port=0, sys_interval_s=0, max_queued_messages=2) as broker:
        broker.on_event(events.put)
        slow = Client(At(broker), "py-slow", clean_session=False)
        slow.connect()
        slow.subscribe("q/#", 1)
        slow.disconnect()
        wait_for("py-slow offline",
                 lambda: [s for s in broker.sessions() if not s.connected])
        for n in range(10):
            broker.publish(f"q/{n}", b"x", qos=1)
        wait_for("8 dropped", lambda: broker.stats().messages_dropped >= 8)
        overflows = []
        deadline = time.monotonic() + TIMEOUT
        while not overflows and time.monotonic() < deadline:
            event = events.get(timeout=TIMEOUT)
            if event.kind == EventKind.QUEUE_OVERFLOW:
                overflows.append(event)
        assert overflows[0].client.client_id == "py-slow"
        assert overflows[0].dropped == 1
        assert overflows[0].queued == 2


def test_on_a_broker_no_thread_runs():
    broker = mqlite.Broker(port=0, sys_interval_s=0)
    try:
        # Straight to the broker, on this thread (a publish through the
        # handle would wait for a pass).
        assert broker.retained_messages() == []
        assert broker.delete_retained("own/t") is False
        assert broker.clients() == [] and broker.sessions() == []
        assert broker.session_subscriptions("nobody") is None
        assert broker.delete_session("nobody") is False
        with pytest.raises(TypeError):
            broker.delete_session(42)
    finally:
        broker.close()
