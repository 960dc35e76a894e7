#!/usr/bin/env python3
"""Writes hand-made seed scripts for the `core` fuzz target into
corpus/core/seed-* (3.1.1 clients, and MQTT 5 clients in seed-v5-*),
following the script format of src/core_script/ (packets.rs, packets5.rs:
keep them in step), and hand-made MQTT 5 packets for the `decode` target
into corpus/decode/seed-v5-*. Run from fuzz/: python3 make_seeds.py"""

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


# MQTT 5 clients (see packets5.rs): the CONNECT of `connect` with protocol
# byte 112, then its property operands; the packets of a connected MQTT 5
# client (`packet5`).

FILTER5 = {"#": 0, "a/#": 1, "a/+": 2, "+/b": 3, "a": 4, "a/b": 5, "$share/g/#": 8,
           "$share/g/a/+": 9, "$share/h/a": 10, "b": 12, "$share/g": 15}
TEXT = {"k": 0, "v": 1, "text/plain": 3}
MAX = 0xFFFFFFFF


def user_props():
    # One pair: "k" = "v".
    return [0, TEXT["k"], TEXT["v"]]


def connect_props(expiry=None, receive_max=None, max_packet=None, alias_max=None,
                  problem_info=None, user=False, auth=False, invalid=None):
    bits, ops = 0, []
    if expiry is not None:
        bits |= 1
        ops += [{0: 0, 1: 1, 30: 2, 3600: 3, MAX: 4}[expiry]]
    if receive_max is not None:
        bits |= 2
        ops += [receive_max - 1 if receive_max <= 4 else {100: 5, 65535: 6}[receive_max]]
    if max_packet is not None:
        bits |= 4
        ops += [0, max_packet - 20] if max_packet < 276 else [{1024: 2, 10240: 3}[max_packet]]
    if alias_max is not None:
        bits |= 8
        ops += [{0: 0, 1: 1, 2: 2, 3: 3, 10: 4, 65535: 5}[alias_max]]
    if problem_info is not None:
        bits |= 16
        ops += [problem_info]
    if user:
        bits |= 64
        ops += user_props()
    if auth:
        bits |= 128
        ops += [0]
    elif invalid is not None:
        # 0 unknown id, 1 Topic Alias, 2 bad value, 3 twice, 4 Receive Maximum 0.
        bits |= 128
        ops += [2, invalid]
    return [bits] + ops


def message_props(will, expiry=None, delay=None, alias=None, pfi=None, content=None,
                  response=None, correlation=None, user=False, sub_id=False):
    bits, ops = 0, []
    if expiry is not None:
        bits |= 1
        ops += [{0: 0, 1: 1, 5: 2, 3600: 3, MAX: 4}[expiry]]
    if will and delay is not None:
        bits |= 2
        ops += [{0: 0, 1: 1, 5: 2, 60: 3, MAX: 4}[delay]]
    if not will and alias is not None:
        bits |= 2
        ops += [{1: 0, 2: 1, 3: 2, 10: 5, 0: 6, 11: 7}[alias]]
    if pfi is not None:
        bits |= 4
        ops += [pfi]
    if content is not None:
        bits |= 8
        ops += [TEXT[content]]
    if response is not None:
        bits |= 16
        ops += [TOPIC[response]]
    if correlation is not None:
        bits |= 32
        ops += [len(correlation)] + list(correlation)
    if user:
        bits |= 64
        ops += user_props()
    if sub_id:
        # Not allowed from a client.
        bits |= 128
        ops += [0]
    return [bits] + ops


def connect5(who, client="c1", clean=True, keep_alive=0, will=None, will_props=None, **props):
    flags = 0 if clean else 1
    will_topic, will_qos = TOPIC["a"], 0
    if will is not None:
        flags |= 2
        will_topic, will_qos = TOPIC[will[0]], will[1]
    ka = {0: 0, 1: 1, 10: 2}[keep_alive]
    out = [1, who, 0, 112, flags, ka, CLIENT[client], will_topic, 5, ord("w"), will_qos]
    out += connect_props(**props)
    if will is not None:
        out += message_props(True, **(will_props or {}))
    return out + [NO_SPLIT]


def publish5(who, topic="a", qos=0, retain=False, packet_id=1, size=4, empty_topic=False,
             **props):
    # size: up to 15 bytes, or 48.
    flags = (2 if retain else 0) | (4 if empty_topic else 0)
    out = [1, who, 1, qos, flags]
    if not empty_topic:
        out.append(TOPIC[topic])
    out += [6 if size == 48 else 1 + 4 * size, ord("q")]
    if qos:
        out.append(packet_id - 1)
    return out + message_props(False, **props) + [NO_SPLIT]


def subscribe5(who, filters, packet_id=1, sub_id=None):
    out = [1, who, 7, packet_id - 1, len(filters) - 1]
    for f, q, no_local, rap, rh in filters:
        out += [FILTER5[f], q | no_local << 4 | rap << 5 | rh << 6]
    if sub_id is None:
        return out + [0, NO_SPLIT]
    sel = [0, sub_id - 1] if sub_id <= 3 else [{127: 3, 128: 4}[sub_id]]
    return out + [1] + sel + [NO_SPLIT]


def unsubscribe5(who, filters, packet_id=1):
    return [1, who, 8, packet_id - 1, len(filters) - 1] + [FILTER5[f] for f in filters] + [0, NO_SPLIT]


