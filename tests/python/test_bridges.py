"""Bridges through the Python bindings (mqlite.Bridge, mqlite.BridgeTopic):
two brokers in this process, a "local" one bridged to an "upstream" one,
with paho-mqtt clients on both. A bridge given to Broker() carries topics
out and in with their prefixes; one added while the broker runs is
refused a second time and removed again; the stats read back; unreadable
TLS files refused when the bridge is added; wrong types and values refused.

The library and the package are found as in test_bindings.py.
"""

import os
import pathlib
import queue
import sys
import threading
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

from mqlite import Bridge, BridgeTLS, BridgeTopic  # noqa: E402

MQLITE_INVALID_ARGUMENT = 7003
MQLITE_INVALID_ADDRESS = 7004
MQLITE_INVALID_TOPIC = 7005
MQLITE_INVALID_CONFIG = 7006


class At:
    """Where a conftest Client connects."""

    def __init__(self, broker):
        self.host = "127.0.0.1"
        self.port = broker.port


def bridge(name, port, topics, **settings):
    """A bridge to 127.0.0.1:port with a known client id and a short
    restart timeout."""
    settings.setdefault("remote_client_id", f"gw-{name}")
    settings.setdefault("restart_timeout", 1)
    settings.setdefault("restart_timeout_cap", None)
    return Bridge(name, [f"127.0.0.1:{port}"], topics, **settings)


def wait_connected(broker, name):
    deadline = time.monotonic() + 2 * TIMEOUT
    while time.monotonic() < deadline:
        stats = {s.name: s for s in broker.bridge_stats()}
        if name in stats and stats[name].connected:
            return stats[name]
        time.sleep(0.02)
    raise AssertionError(f"bridge {name} not connected within {2 * TIMEOUT} s")


@pytest.fixture
def upstream():
    with mqlite.Broker(port=0, sys_interval_s=0) as broker:
        yield broker


@pytest.fixture
def clients():
    made = []

    def make(broker, client_id):
        c = Client(At(broker), client_id)
        c.connect()
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.disconnect()
        except AssertionError:
            pass


def test_topics_cross_both_ways_with_their_prefixes(upstream, clients):
    topics = [
        BridgeTopic("sensors/#", "out", 1, "site/", "gw1/"),
        BridgeTopic("cmd/#", "in", 1, "local/", "cloud/"),
    ]
    with mqlite.Broker(port=0, sys_interval_s=0,
                       bridges=[bridge("up", upstream.port, topics)]) as local:
        wait_connected(local, "up")
        cloud = clients(upstream, "cloud")
        assert cloud.subscribe("gw1/#", 1) == [1]
        device = clients(local, "device")
        assert device.subscribe("local/#", 1) == [1]

        device.publish("site/sensors/t1", b"21.5", qos=1)
        message = cloud.expect_message()
        assert (message.topic, message.payload, message.qos) == ("gw1/sensors/t1", b"21.5", 1)
        # Not a bridge topic: stays local.
        device.publish("site/other", b"x", qos=1)
        cloud.expect_no_message()

        # The bridge's upstream subscription is made after its CONNACK:
        # publish until one crosses.
        deadline = time.monotonic() + TIMEOUT
        while True:
            cloud.publish("cloud/cmd/reboot", b"now", qos=1)
            try:
                message = device.messages.get(timeout=0.2)
                break
            except queue.Empty:
                assert time.monotonic() < deadline, "nothing came in through the bridge"
        assert (message.topic, message.payload) == ("local/cmd/reboot", b"now")

        (stats,) = local.bridge_stats()
        assert stats.name == "up" and stats.connected and stats.connections == 1
        assert stats.sent == 1 and stats.received >= 1 and stats.dropped == 0
        assert isinstance(stats, mqlite.BridgeStats)


