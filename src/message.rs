//! An application message, stored once and shared by every queue it is in.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::codec::{Properties, PropertyContext, QoS};

/// One application message: topic, payload, QoS and retain flag as
/// published, and the MQTT 5 properties forwarded with it.
///
/// The topic, properties and payload live together in one shared
/// allocation, so handing the message to a thousand subscriber queues costs
/// a thousand reference count increments, not a thousand copies. Cloning is
/// cheap.
///
/// The properties are those a server forwards unchanged (MQTT 5.0
/// §3.3.2.3): Payload Format Indicator, Content Type, Response Topic,
/// Correlation Data and User Properties, plus the Subscription Identifiers
/// of one receiver. The Message Expiry Interval is kept as a deadline
/// instead ([`Message::expires_at_ms`], [`Message::expires_in`]), so that
/// the remaining time is what goes out, and a Topic Alias belongs to one connection, never a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// Topic bytes, then property bytes, then payload bytes.
    body: Arc<[u8]>,
    /// Where the topic ends in `body` (topics are at most 65 535 bytes).
    topic_len: u16,
    qos: QoS,
    retain: bool,
    /// Length of the property block after the topic.
    properties_len: u32,
    /// When the message expires, in milliseconds of the broker's clock
    /// (`u64::MAX`: never).
    expires_at_ms: u64,
}

/// A message whose parts do not fit: a topic over 65 535 bytes or a
/// property block over 4 GiB.
fn too_long(topic: &str, properties: &[u8]) -> bool {
    topic.len() > usize::from(u16::MAX) || u32::try_from(properties.len()).is_err()
}

/// Whether a server forwards the property `id` with a message (MQTT 5.0
/// §3.3.2.3): the others are the broker's to act on or to set per receiver.
fn forwarded(id: u8) -> bool {
    use crate::codec::property;
    matches!(
        id,
        property::PAYLOAD_FORMAT_INDICATOR
            | property::CONTENT_TYPE
            | property::RESPONSE_TOPIC
            | property::CORRELATION_DATA
            | property::USER_PROPERTY
    )
}

/// Whether every property of `properties` is one a server forwards.
fn only_forwarded(properties: Properties<'_>) -> bool {
    properties.iter().all(|(id, _)| forwarded(id))
}