def ack5(who, kind, pick=0, reason=0, reason_string=False):
    # kind 3 PUBACK, 4 PUBREC, 5 PUBREL, 6 PUBCOMP; reason: a byte >= 128
    # picks an error code.
    return [1, who, kind, pick, reason, int(reason_string), NO_SPLIT]


def disconnect5(who, with_will=False, expiry=None):
    if expiry is None:
        return [1, who, 10, 3 if with_will else 0, 0, NO_SPLIT]
    return [1, who, 10, 3 if with_will else 0, 1, {0: 0, 1: 1, 30: 2, MAX: 3}[expiry], NO_SPLIT]


def auth5(who):
    return [1, who, 12, 1 | 4, NO_SPLIT]


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
    # MQTT 5: a subscriber with Receive Maximum 1, topic aliases and a
    # Subscription Identifier; a publisher with message properties, a topic
    # alias set then used, No Local, Retain As Published, unsubscribe,
    # DISCONNECT with will.
    "v5-flow": config()
    + accept() + accept()
    + connect5(0, "c1", receive_max=1, alias_max=2, user=True)
    + connect5(1, "c2", will=("a/b", 1), will_props={"expiry": 5, "delay": 0, "user": True})
    + subscribe5(0, [("a/#", 2, 0, 1, 0), ("#", 1, 0, 0, 2)], sub_id=2)
    + subscribe5(1, [("a", 1, 1, 0, 0), ("b", 2, 0, 0, 1)], packet_id=2, sub_id=128)
    + publish5(1, "a/b", 1, alias=1, expiry=3600, pfi=1, content="text/plain", response="b",
               correlation=b"id", user=True)
    + publish5(1, "a/b", 2, packet_id=2, alias=1, empty_topic=True)
    + publish5(1, "a", 1, retain=True, packet_id=3)
    + publish5(0, "b", 2, packet_id=1, expiry=1)
    + reactor() + ack(0) + ack(0) + reactor() + ack(0) + ack(0) + ack(1) + reactor()
    + ack5(1, 5, pick=200) + unsubscribe5(0, ["a/#", "b"]) + [1, 0, 9, NO_SPLIT]
    + disconnect5(1, with_will=True) + reactor() + release(),
    # MQTT 5: a session (expiry 30 s) with three messages in flight comes
    # back with Receive Maximum 1 and a small Maximum Packet Size; a session
    # of expiry 0 may not be made to outlive its connection.
    "v5-resume": config(persistent=True)
    + accept() + accept()
    + connect5(0, "c1", clean=False, expiry=30) + connect5(1, "c2", expiry=0)
    + subscribe5(0, [("a", 2, 0, 0, 0)], sub_id=1)
    + publish5(1, "a", 1, packet_id=1, size=2) + publish5(1, "a", 1, packet_id=2, size=48)
    + publish5(1, "a", 2, packet_id=3, size=3)
    + reactor() + take_ops() + close(0) + release() + accept()
    + connect5(1, "c1", clean=False, expiry=30, receive_max=1, max_packet=40)
    + reactor() + ack(1) + reactor() + ack(1) + reactor() + ack(1) + ack(1) + reactor()
    + disconnect5(0, expiry=30) + take_ops() + reactor() + release(),
    # MQTT 5 refusals and protocol errors: an authentication method
    # (0x8C, its Reason String left out under a small Maximum Packet
    # Size), an invalid property block, a Subscription Identifier and an
    # invalid Topic Alias from a client, five QoS 2 messages unreleased,
    # AUTH.
    "v5-errors": config()
    + accept() + accept() + accept() + accept()
    + connect5(0, "c1", auth=True, max_packet=25)
    + connect5(1, "c2", invalid=4)
    + connect5(2, "c3", user=True, problem_info=0) + connect5(3, "", max_packet=60)
    + publish5(2, "a", 1, sub_id=True) + reactor() + release() + accept() + accept()
    + connect5(1, "c1") + connect5(2, "c2")
    + publish5(1, "a", 0, alias=11)
    + sum((publish5(2, "a", 2, packet_id=i) for i in range(1, 6)), [])
    + reactor() + release() + auth5(0) + reactor(),
    # Shared subscriptions between an MQTT 5 and a 3.1.1 client, No Local
    # on one (a protocol error), retained messages and their handling.
    "v5-shared": config(persistent=True, expiry=3)
    + accept() + accept() + accept()
    + connect5(0, "c1", expiry=MAX, alias_max=10) + connect(1, "c2") + connect5(2, "c3")
    + subscribe5(0, [("$share/g/#", 2, 0, 0, 0), ("$share/h/a", 1, 0, 1, 0)], sub_id=3)
    + [1, 1, 7, 0, 0, 240, 10] + list(b"$share/g/#") + [1, NO_SPLIT]
    + sum((publish5(2, t, 1, packet_id=1 + i, retain=i % 2 == 0)
           for i, t in enumerate(["a", "a/b", "b", "a"])), [])
    + reactor() + ack(0) + ack(0) + ack(1) + reactor()
    + subscribe5(2, [("$share/g", 0, 0, 0, 0), ("a/+", 1, 0, 1, 1), ("a", 2, 0, 0, 2)], packet_id=3)
    + subscribe5(2, [("$share/g/a/+", 1, 1, 0, 0)], packet_id=4) + reactor() + release(),
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
