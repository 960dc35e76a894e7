"""mqlite with the Eclipse paho-mqtt 2.x client speaking MQTT 5.

Each test drives real paho clients (protocol MQTTv5) against the mqlite
binary: CONNACK properties, session expiry, message properties, subscription
options and identifiers, topic aliases, reason codes, will delay, and a
3.1.1 client and a 5.0 client on the same broker.
"""

import queue
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from conftest import TIMEOUT, QUIET, PAHO2, MqliteProcess

pytestmark = pytest.mark.skipif(not PAHO2, reason="MQTT 5 tests use the paho-mqtt 2.x API")


def props(packet_type, **values):
    p = Properties(packet_type)
    for name, value in values.items():
        if name == "UserProperty":
            p.UserProperty = value
        else:
            setattr(p, name, value)
    return p


class V5:
    """A paho MQTTv5 client with its loop in a thread and queue-based waits."""

    def __init__(self, broker, client_id, transport="tcp"):
        self.paho = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.broker = broker
        self.messages = queue.Queue()
        self.acks = {}
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connack = None
        self.disconnect_reason = None
        self.paho.on_connect = self._on_connect
        self.paho.on_message = lambda c, u, m: self.messages.put(m)
        self.paho.on_subscribe = self._on_ack
        self.paho.on_unsubscribe = self._on_ack
        self.paho.on_disconnect = self._on_disconnect

    def _on_connect(self, client, userdata, flags, reason, properties):
        self.connack = (flags.session_present, reason.value, properties)
        self.connected.set()

    def _on_ack(self, client, userdata, mid, codes, properties):
        with self.lock:
            self.acks[mid] = [c.value for c in codes]

    def _on_disconnect(self, client, userdata, flags, reason, properties):
        self.disconnect_reason = reason.value
        self.disconnected.set()

    def connect(self, clean_start=True, properties=None, expect=0):
        self.paho.connect(
            self.broker.host,
            self.broker.port,
            keepalive=30,
            clean_start=clean_start,
            properties=properties,
        )
        self.paho.loop_start()
        assert self.connected.wait(TIMEOUT), "no CONNACK within 5 s"
        present, code, connack_props = self.connack
        assert code == expect, f"CONNACK reason {code:#x}"
        return present, connack_props

    def _wait_ack(self, mid):
        deadline = time.monotonic() + TIMEOUT
        while True:
            with self.lock:
                if mid in self.acks:
                    return self.acks.pop(mid)
            assert time.monotonic() < deadline, "no SUBACK / UNSUBACK within 5 s"
            time.sleep(0.005)

    def subscribe(self, topic, options=None, properties=None):
        options = options or SubscribeOptions(qos=1)
        result, mid = self.paho.subscribe(topic, options=options, properties=properties)
        assert result == mqtt.MQTT_ERR_SUCCESS
        return self._wait_ack(mid)

    def unsubscribe(self, *topics):
        result, mid = self.paho.unsubscribe(list(topics))
        assert result == mqtt.MQTT_ERR_SUCCESS
        return self._wait_ack(mid)

    def publish(self, topic, payload, qos=1, retain=False, properties=None):
        info = self.paho.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published(), f"publish to {topic} not completed"
        return info

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
        raise AssertionError(f"unexpected message on {message.topic}")

    def close(self):
        self.paho.disconnect()
        self.paho.loop_stop()

    def drop(self):
        """Ends the connection without DISCONNECT (the will applies)."""
        self.paho.socket().close()
        self.paho.loop_stop()


@pytest.fixture
def v5(broker):
    made = []

    def make(client_id):
        c = V5(broker, client_id)
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.paho.loop_stop()
        except Exception:
            pass


def test_connack_tells_limits_and_assigns_an_id(v5):
    c = v5("")
    _, p = c.connect()
    assert p.AssignedClientIdentifier.startswith("mqlite-")
    assert p.ReceiveMaximum >= 1
    assert p.MaximumPacketSize > 0
    assert p.TopicAliasMaximum >= 1
    c.close()


