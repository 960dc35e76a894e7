"""An asyncio program as a user would write it against the installed
package: the broker served by the event loop (`async with mqlite.Broker`),
a paho-mqtt client driven by the same loop (paho's socket callbacks with
loop.add_reader / add_writer), both on the one thread of the program.

Checks that the library was loaded from inside the installed package
(no MQLITE_LIB), that no thread was started, that a client publishing by
host name reaches a local subscription, and that the broker's answer
reaches the client. Prints `asyncio app: ok` and exits 0, or fails.
"""

import asyncio
import os
import threading

import mqlite
import paho.mqtt.client as mqtt

TIMEOUT = 10.0


class PahoOnLoop:
    """A paho client whose socket is watched by the asyncio loop, after
    paho's own examples/loop_asyncio.py."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client_id: str) -> None:
        self.loop = loop
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.connected = loop.create_future()
        self.messages: "asyncio.Queue[mqtt.MQTTMessage]" = asyncio.Queue()
        self.misc: "asyncio.Task[None] | None" = None
        self.client.on_socket_open = self.on_socket_open
        self.client.on_socket_close = self.on_socket_close
        self.client.on_socket_register_write = self.on_register_write
        self.client.on_socket_unregister_write = self.on_unregister_write
        self.client.on_connect = self.on_connect
        self.client.on_message = lambda client, userdata, message: self.messages.put_nowait(
            message)

    def on_connect(self, client, userdata, flags, reason_code, properties):
        if not self.connected.done():
            self.connected.set_result(reason_code)

    def on_socket_open(self, client, userdata, sock):
        self.loop.add_reader(sock, client.loop_read)
        self.misc = self.loop.create_task(self.misc_loop())

    def on_socket_close(self, client, userdata, sock):
        self.loop.remove_reader(sock)
        if self.misc is not None:
            self.misc.cancel()

    def on_register_write(self, client, userdata, sock):
        self.loop.add_writer(sock, client.loop_write)

    def on_unregister_write(self, client, userdata, sock):
        self.loop.remove_writer(sock)

    async def misc_loop(self) -> None:
        while self.client.loop_misc() == mqtt.MQTT_ERR_SUCCESS:
            await asyncio.sleep(1)


async def main() -> None:
    assert "MQLITE_LIB" not in os.environ, "the test must use the library in the package"
    loaded = mqlite._native.load()._name
    package = os.path.dirname(os.path.abspath(mqlite.__file__))
    assert os.path.dirname(os.path.abspath(loaded)) == package, (loaded, package)
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    on_threads = set()

    async with mqlite.Broker(host="localhost", port=0) as broker:
        assert threading.active_count() == 1, threading.enumerate()
        readings: "asyncio.Queue[mqlite.Message]" = asyncio.Queue()

        @broker.on_auth
        def auth(info: mqlite.ConnectInfo) -> bool:
            on_threads.add(threading.get_ident())
            return info.username == "sensor" and info.password == b"secret"

        @broker.subscribe("sensors/#")
        def reading(message: mqlite.Message) -> None:
            on_threads.add(threading.get_ident())
            readings.put_nowait(message)
            broker.publish("ack/" + message.topic, message.payload, qos=1)

        paho = PahoOnLoop(loop, "sensor-1")
        paho.client.username_pw_set("sensor", "secret")
        paho.client.connect("localhost", broker.port, keepalive=30)
        reason = await asyncio.wait_for(paho.connected, TIMEOUT)
        assert not reason.is_failure, reason
        paho.client.subscribe("ack/#", qos=1)
        await asyncio.sleep(0.1)
        paho.client.publish("sensors/temperature", b"21.5", qos=1)

        message = await asyncio.wait_for(readings.get(), TIMEOUT)
        assert (message.topic, message.payload) == ("sensors/temperature", b"21.5")
        ack = await asyncio.wait_for(paho.messages.get(), TIMEOUT)
        assert (ack.topic, ack.payload) == ("ack/sensors/temperature", b"21.5")

        stats = broker.stats()  # on the loop: straight to the broker
        assert stats.clients_connected == 1, stats
        assert threading.active_count() == 1, threading.enumerate()
        paho.client.disconnect()
        await asyncio.sleep(0.1)

    assert broker.stopped
    assert on_threads == {loop_thread}, on_threads
    print("asyncio app: ok")


if __name__ == "__main__":
    asyncio.run(main())
