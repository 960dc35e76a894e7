"""The bindings' error classes (every one an mqlite.MqliteError, and also
the built-in type a caller expects) and host names where addresses are
taken (resolved in Python), with paho-mqtt connecting by name.

The library and the package are found as in test_bindings.py.
"""

import os
import pathlib
import socket
import sys
import time

import paho.mqtt.publish as paho_publish
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
if "MQLITE_LIB" not in os.environ and (ROOT / "target/release/libmqlite.so").exists():
    os.environ["MQLITE_LIB"] = str(ROOT / "target/release/libmqlite.so")
try:
    import mqlite
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(ROOT / "bindings/python"))
    import mqlite

MQLITE_INVALID_ARGUMENT = 7003
MQLITE_INVALID_ADDRESS = 7004
MQLITE_BUSY = 7012
MQLITE_STOPPED = 7010


def test_error_classes_share_one_base():
    for error, builtin in [(mqlite.InvalidArgument, ValueError),
                           (mqlite.ArgumentTypeError, TypeError),
                           (mqlite.BrokerStateError, RuntimeError),
                           (mqlite.LibraryNotFound, OSError)]:
        assert issubclass(error, mqlite.MqliteError), error
        assert issubclass(error, builtin), error


@pytest.mark.parametrize("call", [
    lambda: mqlite.Broker(port="1883"),
    lambda: mqlite.Broker(host=b"127.0.0.1"),
    lambda: mqlite.Broker(max_inflite=3),
    lambda: mqlite.Broker(listeners=[1883]),
    lambda: mqlite.Listener(port="x"),
    lambda: mqlite.TLS(certfile=1, keyfile="k"),
    lambda: mqlite.BridgeTopic(1),
    lambda: mqlite.PublishProperties(user_properties=[("a", 1)]),
    lambda: mqlite.AuthRefuse("0x80"),
    lambda: mqlite.enable_logging("INFO"),
])
def test_wrong_types_raise_argument_type_error(call):
    with pytest.raises(mqlite.ArgumentTypeError) as raised:
        call()
    assert isinstance(raised.value, TypeError)
    assert raised.value.code == MQLITE_INVALID_ARGUMENT
    assert raised.value.detail == str(raised.value)


@pytest.mark.parametrize("call", [
    lambda: mqlite.Listener(port=1, path="/tmp/x.sock"),
    lambda: mqlite.Listener(port=1, mode=0o600),
    lambda: mqlite.AuthRefuse(0x10),
    lambda: mqlite.AuthContinue(b"x" * 70000),
    lambda: mqlite.Broker(port=70000),
    lambda: mqlite.Broker(max_inflight=-1),
])
def test_bad_values_raise_invalid_argument(call):
    with pytest.raises(mqlite.InvalidArgument) as raised:
        call()
    assert isinstance(raised.value, ValueError)
    assert raised.value.code != 0


def test_method_arguments_on_a_live_broker():
    with mqlite.Broker(port=0) as broker:
        with pytest.raises(mqlite.ArgumentTypeError):
            broker.publish(b"topic", b"x")
        with pytest.raises(mqlite.ArgumentTypeError):
            broker.kick(None)
        with pytest.raises(mqlite.ArgumentTypeError):
            broker.subscribe("a", callback=3)
        with pytest.raises(mqlite.InvalidArgument):
            broker.publish("a/#", b"x")
        with pytest.raises(mqlite.BrokerStateError) as running:
            broker.start()
        assert running.value.code == MQLITE_BUSY
    for call in (lambda: broker.publish("a", b"x"), broker.start, broker.stats):
        with pytest.raises(mqlite.BrokerStateError) as closed:
            call()
        assert isinstance(closed.value, RuntimeError) and closed.value.code == MQLITE_STOPPED
    broker.close()  # harmless again


def test_library_errors_are_mqlite_errors():
    with mqlite.Broker(port=0) as first:
        with pytest.raises(mqlite.MqliteError) as in_use:
            mqlite.Broker(port=first.port)
        assert in_use.value.code == 7007  # MQLITE_BIND_FAILED
        assert not isinstance(in_use.value, (ValueError, TypeError))


def paho_publish_to(host, port, topic):
    paho_publish.single(topic, b"hi", hostname=host, port=port)


def test_host_name_broker_takes_a_client_that_connects_by_name():
    with mqlite.Broker(host="localhost", port=0) as broker:
        expected = socket.getaddrinfo("localhost", None, type=socket.SOCK_STREAM)[0][4][0]
        got = []
        broker.subscribe("t", got.append)
        paho_publish_to("localhost", broker.port, "t")
        for _ in range(100):
            if got:
                break
            time.sleep(0.05)
        assert got and got[0].payload == b"hi"
        assert broker.port and expected in ("127.0.0.1", "::1")


def test_host_names_in_listeners():
    listeners = ["localhost:0", mqlite.Listener(host="localhost", port=0), "127.0.0.1:0"]
    with mqlite.Broker(listeners=listeners) as broker:
        assert all(isinstance(port, int) and port > 0 for port in broker.ports)
        for port in broker.ports[:2]:
            with socket.create_connection(("localhost", port), timeout=5):
                pass


@pytest.mark.parametrize("make", [
    lambda: mqlite.Broker(host="no-such-host.invalid", port=0),
    lambda: mqlite.Broker(listeners=["no-such-host.invalid:0"]),
    lambda: mqlite.Broker(listeners=[mqlite.Listener(host="no-such-host.invalid")]),
    lambda: mqlite.Broker(host="", port=0),
    lambda: mqlite.Broker(listeners=[mqlite.Listener(host="", port=0)]),
    lambda: mqlite.Broker(host="a" * 64 + ".example", port=0),
])
def test_unresolvable_host_is_invalid_address(make):
    with pytest.raises(mqlite.InvalidArgument) as raised:
        make()
    assert raised.value.code == MQLITE_INVALID_ADDRESS
    assert "resolve" in raised.value.detail or "empty" in raised.value.detail


def test_malformed_listener_strings_still_reach_the_library():
    for text in ("localhost", "localhost:port", "[::1]"):
        with pytest.raises(mqlite.InvalidArgument) as raised:
            mqlite.Broker(listeners=[text])
        assert raised.value.code == MQLITE_INVALID_ADDRESS
