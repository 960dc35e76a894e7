"""The MQTT-SN gateway's settings through the Python bindings
(mqlite.MqttSnGateway, Broker(mqttsn=..., mqttsn_port=...)): wrong types
refused when the gateway is made, wrong values when it is given to a
broker, each error naming the setting; the bound ports read back.

A gateway started from Python answers a SEARCHGW on its bound port.

The library and the package are found as in test_bindings.py.
"""

import os
import pathlib
import socket
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
if "MQLITE_LIB" not in os.environ and (ROOT / "target/release/libmqlite.so").exists():
    os.environ["MQLITE_LIB"] = str(ROOT / "target/release/libmqlite.so")
try:
    import mqlite
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(ROOT / "bindings/python"))
    import mqlite

from mqlite import MqttSnGateway  # noqa: E402

MQLITE_INVALID_ARGUMENT = 7003
MQLITE_INVALID_ADDRESS = 7004
MQLITE_INVALID_TOPIC = 7005
MQLITE_INVALID_CONFIG = 7006


def test_defaults_are_the_librarys():
    gateway = MqttSnGateway()
    assert gateway.listen == ("0.0.0.0:1884", "[::]:1884")
    assert gateway.gateway_id == 1
    assert gateway.advertise_interval == 900
    assert gateway.advertise_to == ("255.255.255.255:1884",)
    assert gateway.predefined_topics == ()
    assert (gateway.username, gateway.password) == (None, None)
    assert (gateway.retry_interval, gateway.max_retries) == (10, 4)
    assert (gateway.max_registered_topics, gateway.max_clients) == (1000, 10_000)
    # One address may be given alone; a dict of topics becomes pairs.
    gateway = MqttSnGateway(listen="127.0.0.1:0", predefined_topics={1: "a/b"})
    assert gateway.listen == ("127.0.0.1:0",)
    assert gateway.predefined_topics == ((1, "a/b"),)


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"listen": 1884}, "listen must be"),
        ({"listen": ["0.0.0.0:1884", 5]}, "listen must be"),
        ({"advertise_to": None}, "advertise_to must be"),
        ({"gateway_id": "1"}, "gateway_id must be an int"),
        ({"gateway_id": True}, "gateway_id must be an int"),
        ({"advertise_interval": 1.5}, "advertise_interval must be an int"),
        ({"max_retries": None}, "max_retries must be an int"),
        ({"max_registered_topics": "many"}, "max_registered_topics must be an int"),
        ({"max_clients": 2.0}, "max_clients must be an int"),
        ({"retry_interval": "10"}, "retry_interval must be a number"),
        ({"username": b"u"}, "username must be a str"),
        ({"password": 1}, "password must be a str"),
        ({"predefined_topics": "a/b"}, "predefined_topics must be"),
        ({"predefined_topics": [(1, "a", 2)]}, "predefined_topics must be"),
        ({"predefined_topics": {"1": "a"}}, "topic id must be an int"),
        ({"predefined_topics": [(1, b"a")]}, "topic must be a str"),
    ],
)
def test_wrong_types_are_refused_when_made(kwargs, says):
    with pytest.raises(mqlite.ArgumentTypeError, match=says):
        MqttSnGateway(**kwargs)


def test_broker_checks_its_gateway_arguments():
    with pytest.raises(mqlite.ArgumentTypeError, match="mqttsn must be"):
        mqlite.Broker(port=0, mqttsn={"listen": "0.0.0.0:0"})
    with pytest.raises(mqlite.ArgumentTypeError, match="mqttsn_port must be an int"):
        mqlite.Broker(port=0, mqttsn_port="1884")
    with pytest.raises(mqlite.InvalidArgument, match="mqttsn_port 70000") as error:
        mqlite.Broker(port=0, mqttsn_port=70000)
    assert error.value.code == MQLITE_INVALID_ADDRESS


def gateway_on_loopback(**kwargs):
    return MqttSnGateway(listen="127.0.0.1:0", **kwargs)


