//! Minimal MQTT 3.1.1 and 5.0 encoder and allocation-free frame decoder.
//!
//! The generator deliberately does not depend on the broker under test: it
//! encodes the handful of packets it needs itself, and decodes incoming
//! frames in place from a read buffer (every [`Packet`] borrows from it).
//! MQTT 5 differs on the wire only by property blocks (and reason codes in
//! acknowledgements); [`decode_as`] takes the protocol as a const parameter,
//! so the 3.1.1 decoder is the same code as before MQTT 5 was added.

/// Packet type numbers (the high nibble of the fixed header).
pub mod kind {
    /// CONNECT
    pub const CONNECT: u8 = 1;
    /// CONNACK
    pub const CONNACK: u8 = 2;
    /// PUBLISH
    pub const PUBLISH: u8 = 3;
    /// PUBACK
    pub const PUBACK: u8 = 4;
    /// PUBREC
    pub const PUBREC: u8 = 5;
    /// PUBREL
    pub const PUBREL: u8 = 6;
    /// PUBCOMP
    pub const PUBCOMP: u8 = 7;
    /// SUBSCRIBE
    pub const SUBSCRIBE: u8 = 8;
    /// SUBACK
    pub const SUBACK: u8 = 9;
    /// PINGREQ
    pub const PINGREQ: u8 = 12;
    /// PINGRESP
    pub const PINGRESP: u8 = 13;
    /// DISCONNECT
    pub const DISCONNECT: u8 = 14;
}

/// MQTT 5 property identifiers the generator writes or reads.
pub mod prop {
    /// Message Expiry Interval (four byte integer)
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    /// Content Type (UTF-8 string)
    pub const CONTENT_TYPE: u8 = 0x03;
    /// Reason String (UTF-8 string)
    pub const REASON_STRING: u8 = 0x1F;
    /// Receive Maximum (two byte integer)
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    /// Topic Alias Maximum (two byte integer)
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    /// Topic Alias (two byte integer)
    pub const TOPIC_ALIAS: u8 = 0x23;
    /// User Property (UTF-8 string pair)
    pub const USER_PROPERTY: u8 = 0x26;
}

/// Number of payload bytes the generator stamps into every message:
/// a monotonic timestamp (u64, ns), the publisher index (u32) and the
/// per-publisher sequence number (u32), all little endian.
pub const STAMP_LEN: usize = 16;

/// Appends an MQTT "remaining length" variable byte integer.
pub fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            break;
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

/// Appends a CONNECT packet (MQTT 3.1.1, clean session, no will, no auth).
pub fn connect(out: &mut Vec<u8>, client_id: &str, keep_alive: u16) {
    connect_session(out, client_id, keep_alive, true);
}

/// Appends a CONNECT packet with the Clean Session flag as given.
pub fn connect_session(out: &mut Vec<u8>, client_id: &str, keep_alive: u16, clean: bool) {
    let body = 10 + 2 + client_id.len();
    out.push(kind::CONNECT << 4);
    put_varint(out, body);
    put_str(out, b"MQTT");
    out.push(4); // protocol level 3.1.1
    out.push(if clean { 0x02 } else { 0x00 });
    out.extend_from_slice(&keep_alive.to_be_bytes());
    put_str(out, client_id.as_bytes());
}

/// Appends an MQTT 5 CONNECT packet: protocol level 5, the Clean Start flag
/// as given, an empty property block (every capability at its default:
/// Receive Maximum 65535, no Topic Alias Maximum, so the broker sends full
/// topic names), no will, no auth.
pub fn connect_v5(out: &mut Vec<u8>, client_id: &str, keep_alive: u16, clean: bool) {
    let body = 10 + 1 + 2 + client_id.len();
    out.push(kind::CONNECT << 4);
    put_varint(out, body);
    put_str(out, b"MQTT");
    out.push(5); // protocol level 5.0
    out.push(if clean { 0x02 } else { 0x00 });
    out.extend_from_slice(&keep_alive.to_be_bytes());
    out.push(0); // property length
    put_str(out, client_id.as_bytes());
}

