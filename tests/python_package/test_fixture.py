"""Tests as a user of the installed package writes them: the
`mqlite_broker` and `mqlite_broker_factory` fixtures come from the
package's pytest plugin (entry point pytest11), with no conftest and no
import of the plugin; paho-mqtt is the client.
"""

import queue
import threading

import paho.mqtt.client as mqtt
import paho.mqtt.publish as publish
import paho.mqtt.subscribe as subscribe

import mqlite

TIMEOUT = 10.0
made = []


def test_plugin_is_registered_by_its_entry_point(request):
    assert request.config.pluginmanager.has_plugin("mqlite")


def test_broker_fixture_takes_a_paho_client(mqlite_broker):
    assert isinstance(mqlite_broker, mqlite.Broker) and mqlite_broker.running
    got = queue.Queue()
    mqlite_broker.subscribe("sensors/#", got.put, qos=1)
    publish.single("sensors/t", b"21.5", qos=1, hostname="127.0.0.1",
                   port=mqlite_broker.port)
    message = got.get(timeout=TIMEOUT)
    assert (message.topic, message.payload, message.qos) == ("sensors/t", b"21.5", 1)
    made.append(mqlite_broker)


def test_previous_broker_was_torn_down(mqlite_broker):
    assert made and made[0] is not mqlite_broker
    assert made[0].stopped and not made[0].running
    assert mqlite_broker.port != 0


def test_broker_publishes_to_paho_subscriber(mqlite_broker):
    mqlite_broker.publish("config/mode", "eco", qos=1, retain=True)
    message = subscribe.simple("config/#", qos=1, hostname="127.0.0.1",
                               port=mqlite_broker.port, keepalive=10)
    assert (message.topic, message.payload, message.retain) == ("config/mode", b"eco", True)


def test_factory_makes_brokers_with_options(mqlite_broker_factory, tmp_path):
    first = mqlite_broker_factory(db=tmp_path / "a.db")
    second = mqlite_broker_factory(host="localhost", max_connections=1)
    assert first.running and second.running and first.port != second.port

    refused = threading.Event()
    clients = []
    for client_id in ("one", "two"):
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        client.on_disconnect = lambda *args: refused.set()
        client.connect("localhost", second.port)
        client.loop_start()
        clients.append(client)
    try:
        # The second connection is over max_connections: closed at once.
        assert refused.wait(TIMEOUT)
    finally:
        for client in clients:
            client.disconnect()
            client.loop_stop()
    made.extend([first, second])


def test_factory_brokers_were_torn_down():
    assert len(made) == 3 and all(broker.stopped for broker in made)