@pytest.mark.parametrize(
    "gateway, code, says",
    [
        (MqttSnGateway(listen=[]), MQLITE_INVALID_CONFIG, "at least one address"),
        (MqttSnGateway(listen="localhost:1884"), MQLITE_INVALID_ADDRESS, "localhost:1884"),
        (MqttSnGateway(listen=["127.0.0.1:0", "1884"]), MQLITE_INVALID_ADDRESS, "1884"),
        (gateway_on_loopback(advertise_to="broadcast"), MQLITE_INVALID_ADDRESS, "broadcast"),
        (gateway_on_loopback(advertise_to=[]), MQLITE_INVALID_CONFIG, "advertise_to"),
        (gateway_on_loopback(gateway_id=256), MQLITE_INVALID_ARGUMENT, "gateway_id 256"),
        (gateway_on_loopback(gateway_id=-1), MQLITE_INVALID_ARGUMENT, "gateway_id -1"),
        (gateway_on_loopback(advertise_interval=65536), MQLITE_INVALID_ARGUMENT,
         "advertise_interval 65536"),
        (gateway_on_loopback(predefined_topics={0: "a"}), MQLITE_INVALID_ARGUMENT, "topic id 0"),
        (gateway_on_loopback(predefined_topics={65535: "a"}), MQLITE_INVALID_ARGUMENT,
         "topic id 65535"),
        (gateway_on_loopback(predefined_topics=[(3, "a"), (3, "b")]), MQLITE_INVALID_ARGUMENT,
         "already pre-defined"),
        (gateway_on_loopback(predefined_topics={3: "a/+"}), MQLITE_INVALID_TOPIC,
         "not a valid topic name"),
        (gateway_on_loopback(predefined_topics={3: "a\x00b"}), MQLITE_INVALID_TOPIC,
         "NUL character"),
        (gateway_on_loopback(password="p"), MQLITE_INVALID_ARGUMENT, "needs a username"),
        (gateway_on_loopback(retry_interval=0), MQLITE_INVALID_ARGUMENT, "retry_interval"),
        (gateway_on_loopback(retry_interval=-1.0), MQLITE_INVALID_ARGUMENT, "retry_interval"),
        (gateway_on_loopback(retry_interval=float("inf")), MQLITE_INVALID_ARGUMENT,
         "retry_interval"),
        (gateway_on_loopback(max_retries=-1), MQLITE_INVALID_ARGUMENT, "max_retries -1"),
        (gateway_on_loopback(max_registered_topics=-1), MQLITE_INVALID_ARGUMENT,
         "max_registered_topics -1"),
        (gateway_on_loopback(max_clients=0), MQLITE_INVALID_ARGUMENT, "max_clients"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(gateway, code, says):
    with pytest.raises(mqlite.InvalidArgument) as error:
        mqlite.Broker(port=0, mqttsn=gateway)
    assert error.value.code == code
    assert says in str(error.value)


def test_a_broker_with_a_gateway():
    gateway = MqttSnGateway(
        listen=["127.0.0.1:0"],
        gateway_id=9,
        advertise_interval=0,
        advertise_to=[],
        predefined_topics={1: "sensors/temp", 2: "sensors/hum"},
        username="sn",
        password="secret",
        retry_interval=0.5,
        max_retries=2,
        max_registered_topics=10,
        max_clients=5,
    )
    with mqlite.Broker(port=0, mqttsn=gateway) as broker:
        assert broker.port
        ports = broker.mqttsn_ports
        assert len(ports) == 1 and ports[0] != 0
        assert broker.mqttsn_port == ports[0]
        # SEARCHGW (radius 1) -> GWINFO with the gateway id.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(5)
            udp.sendto(bytes([3, 0x01, 1]), ("127.0.0.1", ports[0]))
            answer, _ = udp.recvfrom(64)
        assert answer == bytes([3, 0x02, gateway.gateway_id])


def test_without_a_gateway_there_is_no_port():
    with mqlite.Broker(port=0) as broker:
        assert broker.mqttsn_port is None
        assert broker.mqttsn_ports == []


def test_mqttsn_port_listens_on_the_brokers_host():
    with mqlite.Broker(port=0, host="127.0.0.1", mqttsn_port=0) as broker:
        ports = broker.mqttsn_ports
        assert len(ports) == 1 and ports[0] != 0
    # Over a gateway given whole, it replaces the listen addresses only.
    gateway = MqttSnGateway(listen=["0.0.0.0:1", "[::]:1"], gateway_id=3)
    with mqlite.Broker(port=0, mqttsn=gateway, mqttsn_port=0) as broker:
        ports = broker.mqttsn_ports
        assert len(ports) == 1