/// Appends a SUBSCRIBE packet for `filters`, all requested at `qos`.
pub fn subscribe<S: AsRef<[u8]>>(out: &mut Vec<u8>, pid: u16, filters: &[S], qos: u8) {
    let body: usize = 2 + filters.iter().map(|f| 3 + f.as_ref().len()).sum::<usize>();
    out.push((kind::SUBSCRIBE << 4) | 0x02);
    put_varint(out, body);
    out.extend_from_slice(&pid.to_be_bytes());
    for f in filters {
        put_str(out, f.as_ref());
        out.push(qos);
    }
}

/// Appends an MQTT 5 SUBSCRIBE packet (empty property block) for `filters`,
/// each with the subscription options byte `qos` (No Local, Retain As
/// Published and Retain Handling all 0).
pub fn subscribe_v5<S: AsRef<[u8]>>(out: &mut Vec<u8>, pid: u16, filters: &[S], qos: u8) {
    let body: usize = 3 + filters.iter().map(|f| 3 + f.as_ref().len()).sum::<usize>();
    out.push((kind::SUBSCRIBE << 4) | 0x02);
    put_varint(out, body);
    out.extend_from_slice(&pid.to_be_bytes());
    out.push(0); // property length
    for f in filters {
        put_str(out, f.as_ref());
        out.push(qos);
    }
}

/// Appends a UTF-8 string property to an MQTT 5 property block.
pub fn put_prop_str(out: &mut Vec<u8>, id: u8, s: &str) {
    out.push(id);
    put_str(out, s.as_bytes());
}

/// Appends a User Property (string pair) to an MQTT 5 property block.
pub fn put_prop_pair(out: &mut Vec<u8>, key: &str, value: &str) {
    out.push(prop::USER_PROPERTY);
    put_str(out, key.as_bytes());
    put_str(out, value.as_bytes());
}

