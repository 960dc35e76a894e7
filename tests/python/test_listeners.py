"""Listeners through the Python bindings (mqlite.Listener, mqlite.TLS),
with paho-mqtt 2.x as the client: TLS with server and client certificates,
TLS 1.3 only, MQTT over WebSocket and over WebSocket with TLS, a Unix
socket, per-listener settings, reload of a renewed certificate, and the
errors.

Certificates are made per test module with the openssl command-line tool
(a CA, a server certificate for 127.0.0.1 and localhost, a client
certificate with the subject CN=dev1,O=Acme), in a temporary directory.
The library and the package are found as in test_bindings.py.
"""

import os
import pathlib
import queue
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading

import paho.mqtt.client as mqtt
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
PAHO2 = hasattr(mqtt, "CallbackAPIVersion")
MQLITE_BIND_FAILED = 7007
MQLITE_INVALID_CONFIG = 7006
MQLITE_ON_BROKER_THREAD = 7016
MQLITE_LISTENER_FAILED = 7017
# `hand` / `made by hand` (tests/fixtures/README.md).
HAND = ("hand:$6$bXFsaXRlLXNhbHQh$aYcTGw+miCOoGjnbJu1TacN4pCv9LXLEMN1ho9s1gcPsQETYOzX+"
        "XGSimCq8ka/6NSPrzPBacUk6ZTgtz2NAgQ==\n")

pytestmark = pytest.mark.skipif(not PAHO2, reason="needs paho-mqtt 2.x (transport='unix')")


# --- certificates -------------------------------------------------------------


class Pki:
    """A CA with a server and a client certificate, made by openssl."""

    def __init__(self, directory, name):
        self.dir = directory
        self.ca = directory / f"{name}-ca.pem"
        self.server_cert = directory / f"{name}-server.pem"
        self.server_key = directory / f"{name}-server.key"
        self.client_cert = directory / f"{name}-client.pem"
        self.client_key = directory / f"{name}-client.key"
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        ca_key = directory / f"{name}-ca.key"
        self._openssl("req", "-x509", *ec, "-days", "2", "-subj", f"/CN=mqlite test CA {name}",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                      "-keyout", ca_key, "-out", self.ca)
        for kind, subject, key, cert, extensions in (
            ("server", "/CN=localhost", self.server_key, self.server_cert,
             "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
             "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"),
            ("client", "/O=Acme/CN=dev1", self.client_key, self.client_cert,
             "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
             "extendedKeyUsage=clientAuth\n"),
        ):
            csr = directory / f"{name}-{kind}.csr"
            ext = directory / f"{name}-{kind}.ext"
            ext.write_text(extensions)
            self._openssl("req", "-new", *ec, "-subj", subject, "-keyout", key, "-out", csr)
            self._openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", ca_key,
                          "-set_serial", "2" if kind == "server" else "3", "-days", "2",
                          "-extfile", ext, "-out", cert)

    @staticmethod
    def _openssl(*args):
        result = subprocess.run(["openssl", *map(str, args)], capture_output=True, timeout=60)
        assert result.returncode == 0, result.stderr.decode(errors="replace")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed to make test certificates "
                    "(scripts/test.sh installs it)")
    directory = tmp_path_factory.mktemp("pki")
    return Pki(directory, "a")


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki-other"), "b")


# --- clients and brokers ----------------------------------------------------------


def _value(code):
    return getattr(code, "value", code)


class Client:
    """A paho 2.x client (MQTT 3.1.1) with its loop in a thread."""

    def __init__(self, client_id, transport="tcp", ca=None, cert=None, key=None,
                 username=None, password=None, context=None):
        self.paho = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                protocol=mqtt.MQTTv311, transport=transport)
        if transport == "websockets":
            self.paho.ws_set_options(path="/mqtt")
        if context is not None:
            self.paho.tls_set_context(context)
        elif ca is not None:
            self.paho.tls_set(ca_certs=str(ca), certfile=cert and str(cert),
                              keyfile=key and str(key))
        if username is not None:
            self.paho.username_pw_set(username, password)
        self.connacks = queue.Queue()
        self.messages = queue.Queue()
        self.subacks = queue.Queue()
        self.paho.on_connect = lambda c, u, flags, rc, *rest: self.connacks.put(_value(rc))
        self.paho.on_message = lambda c, u, message: self.messages.put(message)
        self.paho.on_subscribe = lambda c, u, mid, codes, *rest: self.subacks.put(
            [_value(code) for code in codes])
        # A connection closed before its CONNACK ends the wait at once.
        self.paho.on_disconnect = lambda c, u, *rest: self.connacks.put(None)
        self.started = False

    def connect(self, host, port=1883):
        """The CONNACK code (0 accepted; paho 2.x gives 3.1.1 refusals as
        MQTT 5 codes: 134, 135), or None when the connection failed or no
        CONNACK came (a refused TLS handshake, a closed connection)."""
        try:
            self.paho.connect(host, port, 30)
        except (OSError, ssl.SSLError):
            return None
        self.paho.loop_start()
        self.started = True
        try:
            return self.connacks.get(timeout=TIMEOUT)
        except queue.Empty:
            return None

    def subscribe(self, topic, qos=0):
        self.paho.subscribe(topic, qos)
        try:
            return self.subacks.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"no SUBACK for {topic}") from None

    def publish(self, topic, payload, qos=1):
        info = self.paho.publish(topic, payload, qos=qos)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published(), f"publish to {topic} not completed"

    def expect_message(self):
        try:
            return self.messages.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError("no message within 5 s") from None

    def close(self):
        if self.started:
            try:
                self.paho.disconnect()
            finally:
                self.paho.loop_stop()