def test_message_properties_round_trip(v5):
    sub = v5("sub")
    sub.connect()
    assert sub.subscribe("req/#") == [1]
    pub = v5("pub")
    pub.connect()
    p = props(
        PacketTypes.PUBLISH,
        ContentType="application/json",
        ResponseTopic="resp/1",
        CorrelationData=b"\x01\x02",
        PayloadFormatIndicator=1,
        MessageExpiryInterval=60,
        UserProperty=[("b", "2"), ("a", "1"), ("b", "3")],
    )
    pub.publish("req/x", b"{}", qos=1, properties=p)
    m = sub.expect_message()
    got = m.properties
    assert got.ContentType == "application/json"
    assert got.ResponseTopic == "resp/1"
    assert got.CorrelationData == b"\x01\x02"
    assert got.PayloadFormatIndicator == 1
    assert 58 <= got.MessageExpiryInterval <= 60
    assert got.UserProperty == [("b", "2"), ("a", "1"), ("b", "3")]
    sub.close()
    pub.close()


def test_request_response_between_two_clients(v5):
    responder = v5("responder")
    responder.connect()
    responder.subscribe("service/echo")
    requester = v5("requester")
    requester.connect()
    requester.subscribe("reply/requester")
    requester.publish(
        "service/echo",
        b"ping",
        properties=props(PacketTypes.PUBLISH, ResponseTopic="reply/requester", CorrelationData=b"42"),
    )
    req = responder.expect_message()
    responder.publish(
        req.properties.ResponseTopic,
        b"pong",
        properties=props(PacketTypes.PUBLISH, CorrelationData=req.properties.CorrelationData),
    )
    resp = requester.expect_message()
    assert (resp.payload, resp.properties.CorrelationData) == (b"pong", b"42")
    responder.close()
    requester.close()


def test_subscription_options_and_identifiers(v5):
    c = v5("c")
    c.connect()
    sid = props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=17)
    assert c.subscribe("opt/#", SubscribeOptions(qos=1, noLocal=True), properties=sid) == [1]
    c.publish("opt/own", b"mine")
    c.expect_no_message()
    other = v5("other")
    other.connect()
    other.publish("opt/theirs", b"theirs")
    m = c.expect_message()
    assert m.payload == b"theirs"
    assert m.properties.SubscriptionIdentifier == [17]
    # Retain handling 2: no retained message on subscribe; retain as
    # published keeps the flag on a live retained publish.
    other.publish("keep/a", b"r", retain=True)
    assert c.subscribe("keep/#", SubscribeOptions(qos=1, retainHandling=2, retainAsPublished=True)) == [1]
    other.publish("keep/a", b"live", retain=True)
    m = c.expect_message()
    assert (m.payload, m.retain) == (b"live", True)
    c.expect_no_message()
    c.close()
    other.close()


def test_suback_and_unsuback_reason_codes(v5):
    c = v5("c")
    c.connect()
    assert c.subscribe("good", SubscribeOptions(qos=2)) == [2]
    assert c.unsubscribe("good", "never") == [0x00, 0x11]
    c.close()


def test_topic_alias_from_the_client(v5):
    sub = v5("sub")
    sub.connect()
    sub.subscribe("alias/#")
    pub = v5("pub")
    pub.connect()
    pub.publish("alias/long/topic", b"1", properties=props(PacketTypes.PUBLISH, TopicAlias=1))
    pub.publish("", b"2", properties=props(PacketTypes.PUBLISH, TopicAlias=1))
    assert [sub.expect_message().topic for _ in range(2)] == ["alias/long/topic"] * 2
    sub.close()
    pub.close()


def test_session_expiry_keeps_messages_for_an_offline_client(v5, broker):
    expiry = props(PacketTypes.CONNECT, SessionExpiryInterval=300)
    c = v5("persist")
    present, _ = c.connect(clean_start=True, properties=expiry)
    assert present is False
    c.subscribe("offline/t")
    c.close()
    pub = v5("pub")
    pub.connect()
    pub.publish("offline/t", b"while away")
    back = V5(broker, "persist")
    present, _ = back.connect(clean_start=False, properties=expiry)
    assert present is True
    assert back.expect_message().payload == b"while away"
    back.close()
    pub.close()


def test_no_session_kept_without_expiry(v5, broker):
    c = v5("gone")
    c.connect(clean_start=False)
    c.subscribe("x")
    c.close()
    back = V5(broker, "gone")
    present, _ = back.connect(clean_start=False)
    assert present is False
    back.close()