/// Appends a two byte integer property to an MQTT 5 property block.
pub fn put_prop_u16(out: &mut Vec<u8>, id: u8, v: u16) {
    out.push(id);
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a four byte integer property to an MQTT 5 property block.
pub fn put_prop_u32(out: &mut Vec<u8>, id: u8, v: u32) {
    out.push(id);
    out.extend_from_slice(&v.to_be_bytes());
}

/// The application properties of `--props` PUBLISHes, as a property block
/// (without its length): what a typical MQTT 5 application sends with
/// every message, a Content Type, one User Property and a Message Expiry
/// Interval (48 bytes).
pub fn app_properties() -> Vec<u8> {
    let mut p = Vec::new();
    put_prop_str(&mut p, prop::CONTENT_TYPE, "application/octet-stream");
    put_prop_pair(&mut p, "source", "bench");
    put_prop_u32(&mut p, prop::MESSAGE_EXPIRY_INTERVAL, 3600);
    p
}

/// Reads a variable byte integer at `at`: (value, bytes it occupied).
#[inline]
fn varint_at(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut v = 0usize;
    for i in 0..4 {
        let byte = *b.get(at + i)?;
        v |= ((byte & 0x7f) as usize) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Splits an MQTT 5 property block (with its length) at `at` off `body`:
/// (the properties, the offset just after them).
#[inline]
fn props_at(body: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let (len, n) = varint_at(body, at)?;
    let start = at + n;
    let end = start.checked_add(len)?;
    Some((body.get(start..end)?, end))
}

/// Finds property `id` in a property block (without its length) and returns
/// its value bytes (for strings and binary data without their length
/// prefix; for a User Property, the first one's key and value with theirs).
pub fn find_prop(props: &[u8], id: u8) -> Option<&[u8]> {
    let mut i = 0;
    while i < props.len() {
        let p = props[i];
        i += 1;
        let len = match p {
            // byte
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => 1,
            // two byte integer
            0x13 | 0x21 | 0x22 | 0x23 => 2,
            // four byte integer
            0x02 | 0x11 | 0x18 | 0x27 => 4,
            // variable byte integer
            0x0B => varint_at(props, i)?.1,
            // UTF-8 string, binary data
            0x03 | 0x08 | 0x09 | 0x12 | 0x15 | 0x16 | 0x1A | 0x1C | 0x1F => {
                if p == id {
                    let n = be16(props, i)? as usize;
                    return props.get(i + 2..i + 2 + n);
                }
                2 + be16(props, i)? as usize
            }
            // string pair
            0x26 => {
                let k = 2 + be16(props, i)? as usize;
                k + 2 + be16(props, i + k)? as usize
            }
            _ => return None,
        };
        if p == id {
            return props.get(i..i + len);
        }
        i += len;
    }
    None
}

/// A two byte integer property of a property block, if present.
pub fn find_prop_u16(props: &[u8], id: u8) -> Option<u16> {
    find_prop(props, id).and_then(|v| be16(v, 0))
}

/// Appends a two-byte-body acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP).
#[inline]
pub fn ack(out: &mut Vec<u8>, packet_kind: u8, pid: u16) {
    let flags = if packet_kind == kind::PUBREL { 0x02 } else { 0 };
    let p = pid.to_be_bytes();
    out.extend_from_slice(&[(packet_kind << 4) | flags, 2, p[0], p[1]]);
}

/// Appends a DISCONNECT.
pub fn disconnect(out: &mut Vec<u8>) {
    out.extend_from_slice(&[kind::DISCONNECT << 4, 0]);
}

/// Appends a complete PUBLISH packet with an arbitrary payload (used for
/// one-off messages such as deleting retained messages).
pub fn publish(out: &mut Vec<u8>, topic: &[u8], qos: u8, retain: bool, pid: u16, payload: &[u8]) {
    let body = 2 + topic.len() + if qos > 0 { 2 } else { 0 } + payload.len();
    out.push((kind::PUBLISH << 4) | (qos << 1) | u8::from(retain));
    put_varint(out, body);
    put_str(out, topic);
    if qos > 0 {
        out.extend_from_slice(&pid.to_be_bytes());
    }
    out.extend_from_slice(payload);
}

/// A decoded incoming packet, borrowing from the read buffer.
#[derive(Debug)]
pub enum Packet<'a> {
    /// CONNACK with its return code.
    ConnAck {
        /// Return code (0 = accepted; MQTT 5: reason code, >= 0x80 refused).
        code: u8,
        /// MQTT 5: the property block (without its length); empty for 3.1.1.
        props: &'a [u8],
    },
    /// SUBACK with the granted QoS / failure codes.
    SubAck {
        /// One code per filter, 0x80 (MQTT 5: any code >= 0x80) = failure.
        codes: &'a [u8],
    },
    /// PUBLISH.
    Publish {
        /// QoS of the delivery.
        qos: u8,
        /// RETAIN flag.
        retain: bool,
        /// Topic name.
        topic: &'a [u8],
        /// Packet identifier (0 for QoS 0).
        pid: u16,
        /// Application payload.
        payload: &'a [u8],
        /// MQTT 5: the property block (without its length); empty for 3.1.1.
        props: &'a [u8],
    },
    /// SUBSCRIBE (only the forwarder of the `ceiling` scenario receives it).
    Subscribe {
        /// Packet identifier.
        pid: u16,
        /// The payload: length-prefixed filters, each followed by a QoS byte.
        filters: &'a [u8],
    },
    /// PUBACK, PUBREC, PUBREL or PUBCOMP (kind, packet identifier); in
    /// MQTT 5 with a success reason code (below 0x80).
    Ack(u8, u16),
    /// MQTT 5 only: PUBACK, PUBREC, PUBREL or PUBCOMP with a failure reason
    /// code (0x80 or above).
    AckRefused {
        /// Packet type.
        kind: u8,
        /// Reason code.
        reason: u8,
    },
    /// MQTT 5 only: DISCONNECT from the broker (3.1.1: `Other(DISCONNECT)`).
    Disconnect {
        /// Reason code (0 when the packet has none).
        reason: u8,
        /// The property block (without its length).
        props: &'a [u8],
    },
    /// Any other packet type (type number).
    Other(u8),
}

/// Outcome of trying to decode one frame from the front of a buffer.
pub enum Decode<'a> {
    /// A full frame: the packet and the number of bytes it occupied.
    Frame(Packet<'a>, usize),
    /// More bytes are needed; the frame will be this many bytes long if known.
    Incomplete(Option<usize>),
    /// The stream is not valid MQTT.
    Invalid(&'static str),
}

/// Reads the fixed header: (first byte, remaining length, header length).
#[inline]
pub fn fixed_header(buf: &[u8]) -> Result<Option<(u8, usize, usize)>, &'static str> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let mut len = 0usize;
    let mut mult = 1usize;
    for i in 1..5 {
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        len += (b & 0x7f) as usize * mult;
        if b & 0x80 == 0 {
            return Ok(Some((buf[0], len, i + 1)));
        }
        mult *= 128;
    }
    Err("remaining length longer than 4 bytes")
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Decodes one frame from the front of `buf` without allocating: MQTT 5 if
/// `V5`, else MQTT 3.1.1.
#[inline]
pub fn decode_as<const V5: bool>(buf: &[u8]) -> Decode<'_> {
    let (first, rem, hlen) = match fixed_header(buf) {
        Ok(Some(h)) => h,
        Ok(None) => return Decode::Incomplete(None),
        Err(e) => return Decode::Invalid(e),
    };
    let total = hlen + rem;
    if buf.len() < total {
        return Decode::Incomplete(Some(total));
    }
    let body = &buf[hlen..total];
    let t = first >> 4;
    let pkt = match t {
        kind::PUBLISH => {
            let qos = (first >> 1) & 3;
            let Some(tlen) = be16(body, 0) else {
                return Decode::Invalid("short PUBLISH");
            };
            let tend = 2 + tlen as usize;
            let (pid, mut pstart) = if qos > 0 {
                match be16(body, tend) {
                    Some(p) => (p, tend + 2),
                    None => return Decode::Invalid("short PUBLISH"),
                }
            } else {
                (0, tend)
            };
            let mut props: &[u8] = &[];
            if V5 {
                match props_at(body, pstart) {
                    Some((p, end)) => (props, pstart) = (p, end),
                    None => return Decode::Invalid("short PUBLISH properties"),
                }
            }
            if pstart > body.len() {
                return Decode::Invalid("short PUBLISH");
            }
            Packet::Publish {
                qos,
                retain: first & 1 == 1,
                topic: &body[2..tend],
                pid,
                payload: &body[pstart..],
                props,
            }
        }
        kind::PUBACK | kind::PUBREC | kind::PUBREL | kind::PUBCOMP => match be16(body, 0) {
            // MQTT 5: a reason code may follow (absent = success).
            Some(_) if V5 && body.len() > 2 && body[2] >= 0x80 => Packet::AckRefused {
                kind: t,
                reason: body[2],
            },
            Some(p) => Packet::Ack(t, p),
            None => return Decode::Invalid("short acknowledgement"),
        },
        kind::CONNACK => match body.get(1) {
            Some(&code) if V5 => match props_at(body, 2) {
                Some((props, _)) => Packet::ConnAck { code, props },
                // A refusal may come without properties from a broker that
                // answers a level it does not speak the 3.1.1 way.
                None if body.len() == 2 => Packet::ConnAck { code, props: &[] },
                None => return Decode::Invalid("short CONNACK properties"),
            },
            Some(&code) => Packet::ConnAck { code, props: &[] },
            None => return Decode::Invalid("short CONNACK"),
        },
        kind::SUBACK => match be16(body, 0) {
            Some(_) if V5 => match props_at(body, 2) {
                Some((_, end)) => Packet::SubAck {
                    codes: &body[end..],
                },
                None => return Decode::Invalid("short SUBACK properties"),
            },
            Some(_) => Packet::SubAck { codes: &body[2..] },
            None => return Decode::Invalid("short SUBACK"),
        },
        kind::DISCONNECT if V5 => Packet::Disconnect {
            reason: body.first().copied().unwrap_or(0),
            props: props_at(body, 1).map_or(&[][..], |(p, _)| p),
        },
        kind::SUBSCRIBE => match be16(body, 0) {
            Some(pid) => Packet::Subscribe {
                pid,
                filters: &body[2..],
            },
            None => return Decode::Invalid("short SUBSCRIBE"),
        },
        other => Packet::Other(other),
    };
    Decode::Frame(pkt, total)
}

/// Reads the generator's stamp (timestamp ns, publisher index, sequence) from
/// a payload, if it is long enough.
#[inline]
pub fn read_stamp(payload: &[u8]) -> Option<(u64, u32, u32)> {
    if payload.len() < STAMP_LEN {
        return None;
    }
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&payload[0..8]);
    let mut p = [0u8; 4];
    p.copy_from_slice(&payload[8..12]);
    let mut s = [0u8; 4];
    s.copy_from_slice(&payload[12..16]);
    Some((
        u64::from_le_bytes(ts),
        u32::from_le_bytes(p),
        u32::from_le_bytes(s),
    ))
}

/// Pre-encoded PUBLISH packets: one header (fixed header, topic, packet id
/// placeholder, and for MQTT 5 the property block) per topic, and one shared
/// payload template. Writing a message is two `memcpy`s plus in-place
/// patching of the packet id and the stamp.
pub struct PublishArena {
    headers: Vec<u8>,
    /// Per topic: header start and end in `headers`, and how many bytes
    /// before the header's end the packet id ends (0 for 3.1.1; MQTT 5: the
    /// property block follows it).
    offsets: Vec<(u32, u32, u32)>,
    payload: Vec<u8>,
    qos: u8,
}

impl PublishArena {
    /// Creates an arena for messages of `payload_len` bytes (at least
    /// [`STAMP_LEN`]) at the given QoS and retain flag.
    pub fn new(payload_len: usize, qos: u8, retain: bool) -> PublishArena {
        let payload_len = payload_len.max(STAMP_LEN);
        let mut payload = vec![b'x'; payload_len];
        payload[..STAMP_LEN].fill(0);
        PublishArena {
            headers: Vec::new(),
            offsets: Vec::new(),
            payload,
            qos: qos | if retain { 0x10 } else { 0 },
        }
    }

    /// Adds a topic (MQTT 3.1.1 PUBLISH); returns its index.
    pub fn add_topic(&mut self, topic: &[u8]) -> usize {
        self.add(topic, None)
    }

    /// Adds an MQTT 5 PUBLISH for `topic` (empty with a Topic Alias in
    /// `props`: the alias stands for the topic) carrying the property block
    /// `props` (without its length); returns its index.
    pub fn add_topic_v5(&mut self, topic: &[u8], props: &[u8]) -> usize {
        self.add(topic, Some(props))
    }

    fn add(&mut self, topic: &[u8], props: Option<&[u8]>) -> usize {
        let qos = self.qos & 3;
        let retain = self.qos & 0x10 != 0;
        let start = self.headers.len();
        let mut block = Vec::new();
        if let Some(p) = props {
            put_varint(&mut block, p.len());
            block.extend_from_slice(p);
        }
        let body = 2 + topic.len() + if qos > 0 { 2 } else { 0 } + block.len() + self.payload.len();
        self.headers
            .push((kind::PUBLISH << 4) | (qos << 1) | u8::from(retain));
        put_varint(&mut self.headers, body);
        put_str(&mut self.headers, topic);
        if qos > 0 {
            self.headers.extend_from_slice(&[0, 0]);
        }
        self.headers.extend_from_slice(&block);
        self.offsets
            .push((start as u32, self.headers.len() as u32, block.len() as u32));
        self.offsets.len() - 1
    }

    /// Number of topics.
    pub fn topics(&self) -> usize {
        self.offsets.len()
    }

    /// Bytes one message for `topic` occupies on the wire.
    pub fn wire_len(&self, topic: usize) -> usize {
        let (s, e, _) = self.offsets[topic];
        (e - s) as usize + self.payload.len()
    }

    /// Payload length in bytes.
    pub fn payload_len(&self) -> usize {
        self.payload.len()
    }

    /// Appends one message for `topic` with the given packet id and stamp.
    #[inline]
    pub fn write(
        &self,
        out: &mut Vec<u8>,
        topic: usize,
        pid: u16,
        ts: u64,
        publisher: u32,
        seq: u32,
    ) {
        let (s, e, back) = self.offsets[topic];
        out.extend_from_slice(&self.headers[s as usize..e as usize]);
        let end = out.len();
        if self.qos & 3 > 0 {
            let at = end - back as usize;
            out[at - 2..at].copy_from_slice(&pid.to_be_bytes());
        }
        out.extend_from_slice(&self.payload);
        let stamp = &mut out[end..end + STAMP_LEN];
        stamp[0..8].copy_from_slice(&ts.to_le_bytes());
        stamp[8..12].copy_from_slice(&publisher.to_le_bytes());
        stamp[12..16].copy_from_slice(&seq.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_round_trip() {
        let mut a = PublishArena::new(20, 1, true);
        let t = a.add_topic(b"bench/3");
        let mut out = Vec::new();
        a.write(&mut out, t, 77, 123_456, 3, 9);
        assert_eq!(out.len(), a.wire_len(t));
        match decode_as::<false>(&out) {
            Decode::Frame(
                Packet::Publish {
                    qos,
                    retain,
                    topic,
                    pid,
                    payload,
                    ..
                },
                n,
            ) => {
                assert_eq!(
                    (qos, retain, topic, pid, n),
                    (1, true, &b"bench/3"[..], 77, out.len())
                );
                assert_eq!(read_stamp(payload), Some((123_456, 3, 9)));
                assert_eq!(payload.len(), 20);
            }
            _ => panic!("not decoded"),
        }
        assert!(matches!(
            decode_as::<false>(&out[..out.len() - 1]),
            Decode::Incomplete(Some(_))
        ));
    }

    #[test]
    fn publish_v5_round_trip() {
        let props = app_properties();
        assert_eq!(props.len(), 48);
        let mut block = props.clone();
        put_prop_u16(&mut block, prop::TOPIC_ALIAS, 1);
        let mut a = PublishArena::new(20, 1, false);
        let full = a.add_topic_v5(b"bench/3", &block);
        let aliased = a.add_topic_v5(b"", &block);
        for (t, want_topic) in [(full, &b"bench/3"[..]), (aliased, &b""[..])] {
            let mut out = Vec::new();
            a.write(&mut out, t, 77, 123_456, 3, 9);
            assert_eq!(out.len(), a.wire_len(t));
            // A 3.1.1 decoder would take the properties for payload.
            match decode_as::<true>(&out) {
                Decode::Frame(
                    Packet::Publish {
                        qos,
                        topic,
                        pid,
                        payload,
                        props: got,
                        ..
                    },
                    n,
                ) => {
                    assert_eq!((qos, topic, pid, n), (1, want_topic, 77, out.len()));
                    assert_eq!(got, &block[..]);
                    assert_eq!(read_stamp(payload), Some((123_456, 3, 9)));
                    assert_eq!(payload.len(), 20);
                    assert_eq!(find_prop_u16(got, prop::TOPIC_ALIAS), Some(1));
                    assert_eq!(
                        find_prop(got, prop::CONTENT_TYPE),
                        Some(&b"application/octet-stream"[..])
                    );
                    assert_eq!(
                        find_prop(got, prop::MESSAGE_EXPIRY_INTERVAL),
                        Some(&3600u32.to_be_bytes()[..])
                    );
                }
                _ => panic!("not decoded"),
            }
        }
        // QoS 0: no packet id before the properties.
        let mut a = PublishArena::new(16, 0, false);
        let t = a.add_topic_v5(b"bench/fanout", &[]);
        let mut out = Vec::new();
        a.write(&mut out, t, 5, 1, 0, 0);
        assert!(matches!(
            decode_as::<true>(&out),
            Decode::Frame(Packet::Publish { pid: 0, props: &[], payload, .. }, _) if payload.len() == 16
        ));
    }

    #[test]
    fn v5_control_packets() {
        // CONNECT: level 5, empty properties.
        let mut out = Vec::new();
        connect_v5(&mut out, "c1", 600, true);
        assert_eq!(
            out,
            [0x10, 15, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 2, 88, 0, 0, 2, b'c', b'1']
        );
        out.clear();
        subscribe_v5(&mut out, 7, &["a/+"], 1);
        assert_eq!(out, [0x82, 9, 0, 7, 0, 0, 3, b'a', b'/', b'+', 1]);
        // CONNACK with Topic Alias Maximum 10 and Receive Maximum 100.
        let connack = [0x20, 9, 0, 0, 6, 0x22, 0, 10, 0x21, 0, 100];
        match decode_as::<true>(&connack) {
            Decode::Frame(Packet::ConnAck { code: 0, props }, 11) => {
                assert_eq!(find_prop_u16(props, prop::TOPIC_ALIAS_MAXIMUM), Some(10));
                assert_eq!(find_prop_u16(props, prop::RECEIVE_MAXIMUM), Some(100));
            }
            _ => panic!("CONNACK"),
        }
        // SUBACK with a Reason String, one granted QoS 1.
        let suback = [0x90, 7, 0, 7, 3, 0x1F, 0, 0, 1];
        assert!(matches!(
            decode_as::<true>(&suback),
            Decode::Frame(Packet::SubAck { codes: [1] }, 9)
        ));
        // PUBACK: short form, 0x10 No matching subscribers, 0x97 Quota exceeded.
        assert!(matches!(
            decode_as::<true>(&[0x40, 2, 0, 9]),
            Decode::Frame(Packet::Ack(kind::PUBACK, 9), 4)
        ));
        assert!(matches!(
            decode_as::<true>(&[0x40, 4, 0, 9, 0x10, 0]),
            Decode::Frame(Packet::Ack(kind::PUBACK, 9), 6)
        ));
        assert!(matches!(
            decode_as::<true>(&[0x40, 3, 0, 9, 0x97]),
            Decode::Frame(
                Packet::AckRefused {
                    kind: kind::PUBACK,
                    reason: 0x97
                },
                5
            )
        ));
        // DISCONNECT 0x94 with a Reason String.
        let d = [0xE0, 6, 0x94, 4, 0x1F, 0, 1, b'x'];
        match decode_as::<true>(&d) {
            Decode::Frame(
                Packet::Disconnect {
                    reason: 0x94,
                    props,
                },
                8,
            ) => {
                assert_eq!(find_prop(props, prop::REASON_STRING), Some(&b"x"[..]));
            }
            _ => panic!("DISCONNECT"),
        }
        // 3.1.1 decoding is unchanged.
        assert!(matches!(
            decode_as::<false>(&[0x20, 2, 0, 0]),
            Decode::Frame(
                Packet::ConnAck {
                    code: 0,
                    props: &[]
                },
                4
            )
        ));
        assert!(matches!(
            decode_as::<false>(&[0x90, 3, 0, 7, 1]),
            Decode::Frame(Packet::SubAck { codes: [1] }, 5)
        ));
    }

    #[test]
    fn varint_large() {
        let mut a = PublishArena::new(65536, 0, false);
        let t = a.add_topic(b"bench/0");
        let mut out = Vec::new();
        a.write(&mut out, t, 0, 1, 0, 0);
        assert!(
            matches!(decode_as::<false>(&out), Decode::Frame(Packet::Publish { .. }, n) if n == out.len())
        );
    }
}
