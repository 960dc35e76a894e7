//! The byte form of a batch of queue operations in the op log (see
//! `op_log.rs`): one row per committed batch, read back only to compact.
//!
//! A row is a format byte, then the operations in order. Each operation is
//! a tag byte, then its fields: integers as LEB128 varints, strings and
//! byte blocks as a varint length and the bytes. Client ids and topics
//! repeat from operation to operation, so the tag's high bit says "the same
//! client id as the previous operation" and the id is then left out.
//! Deadlines are Unix milliseconds, like the tables' `expires_at`, so a
//! row read by a later process means the same instant.
//!
//! Rows outlive the process that wrote them (a crash leaves them for the
//! next start), so the format is versioned and never changed in place: a
//! new form gets a new format byte, and the decoder keeps reading the old.

use std::sync::Arc;

use super::clock::ClockZero;
use super::snapshot::message;
use crate::codec::QoS;
use crate::message::Message;
use crate::store::{sent_right_after, StoreOp};

/// The format byte of rows written by this code.
const FORMAT_1: u8 = 1;

const TAG_MESSAGE_STORE: u8 = 1;
const TAG_ADD: u8 = 2;
const TAG_SENT: u8 = 3;
const TAG_RELEASED: u8 = 4;
const TAG_DELETE: u8 = 5;
const TAG_INBOUND_ADD: u8 = 6;
const TAG_INBOUND_REMOVE: u8 = 7;
const TAG_RETAIN_SET: u8 = 8;
const TAG_RETAIN_DELETE: u8 = 9;
/// An add directly followed by its sent (a message sent as soon as it is
/// queued, the common case).
const TAG_ADD_SENT: u8 = 10;
/// Set on a tag whose client id is the previous operation's.
const SAME_CLIENT: u8 = 0x80;

/// Whether `op` may go to the log. The others (sessions and subscriptions
/// changing) are rare and reset or reshape what the log's operations refer
/// to, so they are applied to the tables directly, after the log.
pub(super) fn is_logged(op: &StoreOp) -> bool {
    !matches!(
        op,
        StoreOp::SessionCreate { .. }
            | StoreOp::SessionUser { .. }
            | StoreOp::SessionExpiry { .. }
            | StoreOp::SessionDelete { .. }
            | StoreOp::Subscribe { .. }
            | StoreOp::Unsubscribe { .. }
    )
}

/// Empties `out` and starts a row in it, for [`encode`] to fill.
pub(super) fn start_row(out: &mut Vec<u8>) {
    out.clear();
    out.push(FORMAT_1);
}

/// Appends the row form of `ops` (every one [`is_logged`]) to the row
/// [`start_row`] began in `out`.
pub(super) fn encode(ops: &[StoreOp], zero: ClockZero, out: &mut Vec<u8>) {
    out.reserve(ops.len() * 16);
    let mut previous_client: Option<&Arc<str>> = None;
    let mut index = 0;
    while let Some(op) = ops.get(index) {
        index += 1;
        let client = |out: &mut Vec<u8>, tag: u8, client_id: &Arc<str>| {
            // The core hands out clones of one `Arc` per session.
            let same = previous_client
                .is_some_and(|previous| Arc::ptr_eq(previous, client_id) || previous == client_id);
            if same {
                out.push(tag | SAME_CLIENT);
            } else {
                out.push(tag);
                put_bytes(out, client_id.as_bytes());
            }
        };
        match op {
            StoreOp::MessageStore { id, message } => {
                out.push(TAG_MESSAGE_STORE);
                put_varint(out, *id);
                put_message(out, message, zero);
            }
            StoreOp::SessionMessageAdd {
                client_id,
                seq,
                message_id,
                qos,
                retain,
            } => {
                let sent = sent_right_after(op, ops.get(index));
                client(
                    out,
                    if sent.is_some() {
                        TAG_ADD_SENT
                    } else {
                        TAG_ADD
                    },
                    client_id,
                );
                put_varint(out, *seq);
                put_varint(out, *message_id);
                out.push(*qos as u8 | (u8::from(*retain) << 2));
                if let Some(packet_id) = sent {
                    put_varint(out, u64::from(packet_id));
                    index += 1;
                }
            }
            StoreOp::SessionMessageSent {
                client_id,
                seq,
                packet_id,
            } => {
                client(out, TAG_SENT, client_id);
                put_varint(out, *seq);
                put_varint(out, u64::from(*packet_id));
            }
            StoreOp::SessionMessageReleased { client_id, seq } => {
                client(out, TAG_RELEASED, client_id);
                put_varint(out, *seq);
            }
            StoreOp::SessionMessageDelete { client_id, seq } => {
                client(out, TAG_DELETE, client_id);
                put_varint(out, *seq);
            }
            StoreOp::InboundQos2Add {
                client_id,
                packet_id,
            } => {
                client(out, TAG_INBOUND_ADD, client_id);
                put_varint(out, u64::from(*packet_id));
            }
            StoreOp::InboundQos2Remove {
                client_id,
                packet_id,
            } => {
                client(out, TAG_INBOUND_REMOVE, client_id);
                put_varint(out, u64::from(*packet_id));
            }
            StoreOp::RetainSet { message } => {
                out.push(TAG_RETAIN_SET);
                put_message(out, message, zero);
            }
            StoreOp::RetainDelete { topic } => {
                out.push(TAG_RETAIN_DELETE);
                put_bytes(out, topic.as_bytes());
            }
            StoreOp::SessionCreate { .. }
            | StoreOp::SessionUser { .. }
            | StoreOp::SessionExpiry { .. }
            | StoreOp::SessionDelete { .. }
            | StoreOp::Subscribe { .. }
            | StoreOp::Unsubscribe { .. } => {
                debug_assert!(false, "not a logged op: {op:?}");
                continue;
            }
        }
        previous_client = op_client(op).or(previous_client);
    }
}