def test_a_bridge_added_and_removed_while_running(upstream):
    got = queue.Queue()
    upstream.subscribe("data/#", lambda message: got.put(message), qos=1)
    with mqlite.Broker(port=0, sys_interval_s=0) as local:
        assert local.bridge_stats() == []
        added = bridge("rt", upstream.port, [BridgeTopic("data/#", "out", 1)])
        local.add_bridge(added)
        with pytest.raises(mqlite.InvalidArgument) as refused:
            local.add_bridge(added)
        assert refused.value.code == MQLITE_INVALID_CONFIG
        wait_connected(local, "rt")
        local.publish("data/1", "a", qos=1)
        message = got.get(timeout=TIMEOUT)
        assert (message.topic, message.payload) == ("data/1", b"a")
        (stats,) = local.bridge_stats()
        assert (stats.name, stats.sent, stats.connected) == ("rt", 1, True)

        assert local.remove_bridge("rt") is True
        assert local.remove_bridge("rt") is False
        assert local.bridge_stats() == []
        local.publish("data/2", "b", qos=1)
        with pytest.raises(queue.Empty):
            got.get(timeout=0.3)


def test_bridges_on_a_broker_not_running(upstream):
    local = mqlite.Broker(port=0, sys_interval_s=0,
                          bridges=[bridge("a", upstream.port, [BridgeTopic("a/#")])])
    try:
        local.add_bridge(bridge("b", upstream.port, [BridgeTopic("b/#", "both", 2)]))
        stats = local.bridge_stats()
        assert [s.name for s in stats] == ["a", "b"]
        assert not any(s.connected for s in stats)
        assert local.remove_bridge("a")
        assert [s.name for s in local.bridge_stats()] == ["b"]
    finally:
        local.close()
    with pytest.raises(RuntimeError):
        local.bridge_stats()


def test_tls_files_are_checked_when_added(upstream):
    secure = bridge("secure", upstream.port, [BridgeTopic("#")],
                    tls=BridgeTLS(cafile="/nonexistent/ca.pem"))
    with pytest.raises(mqlite.InvalidArgument) as refused:
        mqlite.Broker(port=0, bridges=[secure])
    assert refused.value.code == MQLITE_INVALID_CONFIG
    assert "/nonexistent/ca.pem" in refused.value.detail
    with mqlite.Broker(port=0, sys_interval_s=0) as local:
        with pytest.raises(mqlite.InvalidArgument) as refused:
            local.add_bridge(secure)
        assert refused.value.code == MQLITE_INVALID_CONFIG


def test_every_setting_reaches_the_library(upstream):
    full = Bridge(
        "full", ("127.0.0.1:1", f"127.0.0.1:{upstream.port}"),
        [BridgeTopic("", "in", 0, "cmd", "cloud/cmd")],
        round_robin=True, clean_session=True, local_clean_session=False,
        remote_client_id="gw-full", remote_username="user", remote_password="secret",
        keepalive=30.0, restart_timeout=2, restart_timeout_cap=10, start="once",
        try_private=False, notifications=False, notification_topic="gw/state",
        protocol="mqttv50")
    with mqlite.Broker(port=0, sys_interval_s=0, bridges=[full]) as local:
        assert [s.name for s in local.bridge_stats()] == ["full"]
    lazy = Bridge("lazy", f"127.0.0.1:{upstream.port}", [BridgeTopic("x/#")],
                  start="lazy", threshold=2, idle_timeout=5)
    with mqlite.Broker(port=0, sys_interval_s=0, bridges=[lazy]) as local:
        # Nothing waits: it has not connected.
        time.sleep(0.3)
        assert not local.bridge_stats()[0].connected


