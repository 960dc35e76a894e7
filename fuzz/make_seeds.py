#!/usr/bin/env python3
"""Writes hand-made seed scripts for the `core` fuzz target into
corpus/core/seed-*, following the script format of src/core_script.rs
(keep the two in step). Run from fuzz/: python3 make_seeds.py"""

import os

# Words (indexes into the tables of core_script.rs).
TOPIC = {"a": 0, "a/b": 1, "a/b/c": 2, "b": 3, "$SYS/x": 6}
FILTER = {"#": 0, "a/#": 1, "a/+": 2, "a": 4, "$SYS/#": 6}
CLIENT = {"c1": 0, "c2": 1, "c3": 2, "": 4, "mqlite-1": 5}
NO_SPLIT = 1


def config(persistent=False, zero_ids=True, expiry=0, sys=False, conns=0, big_output=False):
    return [
        int(persistent)
        | (0 if zero_ids else 2)
        | expiry << 2
        | int(sys) << 4
        | conns << 5
        | int(big_output) << 7
    ]


def accept():
    return [0]


def connect(who, client="c1", clean=True, keep_alive=0, will=None, v31=False):
    flags = 0 if clean else 1
    will_topic, will_qos = TOPIC["a"], 0
    if will is not None:
        flags |= 2
        will_topic, will_qos = TOPIC[will[0]], will[1]
    ka = {0: 0, 1: 1, 10: 2}[keep_alive]
    return [1, who, 0, 240 if v31 else 0, flags, ka, CLIENT[client], will_topic, 5, ord("w"), will_qos, NO_SPLIT]


def publish(who, topic="a", qos=0, retain=False, packet_id=1, size=4):
    fields = [1, who, 1, qos, 2 if retain else 0, TOPIC[topic], 1 + 4 * size, ord("p")]
    if qos:
        fields.append(packet_id - 1)
    return fields + [NO_SPLIT]


def subscribe(who, filters, packet_id=1):
    out = [1, who, 7, packet_id - 1, len(filters) - 1]
    for f, q in filters:
        out += [FILTER[f], q]
    return out + [NO_SPLIT]


def ack(who, pick=0):
    return [15, who, pick]


def ping(who):
    return [1, who, 9, NO_SPLIT]


def disconnect(who):
    return [1, who, 10, NO_SPLIT]


def reactor(n_dirty=4):
    return [8] + [8] * n_dirty


def clock(seconds):
    return [6, 2 + 6 * seconds]


def to_deadline():
    return [6, 3]


def close(who):
    return [10, 0, who]


def release():
    return [11, 1]


def host_publish(topic="a", qos=1, retain=True):
    return [12, TOPIC[topic], 5, ord("h"), qos, int(retain)]


def take_ops():
    return [13]


SEEDS = {
    # Two clients, QoS 1 and 2 both ways, acknowledged.
    "flow": config()
    + accept() + accept()
    + connect(0, "c1") + connect(1, "c2")
    + subscribe(0, [("#", 2)]) + subscribe(1, [("a/+", 1)])
    + publish(1, "a", 1) + publish(1, "a/b", 2, packet_id=2) + publish(0, "a/b", 1)
    + reactor() + ack(0) + ack(0) + ack(1) + reactor() + ack(0) + ping(0) + reactor()
    + disconnect(0) + release(),
    # A persistent session fills its window and queue, drops, resumes.
    "resume": config(persistent=True)
    + accept() + accept()
    + connect(0, "c1", clean=False) + connect(1, "c2")
    + subscribe(0, [("a", 2), ("a/#", 1)])
    + sum((publish(1, "a", 1 + i % 2, packet_id=1 + i % 8) for i in range(10)), [])
    + reactor() + ack(0) + ack(0) + take_ops()
    + close(0) + release()
    + publish(1, "a", 2, packet_id=3) + accept()
    + connect(1, "c1", clean=False)
    + reactor() + ack(1) + ack(1) + ack(1) + reactor() + ack(1) + take_ops(),
    # Retained messages, wills, keepalive and connect timeouts.
    "timers": config(sys=True, expiry=2)
    + host_publish("a/b", 1) + host_publish("b", 0)
    + accept() + accept() + accept()
    + connect(0, "c1", keep_alive=1, will=("a/b/c", 1)) + connect(1, "c2", clean=False)
    + subscribe(1, [("#", 1), ("$SYS/#", 0)])
    + reactor() + clock(1) + to_deadline() + reactor() + clock(20) + reactor()
    + release() + to_deadline() + to_deadline() + reactor(),
    # Takeover, generated ids, kick, MQTT 3.1.
    "takeover": config(persistent=True)
    + accept() + accept() + accept()
    + connect(0, "c1", clean=False) + connect(1, "", clean=True)
    + subscribe(0, [("a", 1)]) + publish(1, "a", 1)
    + connect(2, "c1", clean=False, v31=True)
    + reactor() + release() + [10, 2, CLIENT["c2"]] + release(),
}


def main():
    os.makedirs("corpus/core", exist_ok=True)
    for name, data in SEEDS.items():
        with open(f"corpus/core/seed-{name}", "wb") as f:
            f.write(bytes(data))


if __name__ == "__main__":
    main()
