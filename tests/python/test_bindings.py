"""The Python bindings (bindings/python, ctypes over libmqlite.so), checked
with paho-mqtt as the network client.

The library is taken from MQLITE_LIB, else target/release/libmqlite.so of
this repository; the package from an installed `mqlite`, else
bindings/python. Every wait has a timeout.
"""

import dataclasses
import logging
import os
import pathlib
import queue
import socket
import struct
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
if "MQLITE_LIB" not in os.environ and (ROOT / "target/release/libmqlite.so").exists():
    os.environ["MQLITE_LIB"] = str(ROOT / "target/release/libmqlite.so")
try:
    import mqlite
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(ROOT / "bindings/python"))
    import mqlite

TIMEOUT = 5.0
QUIET = 0.3
PAHO2 = hasattr(mqtt, "CallbackAPIVersion")
# paho 2.x reports MQTT 3.1.1 CONNACK codes as MQTT 5 reason codes.
CONNACK_V311 = {134: 4, 135: 5}


def _value(code):
    return getattr(code, "value", code)


class Paho:
    """A paho client with its loop in a thread and queue-based waits."""

    def __init__(self, port, client_id, username=None, password=None):
        kwargs = dict(client_id=client_id, clean_session=True, protocol=mqtt.MQTTv311)
        if PAHO2:
            self.paho = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, **kwargs)
        else:
            self.paho = mqtt.Client(**kwargs)
        if username is not None:
            self.paho.username_pw_set(username, password)
        self.port = port
        self.messages = queue.Queue()
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.disconnected = threading.Event()
        self.paho.on_connect = lambda c, u, flags, rc, *rest: self.connacks.put(_value(rc))
        self.paho.on_message = lambda c, u, message: self.messages.put(message)
        self.paho.on_subscribe = lambda c, u, mid, codes, *rest: self.subacks.put(
            [_value(code) for code in codes]
        )
        self.paho.on_disconnect = lambda c, u, *rest: self.disconnected.set()

    def connect(self):
        """Connects; returns the CONNACK code as MQTT 3.1.1 numbers it (0
        accepted, 4 bad credentials, 5 not authorized)."""
        self.paho.connect("127.0.0.1", self.port, 30)
        self.paho.loop_start()
        try:
            code = self.connacks.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError("no CONNACK within 5 s") from None
        code = CONNACK_V311.get(code, code)
        if code != 0:
            self.paho.loop_stop()
        return code

    def subscribe(self, topic, qos=0):
        self.paho.subscribe(topic, qos)
        try:
            return self.subacks.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"no SUBACK for {topic}") from None

    def publish(self, topic, payload, qos=0, retain=False):
        info = self.paho.publish(topic, payload, qos=qos, retain=retain)
        deadline = time.monotonic() + TIMEOUT
        while not info.is_published():
            assert time.monotonic() < deadline, f"publish to {topic} not completed"
            time.sleep(0.005)

    def expect_message(self, timeout=TIMEOUT):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message within {timeout} s") from None

    def expect_no_message(self, quiet=QUIET):
        try:
            message = self.messages.get(timeout=quiet)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected message on {message.topic}: {message.payload!r}")

    def close(self):
        try:
            self.paho.disconnect()
        finally:
            self.paho.loop_stop()


@pytest.fixture
def mq():
    """A started mqlite.Broker on a free port; closed at teardown."""
    broker = mqlite.Broker(port=0, sys_interval_s=0)
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def paho_client(mq):
    """A factory of paho clients for the `mq` broker; closed at teardown."""
    made = []

    def make(client_id, username=None, password=None):
        client = Paho(mq.port, client_id, username, password)
        made.append(client)
        return client

    yield make
    for client in made:
        try:
            client.close()
        except Exception:
            pass


class Inbox:
    """Collects messages from a local subscription (broker thread) for the
    test thread."""

    def __init__(self):
        self.queue = queue.Queue()

    def __call__(self, message):
        self.queue.put(message)

    def get(self, timeout=TIMEOUT):
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no local message within {timeout} s") from None

    def empty_for(self, quiet=QUIET):
        try:
            message = self.queue.get(timeout=quiet)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected local message {message}")


