#!/usr/bin/env python3
"""Resident memory of a persisting broker holding offline queues.

S persistent subscribers (clean session 0, QoS 1, each on its own topic)
subscribe and go away; M QoS 1 messages of P bytes are then published to each
one's topic. The broker's RSS (VmRSS from /proc) is printed before the
messages, after them, and after a restart on the same file (kill -9, start
again: the restored state). Finally every subscriber reconnects and must get
its M messages in order, which checks that the store held them.

    bench/offline_memory.py [--broker target/release/mqlite] [-s 200] [-m 500] [-p 1024]

Needs paho-mqtt. Prints one line per figure; used for docs/PERSISTENCE.md.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import paho.mqtt.client as mqtt


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def start(broker, db, port):
    proc = subprocess.Popen(
        [broker, "-p", str(port), "--bind", "127.0.0.1", "--db", db],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("the broker did not start")


def client(client_id, clean):
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean,
        protocol=mqtt.MQTTv311,
    )
    c.max_inflight_messages_set(100)
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", default="target/release/mqlite")
    ap.add_argument("-s", "--subscribers", type=int, default=200)
    ap.add_argument("-m", "--messages", type=int, default=500)
    ap.add_argument("-p", "--payload", type=int, default=1024)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="mqlite-offline-mem-")
    db = os.path.join(work, "offline.db")
    port = free_port()
    proc = start(args.broker, db, port)

    for i in range(args.subscribers):
        c = client(f"off-{i}", False)
        c.connect("127.0.0.1", port)
        c.loop_start()
        subscribed = []
        c.on_subscribe = lambda *_a: subscribed.append(1)
        c.subscribe(f"off/{i}", qos=1)
        deadline = time.time() + 5
        while not subscribed and time.time() < deadline:
            time.sleep(0.001)
        c.disconnect()
        c.loop_stop()
    time.sleep(0.5)
    before = rss_kib(proc.pid)

    pub = client("off-pub", True)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    payload = b"x" * args.payload
    infos = []
    for n in range(args.messages):
        for i in range(args.subscribers):
            infos.append(pub.publish(f"off/{i}", n.to_bytes(4, "big") + payload, qos=1))
        if len(infos) > 2000:
            for info in infos:
                info.wait_for_publish(30)
            infos.clear()
    for info in infos:
        info.wait_for_publish(30)
    pub.disconnect()
    pub.loop_stop()
    time.sleep(0.5)
    after = rss_kib(proc.pid)

    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc = start(args.broker, db, port)
    time.sleep(0.5)
    restored = rss_kib(proc.pid)
    db_mib = os.path.getsize(db) / 2**20 + (
        os.path.getsize(db + "-wal") / 2**20 if os.path.exists(db + "-wal") else 0
    )

    queued = args.subscribers * args.messages
    print(f"subscribers {args.subscribers}, messages each {args.messages}, payload {args.payload} B")
    print(f"queued messages: {queued} ({queued * (args.payload + 4) / 2**20:.0f} MiB of payload), file {db_mib:.0f} MiB")
    print(f"RSS idle with sessions: {before} KiB")
    print(f"RSS with the queues filled: {after} KiB (+{after - before} KiB)")
    print(f"RSS after kill -9 and restart: {restored} KiB")

    # Every queue is intact and in order.
    bad = 0
    for i in range(args.subscribers):
        got = []
        c = client(f"off-{i}", False)
        c.on_message = lambda _c, _u, m: got.append(int.from_bytes(m.payload[:4], "big"))
        c.connect("127.0.0.1", port)
        c.loop_start()
        deadline = time.time() + 30
        while len(got) < args.messages and time.time() < deadline:
            time.sleep(0.01)
        c.disconnect()
        c.loop_stop()
        if got[: args.messages] != list(range(args.messages)):
            bad += 1
    peak = rss_kib(proc.pid)
    print(f"RSS after every subscriber drained its queue: {peak} KiB")
    proc.kill()
    proc.wait()
    if bad:
        print(f"FAILED: {bad} subscribers did not get their messages in order")
        sys.exit(1)
    print("every subscriber got its messages, in order")


if __name__ == "__main__":
    main()