/// The client id an op names, if it names one.
fn op_client(op: &StoreOp) -> Option<&Arc<str>> {
    match op {
        StoreOp::SessionMessageAdd { client_id, .. }
        | StoreOp::SessionMessageSent { client_id, .. }
        | StoreOp::SessionMessageReleased { client_id, .. }
        | StoreOp::SessionMessageDelete { client_id, .. }
        | StoreOp::InboundQos2Add { client_id, .. }
        | StoreOp::InboundQos2Remove { client_id, .. } => Some(client_id),
        _ => None,
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    let mut bytes = [0u8; 10];
    let mut len = 0;
    while value >= 0x80 {
        bytes[len] = (value as u8) | 0x80;
        value >>= 7;
        len += 1;
    }
    bytes[len] = value as u8;
    out.extend_from_slice(&bytes[..=len]);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Its length, then a flags byte (QoS, retain, whether a deadline
/// follows), the deadline, topic, property block and payload. The length
/// lets a compaction step over the message of an op it drops.
fn put_message(out: &mut Vec<u8>, message: &Message, zero: ClockZero) {
    // Deadlines are after 1970; one before reads back as 1970, expired all
    // the same.
    let deadline = zero
        .to_unix(message.expires_at_ms())
        .map(|at| u64::try_from(at).unwrap_or(0));
    let flags = message.qos() as u8
        | (u8::from(message.retain()) << 2)
        | if deadline.is_some() { 0x08 } else { 0 };
    let parts = [
        message.topic().as_bytes(),
        message.property_bytes(),
        message.payload(),
    ];
    let len = 1
        + deadline.map_or(0, varint_len)
        + parts
            .iter()
            .map(|part| varint_len(part.len() as u64) + part.len())
            .sum::<usize>();
    out.reserve(len + 10);
    put_varint(out, len as u64);
    out.push(flags);
    if let Some(at) = deadline {
        put_varint(out, at);
    }
    for part in parts {
        put_bytes(out, part);
    }
}

/// Why a row cannot be read.
pub(super) type DecodeError = String;

/// One op of a row as read, borrowing the row: compaction looks at every
/// op's keys but builds the messages only of the ops it keeps.
#[derive(Clone, Copy, Debug)]
pub(super) enum Logged<'a> {
    /// [`StoreOp::MessageStore`], the message not read yet.
    MessageStore { id: u64, message: &'a [u8] },
    /// [`StoreOp::SessionMessageAdd`]; `flags` holds QoS and retain. With
    /// `sent`, the [`StoreOp::SessionMessageSent`] that followed it too.
    Add {
        client_id: &'a str,
        seq: u64,
        message_id: u64,
        flags: u8,
        sent: Option<u16>,
    },
    /// [`StoreOp::SessionMessageSent`].
    Sent {
        client_id: &'a str,
        seq: u64,
        packet_id: u16,
    },
    /// [`StoreOp::SessionMessageReleased`].
    Released { client_id: &'a str, seq: u64 },
    /// [`StoreOp::SessionMessageDelete`].
    Delete { client_id: &'a str, seq: u64 },
    /// [`StoreOp::InboundQos2Add`].
    InboundAdd { client_id: &'a str, packet_id: u16 },
    /// [`StoreOp::InboundQos2Remove`].
    InboundRemove { client_id: &'a str, packet_id: u16 },
    /// [`StoreOp::RetainSet`], the message not read yet.
    RetainSet { topic: &'a str, message: &'a [u8] },
    /// [`StoreOp::RetainDelete`].
    RetainDelete { topic: &'a str },
}

impl Logged<'_> {
    /// Appends the op (two for an add with its sent) to `out`; deadlines
    /// come back in the broker's clock whose zero is `zero`.
    pub(super) fn push_ops(
        self,
        zero: ClockZero,
        out: &mut Vec<StoreOp>,
    ) -> Result<(), DecodeError> {
        if let Logged::Add {
            client_id,
            seq,
            message_id,
            flags,
            sent,
        } = self
        {
            out.push(StoreOp::SessionMessageAdd {
                client_id: Arc::from(client_id),
                seq,
                message_id,
                qos: qos_of(flags)?,
                retain: flags & 0x04 != 0,
            });
            if let Some(packet_id) = sent {
                out.push(StoreOp::SessionMessageSent {
                    client_id: Arc::from(client_id),
                    seq,
                    packet_id,
                });
            }
            return Ok(());
        }
        out.push(self.to_op(zero)?);
        Ok(())
    }

    /// The op itself, for all but [`Logged::Add`].
    fn to_op(self, zero: ClockZero) -> Result<StoreOp, DecodeError> {
        Ok(match self {
            Logged::MessageStore { id, message } => StoreOp::MessageStore {
                id,
                message: read_message(message, zero)?,
            },
            Logged::Add { .. } => return Err("an add where none was expected".into()),
            Logged::Sent {
                client_id,
                seq,
                packet_id,
            } => StoreOp::SessionMessageSent {
                client_id: Arc::from(client_id),
                seq,
                packet_id,
            },
            Logged::Released { client_id, seq } => StoreOp::SessionMessageReleased {
                client_id: Arc::from(client_id),
                seq,
            },
            Logged::Delete { client_id, seq } => StoreOp::SessionMessageDelete {
                client_id: Arc::from(client_id),
                seq,
            },
            Logged::InboundAdd {
                client_id,
                packet_id,
            } => StoreOp::InboundQos2Add {
                client_id: Arc::from(client_id),
                packet_id,
            },
            Logged::InboundRemove {
                client_id,
                packet_id,
            } => StoreOp::InboundQos2Remove {
                client_id: Arc::from(client_id),
                packet_id,
            },
            Logged::RetainSet { message, .. } => StoreOp::RetainSet {
                message: read_message(message, zero)?,
            },
            Logged::RetainDelete { topic } => StoreOp::RetainDelete {
                topic: topic.to_string(),
            },
        })
    }
}

/// Reads the ops of a row, appending them to `ops`, without building
/// their messages (only checking that each is whole).
pub(super) fn decode<'a>(row: &'a [u8], ops: &mut Vec<Logged<'a>>) -> Result<(), DecodeError> {
    let mut reader = Reader { bytes: row, at: 0 };
    match reader.byte()? {
        FORMAT_1 => {}
        other => return Err(format!("unknown log row format {other}")),
    }
    let mut previous_client: Option<&'a str> = None;
    while !reader.done() {
        let raw_tag = reader.byte()?;
        let tag = raw_tag & !SAME_CLIENT;
        let names_client = matches!(
            tag,
            TAG_ADD
                | TAG_ADD_SENT
                | TAG_SENT
                | TAG_RELEASED
                | TAG_DELETE
                | TAG_INBOUND_ADD
                | TAG_INBOUND_REMOVE
        );
        let client_id = if !names_client {
            ""
        } else if raw_tag & SAME_CLIENT != 0 {
            previous_client.ok_or("a repeated client id with none before it")?
        } else {
            let id = reader.str()?;
            previous_client = Some(id);
            id
        };
        let op = match tag {
            TAG_MESSAGE_STORE => Logged::MessageStore {
                id: reader.varint()?,
                message: reader.message()?,
            },
            TAG_ADD | TAG_ADD_SENT => {
                let seq = reader.varint()?;
                let message_id = reader.varint()?;
                let flags = reader.byte()?;
                qos_of(flags)?;
                let sent = if tag == TAG_ADD_SENT {
                    Some(reader.packet_id()?)
                } else {
                    None
                };
                Logged::Add {
                    client_id,
                    seq,
                    message_id,
                    flags,
                    sent,
                }
            }
            TAG_SENT => Logged::Sent {
                client_id,
                seq: reader.varint()?,
                packet_id: reader.packet_id()?,
            },
            TAG_RELEASED => Logged::Released {
                client_id,
                seq: reader.varint()?,
            },
            TAG_DELETE => Logged::Delete {
                client_id,
                seq: reader.varint()?,
            },
            TAG_INBOUND_ADD => Logged::InboundAdd {
                client_id,
                packet_id: reader.packet_id()?,
            },
            TAG_INBOUND_REMOVE => Logged::InboundRemove {
                client_id,
                packet_id: reader.packet_id()?,
            },
            TAG_RETAIN_SET => {
                let message = reader.message()?;
                Logged::RetainSet {
                    topic: message_topic(message)?,
                    message,
                }
            }
            TAG_RETAIN_DELETE => Logged::RetainDelete {
                topic: reader.str()?,
            },
            other => return Err(format!("unknown op tag {other}")),
        };
        ops.push(op);
    }
    Ok(())
}

fn qos_of(flags: u8) -> Result<QoS, DecodeError> {
    QoS::from_u8(flags & 0x03).ok_or_else(|| format!("invalid QoS in flags {flags:#x}"))
}

/// Builds the message of a [`Logged::MessageStore`] or
/// [`Logged::RetainSet`].
fn read_message(bytes: &[u8], zero: ClockZero) -> Result<Message, DecodeError> {
    let mut reader = Reader { bytes, at: 0 };
    let flags = reader.byte()?;
    let deadline = if flags & 0x08 != 0 {
        let at = reader.varint()?;
        Some(i64::try_from(at).map_err(|_| format!("deadline {at} out of range"))?)
    } else {
        None
    };
    let topic = reader.str()?;
    let properties = reader.bytes()?;
    let payload = reader.bytes()?;
    if !reader.done() {
        return Err("bytes after a message".into());
    }
    let properties = (!properties.is_empty()).then_some(properties);
    message(
        topic,
        properties,
        payload,
        qos_of(flags)?,
        flags & 0x04 != 0,
        zero.to_clock(deadline),
    )
    .map_err(|e| e.to_string())
}

/// A cursor over a row.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let byte = *self.bytes.get(self.at).ok_or("the row ends early")?;
        self.at += 1;
        Ok(byte)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint longer than 64 bits".into())
    }

    fn packet_id(&mut self) -> Result<u16, DecodeError> {
        let value = self.varint()?;
        u16::try_from(value).map_err(|_| format!("packet id {value} out of range"))
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = usize::try_from(self.varint()?).map_err(|_| "a length beyond memory")?;
        let end = self.at.checked_add(len).ok_or("a length beyond the row")?;
        let bytes = self
            .bytes
            .get(self.at..end)
            .ok_or("a length beyond the row")?;
        self.at = end;
        Ok(bytes)
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| "a string that is not UTF-8".into())
    }

    /// Steps over a message, returning its bytes (read by [`read_message`]
    /// only if its op is kept).
    fn message(&mut self) -> Result<&'a [u8], DecodeError> {
        self.bytes()
    }
}

/// The topic of a message's bytes.
fn message_topic(bytes: &[u8]) -> Result<&str, DecodeError> {
    let mut reader = Reader { bytes, at: 0 };
    let flags = reader.byte()?;
    if flags & 0x08 != 0 {
        reader.varint()?;
    }
    reader.str()
}

#[cfg(test)]
#[path = "log_codec_tests.rs"]
mod tests;
