"""mqlite with the Eclipse paho-mqtt Python client (1.x or 2.x)."""

import socket
import struct

import pytest

from conftest import TIMEOUT


def test_connect_clean_session(broker, client):
    c = client("py-clean")
    assert c.connect() is False
    c.disconnect()


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_subscribe_publish(broker, client, qos):
    sub = client("py-sub")
    sub.connect()
    assert sub.subscribe("py/+/t", 2) == [2]
    pub = client("py-pub")
    pub.connect()
    for i in range(5):
        pub.publish("py/x/t", f"m{i}".encode(), qos=qos)
    for i in range(5):
        m = sub.expect_message()
        assert (m.topic, m.payload, m.qos, m.retain) == ("py/x/t", f"m{i}".encode(), qos, False)
    sub.expect_no_message()
    pub.disconnect()
    sub.disconnect()


def test_qos_downgrade(broker, client):
    sub = client("py-sub")
    sub.connect()
    assert sub.subscribe("down", 0) == [0]
    pub = client("py-pub")
    pub.connect()
    pub.publish("down", b"x", qos=2)
    assert sub.expect_message().qos == 0


def test_retained(broker, client):
    live = client("py-live")
    live.connect()
    live.subscribe("ret/#", 1)
    pub = client("py-pub")
    pub.connect()
    pub.publish("ret/a", b"kept", qos=1, retain=True)
    m = live.expect_message()
    assert (m.payload, m.retain) == (b"kept", False)

    late = client("py-late")
    late.connect()
    late.subscribe("ret/#", 1)
    m = late.expect_message()
    assert (m.topic, m.payload, m.retain, m.qos) == ("ret/a", b"kept", True, 1)
    late.expect_no_message()

    # An empty retained payload clears the topic.
    pub.publish("ret/a", b"", qos=1, retain=True)
    assert live.expect_message().payload == b""
    later = client("py-later")
    later.connect()
    later.subscribe("ret/#", 1)
    later.expect_no_message()


def test_will_on_abrupt_close(broker, client):
    watcher = client("py-watcher")
    watcher.connect()
    watcher.subscribe("will/#", 1)
    w = client("py-will", will=("will/py", b"gone", 1, False))
    w.connect()
    watcher.expect_no_message()
    w.close_abruptly()
    m = watcher.expect_message()
    assert (m.topic, m.payload, m.qos, m.retain) == ("will/py", b"gone", 1, False)


def test_no_will_after_disconnect(broker, client):
    watcher = client("py-watcher")
    watcher.connect()
    watcher.subscribe("will/#", 1)
    w = client("py-will", will=("will/py", b"gone", 1, False))
    w.connect()
    w.disconnect()
    watcher.expect_no_message(0.5)


def test_will_from_raw_socket(broker, client):
    """A hand-made MQTT 3.1.1 CONNECT with a retained will, then the socket
    is closed without DISCONNECT."""
    def field(b):
        return struct.pack(">H", len(b)) + b

    flags = 0x02 | 0x04 | (1 << 3) | 0x20  # clean, will, will QoS 1, will retain
    body = field(b"MQTT") + bytes([4, flags]) + struct.pack(">H", 60)
    body += field(b"py-raw") + field(b"will/raw") + field(b"raw gone")
    assert len(body) < 128
    s = socket.create_connection((broker.host, broker.port), timeout=TIMEOUT)
    s.sendall(bytes([0x10, len(body)]) + body)
    assert s.recv(4) == b"\x20\x02\x00\x00"
    s.close()

    late = client("py-late")
    late.connect()
    late.subscribe("will/raw", 1)
    m = late.expect_message()
    assert (m.payload, m.retain, m.qos) == (b"raw gone", True, 1)


def test_persistent_session(broker, client):
    sub = client("py-durable", clean_session=False)
    assert sub.connect() is False
    sub.subscribe("jobs/#", 1)
    sub.disconnect()

    pub = client("py-pub")
    pub.connect()
    for i in range(3):
        pub.publish("jobs/new", f"job{i}".encode(), qos=1)

    again = client("py-durable", clean_session=False)
    assert again.connect() is True, "session present on resume"
    for i in range(3):
        m = again.expect_message()
        assert (m.topic, m.payload, m.qos) == ("jobs/new", f"job{i}".encode(), 1)
    again.expect_no_message()
    # The subscription is still there.
    pub.publish("jobs/live", b"now", qos=1)
    assert again.expect_message().payload == b"now"
    again.disconnect()

    # A clean session discards it.
    clean = client("py-durable", clean_session=True)
    assert clean.connect() is False
    pub.publish("jobs/new", b"unseen", qos=1)
    clean.expect_no_message()


def test_unsubscribe(broker, client):
    sub = client("py-sub")
    sub.connect()
    sub.subscribe("u/1", 1)
    sub.subscribe("u/2", 1)
    sub.unsubscribe("u/1")
    pub = client("py-pub")
    pub.connect()
    # A PINGREQ-free barrier: subscribe again returns after the UNSUBSCRIBE.
    sub.subscribe("u/3", 1)
    pub.publish("u/1", b"no", qos=1)
    pub.publish("u/2", b"yes", qos=1)
    assert sub.expect_message().payload == b"yes"
    sub.expect_no_message()


def test_order_of_many_messages(broker, client):
    sub = client("py-sub")
    sub.connect()
    sub.subscribe("many", 1)
    pub = client("py-pub")
    pub.connect()
    infos = [pub.paho.publish("many", str(i).encode(), qos=1) for i in range(200)]
    got = [sub.expect_message().payload for _ in range(200)]
    assert got == [str(i).encode() for i in range(200)]
    assert all(info.is_published() for info in infos)


def test_sys_topics_not_matched_by_hash(broker, client):
    sub = client("py-sub")
    sub.connect()
    sub.subscribe("#", 0)
    pub = client("py-pub")
    pub.connect()
    pub.publish("$app/x", b"dollar", qos=1)
    pub.publish("plain", b"p", qos=1)
    m = sub.expect_message()
    assert m.topic == "plain"
    sub.expect_no_message()