def test_auth_accepted_and_refused(mq, paho_client):
    seen = []

    @mq.on_auth
    def auth(info):
        seen.append(info)
        if info.username == "alice":
            return info.password == b"wonderland"
        if info.username == "mallory":
            return mqlite.AuthDecision.BAD_CREDENTIALS
        return False

    assert paho_client("good", "alice", "wonderland").connect() == 0
    assert paho_client("wrong-pw", "alice", "nope").connect() == 5
    assert paho_client("bad-creds", "mallory", "x").connect() == 4
    assert paho_client("anonymous").connect() == 5
    first = seen[0]
    assert isinstance(first, mqlite.ConnectInfo)
    assert (first.client_id, first.username, first.password) == ("good", "alice", b"wonderland")
    assert first.peer.startswith("127.0.0.1:")
    assert first.protocol_level == 4 and first.clean_session
    assert seen[3].username is None and seen[3].password is None


def test_pending_auth_completed_from_another_thread(mq, paho_client):
    tokens = queue.Queue()

    @mq.on_auth
    def auth(info):
        tokens.put(info.token)
        return mqlite.AuthDecision.PENDING

    def approve():
        mq.complete_auth(tokens.get(timeout=TIMEOUT), mqlite.AuthDecision.ACCEPT)

    threading.Thread(target=approve).start()
    assert paho_client("patient").connect() == 0
    with pytest.raises(mqlite.MqliteError):
        mq.complete_auth(1, mqlite.AuthDecision.PENDING)


def test_acl(mq, paho_client):
    checks = []

    @mq.on_acl
    def acl(client, access, topic):
        checks.append((client.client_id, access, topic))
        if access == mqlite.AclAccess.SUBSCRIBE:
            return not topic.startswith("secret/")
        if access == mqlite.AclAccess.PUBLISH:
            return not topic.startswith("readonly/")
        return not topic.startswith("hidden/")

    inbox = Inbox()
    mq.subscribe("#", inbox)
    sub = paho_client("reader")
    assert sub.connect() == 0
    assert sub.subscribe("secret/#", 1) == [128]
    assert sub.subscribe("#", 1) == [1]
    pub = paho_client("writer")
    assert pub.connect() == 0
    pub.publish("readonly/x", b"refused", qos=1)
    mq.publish("hidden/x", b"not for clients")
    # The host's publish and a client's reach the broker by different
    # paths, in no set order: wait for the first before sending the next.
    assert inbox.get().topic == "hidden/x"  # local subscribers are not clients
    pub.publish("open/x", b"fine", qos=1)
    assert inbox.get().topic == "open/x"  # and readonly/x never came first
    message = sub.expect_message()
    assert (message.topic, message.payload) == ("open/x", b"fine")
    sub.expect_no_message()
    assert ("reader", mqlite.AclAccess.SUBSCRIBE, "secret/#") in checks
    assert ("writer", mqlite.AclAccess.PUBLISH, "readonly/x") in checks
    assert ("reader", mqlite.AclAccess.RECEIVE, "hidden/x") in checks


def test_local_subscriber_receives_paho_publish(mq, paho_client):
    inbox = Inbox()

    @mq.subscribe("sensors/+/temp", qos=1)
    def on_temp(message):
        inbox(message)

    assert isinstance(on_temp.subscription, int)
    pub = paho_client("sensor")
    assert pub.connect() == 0
    pub.publish("sensors/kitchen/temp", b"21.5", qos=1)
    pub.publish("sensors/kitchen/humidity", b"40", qos=1)
    message = inbox.get()
    assert message == mqlite.Message("sensors/kitchen/temp", b"21.5", 1, False)
    assert inbox.empty_for()

    mq.unsubscribe(on_temp.subscription)
    pub.publish("sensors/kitchen/temp", b"22", qos=1)
    assert inbox.empty_for()


