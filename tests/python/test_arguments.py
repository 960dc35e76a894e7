"""The Python bindings' argument checks: every string that reaches C as a
NUL-terminated string (topics, filters, client ids, addresses, paths) is
refused if it holds a NUL character (C would cut it short there), every
number is checked against its C type's range, and a wrong type raises
TypeError. Values are refused with mqlite.InvalidArgument, which is both an
mqlite.MqliteError and a ValueError.

The library and the package are found as in test_bindings.py.
"""

import logging
import os
import pathlib
import queue
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

TIMEOUT = 5.0
QUIET = 0.3

INVALID_UTF8 = 7002
INVALID_ARGUMENT = 7003
INVALID_ADDRESS = 7004
INVALID_TOPIC = 7005
INVALID_CONFIG = 7006


@pytest.fixture
def mq():
    broker = mqlite.Broker(port=0, sys_interval_s=0)
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


def everything(broker):
    """A local subscription to every (non-$) topic; returns its queue."""
    inbox = queue.Queue()
    broker.subscribe("#", inbox.put)
    # The subscription takes effect from the broker's next pass: wait for a
    # message that passed through it.
    broker.publish("ready", b"")
    assert inbox.get(timeout=TIMEOUT).topic == "ready"
    return inbox


def quiet(inbox):
    try:
        message = inbox.get(timeout=QUIET)
    except queue.Empty:
        return True
    raise AssertionError(f"unexpected message {message}")


def refused(code, call, *args, **kwargs):
    with pytest.raises(mqlite.InvalidArgument) as error:
        call(*args, **kwargs)
    assert isinstance(error.value, ValueError)
    assert isinstance(error.value, mqlite.MqliteError)
    assert error.value.code == code, error.value
    return error.value


def test_invalid_argument_is_a_value_error_and_an_mqlite_error():
    assert issubclass(mqlite.InvalidArgument, mqlite.MqliteError)
    assert issubclass(mqlite.InvalidArgument, ValueError)
    assert "InvalidArgument" in mqlite.__all__


def test_nul_in_topic_refused(mq):
    inbox = everything(mq)
    error = refused(INVALID_TOPIC, mq.publish, "a\x00b", b"x")
    assert "NUL" in error.detail
    assert quiet(inbox), "a topic with a NUL was published (cut short)"
    mq.publish("a", b"after")
    assert inbox.get(timeout=TIMEOUT).payload == b"after"


def test_nul_in_filter_refused(mq):
    got = queue.Queue()
    refused(INVALID_TOPIC, mq.subscribe, "x\x00/#", got.put)
    refused(INVALID_TOPIC, mq.subscribe, "x\x00/#")  # the decorator form
    inbox = everything(mq)
    mq.publish("x", b"1")
    assert inbox.get(timeout=TIMEOUT).topic == "x"
    assert got.empty(), "a filter with a NUL subscribed to its prefix"


def test_nul_in_client_id_refused(mq):
    refused(INVALID_ARGUMENT, mq.kick, "device\x00other")


def test_nul_in_rewritten_topic_drops_the_message(mq, caplog):
    inbox = everything(mq)

    @mq.on_message
    def rewrite(client, message):
        if message.topic == "in":
            return mqlite.Message("out\x00x", message.payload)
        return None

    with caplog.at_level(logging.ERROR, logger="mqlite"):
        mq.publish("in", b"x")
        assert quiet(inbox)
    assert any("NUL" in record.getMessage() or "NUL" in str(record.exc_info)
               for record in caplog.records)


def test_nul_in_addresses_and_paths_refused(tmp_path):
    refused(INVALID_ADDRESS, mqlite.Broker, host="127.0.0.1\x00junk")
    refused(INVALID_ADDRESS, mqlite.Broker, listeners=["127.0.0.1:0\x00junk"])
    db = tmp_path / "state.db"
    refused(INVALID_ARGUMENT, mqlite.Broker, db=f"{db}\x00.old")
    refused(INVALID_ARGUMENT, mqlite.Broker, db=os.fsencode(db) + b"\x00.old")
    assert not db.exists(), "the path was cut at the NUL and opened"


def test_strings_that_are_not_utf8_refused(mq):
    refused(INVALID_UTF8, mq.publish, "bad\ud800", b"x")
    refused(INVALID_UTF8, mq.kick, "bad\udc80")


def test_values_out_of_range_refused(mq):
    refused(INVALID_ARGUMENT, mq.publish, "a", b"x", qos=3)
    refused(INVALID_ARGUMENT, mq.publish, "a", b"x", qos=-1)
    refused(INVALID_ARGUMENT, mq.subscribe, "a", print, qos=3)
    refused(INVALID_ARGUMENT, mq.unsubscribe, -1)
    refused(INVALID_ARGUMENT, mq.unsubscribe, 1 << 64)
    refused(INVALID_ARGUMENT, mq.complete_auth, -1, True)
    refused(INVALID_ARGUMENT, mq.complete_auth, 1, 9)
    refused(INVALID_ARGUMENT, mq.stats, -1)
    refused(INVALID_ARGUMENT, mq.stats, float("inf"))
    refused(INVALID_ARGUMENT, mq.stop, -1)
    assert mq.stats(timeout=TIMEOUT).connections == 0  # still running
    # The ones the library finds are the same class.
    refused(INVALID_TOPIC, mq.publish, "a/+", b"x")
    refused(INVALID_TOPIC, mq.subscribe, "a/#/b", print)
    refused(INVALID_ARGUMENT, mq.complete_auth, 1, mqlite.AuthDecision.PENDING)


