"""Persistence with the Eclipse paho-mqtt client: messages queued for an
offline persistent session survive a SIGKILL of the mqlite binary.

The broker here runs with `--db <tmp>/x.db` (the `broker` fixture of
conftest.py runs `--no-persist`), is killed with SIGKILL and started again
on the same file and port. The paho client wrapper, the binary lookup
(MQLITE_BIN) and the free-port helper come from conftest.py. Every wait has
a timeout.
"""

import signal
import socket
import subprocess
import time

import pytest

from conftest import TIMEOUT, Client, free_port, mqlite_bin


class PersistentBroker:
    """`mqlite -p PORT --db DB` in `workdir`; restartable on the same file
    and port."""

    def __init__(self, workdir):
        self.host = "127.0.0.1"
        self.port = free_port()
        self.workdir = workdir
        self.db = workdir / "x.db"
        self.logs = []
        self.proc = None
        self.start()

    def start(self):
        log = open(self.workdir / f"mqlite-{len(self.logs)}.log", "w+b")
        self.logs.append(log)
        self.proc = subprocess.Popen(
            [mqlite_bin(), "-p", str(self.port), "--db", str(self.db)],
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        deadline = time.monotonic() + TIMEOUT
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"mqlite exited early ({self.proc.returncode}): {self.stderr()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.proc.kill()
                    pytest.fail(f"mqlite not listening after {TIMEOUT} s: {self.stderr()}")
                time.sleep(0.02)

    def stderr(self):
        text = []
        for log in self.logs:
            log.flush()
            log.seek(0)
            text.append(log.read().decode(errors="replace"))
        return "\n---\n".join(text)

    def kill_and_restart(self):
        """SIGKILL (nothing flushed, nothing closed cleanly), then the same
        command again."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=TIMEOUT)
        assert self.proc.returncode == -signal.SIGKILL, self.proc.returncode
        self.start()

    def stop(self):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("mqlite did not exit within 5 s of SIGTERM")
        return self.proc.returncode


@pytest.fixture
def persistent_broker(tmp_path):
    b = PersistentBroker(tmp_path)
    try:
        yield b
    finally:
        code = b.stop()
        log = b.stderr()
        for f in b.logs:
            f.close()
    assert code == 0, f"mqlite exited with {code} after SIGTERM: {log}"
    assert "panicked" not in log, log


@pytest.fixture
def pclient(persistent_broker):
    """Clients of the persistent broker; all network loops stopped at
    teardown."""
    made = []

    def make(client_id, **kwargs):
        c = Client(persistent_broker, client_id, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.paho.loop_stop()
        except Exception:
            pass


@pytest.mark.parametrize("qos", [1, 2])
def test_offline_messages_survive_sigkill(persistent_broker, pclient, qos):
    sub = pclient("py-persist-sub", clean_session=False)
    assert sub.connect() is False
    assert sub.subscribe("py/persist/#", qos) == [qos]
    sub.disconnect()

    pub = pclient("py-persist-pub")
    pub.connect()
    payloads = [f"offline-{i}".encode() for i in range(10)]
    for payload in payloads:
        # Returns once PUBACK / PUBCOMP arrived: the broker has saved it.
        pub.publish("py/persist/t", payload, qos=qos)
    pub.disconnect()

    persistent_broker.kill_and_restart()

    sub = pclient("py-persist-sub", clean_session=False)
    assert sub.connect() is True, "the persistent session must survive SIGKILL"
    for payload in payloads:
        m = sub.expect_message()
        assert (m.topic, m.payload, m.qos, m.retain) == ("py/persist/t", payload, qos, False)
    sub.expect_no_message()

    # The subscription came back with the session: no SUBSCRIBE this time.
    pub = pclient("py-persist-pub")
    pub.connect()
    pub.publish("py/persist/t", b"after", qos=qos)
    m = sub.expect_message()
    assert (m.topic, m.payload, m.qos) == ("py/persist/t", b"after", qos)
    sub.expect_no_message()
    pub.disconnect()
    sub.disconnect()