def test_host_publish_received_by_paho(mq, paho_client):
    mq.publish("news/retained", "kept", qos=1, retain=True)
    sub = paho_client("listener")
    assert sub.connect() == 0
    assert sub.subscribe("news/#", 2) == [2]
    retained = sub.expect_message()
    assert (retained.topic, retained.payload, retained.retain) == ("news/retained", b"kept", True)
    mq.publish("news/live", bytes(range(256)), qos=2)
    live = sub.expect_message()
    assert (live.topic, live.payload, live.qos, live.retain) == (
        "news/live",
        bytes(range(256)),
        2,
        False,
    )


def test_message_hook_pass_drop_rewrite(mq, paho_client):
    origins = []

    @mq.on_message
    def hook(client, message):
        origins.append(client.client_id if client else None)
        if message.topic == "drop/me":
            return False
        if message.topic.startswith("legacy/"):
            return mqlite.Message("modern/" + message.topic[7:], message.payload.upper(), 0)
        return None

    sub = paho_client("sub")
    assert sub.connect() == 0
    sub.subscribe("#", 1)
    pub = paho_client("pub")
    assert pub.connect() == 0
    pub.publish("drop/me", b"x", qos=1)
    pub.publish("legacy/a", b"abc", qos=1)
    mq.publish("plain", b"from host")
    first = sub.expect_message()
    assert (first.topic, first.payload, first.qos) == ("modern/a", b"ABC", 0)
    second = sub.expect_message()
    assert (second.topic, second.payload) == ("plain", b"from host")
    sub.expect_no_message()
    assert origins == ["pub", "pub", None]


def test_events(mq, paho_client):
    events = queue.Queue()
    mq.on_event(events.put)
    client = paho_client("evented")
    assert client.connect() == 0
    client.subscribe("e/#", 1)
    connected = events.get(timeout=TIMEOUT)
    assert connected.kind == mqlite.EventKind.CONNECTED
    assert connected.client.client_id == "evented" and connected.protocol_level == 4
    subscribed = events.get(timeout=TIMEOUT)
    assert (subscribed.kind, subscribed.filter, subscribed.qos) == (
        mqlite.EventKind.SUBSCRIBED,
        "e/#",
        1,
    )
    mq.kick("evented")
    gone = events.get(timeout=TIMEOUT)
    assert (gone.kind, gone.reason) == (mqlite.EventKind.DISCONNECTED, mqlite.CloseReason.KICKED)


def test_clean_stop(paho_client, mq):
    client = paho_client("stayer")
    assert client.connect() == 0
    stats = mq.stats()
    assert stats.clients_connected == 1
    mq.stop()
    assert client.disconnected.wait(TIMEOUT), "the client was not disconnected"
    assert mq.stopped and not mq.running
    with pytest.raises(mqlite.MqliteError) as error:
        mq.publish("late", b"x")
    assert error.value.code == 7010 and "stopped" in error.value.text
    mq.close()
    mq.close()  # harmless twice


def test_exception_in_callback_is_refusal(mq, paho_client, caplog):
    caplog.set_level(logging.ERROR, logger="mqlite")

    @mq.on_auth
    def auth(info):
        if info.client_id == "boom":
            raise RuntimeError("auth exploded")
        return True

    @mq.on_acl
    def acl(client, access, topic):
        if topic.startswith("boom"):
            raise ValueError("acl exploded")
        return True

    @mq.on_message
    def hook(client, message):
        if message.topic == "explode":
            raise KeyError("message exploded")

    @mq.subscribe("#")
    def bad_subscriber(message):
        raise ZeroDivisionError("subscriber exploded")

    assert paho_client("boom").connect() == 5
    client = paho_client("fine")
    assert client.connect() == 0
    assert client.subscribe("boom/#", 1) == [128]
    assert client.subscribe("ok/#", 1) == [1]
    assert client.subscribe("explode", 1) == [1]
    client.publish("explode", b"x", qos=1)  # dropped, still acknowledged
    client.publish("ok/1", b"y", qos=1)
    message = client.expect_message()
    assert message.topic == "ok/1"
    client.expect_no_message()
    text = caplog.text
    for marker in ("auth exploded", "acl exploded", "message exploded", "subscriber exploded"):
        assert marker in text
    assert mq.running  # the broker carries on