impl Message {
    /// Builds a message. `topic` must be at most 65 535 bytes (the caller
    /// validated it as a topic name); a longer one is cut to `None`.
    pub fn new(topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Option<Message> {
        Message::with_properties(topic, Properties::EMPTY, payload, qos, retain, None)
    }

    /// Builds a message with MQTT 5 properties to forward (see the type's
    /// documentation for which) and an expiry deadline in milliseconds of
    /// the broker's clock. `None` when the topic is over 65 535 bytes.
    #[inline]
    pub fn with_properties(
        topic: &str,
        properties: Properties<'_>,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        expires_at_ms: Option<u64>,
    ) -> Option<Message> {
        let properties = properties.as_bytes();
        if too_long(topic, properties) {
            return None;
        }
        Some(Message {
            body: concat(topic.as_bytes(), properties, payload),
            topic_len: topic.len() as u16,
            qos,
            retain,
            properties_len: properties.len() as u32,
            expires_at_ms: expires_at_ms.unwrap_or(u64::MAX),
        })
    }

    /// Builds a message from the properties of a PUBLISH or a will: keeps
    /// what a server forwards and leaves out Message Expiry Interval, Topic
    /// Alias, Subscription Identifier and Will Delay Interval.
    #[inline]
    pub(crate) fn from_publish(
        topic: &str,
        properties: Properties<'_>,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        expires_at_ms: Option<u64>,
    ) -> Option<Message> {
        // Most blocks hold only forwarded properties (a 3.1.1 PUBLISH none
        // at all): kept as they are, with no rebuilding on the message
        // path, which is inlined into the caller's.
        if properties.as_bytes().is_empty() || only_forwarded(properties) {
            return Message::with_properties(
                topic,
                properties,
                payload,
                qos,
                retain,
                expires_at_ms,
            );
        }
        Message::with_forwarded(topic, properties, payload, qos, retain, expires_at_ms)
    }

    /// [`Message::from_publish`] for a block that holds properties not
    /// forwarded: the others copied as they are encoded, in one buffer of
    /// the block's size (built value by value, the block grew three or
    /// four times, a fifth of an MQTT 5 message's instructions).
    #[cold]
    #[inline(never)]
    fn with_forwarded(
        topic: &str,
        properties: Properties<'_>,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        expires_at_ms: Option<u64>,
    ) -> Option<Message> {
        let mut kept = crate::codec::PropertiesBuilder::with_capacity(properties.as_bytes().len());
        for (id, bytes) in properties.encoded() {
            if forwarded(id) {
                kept.raw(bytes);
            }
        }
        Message::with_properties(topic, kept.unchecked(), payload, qos, retain, expires_at_ms)
    }

    /// This message with `extra` property bytes (already encoded, such as
    /// Subscription Identifiers for one receiver) put before its own: a new
    /// body, for one receiver.
    pub(crate) fn with_extra_properties(&self, extra: &[u8]) -> Message {
        let properties = [extra, self.properties().as_bytes()].concat();
        if too_long(self.topic(), &properties) {
            return self.clone();
        }
        Message {
            body: concat(self.topic().as_bytes(), &properties, self.payload()),
            topic_len: self.topic_len,
            qos: self.qos,
            retain: self.retain,
            properties_len: properties.len() as u32,
            expires_at_ms: self.expires_at_ms,
        }
    }

    /// A message with an empty topic and payload: what a store gives for a
    /// QoS 2 message past PUBREC, whose body it no longer keeps.
    pub(crate) fn empty(qos: QoS) -> Message {
        Message {
            body: Arc::from(&[][..]),
            topic_len: 0,
            qos,
            retain: false,
            properties_len: 0,
            expires_at_ms: u64::MAX,
        }
    }

    /// The topic name.
    pub fn topic(&self) -> &str {
        let bytes = &self.body[..self.topic_len as usize];
        // SAFETY: `body` is immutable and its first `topic_len` bytes were
        // copied from a `&str` in `new`, so they are valid UTF-8. Checking
        // again would cost a scan per delivery on the hot path.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.body[self.topic_len as usize + self.properties_len as usize..]
    }

    /// The MQTT 5 properties forwarded with the message (empty for a
    /// message from a 3.1.1 client).
    pub fn properties(&self) -> Properties<'_> {
        let start = self.topic_len as usize;
        let bytes = &self.body[start..start + self.properties_len as usize];
        // Built from a validated block or by the builder's own writers; a
        // block that no longer parses only yields fewer properties.
        Properties::parse(bytes, PropertyContext::Publish).unwrap_or(Properties::EMPTY)
    }

    /// The property bytes, unparsed (for the encoder).
    pub(crate) fn property_bytes(&self) -> &[u8] {
        let start = self.topic_len as usize;
        &self.body[start..start + self.properties_len as usize]
    }

    /// When the message expires, in milliseconds of the broker's clock
    /// (whose zero is a moment of the process, see
    /// [`crate::store::clock_zero`]), if it has a Message Expiry Interval.
    pub fn expires_at_ms(&self) -> Option<u64> {
        (self.expires_at_ms != u64::MAX).then_some(self.expires_at_ms)
    }

    /// How long the message has left before it expires, if it has a
    /// Message Expiry Interval: `Duration::ZERO` once it has passed. It
    /// keeps counting down while the host holds the message.
    pub fn expires_in(&self) -> Option<Duration> {
        self.expires_at_ms()
            .map(|at| crate::clock::left(at, crate::clock::now_ms()))
    }

    /// The Message Expiry Interval a subscriber would get now: the seconds
    /// left, rounded up as MQTT 5.0 sends them [MQTT-3.3.2-6].
    pub fn expiry_interval(&self) -> Option<u32> {
        self.expires_in().map(|left| {
            let seconds = left.as_millis().div_ceil(1000);
            u32::try_from(seconds).unwrap_or(u32::MAX)
        })
    }

    /// The QoS it was published with.
    pub fn qos(&self) -> QoS {
        self.qos
    }

    /// Whether it was published with the retain flag.
    pub fn retain(&self) -> bool {
        self.retain
    }