@pytest.fixture
def clients():
    """A factory of clients, closed at teardown."""
    made = []

    def make(client_id, **kwargs):
        client = Client(client_id, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        try:
            client.close()
        except Exception:
            pass


class Seen:
    """What the hooks saw, for the test thread."""

    def __init__(self, broker):
        self.connects = {}
        self.acl = {}
        self.lock = threading.Lock()
        broker.on_auth(self._auth)
        broker.on_acl(self._acl)

    def _auth(self, info):
        with self.lock:
            self.connects[info.client_id] = info
        return True

    def _acl(self, client, access, topic):
        with self.lock:
            self.acl.setdefault(client.client_id, []).append((access, topic, client))
        return True


class Inbox:
    def __init__(self):
        self.queue = queue.Queue()

    def __call__(self, message):
        self.queue.put(message)

    def get(self):
        try:
            return self.queue.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError("no local message within 5 s") from None


@pytest.fixture
def brokers():
    """A factory of started brokers, closed at teardown."""
    made = []

    def make(listeners, **limits):
        broker = mqlite.Broker(listeners=listeners, sys_interval_s=0, **limits)
        made.append(broker)
        return broker.start()

    yield make
    for broker in made:
        broker.close()


# --- TLS ------------------------------------------------------------------------------


def test_tls_server_certificate(pki, other_pki, brokers, clients):
    broker = brokers(["127.0.0.1:0",
                      mqlite.Listener(port=0, tls=mqlite.TLS(pki.server_cert, pki.server_key))])
    seen = Seen(broker)
    inbox = Inbox()
    broker.subscribe("t/#", inbox)
    plain_port, tls_port = broker.ports
    assert plain_port and tls_port and plain_port != tls_port
    assert broker.port == plain_port

    client = clients("tls-1", ca=pki.ca)
    assert client.connect("127.0.0.1", tls_port) == 0
    client.publish("t/tls", "over tls")
    message = inbox.get()
    assert (message.topic, message.payload) == ("t/tls", b"over tls")
    info = seen.connects["tls-1"]
    assert info.listener == 1 and info.certificate is None
    assert seen.acl["tls-1"][0][2].listener == 1
    # Also by the name in the certificate.
    assert clients("tls-localhost", ca=pki.ca).connect("localhost", tls_port) == 0

    # A client trusting another CA, and a plain client, do not get in.
    assert clients("tls-other-ca", ca=other_pki.ca).connect("127.0.0.1", tls_port) is None
    assert clients("plain-on-tls").connect("127.0.0.1", tls_port) is None
    assert "plain-on-tls" not in seen.connects
    # The plain listener is listener 0.
    assert clients("plain").connect("127.0.0.1", plain_port) == 0
    assert seen.connects["plain"].listener == 0


def test_tls_client_certificate_names_the_user(pki, brokers, clients):
    tls = mqlite.TLS(certfile=pki.server_cert, keyfile=pki.server_key, cafile=pki.ca,
                     require_certificate=True, use_identity_as_username=True)
    broker = brokers([mqlite.Listener(port=0, tls=tls)])
    seen = Seen(broker)
    port = broker.port
    client = clients("dev", ca=pki.ca, cert=pki.client_cert, key=pki.client_key,
                     username="someone-else", password="ignored")
    assert client.connect("127.0.0.1", port) == 0
    info = seen.connects["dev"]
    assert info.certificate == mqlite.ClientCertificate(subject="CN=dev1,O=Acme",
                                                        common_name="dev1")
    assert info.username == "dev1"
    assert info.listener == 0
    client.publish("t/dev", "x")
    access, topic, who = seen.acl["dev"][0]
    assert (access, topic, who.username, who.listener) == (mqlite.AclAccess.PUBLISH, "t/dev",
                                                           "dev1", 0)
    # Without a certificate the handshake fails.
    assert clients("no-cert", ca=pki.ca).connect("127.0.0.1", port) is None
    assert "no-cert" not in seen.connects


def test_optional_client_certificate_is_shown(pki, brokers, clients):
    tls = mqlite.TLS(pki.server_cert, pki.server_key, cafile=pki.ca)
    broker = brokers([mqlite.Listener(port=0, tls=tls)])
    seen = Seen(broker)
    assert clients("with", ca=pki.ca, cert=pki.client_cert, key=pki.client_key,
                   username="u").connect("127.0.0.1", broker.port) == 0
    assert clients("without", ca=pki.ca).connect("127.0.0.1", broker.port) == 0
    assert seen.connects["with"].certificate.subject == "CN=dev1,O=Acme"
    assert seen.connects["with"].username == "u"
    assert seen.connects["without"].certificate is None


def test_tls_1_3_only(pki, brokers, clients):
    tls = mqlite.TLS(pki.server_cert, pki.server_key, tls_version="tlsv1.3")
    broker = brokers([mqlite.Listener(port=0, tls=tls)])
    old = ssl.create_default_context(cafile=str(pki.ca))
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    assert clients("tls12", context=old).connect("127.0.0.1", broker.port) is None
    new = ssl.create_default_context(cafile=str(pki.ca))
    new.minimum_version = ssl.TLSVersion.TLSv1_3
    assert clients("tls13", context=new).connect("127.0.0.1", broker.port) == 0


# --- WebSocket ------------------------------------------------------------------------


def test_websocket_and_websocket_over_tls(pki, brokers, clients):
    # A bare MQTT client on a WebSocket listener never completes an HTTP
    # request: it is closed at the connect timeout, shortened here.
    broker = brokers([
        mqlite.Listener(port=0, websocket=True),
        mqlite.Listener(port=0, websocket=True, tls=mqlite.TLS(pki.server_cert, pki.server_key)),
    ], connect_timeout_ms=1500)
    seen = Seen(broker)
    ws_port, wss_port = broker.ports
    subscriber = clients("ws-sub", transport="websockets")
    assert subscriber.connect("127.0.0.1", ws_port) == 0
    assert subscriber.subscribe("t/ws", 1) == [1]
    publisher = clients("wss-pub", transport="websockets", ca=pki.ca)
    assert publisher.connect("127.0.0.1", wss_port) == 0
    publisher.publish("t/ws", b"\x00binary over wss\xff" * 1000)
    message = subscriber.expect_message()
    assert message.payload == b"\x00binary over wss\xff" * 1000
    assert seen.connects["ws-sub"].listener == 0
    assert seen.connects["wss-pub"].listener == 1
    assert seen.connects["wss-pub"].peer.startswith("127.0.0.1:")
    # The host's messages reach a WebSocket subscriber too.
    broker.publish("t/ws", "from the host")
    assert subscriber.expect_message().payload == b"from the host"
    # A bare MQTT client on the WebSocket listener does not get in.
    assert clients("bare-on-ws").connect("127.0.0.1", ws_port) is None


# --- Unix socket ------------------------------------------------------------------


def test_unix_socket(tmp_path, brokers, clients):
    path = tmp_path / "mqlite.sock"
    broker = brokers([mqlite.Listener(path=path, mode=0o600), "127.0.0.1:0"])
    seen = Seen(broker)
    assert broker.ports[0] is None and broker.ports[1]
    assert broker.port == broker.ports[1]
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    client = clients("unix-1", transport="unix")
    assert client.connect(str(path)) == 0
    assert client.subscribe("t/unix", 1) == [1]
    broker.publish("t/unix", "local", qos=1)
    assert client.expect_message().payload == b"local"
    info = seen.connects["unix-1"]
    assert info.peer == f"unix:{path}"
    assert info.listener == 0
    access, topic, who = seen.acl["unix-1"][0]
    assert (access, who.listener, who.peer) == (mqlite.AclAccess.SUBSCRIBE, 0, f"unix:{path}")
    assert clients("tcp-1").connect("127.0.0.1", broker.ports[1]) == 0
    assert seen.connects["tcp-1"].listener == 1
    broker.stop()
    assert not path.exists(), "the socket file goes with the stop"


def test_only_a_unix_socket(tmp_path):
    path = tmp_path / "only.sock"
    with mqlite.Broker(listeners=[mqlite.Listener(path=os.fsencode(path))]) as broker:
        assert broker.ports == [None] and broker.port is None
        assert path.exists()
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(TIMEOUT)
        sock.connect(str(path))
        sock.close()


# --- per-listener settings -------------------------------------------------------------


def test_per_listener_settings(tmp_path, brokers, clients):
    passwd = tmp_path / "passwd"
    passwd.write_text(HAND)
    acl = tmp_path / "acl"
    # mosquitto grants a SUBSCRIBE unless a deny line covers its filter.
    acl.write_text("topic readwrite allowed/#\ntopic deny denied/#\n")
    broker = brokers([
        "127.0.0.1:0",
        mqlite.Listener(port=0, password_file=passwd),
        mqlite.Listener(port=0, allow_anonymous=False),
        mqlite.Listener(port=0, acl_file=str(acl), max_connections=1),
    ])
    plain, with_passwd, no_anonymous, with_acl = broker.ports
    # The plain listener: the broker-wide settings (anyone, anything).
    anyone = clients("anyone")
    assert anyone.connect("127.0.0.1", plain) == 0
    assert anyone.subscribe("denied/x") == [0]
    # Its own password file: its users only.
    assert clients("p-anon").connect("127.0.0.1", with_passwd) in (5, 135)
    assert clients("p-bad", username="hand", password="nope").connect(
        "127.0.0.1", with_passwd) in (4, 5, 134, 135)
    assert clients("p-hand", username="hand", password="made by hand").connect(
        "127.0.0.1", with_passwd) == 0
    # No anonymous clients.
    assert clients("n-anon").connect("127.0.0.1", no_anonymous) in (5, 135)
    # Its own ACL file, and one connection at most.
    first = clients("a-1")
    assert first.connect("127.0.0.1", with_acl) == 0
    assert first.subscribe("allowed/x") == [0]
    assert first.subscribe("denied/x") == [128]
    assert clients("a-2").connect("127.0.0.1", with_acl) is None

    # Reload reads the per-listener files again.
    passwd.write_text(HAND.replace("hand:", "other:"))
    broker.reload()
    assert clients("p-other", username="other", password="made by hand").connect(
        "127.0.0.1", with_passwd) == 0
    assert clients("p-hand-2", username="hand", password="made by hand").connect(
        "127.0.0.1", with_passwd) in (4, 5, 134, 135)
    # A file that cannot be read: refused, nothing changes.
    passwd.unlink()
    with pytest.raises(mqlite.InvalidArgument) as refused:
        broker.reload()
    assert refused.value.code == MQLITE_INVALID_CONFIG
    assert str(passwd) in refused.value.detail


# --- reload ----------------------------------------------------------------------------


def test_reload_takes_a_renewed_certificate(pki, other_pki, tmp_path, brokers, clients):
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    shutil.copy(pki.server_cert, cert)
    shutil.copy(pki.server_key, key)
    broker = mqlite.Broker(listeners=[mqlite.Listener(port=0, tls=mqlite.TLS(cert, key))],
                           sys_interval_s=0)
    try:
        # Not running: reloaded on this thread.
        broker.reload()
        broker.start()
        reloads = queue.Queue()

        @broker.on_auth
        def auth(info):
            if info.client_id == "reload-in-hook":
                try:
                    broker.reload()
                    reloads.put(None)
                except mqlite.MqliteError as error:
                    reloads.put(error.code)
            return True

        port = broker.port
        assert clients("before", ca=pki.ca).connect("127.0.0.1", port) == 0
        shutil.copy(other_pki.server_cert, cert)
        shutil.copy(other_pki.server_key, key)
        broker.reload()
        assert clients("renewed", ca=other_pki.ca).connect("127.0.0.1", port) == 0
        assert clients("old-ca", ca=pki.ca).connect("127.0.0.1", port) is None

        # A key that cannot be used: refused with the listener and the file
        # named, and nothing changes.
        key.write_text("not a key\n")
        with pytest.raises(mqlite.MqliteError) as refused:
            broker.reload()
        assert refused.value.code == MQLITE_LISTENER_FAILED
        assert not isinstance(refused.value, mqlite.InvalidArgument)
        assert str(key) in refused.value.detail
        assert "mqtts://127.0.0.1:" in refused.value.detail
        assert clients("still", ca=other_pki.ca).connect("127.0.0.1", port) == 0

        # From a hook it fails at once.
        assert clients("reload-in-hook", ca=other_pki.ca).connect("127.0.0.1", port) == 0
        assert reloads.get(timeout=TIMEOUT) == MQLITE_ON_BROKER_THREAD
    finally:
        broker.close()
    with pytest.raises(RuntimeError):
        broker.reload()


# --- errors ---------------------------------------------------------------------------


def test_listener_errors(pki, tmp_path):
    missing = tmp_path / "missing.pem"
    with pytest.raises(mqlite.MqliteError) as failed:
        mqlite.Broker(listeners=[mqlite.Listener(port=0, tls=mqlite.TLS(missing, missing))])
    assert failed.value.code == MQLITE_LISTENER_FAILED
    assert not isinstance(failed.value, mqlite.InvalidArgument)
    assert "mqtts://127.0.0.1:0" in failed.value.detail and str(missing) in failed.value.detail
    with pytest.raises(mqlite.MqliteError) as failed:
        mqlite.Broker(listeners=[mqlite.Listener(path=tmp_path / "no-dir" / "s.sock")])
    assert failed.value.code == MQLITE_LISTENER_FAILED
    # A key that is not the certificate's.
    with pytest.raises(mqlite.MqliteError) as failed:
        mqlite.Broker(listeners=[mqlite.Listener(
            port=0, tls=mqlite.TLS(pki.server_cert, pki.client_key))])
    assert failed.value.code == MQLITE_LISTENER_FAILED

    # Settings that cannot work together: InvalidArgument.
    with pytest.raises(mqlite.InvalidArgument) as invalid:
        mqlite.Broker(listeners=[mqlite.Listener(port=0, tls=mqlite.TLS(
            pki.server_cert, pki.server_key, require_certificate=True))])
    assert invalid.value.code == MQLITE_INVALID_CONFIG
    assert "require_certificate" in invalid.value.detail
    with pytest.raises(mqlite.InvalidArgument):
        mqlite.Broker(listeners=[mqlite.Listener(port=0, tls=mqlite.TLS(
            pki.server_cert, pki.server_key, cafile=pki.ca, use_identity_as_username=True))])
    for bad in (
        mqlite.Listener(port=70000),
        mqlite.Listener(port=0, max_connections=0),
        mqlite.Listener(path=tmp_path / "m.sock", mode=0o10000),
        mqlite.Listener(port=0, host="127.0.0.1\x00x"),
        mqlite.Listener(port=0, host="no-such-host.invalid"),  # does not resolve
        mqlite.Listener(port=0, tls=mqlite.TLS("c", "k", tls_version="tlsv1.1")),
    ):
        with pytest.raises(mqlite.InvalidArgument):
            mqlite.Broker(listeners=[bad])
    with pytest.raises(mqlite.InvalidArgument):
        mqlite.Broker(listeners=[])

    # An address in use: MQLITE_BIND_FAILED.
    with mqlite.Broker(port=0) as first:
        with pytest.raises(mqlite.MqliteError) as failed:
            mqlite.Broker(listeners=[mqlite.Listener(port=first.port, websocket=True)])
        assert failed.value.code == MQLITE_BIND_FAILED

    # Types and combinations, when the objects are made.
    with pytest.raises(TypeError):
        mqlite.Listener(port="1883")
    with pytest.raises(TypeError):
        mqlite.Listener(tls="yes")
    with pytest.raises(TypeError):
        mqlite.Listener(websocket=1)
    with pytest.raises(TypeError):
        mqlite.TLS(None, "key.pem")
    with pytest.raises(TypeError):
        mqlite.TLS("c", "k", require_certificate="yes")
    with pytest.raises(ValueError):
        mqlite.Listener(path="/tmp/x.sock", port=1883)
    with pytest.raises(ValueError):
        mqlite.Listener(port=0, mode=0o600)
    with pytest.raises(TypeError):
        mqlite.Broker(listeners=[1883])


def test_listener_values():
    tcp = mqlite.Listener()
    assert (tcp.host, tcp.port, tcp.is_unix) == ("127.0.0.1", 0, False)
    assert tcp.describe() == "mqtt://127.0.0.1:0"
    assert mqlite.Listener(port=8883, host="::1", tls=mqlite.TLS("c", "k")).describe() == \
        "mqtts://[::1]:8883"
    assert mqlite.Listener(port=80, host="0.0.0.0", websocket=True).describe() == \
        "ws://0.0.0.0:80"
    unix = mqlite.Listener(path="/run/m.sock", mode=0o660, owner="mqtt", group="mqtt")
    assert unix.is_unix and unix.port is None and unix.host is None
    assert unix.describe() == "unix:/run/m.sock"
