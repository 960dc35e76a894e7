"""The broker served by an asyncio event loop on the loop's own thread
(`async with Broker()`, `Broker.serve()`, `Broker.attach()`), checked with
MQTT clients written on asyncio streams, so that the broker, its hooks and
the clients all share one thread: any blocking would hang the test, which
every wait bounds.

The library and the package are found as in test_bindings.py.
"""

import asyncio
import os
import pathlib
import subprocess
import sys
import threading

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


def run(coroutine):
    """Runs ``coroutine`` on a new event loop, bounded by TIMEOUT."""
    return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT * 2))


def _length(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _text(value):
    data = value.encode("utf-8")
    return len(data).to_bytes(2, "big") + data


class Client:
    """A minimal MQTT 3.1.1 client on asyncio streams: QoS 0 only."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port, client_id, host="127.0.0.1", username=None):
        reader, writer = await asyncio.open_connection(host, port)
        flags = 0x02 | (0x80 if username is not None else 0)
        body = b"\x00\x04MQTT\x04" + bytes([flags]) + b"\x00\x3c" + _text(client_id)
        if username is not None:
            body += _text(username)
        writer.write(b"\x10" + _length(len(body)) + body)
        client = cls(reader, writer)
        kind, packet = await client.packet()
        assert kind == 0x20, f"expected CONNACK, got {kind:#x}"
        return client, packet[1]  # the return code

    async def packet(self):
        first = (await asyncio.wait_for(self.reader.readexactly(1), TIMEOUT))[0]
        length, shift = 0, 0
        while True:
            byte = (await self.reader.readexactly(1))[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return first & 0xF0, await self.reader.readexactly(length)

    async def subscribe(self, topic):
        body = b"\x00\x01" + _text(topic) + b"\x00"
        self.writer.write(b"\x82" + _length(len(body)) + body)
        kind, _ = await self.packet()
        assert kind == 0x90, f"expected SUBACK, got {kind:#x}"

    def publish(self, topic, payload):
        body = _text(topic) + payload
        self.writer.write(b"\x30" + _length(len(body)) + body)

    async def message(self):
        kind, packet = await self.packet()
        assert kind == 0x30, f"expected PUBLISH, got {kind:#x}"
        size = int.from_bytes(packet[:2], "big")
        return packet[2:2 + size].decode("utf-8"), packet[2 + size:]

    async def close(self):
        self.writer.write(b"\xe0\x00")
        self.writer.close()
        await self.writer.wait_closed()


def broker_threads():
    return [thread for thread in threading.enumerate() if thread.name.startswith("mqlite:")]


def test_async_with_serves_on_the_loop_thread():
    async def main():
        loop_thread = threading.get_ident()
        seen_on = []
        async with mqlite.Broker(port=0) as broker:
            assert broker.running and not broker_threads()
            received = asyncio.Queue()

            @broker.on_auth
            def auth(info):
                seen_on.append(threading.get_ident())
                return info.username == "device"

            @broker.subscribe("sensors/#")
            def got(message):
                seen_on.append(threading.get_ident())
                received.put_nowait((message.topic, message.payload))
                # A hook may use the loop it runs on.
                asyncio.get_running_loop().call_soon(
                    broker.publish, "replies/" + message.topic, message.payload)

            listener, code = await Client.connect(broker.port, "listener", username="device")
            assert code == 0
            await listener.subscribe("replies/#")
            sender, code = await Client.connect(broker.port, "sender", username="device")
            sender.publish("sensors/t", b"21.5")
            assert await asyncio.wait_for(received.get(), TIMEOUT) == ("sensors/t", b"21.5")
            assert await listener.message() == ("replies/sensors/t", b"21.5")
            intruder, refused = await Client.connect(broker.port, "intruder", username="other")
            assert refused == 5
            intruder.writer.close()
            # Straight to the broker between passes, not through the handle
            # (which would wait for this very thread).
            stats = broker.stats()
            assert stats.clients_connected == 2
            broker.reload()
            await sender.close()
            await listener.close()
        assert broker.stopped and not broker.running
        assert seen_on and set(seen_on) == {loop_thread}

    run(main())


def test_timers_run_without_socket_activity():
    # $SYS messages come from the broker's timer alone: the loop must call
    # it at its deadline (loop.call_later), with no descriptor readable.
    async def main():
        async with mqlite.Broker(port=0, sys_interval_s=1) as broker:
            ticks = asyncio.Queue()
            broker.subscribe("$SYS/broker/uptime", lambda message: ticks.put_nowait(message))
            await asyncio.wait_for(ticks.get(), 3.0)
            await asyncio.wait_for(ticks.get(), 3.0)

    run(main())


def test_hooks_set_while_attached_from_the_loop_and_another_thread():
    async def main():
        async with mqlite.Broker(port=0) as broker:
            calls = []
            broker.on_event(lambda event: calls.append(("loop", event.kind)))
            client, _ = await Client.connect(broker.port, "one")
            await client.close()
            await asyncio.sleep(0.2)
            assert ("loop", mqlite.EventKind.CONNECTED) in calls
            # From another thread: installed by the loop between two passes.
            await asyncio.get_running_loop().run_in_executor(
                None, broker.on_auth, lambda info: info.client_id != "blocked")
            blocked, code = await Client.connect(broker.port, "blocked")
            assert code == 5
            blocked.writer.close()

    run(main())


def test_stop_from_another_thread_ends_attach_future():
    async def main():
        broker = mqlite.Broker(port=0)
        done = broker.attach()
        assert broker.running
        threading.Timer(0.2, broker.stop).start()
        await asyncio.wait_for(done, TIMEOUT)
        assert not broker.running and broker.stopped
        broker.close()

    run(main())


def test_serve_cancelled_stops_the_broker():
    async def main():
        broker = mqlite.Broker(port=0)
        task = asyncio.ensure_future(broker.serve())
        await asyncio.sleep(0.1)
        assert broker.running
        client, _ = await Client.connect(broker.port, "c")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert broker.stopped and not broker.running
        # The client was closed by the stop.
        assert await asyncio.wait_for(client.reader.read(), TIMEOUT) == b""
        client.writer.close()
        broker.close()

    run(main())


def test_close_from_a_coroutine_finishes_at_once():
    async def main():
        broker = mqlite.Broker(port=0)
        broker.attach()
        client, _ = await Client.connect(broker.port, "c")
        broker.close()  # no await: runs the last passes itself
        assert broker.stopped and not broker.running
        assert await asyncio.wait_for(client.reader.read(), TIMEOUT) == b""
        client.writer.close()

    run(main())


def test_loop_ended_without_closing_the_broker():
    # The coroutine returns with the broker still attached; asyncio.run
    # closes the loop. close() from plain code still stops and frees it.
    broker = mqlite.Broker(port=0)

    async def main():
        broker.attach()
        await asyncio.sleep(0.05)

    run(main())
    assert broker.running
    broker.close()
    assert broker.stopped and not broker.running


def test_bridges_and_host_names_on_the_loop():
    async def main():
        async with mqlite.Broker(host="localhost", port=0) as upstream:
            async with mqlite.Broker(port=0) as broker:
                broker.add_bridge(mqlite.Bridge(
                    "up", f"localhost:{upstream.port}", [mqlite.BridgeTopic("out/#", "out")]))
                received = asyncio.Queue()
                upstream.subscribe("out/#", lambda message: received.put_nowait(message.topic))
                for _ in range(int(TIMEOUT / 0.05)):
                    if broker.bridge_stats()[0].connected:
                        break
                    await asyncio.sleep(0.05)
                broker.publish("out/x", b"1")
                assert await asyncio.wait_for(received.get(), TIMEOUT) == "out/x"
                assert broker.remove_bridge("up")

    run(main())


def test_attach_refusals():
    broker = mqlite.Broker(port=0)
    try:
        with pytest.raises(mqlite.BrokerStateError, match="running asyncio event loop"):
            broker.attach()

        async def main():
            broker.attach()
            with pytest.raises(mqlite.BrokerStateError, match="already running"):
                broker.attach()
            with pytest.raises(RuntimeError):
                broker.start()
            async with broker:  # attached already: kept, closed on exit
                pass
            assert broker.stopped
            with pytest.raises(mqlite.BrokerStateError, match="closed") as closed:
                broker.attach()
            assert closed.value.code == 7010  # MQLITE_STOPPED

        run(main())
    finally:
        broker.close()


def test_thread_and_loop_do_not_mix():
    broker = mqlite.Broker(port=0).start()
    try:
        async def main():
            with pytest.raises(mqlite.BrokerStateError):
                broker.attach()
            # The thread-safe calls work from a coroutine too.
            broker.publish("a", b"b")
            assert broker.stats().connections == 0

        run(main())
    finally:
        broker.close()


def readme_asyncio_example():
    """The ```python block under "## asyncio" in bindings/python/README.md."""
    text = (ROOT / "bindings/python/README.md").read_text(encoding="utf-8")
    section = text.split("\n## asyncio\n", 1)[1]
    return section.split("```python\n", 1)[1].split("```\n", 1)[0]


def test_readme_asyncio_example_runs_as_written(tmp_path):
    # Run as a program (it serves until killed), with the package this test
    # imported (installed, or the source tree) and the same MQLITE_LIB.
    script = tmp_path / "example.py"
    script.write_text(readme_asyncio_example(), encoding="utf-8")
    package_parent = str(pathlib.Path(mqlite.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=package_parent, PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on "), line + process.stdout.read()
        port = int(line.split()[-1])

        async def main():
            client, _ = await Client.connect(port, "reader", host="localhost")
            await client.subscribe("ack/#")
            client.publish("sensors/t", b"21.5")
            assert await client.message() == ("ack/sensors/t", b"21.5")
            await client.close()

        run(main())
    finally:
        process.kill()
        process.wait(TIMEOUT)
        process.stdout.close()