def test_hooks_set_and_removed_while_running(mq, paho_client):
    # Installed while the broker thread is serving: takes effect at once.
    mq.on_auth(lambda info: False)
    assert paho_client("refused").connect() == 5
    mq.on_auth(None)
    assert paho_client("accepted").connect() == 0


def test_run_in_foreground_and_stop_from_a_hook():
    broker = mqlite.Broker(port=0, sys_interval_s=0)
    done = threading.Event()

    @broker.subscribe("control/stop")
    def stop(message):
        broker.stop()  # from the broker thread itself

    def publisher():
        broker.publish("control/stop", b"")

    threading.Timer(0.1, publisher).start()
    runner = threading.Thread(target=lambda: (broker.run(), done.set()))
    runner.start()
    assert done.wait(TIMEOUT), "run() did not return after stop()"
    runner.join(TIMEOUT)
    assert broker.stopped
    broker.close()


def test_errors():
    with pytest.raises(TypeError, match="max_inflite"):
        mqlite.Broker(max_inflite=3)
    with pytest.raises(mqlite.MqliteError) as error:
        mqlite.Broker(max_inflight=0)
    assert error.value.code == 7006 and "max_inflight" in error.value.detail
    with pytest.raises(mqlite.MqliteError) as error:
        mqlite.Broker(host="not an address")
    assert error.value.code == 7004
    with mqlite.Broker(port=0) as broker:
        with pytest.raises(mqlite.MqliteError) as error:
            mqlite.Broker(port=broker.port)
        assert error.value.code == 7007
        with pytest.raises(mqlite.MqliteError) as error:
            broker.publish("a/+", b"x")
        assert error.value.code == 7005 and "topic" in error.value.text
        with pytest.raises(mqlite.MqliteError):
            broker.subscribe("a/#/b", lambda message: None)
        with pytest.raises(ValueError):
            broker.publish("a", b"x", qos=3)
        with pytest.raises(TypeError):
            broker.publish("a", 42)


def test_persistence(tmp_path):
    db = tmp_path / "mqlite.db"
    # Without $SYS, whose retained topics (published from the start) the
    # count would include.
    with mqlite.Broker(port=0, db=db, sys_interval_s=0) as first:
        first.publish("kept/topic", b"survives", qos=1, retain=True)
        assert first.stats().retained_messages == 1
    with mqlite.Broker(port=0, db=str(db)) as second:
        inbox = Inbox()
        second.subscribe("kept/#", inbox)
        message = inbox.get()
        assert (message.topic, message.payload, message.retain) == ("kept/topic", b"survives", True)