def test_will_delay_and_disconnect_with_will(v5, broker):
    watcher = v5("watcher")
    watcher.connect()
    watcher.subscribe("wills/#")
    c = V5(broker, "dying")
    c.paho.will_set(
        "wills/dying",
        b"bye",
        qos=1,
        properties=props(PacketTypes.WILLMESSAGE, WillDelayInterval=1),
    )
    c.connect(properties=props(PacketTypes.CONNECT, SessionExpiryInterval=10))
    dropped_at = time.monotonic()
    c.drop()
    m = watcher.expect_message(timeout=TIMEOUT)
    # The broker sees the close after `dropped_at` and waits the full second
    # from then, so the will cannot reach the watcher any earlier (paho
    # stamps a message with time.monotonic() as it arrives).
    assert m.timestamp - dropped_at >= 1.0
    assert m.payload == b"bye"
    # DISCONNECT with reason 0x04 sends the will at once.
    d = V5(broker, "leaving")
    d.paho.will_set("wills/leaving", b"asked", qos=1)
    d.connect()
    d.paho.disconnect(reasoncode=mqtt.ReasonCode(PacketTypes.DISCONNECT, identifier=4))
    assert watcher.expect_message().payload == b"asked"
    watcher.close()


def test_puback_reason_no_matching_subscribers(v5):
    c = v5("c")
    c.connect()
    seen = []
    c.paho.on_publish = lambda client, userdata, mid, reason, properties: seen.append(reason.value)
    c.publish("nobody/listens", b"x", qos=1)
    deadline = time.monotonic() + TIMEOUT
    while not seen and time.monotonic() < deadline:
        time.sleep(0.005)
    assert seen == [0x10]
    c.close()


def test_v311_and_v5_clients_exchange_messages(v5, client):
    new = v5("new")
    new.connect()
    new.subscribe("mixed/#")
    old = client("old")
    old.connect()
    old.subscribe("mixed/#", 1)
    old.publish("mixed/from-old", b"a", qos=1)
    new.publish(
        "mixed/from-new",
        b"b",
        properties=props(PacketTypes.PUBLISH, UserProperty=[("k", "v")]),
    )
    got_new = sorted(new.expect_message().payload for _ in range(2))
    got_old = sorted(old.expect_message().payload for _ in range(2))
    assert got_new == got_old == [b"a", b"b"]
    new.close()
    old.disconnect()


def test_server_disconnects_with_reason_on_takeover(v5, broker):
    first = v5("same")
    first.connect()
    second = V5(broker, "same")
    second.connect()
    assert first.disconnected.wait(TIMEOUT)
    assert first.disconnect_reason == 0x8E
    second.close()


def test_topic_aliases_from_the_broker(v5):
    sub = v5("sub")
    sub.connect(properties=props(PacketTypes.CONNECT, TopicAliasMaximum=2))
    sub.subscribe("aliased/#")
    pub = v5("pub")
    pub.connect()
    topics = ["aliased/a", "aliased/b", "aliased/a", "aliased/c", "aliased/a", "aliased/c"]
    for n, topic in enumerate(topics):
        pub.publish(topic, str(n).encode())
    got = [sub.expect_message() for _ in topics]
    # paho passes aliases through unresolved: resolve them as the
    # application that asked for them must.
    aliases = {}
    resolved = []
    for m in got:
        alias = getattr(m.properties, "TopicAlias", None)
        if m.topic:
            if alias is not None:
                aliases[alias] = m.topic
            resolved.append((m.topic, m.payload))
        else:
            resolved.append((aliases[alias], m.payload))
    assert resolved == [(t, str(n).encode()) for n, t in enumerate(topics)]
    assert any(not m.topic for m in got), "no alias was used"
    sub.close()
    pub.close()


def test_subscription_to_denied_topics_is_refused(tmp_path):
    """The ACL file's `deny` lines refuse a subscription that could only
    ever match denied topics (the Eclipse Paho interoperability suite's
    "nosubscribe" topic); a wider filter is granted and filtered per
    message."""
    acl = tmp_path / "acl"
    acl.write_text("topic readwrite #\ntopic deny test/nosubscribe\n")
    broker = MqliteProcess(tmp_path, ["--no-persist", "--acl-file", str(acl)])
    try:
        c = V5(broker, "denied")
        c.connect()
        assert c.subscribe("test/nosubscribe", SubscribeOptions(qos=2)) == [0x80]
        assert c.subscribe("test/#", SubscribeOptions(qos=1)) == [1]
        c.publish("test/nosubscribe", b"hidden")
        c.publish("test/open", b"seen")
        assert c.expect_message().topic == "test/open"
        c.expect_no_message()
        c.close()
    finally:
        assert broker.stop() == 0, broker.stderr()