@pytest.mark.parametrize("settings, code", [
    (dict(name="a/b"), MQLITE_INVALID_ARGUMENT),
    (dict(addresses=["h:0"]), MQLITE_INVALID_ADDRESS),
    (dict(addresses=[]), MQLITE_INVALID_ADDRESS),
    (dict(topics=[]), MQLITE_INVALID_CONFIG),
    (dict(topics=[BridgeTopic("a", "sideways")]), MQLITE_INVALID_ARGUMENT),
    (dict(topics=[BridgeTopic("a", "in", 3)]), MQLITE_INVALID_ARGUMENT),
    (dict(topics=[BridgeTopic("a/#/b")]), MQLITE_INVALID_TOPIC),
    (dict(topics=[BridgeTopic("a", local_prefix="x/+/")]), MQLITE_INVALID_TOPIC),
    (dict(remote_client_id=""), MQLITE_INVALID_ARGUMENT),
    (dict(remote_password="secret"), MQLITE_INVALID_ARGUMENT),
    (dict(keepalive=0), MQLITE_INVALID_ARGUMENT),
    (dict(keepalive=1.5), MQLITE_INVALID_ARGUMENT),
    (dict(restart_timeout=10, restart_timeout_cap=5), MQLITE_INVALID_ARGUMENT),
    (dict(restart_timeout=0), MQLITE_INVALID_ARGUMENT),
    (dict(start="sometimes"), MQLITE_INVALID_ARGUMENT),
    (dict(start="lazy", threshold=0), MQLITE_INVALID_ARGUMENT),
    (dict(start="lazy", idle_timeout=0), MQLITE_INVALID_ARGUMENT),
    (dict(protocol="mqttv4"), MQLITE_INVALID_ARGUMENT),
    (dict(notification_topic="state/#"), MQLITE_INVALID_TOPIC),
    (dict(name="nul\x00"), MQLITE_INVALID_ARGUMENT),
])
def test_bad_values_raise_value_errors(settings, code):
    values = dict(name="up", addresses=["127.0.0.1:1"], topics=[BridgeTopic("#")])
    values.update(settings)
    refused_bridge = Bridge(**values)
    with pytest.raises(ValueError) as refused:
        mqlite.Broker(port=0, bridges=[refused_bridge])
    assert isinstance(refused.value, mqlite.InvalidArgument)
    assert refused.value.code == code, refused.value


@pytest.mark.parametrize("make", [
    lambda: Bridge(1, ["h"], []),
    lambda: Bridge("up", [1], []),
    lambda: Bridge("up", None, []),
    lambda: Bridge("up", ["h"], ["#"]),
    lambda: Bridge("up", ["h"], [], keepalive="60"),
    lambda: Bridge("up", ["h"], [], restart_timeout=True),
    lambda: Bridge("up", ["h"], [], clean_session=1),
    lambda: Bridge("up", ["h"], [], local_clean_session="yes"),
    lambda: Bridge("up", ["h"], [], remote_client_id=5),
    lambda: Bridge("up", ["h"], [], protocol=5),
    lambda: Bridge("up", ["h"], [], tls="on"),
    lambda: BridgeTopic(b"#"),
    lambda: BridgeTopic("#", qos="1"),
    lambda: BridgeTopic("#", direction=None),
    lambda: BridgeTLS(cafile=3),
    lambda: BridgeTLS(insecure="no"),
])
def test_wrong_types_raise_type_errors(make):
    with pytest.raises(TypeError):
        make()


def test_wrong_arguments_to_the_methods(upstream):
    with pytest.raises(TypeError):
        mqlite.Broker(port=0, bridges=["up"])
    with pytest.raises(TypeError):
        mqlite.Broker(port=0, bridges=Bridge("up", "h", [BridgeTopic("#")]))
    with pytest.raises(TypeError):
        upstream.add_bridge("up")
    with pytest.raises(TypeError):
        upstream.remove_bridge(1)
    with pytest.raises(mqlite.InvalidArgument):
        upstream.remove_bridge("a\x00")
    with pytest.raises(mqlite.InvalidArgument):
        upstream.bridge_stats(timeout=-1)
    # One address as a str is a list of one.
    assert Bridge("up", "h:1883", [BridgeTopic("#")]).addresses == ("h:1883",)


def test_stats_from_many_threads(upstream):
    """Snapshots taken from several threads at once while bridges come and
    go are each whole."""
    with mqlite.Broker(port=0, sys_interval_s=0) as local:
        errors = []

        def churn(index):
            try:
                for round_ in range(5):
                    name = f"b{index}-{round_}"
                    local.add_bridge(bridge(name, upstream.port, [BridgeTopic(f"{name}/#")]))
                    names = [s.name for s in local.bridge_stats()]
                    assert name in names and len(names) == len(set(names))
                    assert local.remove_bridge(name)
            except BaseException as error:  # noqa: B902 (reported below)
                errors.append(error)

        threads = [threading.Thread(target=churn, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        assert local.bridge_stats() == []