def test_library_not_found_lists_places(tmp_path):
    env = dict(os.environ, MQLITE_LIB=str(tmp_path / "missing.so"))
    env["PYTHONPATH"] = str(ROOT / "bindings/python")
    result = subprocess.run(
        [sys.executable, "-c", "import mqlite; mqlite.Broker()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "LibraryNotFound" in result.stderr
    assert "MQLITE_LIB=" + str(tmp_path / "missing.so") in result.stderr


def test_log_bridge(caplog):
    caplog.set_level(logging.INFO)
    mqlite.enable_logging(logging.INFO)
    try:
        with mqlite.Broker(port=0) as broker:
            port = broker.port
    finally:
        mqlite.disable_logging()
    assert any(
        record.name.startswith("mqlite.") and f"127.0.0.1:{port}" in record.getMessage()
        for record in caplog.records
    ), caplog.text


# --- MQTT 5: properties and enhanced authentication -------------------------

needs_paho2 = pytest.mark.skipif(not PAHO2, reason="MQTT 5 tests use the paho-mqtt 2.x API")


class PahoV5(Paho):
    """A paho client speaking MQTT 5; connect() returns the raw reason
    code."""

    def __init__(self, port, client_id, username=None, password=None):
        self.paho = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                protocol=mqtt.MQTTv5)
        if username is not None:
            self.paho.username_pw_set(username, password)
        self.port = port
        self.messages = queue.Queue()
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.disconnected = threading.Event()
        self.paho.on_connect = lambda c, u, flags, rc, props: self.connacks.put(rc.value)
        self.paho.on_message = lambda c, u, message: self.messages.put(message)
        self.paho.on_subscribe = lambda c, u, mid, codes, props: self.subacks.put(
            [code.value for code in codes]
        )
        self.paho.on_disconnect = lambda c, u, *rest: self.disconnected.set()

    def connect(self, properties=None):
        self.paho.connect("127.0.0.1", self.port, 30, properties=properties)
        self.paho.loop_start()
        try:
            code = self.connacks.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError("no CONNACK within 5 s") from None
        if code != 0:
            self.paho.loop_stop()
        return code

    def publish(self, topic, payload, qos=0, retain=False, properties=None):
        info = self.paho.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published(), f"publish to {topic} not completed"


@pytest.fixture
def paho_v5(mq):
    """A factory of MQTT 5 paho clients for the `mq` broker."""
    made = []

    def make(client_id, username=None, password=None):
        client = PahoV5(mq.port, client_id, username, password)
        made.append(client)
        return client

    yield make
    for client in made:
        try:
            client.close()
        except Exception:
            pass


def paho_properties(**values):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    properties = Properties(PacketTypes.PUBLISH)
    for name, value in values.items():
        setattr(properties, name, value)
    return properties


FULL = mqlite.PublishProperties(
    payload_is_utf8=True,
    message_expiry_interval=60,
    content_type="application/json",
    response_topic="replies/7",
    correlation_data=b"\x00\x01",
    user_properties=[("unit", "celsius"), ("unit", "kelvin"), ("", "")],
)


@needs_paho2
def test_publish_with_properties_reaches_v5_and_v311_clients(mq, paho_v5, paho_client):
    v5 = paho_v5("v5-reader")
    assert v5.connect() == 0
    assert v5.subscribe("props/#", 1) == [1]
    v311 = paho_client("v311-reader")
    assert v311.connect() == 0
    assert v311.subscribe("props/#", 1) == [1]
    mq.publish("props/full", b"{}", qos=1, properties=FULL)
    message = v5.expect_message()
    got = message.properties
    assert (message.topic, message.payload) == ("props/full", b"{}")
    assert got.PayloadFormatIndicator == 1
    assert 58 <= got.MessageExpiryInterval <= 60
    assert got.ContentType == "application/json"
    assert got.ResponseTopic == "replies/7"
    assert got.CorrelationData == b"\x00\x01"
    assert got.UserProperty == [("unit", "celsius"), ("unit", "kelvin"), ("", "")]
    # An MQTT 3.1.1 client gets the message without them.
    plain = v311.expect_message()
    assert (plain.topic, plain.payload) == ("props/full", b"{}")
    # None, or empty properties, publish a plain message.
    mq.publish("props/plain", b"x", properties=mqlite.PublishProperties())
    message = v5.expect_message()
    assert message.topic == "props/plain"
    assert not hasattr(message.properties, "ContentType")


@needs_paho2
def test_local_subscriber_and_message_hook_see_v5_properties(mq, paho_v5):
    hooked = queue.Queue()

    @mq.on_message
    def hook(client, message):
        hooked.put((client.client_id if client else None, message))
        if message.topic == "props/rewrite":
            # The replacement keeps the properties, with one more.
            extra = message.properties.user_properties + (("rewritten", "yes"),)
            properties = dataclasses.replace(message.properties, user_properties=extra)
            return dataclasses.replace(message, topic="props/rewritten", properties=properties)
        return None

    inbox = Inbox()
    mq.subscribe("props/#", inbox, qos=1)
    publisher = paho_v5("v5-writer")
    assert publisher.connect() == 0
    properties = paho_properties(
        PayloadFormatIndicator=1,
        ContentType="text/csv",
        ResponseTopic="replies/8",
        CorrelationData=b"req-8",
        MessageExpiryInterval=30,
        UserProperty=[("b", "2"), ("a", "1")],
    )
    publisher.publish("props/in", b"1,2", qos=1, properties=properties)
    expected = mqlite.PublishProperties(
        payload_is_utf8=True,
        content_type="text/csv",
        response_topic="replies/8",
        correlation_data=b"req-8",
        user_properties=(("b", "2"), ("a", "1")),
    )
    message = inbox.get()
    # The expiry read back is what is left of the 30 s, rounded up.
    assert 0 < message.properties.message_expiry_interval <= 30
    expected = dataclasses.replace(
        expected, message_expiry_interval=message.properties.message_expiry_interval)
    assert message == mqlite.Message("props/in", b"1,2", 1, False, expected)
    origin, seen = hooked.get(timeout=TIMEOUT)
    assert origin == "v5-writer"
    assert 0 < seen.properties.message_expiry_interval <= 30
    assert dataclasses.replace(seen.properties, message_expiry_interval=None) == \
        dataclasses.replace(expected, message_expiry_interval=None)

    publisher.publish("props/rewrite", b"old", qos=1, properties=properties)
    rewritten = inbox.get()
    assert rewritten.topic == "props/rewritten"
    assert rewritten.properties.user_properties == (("b", "2"), ("a", "1"), ("rewritten", "yes"))
    assert rewritten.properties.content_type == "text/csv"

    # The host's own message, with properties, through the hook.
    mq.publish("props/host", b"h", properties=FULL)
    host = inbox.get()
    assert 0 < host.properties.message_expiry_interval <= 60
    assert dataclasses.replace(host.properties, message_expiry_interval=60) == FULL
    # A message without one reads None.
    mq.publish("props/forever", b"f", properties=mqlite.PublishProperties(content_type="t"))
    assert inbox.get().properties.message_expiry_interval is None


def test_publish_properties_refusals(mq):
    with pytest.raises(TypeError):
        mq.publish("a", b"x", properties={"content_type": "x"})
    with pytest.raises(TypeError):
        mqlite.PublishProperties(user_properties=[("k", 1)])
    with pytest.raises(TypeError):
        mqlite.PublishProperties(user_properties="kv")
    refusals = [
        (mqlite.PublishProperties(response_topic="a/+"), 7005),
        (mqlite.PublishProperties(content_type="a\x00b"), 7003),
        (mqlite.PublishProperties(user_properties=[("k", "v\x00")]), 7003),
        (mqlite.PublishProperties(message_expiry_interval=-1), 7003),
        (mqlite.PublishProperties(message_expiry_interval=1 << 32), 7003),
        (mqlite.PublishProperties(content_type="x" * 65536), 7003),
        (mqlite.PublishProperties(correlation_data=bytes(65536)), 7003),
    ]
    for properties, code in refusals:
        with pytest.raises(mqlite.InvalidArgument) as error:
            mq.publish("a", b"x", properties=properties)
        assert error.value.code == code, properties
    with pytest.raises(ValueError):
        mqlite.AuthRefuse(0x10)
    with pytest.raises(TypeError):
        mqlite.AuthContinue(42)


class RawV5:
    """A minimal MQTT 5 client over a socket, for the AUTH exchange (paho
    does not answer AUTH challenges)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)

    @staticmethod
    def varint(value):
        out = bytearray()
        while True:
            byte = value % 128
            value //= 128
            out.append(byte | (0x80 if value else 0))
            if not value:
                return bytes(out)

    @staticmethod
    def string(value):
        value = value.encode() if isinstance(value, str) else value
        return struct.pack(">H", len(value)) + value

    @classmethod
    def auth_properties(cls, method, data=None, user=None):
        block = b"\x15" + cls.string(method) if method else b""
        if data is not None:
            block += b"\x16" + cls.string(data)
        if user:
            block += b"\x26" + cls.string(user[0]) + cls.string(user[1])
        return cls.varint(len(block)) + block

    def send(self, first, body):
        self.sock.sendall(bytes([first]) + self.varint(len(body)) + body)

    def connect(self, client_id, method, data=None, user=None):
        body = self.string("MQTT") + bytes([5, 0x02, 0, 60])
        body += self.auth_properties(method, data, user) + self.string(client_id)
        self.send(0x10, body)

    def auth(self, reason, method, data=None):
        self.send(0xF0, bytes([reason]) + self.auth_properties(method, data))

    def read_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise AssertionError("connection closed")
            data += chunk
        return data

    def read(self):
        """(packet type, reason code, {property id: value}) of a CONNACK or
        AUTH."""
        first = self.read_exact(1)[0]
        length, shift = 0, 0
        while True:
            byte = self.read_exact(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        body = self.read_exact(length)
        kind = first & 0xF0
        at = 2 if kind == 0x20 else 1
        reason = body[at - 1] if body else 0
        found = {}
        if at < len(body):
            size, shift, end = 0, 0, at
            while True:
                byte = body[end]
                end += 1
                size |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            at, end = end, end + size
            while at < end:
                ident = body[at]
                at += 1
                if ident in (0x15, 0x16, 0x12, 0x1A, 0x1C, 0x1F):
                    (n,) = struct.unpack(">H", body[at:at + 2])
                    found[ident] = body[at + 2:at + 2 + n]
                    at += 2 + n
                elif ident == 0x26:
                    for _ in range(2):
                        (n,) = struct.unpack(">H", body[at:at + 2])
                        at += 2 + n
                elif ident in (0x11, 0x27):
                    at += 4
                elif ident in (0x13, 0x21, 0x22):
                    at += 2
                else:
                    at += 1
        return kind, reason, found

    def close(self):
        self.sock.close()


def test_enhanced_authentication(mq, paho_client):
    seen = []
    tokens = queue.Queue()

    @mq.on_auth
    def auth(info):
        seen.append(info)
        if info.authentication_method is None:
            return mqlite.AuthRefuse(0x8A) if info.username == "banned" else True
        if info.authentication_method != "X-TEST":
            return mqlite.AuthRefuse(0x8C)
        if info.reauthentication:
            tokens.put(info.token)
            return mqlite.AuthDecision.PENDING
        if info.auth_step == 0:
            return mqlite.AuthContinue(b"challenge")
        if info.authentication_data == b"response":
            return mqlite.AuthAcceptWith(b"welcome")
        return False

    client = RawV5(mq.port)
    client.connect("enhanced", "X-TEST", b"hello", user=("device", "7"))
    assert client.read() == (0xF0, 0x18, {0x15: b"X-TEST", 0x16: b"challenge"})
    client.auth(0x18, "X-TEST", b"response")
    kind, reason, found = client.read()
    assert (kind, reason) == (0x20, 0)
    assert found[0x15] == b"X-TEST" and found[0x16] == b"welcome"
    first, second = seen[0], seen[1]
    assert isinstance(first, mqlite.ConnectInfo)
    assert (first.client_id, first.protocol_level) == ("enhanced", 5)
    assert (first.authentication_method, first.authentication_data) == ("X-TEST", b"hello")
    assert (first.auth_step, first.reauthentication) == (0, False)
    assert first.user_properties == (("device", "7"),)
    assert (second.auth_step, second.authentication_data) == (1, b"response")

    # Re-authentication, left pending and completed with final data.
    client.auth(0x19, "X-TEST", b"again")
    token = tokens.get(timeout=TIMEOUT)
    assert seen[-1].reauthentication and seen[-1].auth_step == 0
    mq.complete_auth(token, mqlite.AuthAcceptWith(b"renewed"))
    assert client.read() == (0xF0, 0x00, {0x15: b"X-TEST", 0x16: b"renewed"})
    # Again, refused with a chosen code: the client is disconnected.
    client.auth(0x19, "X-TEST", b"again")
    mq.complete_auth(tokens.get(timeout=TIMEOUT), mqlite.AuthRefuse(0x87))
    kind, reason, _ = client.read()
    assert (kind, reason) == (0xE0, 0x87)
    client.close()

    # Refusals with chosen reason codes.
    unknown = RawV5(mq.port)
    unknown.connect("unknown", "OTHER")
    assert unknown.read()[:2] == (0x20, 0x8C)
    unknown.close()
    if PAHO2:
        banned = PahoV5(mq.port, "banned-v5", "banned", "x")
        assert banned.connect() == 0x8A
    assert paho_client("banned-v311", "banned", "x").connect() == 5
