"""Fixtures for the paho-mqtt tests: the mqlite binary on a port the kernel
picked (`-p 0`, read back from the binary's `mqlite: listening on ADDR`
line), and a paho client wrapper that works with paho-mqtt 1.x and 2.x.

The binary is taken from the environment variable MQLITE_BIN (default
target/release/mqlite, relative to the repository root). Every wait has a
timeout, so a broken broker fails a test instead of hanging it.
"""

import os
import pathlib
import queue
import re
import signal
import socket
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TIMEOUT = 5.0
QUIET = 0.3
PAHO2 = hasattr(mqtt, "CallbackAPIVersion")


def mqlite_bin():
    value = os.environ.get("MQLITE_BIN", "target/release/mqlite")
    path = pathlib.Path(value)
    if not path.is_absolute():
        path = path if path.exists() else ROOT / value
    if not path.exists():
        pytest.fail(
            f"mqlite binary not found at {path}: build it with "
            "`cargo build --release` or set MQLITE_BIN"
        )
    return str(path.resolve())


LISTENING = re.compile(r"^mqlite: listening on (\S+):(\d+)$")


class MqliteProcess:
    """One `mqlite -p 0 ARGS...` process in `workdir`. The kernel picks the
    port; the binary reports it on stderr, once bound, as
    `mqlite: listening on ADDR` (src/bin/mqlite/main.rs), and `port` is the
    one of that line: no port is picked here and handed over later, so no
    other process can take it in between. Its stderr is read on a thread
    (a full pipe would block the broker) and kept for `stderr()`."""

    def __init__(self, workdir, args):
        self.host = "127.0.0.1"
        self.lines = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            [mqlite_bin(), "-p", "0", *args],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        listening = queue.Queue()
        self.reader = threading.Thread(target=self._read, args=(listening,), daemon=True)
        self.reader.start()
        try:
            port = listening.get(timeout=TIMEOUT)
        except queue.Empty:
            self.proc.kill()
            self.proc.wait()
            self.reader.join(TIMEOUT)
            pytest.fail(f"mqlite not listening after {TIMEOUT} s: {self.stderr()}")
        if port is None:
            code = self.proc.wait(timeout=TIMEOUT)
            self.reader.join(TIMEOUT)
            pytest.fail(f"mqlite exited before listening ({code}): {self.stderr()}")
        self.port = port

    def _read(self, listening):
        """Collects stderr lines; puts the first listening port on
        `listening`, and None at end of file."""
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.lock:
                self.lines.append(line)
            match = LISTENING.match(line)
            if match:
                listening.put(int(match.group(2)))
        listening.put(None)

    def stderr(self):
        """What the process wrote to stderr so far; all of it once it has
        exited and `wait` returned."""
        with self.lock:
            return "\n".join(self.lines)

    def wait(self, timeout=TIMEOUT):
        """Waits for the exit and for stderr's end of file; the exit code."""
        code = self.proc.wait(timeout=timeout)
        self.reader.join(TIMEOUT)
        return code

    def stop(self):
        """SIGTERM; returns the exit code (the process is killed if it does
        not exit within the timeout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.wait()
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.wait()
                raise AssertionError("mqlite did not exit within 5 s of SIGTERM")
        return self.wait()

    def kill(self):
        """SIGKILL (nothing flushed, nothing closed cleanly); waits for the
        process to be gone and returns its exit code."""
        self.proc.send_signal(signal.SIGKILL)
        return self.wait()


class Broker(MqliteProcess):
    """A running `mqlite -p 0 --no-persist` in a temporary directory."""

    def __init__(self, workdir):
        super().__init__(workdir, ["--no-persist"])


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    try:
        yield b
    finally:
        code = b.stop()
        log = b.stderr()
    assert code == 0, f"mqlite exited with {code} after SIGTERM: {log}"
    assert "panicked" not in log, log


def _code(value):
    """A reason code or int as an int (paho 2.x gives ReasonCode objects)."""
    return getattr(value, "value", value)


class Client:
    """A paho client with its network loop in a thread and queue-based
    waits. Works with the paho-mqtt 1.x and 2.x callback APIs."""

    def __init__(self, broker, client_id, clean_session=True, keepalive=30, will=None):
        kwargs = dict(client_id=client_id, clean_session=clean_session, protocol=mqtt.MQTTv311)
        if PAHO2:
            self.paho = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, **kwargs)
        else:
            self.paho = mqtt.Client(**kwargs)
        self.broker = broker
        self.keepalive = keepalive
        self.messages = queue.Queue()
        self.subacks = {}
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connack = None
        self.lock = threading.Lock()
        self.paho.on_connect = self._on_connect
        self.paho.on_message = self._on_message
        self.paho.on_subscribe = self._on_subscribe
        self.paho.on_disconnect = self._on_disconnect
        if will is not None:
            topic, payload, qos, retain = will
            self.paho.will_set(topic, payload, qos=qos, retain=retain)

    # Callbacks: positional arguments differ between the APIs, so they
    # take what they need and ignore the rest.
    def _on_connect(self, client, userdata, flags, rc, *rest):
        if isinstance(flags, dict):
            present = bool(flags.get("session present", 0))
        else:
            present = bool(flags.session_present)
        self.connack = (present, _code(rc))
        self.connected.set()

    def _on_message(self, client, userdata, message):
        self.messages.put(message)

    def _on_subscribe(self, client, userdata, mid, codes, *rest):
        with self.lock:
            self.subacks[mid] = [_code(c) for c in codes]

    def _on_disconnect(self, client, userdata, *rest):
        self.disconnected.set()

    def connect(self):
        """Connects and returns the session-present flag (CONNACK 0
        checked)."""
        self.paho.connect(self.broker.host, self.broker.port, self.keepalive)
        self.paho.loop_start()
        assert self.connected.wait(TIMEOUT), "no CONNACK within 5 s"
        present, code = self.connack
        assert code == 0, f"CONNACK code {code}"
        return present

    def subscribe(self, topic, qos):
        result, mid = self.paho.subscribe(topic, qos)
        assert result == mqtt.MQTT_ERR_SUCCESS, result
        deadline = time.monotonic() + TIMEOUT
        while True:
            with self.lock:
                if mid in self.subacks:
                    return self.subacks.pop(mid)
            assert time.monotonic() < deadline, f"no SUBACK for {topic} within 5 s"
            time.sleep(0.005)

    def unsubscribe(self, topic):
        result, _ = self.paho.unsubscribe(topic)
        assert result == mqtt.MQTT_ERR_SUCCESS, result

    def publish(self, topic, payload, qos=0, retain=False):
        """Publishes and waits until paho reports it complete (PUBACK for
        QoS 1, PUBCOMP for QoS 2, written for QoS 0)."""
        info = self.paho.publish(topic, payload, qos=qos, retain=retain)
        deadline = time.monotonic() + TIMEOUT
        while not info.is_published():
            assert time.monotonic() < deadline, f"publish to {topic} not completed within 5 s"
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

    def disconnect(self):
        self.paho.disconnect()
        assert self.disconnected.wait(TIMEOUT), "DISCONNECT not completed within 5 s"
        self.paho.loop_stop()

    def close_abruptly(self):
        """Stops the network loop and closes the socket without DISCONNECT,
        as a crash or network failure would."""
        self.paho.loop_stop()
        sock = self.paho.socket()
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


@pytest.fixture
def client(broker):
    """A factory of connected-later clients; all are stopped at teardown."""
    made = []

    def make(client_id, **kwargs):
        c = Client(broker, client_id, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            # DISCONNECT wakes paho's network thread, so loop_stop does not
            # wait for its 1 s select timeout.
            c.paho.disconnect()
            c.paho.loop_stop()
        except Exception:
            pass