    /// The same message under another topic (a new body); `None` when the
    /// topic is over 65 535 bytes.
    pub(crate) fn with_topic(&self, topic: &str) -> Option<Message> {
        let properties = self.property_bytes();
        if too_long(topic, properties) {
            return None;
        }
        Some(Message {
            body: concat(topic.as_bytes(), properties, self.payload()),
            topic_len: topic.len() as u16,
            qos: self.qos,
            retain: self.retain,
            properties_len: self.properties_len,
            expires_at_ms: self.expires_at_ms,
        })
    }

    /// The same message with another QoS and retain flag, sharing the body.
    pub fn with_flags(&self, qos: QoS, retain: bool) -> Message {
        Message {
            body: Arc::clone(&self.body),
            qos,
            retain,
            ..*self
        }
    }

    /// The same message with another expiry deadline, sharing the body.
    pub(crate) fn with_expiry(&self, expires_at_ms: Option<u64>) -> Message {
        Message {
            body: Arc::clone(&self.body),
            expires_at_ms: expires_at_ms.unwrap_or(u64::MAX),
            ..*self
        }
    }

    /// Whether the message has expired at `now_ms` of the broker's clock.
    #[inline]
    pub(crate) fn expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms <= now_ms
    }

    /// Topic, properties and payload length: what the message costs in a
    /// queue.
    pub fn size(&self) -> usize {
        self.body.len()
    }
}

/// One shared allocation holding a message's topic, property block and
/// payload one after the other.
#[inline]
fn concat(topic: &[u8], properties: &[u8], payload: &[u8]) -> Arc<[u8]> {
    let mut body = Arc::<[u8]>::new_uninit_slice(topic.len() + properties.len() + payload.len());
    match Arc::get_mut(&mut body) {
        Some(slots) => {
            let (head, rest) = slots.split_at_mut(topic.len());
            head.write_copy_of_slice(topic);
            let (middle, tail) = rest.split_at_mut(properties.len());
            // No properties (every 3.1.1 message) costs no memcpy call.
            if !properties.is_empty() {
                middle.write_copy_of_slice(properties);
            }
            tail.write_copy_of_slice(payload);
            // SAFETY: the three parts cover the whole slice (its length is
            // their sum) and each was written just above (an empty one has
            // nothing to write). One allocation per message, on the hot
            // path.
            unsafe { body.assume_init() }
        }
        // Unreachable (the Arc was just made), but safe all the same.
        None => Arc::from([topic, properties, payload].concat()),
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("topic", &self.topic())
            .field("payload_len", &self.payload().len())
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .field("properties", &self.properties())
            .field("expires_at_ms", &self.expires_at_ms())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{property, PropertiesBuilder};

    #[test]
    fn from_publish_keeps_forwarded_properties_in_order() {
        let mut sent = PropertiesBuilder::new();
        sent.user_property("a", "1")
            .four_byte(property::MESSAGE_EXPIRY_INTERVAL, 60)
            .string(property::CONTENT_TYPE, "text/plain")
            .two_byte(property::TOPIC_ALIAS, 3)
            .binary(property::CORRELATION_DATA, &[0, 1, 2])
            .user_property("a", "2")
            .byte(property::PAYLOAD_FORMAT_INDICATOR, 1);
        let sent = sent.properties(PropertyContext::Publish).unwrap();
        let message =
            Message::from_publish("t", sent, b"x", QoS::AtLeastOnce, false, None).unwrap();
        let mut kept = PropertiesBuilder::new();
        kept.user_property("a", "1")
            .string(property::CONTENT_TYPE, "text/plain")
            .binary(property::CORRELATION_DATA, &[0, 1, 2])
            .user_property("a", "2")
            .byte(property::PAYLOAD_FORMAT_INDICATOR, 1);
        assert_eq!(message.property_bytes(), kept.as_bytes());
        assert_eq!((message.topic(), message.payload()), ("t", &b"x"[..]));
        // Only forwarded ones: the block as it came.
        let message =
            Message::from_publish("t", kept.unchecked(), b"", QoS::AtMostOnce, false, None)
                .unwrap();
        assert_eq!(message.property_bytes(), kept.as_bytes());
    }
}