def test_limits_out_of_their_c_type_refused():
    # ctypes would wrap these silently: 70000 into a uint16 is 4464.
    error = refused(INVALID_CONFIG, mqlite.Broker, max_inflight=70000)
    assert "max_inflight" in str(error)
    refused(INVALID_CONFIG, mqlite.Broker, max_connections=-1)
    refused(INVALID_CONFIG, mqlite.Broker, connect_timeout_ms=1 << 64)
    refused(INVALID_CONFIG, mqlite.Broker, max_inflight=0)  # the library's own check
    refused(INVALID_ADDRESS, mqlite.Broker, port=65536)
    refused(INVALID_ADDRESS, mqlite.Broker, port=-1)
    refused(INVALID_ADDRESS, mqlite.Broker, host="not an address")


BROKER_CALLS = {
    "publish(None)": lambda b: b.publish(None, b"x"),
    "publish(bytes topic)": lambda b: b.publish(b"a", b"x"),
    "publish(int payload)": lambda b: b.publish("a", 42),
    "publish(str qos)": lambda b: b.publish("a", b"x", qos="1"),
    "publish(float qos)": lambda b: b.publish("a", b"x", qos=1.0),
    "publish(bool qos)": lambda b: b.publish("a", b"x", qos=True),
    "subscribe(None)": lambda b: b.subscribe(None, print),
    "subscribe(bytes filter)": lambda b: b.subscribe(b"a/#", print),
    "subscribe(callback 42)": lambda b: b.subscribe("a", 42),
    "subscribe(str qos)": lambda b: b.subscribe("a", print, qos="0"),
    "unsubscribe(None)": lambda b: b.unsubscribe(None),
    "unsubscribe(str)": lambda b: b.unsubscribe("1"),
    "kick(None)": lambda b: b.kick(None),
    "kick(bytes)": lambda b: b.kick(b"device"),
    "kick(int)": lambda b: b.kick(7),
    "complete_auth(str token)": lambda b: b.complete_auth("1", True),
    "complete_auth(str decision)": lambda b: b.complete_auth(1, "accept"),
    "complete_auth(None decision)": lambda b: b.complete_auth(1, None),
    "stats(str timeout)": lambda b: b.stats("5"),
    "stop(str timeout)": lambda b: b.stop("5"),
    "on_auth(42)": lambda b: b.on_auth(42),
    "on_acl(str)": lambda b: b.on_acl("allow"),
    "on_message(42)": lambda b: b.on_message(42),
    "on_event(str)": lambda b: b.on_event("log"),
}


@pytest.mark.parametrize("call", BROKER_CALLS.values(), ids=BROKER_CALLS.keys())
def test_wrong_types_raise_type_error(mq, call):
    with pytest.raises(TypeError):
        call(mq)
    # No effect: after a pass of the broker (stats waits for one), it still runs.
    mq.stats(timeout=TIMEOUT)
    assert not mq.stopped, "the call stopped the broker before failing"


BROKER_ARGUMENTS = {
    "port str": {"port": "1883"},
    "port float": {"port": 1883.0},
    "port None": {"port": None},
    "host None": {"host": None},
    "host bytes": {"host": b"127.0.0.1"},
    "listeners str": {"listeners": "127.0.0.1:0"},
    "listeners [None]": {"listeners": [None]},
    "listeners [bytes]": {"listeners": [b"127.0.0.1:0"]},
    "db int": {"db": 42},
    "limit str": {"max_inflight": "3"},
    "limit float": {"connect_timeout_ms": 1.5},
    "limit None": {"max_connections": None},
    "bool option str": {"allow_zero_length_client_id": "yes"},
}


@pytest.mark.parametrize("kwargs", BROKER_ARGUMENTS.values(), ids=BROKER_ARGUMENTS.keys())
def test_wrong_broker_argument_types_raise_type_error(kwargs):
    with pytest.raises(TypeError):
        mqlite.Broker(**kwargs)


def test_wrong_logging_level_type_raises_type_error():
    with pytest.raises(TypeError):
        mqlite.enable_logging("INFO")


def test_right_types_still_accepted(tmp_path):
    db = tmp_path / "ok.db"
    with mqlite.Broker(port=0, db=db, max_inflight=65535, session_expiry_s=-1,
                       allow_zero_length_client_id=True) as broker:
        inbox = everything(broker)
        broker.publish("t", bytearray(b"x"), qos=1, retain=False)
        assert inbox.get(timeout=TIMEOUT).payload == b"x"
        broker.kick("nobody")
        broker.complete_auth(12345, mqlite.AuthDecision.ACCEPT)
        broker.complete_auth(12345, False)
        broker.complete_auth(12345, 2)
        assert broker.stats(timeout=2).connections == 0
        assert broker.stats(timeout=1).connections == 0
    with mqlite.Broker(listeners=("127.0.0.1:0", "127.0.0.1:0"), db=os.fsencode(db)) as broker:
        assert len(broker.ports) == 2
