"""Persistence with the Eclipse paho-mqtt client: messages queued for an
offline persistent session survive a SIGKILL of the mqlite binary.

The broker here runs with `--db <tmp>/x.db` (the `broker` fixture of
conftest.py runs `--no-persist`), is killed with SIGKILL and started again
on the same file (each run on the port the kernel picks for `-p 0`). The
paho client wrapper and the process wrapper (MQLITE_BIN, `-p 0` read back
from the binary's `mqlite: listening on ADDR` line) come from conftest.py.
Every wait has a timeout.
"""

import signal

import pytest

from conftest import Client, MqliteProcess


class PersistentBroker:
    """`mqlite -p 0 --db DB` in `workdir`, restartable on the same file.
    Each run gets the port the kernel picks (conftest.MqliteProcess):
    clients made after a restart connect to the new one."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.db = workdir / "x.db"
        self.runs = []
        self.start()

    def start(self):
        self.runs.append(MqliteProcess(self.workdir, ["--db", str(self.db)]))

    @property
    def host(self):
        return self.runs[-1].host

    @property
    def port(self):
        return self.runs[-1].port

    def stderr(self):
        return "\n---\n".join(run.stderr() for run in self.runs)

    def kill_and_restart(self):
        """SIGKILL (nothing flushed, nothing closed cleanly), then the same
        command again."""
        code = self.runs[-1].kill()
        assert code == -signal.SIGKILL, code
        self.start()

    def stop(self):
        """SIGTERM; returns the exit code."""
        return self.runs[-1].stop()


@pytest.fixture
def persistent_broker(tmp_path):
    b = PersistentBroker(tmp_path)
    try:
        yield b
    finally:
        code = b.stop()
        log = b.stderr()
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
