#!/usr/bin/env python3
"""Writes hand-made seed scripts for the `core` fuzz target into
corpus/core/seed-*, following the script format of src/core_script.rs
(keep the two in step), and hand-made MQTT 5 packets for the `decode`
target into corpus/decode/seed-v5-*. Run from fuzz/: python3 make_seeds.py"""

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


# MQTT 5 packets for the `decode` target: every packet type with
# properties and reason codes, and a few the decoder must refuse.


def field(data):
    return bytes([len(data) >> 8, len(data) & 255]) + data


def varint(n):
    out = b""
    while True:
        digit, n = n % 128, n // 128
        out += bytes([digit | (128 if n else 0)])
        if not n:
            return out


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def props(block):
    return varint(len(block)) + block


V5_PACKETS = {
    # QoS 1: payload format, message expiry, topic alias, subscription
    # identifier 128, user property.
    "publish": packet(0x32, field(b"a/b") + b"\x00\x01" + props(
        b"\x01\x01" + b"\x02\x00\x00\x00\x3c" + b"\x23\x00\x01" + b"\x0b\x80\x01"
        + b"\x26" + field(b"k") + field(b"v")) + b"hi"),
    # Will QoS 1 retained, user name and password, CONNECT and will
    # properties.
    "connect": packet(0x10, field(b"MQTT") + b"\x05\xee\x00\x3c" + props(
        b"\x11\x00\x00\x00\x1e" + b"\x21\x00\x0a" + b"\x22\x00\x05" + b"\x27\x00\x00\x10\x00")
        + field(b"c5") + props(b"\x18\x00\x00\x00\x05" + b"\x03" + field(b"text"))
        + field(b"w") + field(b"by") + field(b"u") + field(b"pw")),
    "connack": packet(0x20, b"\x00\x00" + props(
        b"\x12" + field(b"id") + b"\x13\x00\x1e" + b"\x24\x01" + b"\x25\x00" + b"\x1f" + field(b"ok"))),
    "connack-refused": packet(0x20, b"\x00\x87\x00"),
    "puback": packet(0x40, b"\x00\x07\x10" + props(b"\x1f" + field(b"x"))),
    "pubrec": packet(0x50, b"\x00\x08\x80"),
    "pubrel": packet(0x62, b"\x00\x09\x92"),
    # Success and an empty property block written out: re-encodes shorter.
    "pubcomp-long-success": packet(0x70, b"\x00\x0a\x00\x00"),
    "subscribe": packet(0x82, b"\x00\x02" + props(b"\x0b\x05")
                        + field(b"a/#") + b"\x2d" + field(b"b") + b"\x12"),
    "suback": packet(0x90, b"\x00\x02" + props(b"") + b"\x01\x02\x87\xa2"),
    "unsubscribe": packet(0xa2, b"\x00\x03" + props(b"\x26" + field(b"a") + field(b"b")) + field(b"a")),
    "unsuback": packet(0xb0, b"\x00\x03" + props(b"") + b"\x00\x11"),
    "disconnect": packet(0xe0, b"\x04" + props(b"\x11\x00\x00\x00\x00")),
    "auth": packet(0xf0, b"\x18" + props(b"\x15" + field(b"SCRA") + b"\x16" + field(b"\x01\x02"))),
    # Refused: Topic Alias in a PUBACK, Payload Format Indicator twice,
    # Receive Maximum 0.
    "puback-bad-property": packet(0x40, b"\x00\x01\x00" + props(b"\x23\x00\x01")),
    "publish-duplicate-property": packet(0x30, field(b"t") + props(b"\x01\x00\x01\x01")),
    "connect-receive-maximum-0": packet(0x10, field(b"MQTT") + b"\x05\x02\x00\x3c"
                                        + props(b"\x21\x00\x00") + field(b"c")),
}


def main():
    os.makedirs("corpus/core", exist_ok=True)
    for name, data in SEEDS.items():
        with open(f"corpus/core/seed-{name}", "wb") as f:
            f.write(bytes(data))
    os.makedirs("corpus/decode", exist_ok=True)
    for i, (name, data) in enumerate(V5_PACKETS.items()):
        # The first byte: the largest maximum packet size, and split
        # points spread over the packet for the stream check.
        selector = 0x07 | (i * 5 % 32) << 3
        with open(f"corpus/decode/seed-v5-{name}", "wb") as f:
            f.write(bytes([selector]) + data)


if __name__ == "__main__":
    main()
