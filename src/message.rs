//! An application message, stored once and shared by every queue it is in.

use std::fmt;
use std::sync::Arc;

use crate::codec::QoS;

/// One application message: topic, payload, QoS and retain flag as published.
///
/// The topic and payload live together in one shared allocation, so handing
/// the message to a thousand subscriber queues costs a thousand reference
/// count increments, not a thousand copies. Cloning is cheap.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// Topic bytes followed by payload bytes.
    body: Arc<[u8]>,
    /// Where the topic ends in `body` (topics are at most 65 535 bytes).
    topic_len: u16,
    qos: QoS,
    retain: bool,
}

impl Message {
    /// Builds a message. `topic` must be at most 65 535 bytes (the caller
    /// validated it as a topic name); a longer one is cut to `None`.
    pub fn new(topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Option<Message> {
        let topic_len = u16::try_from(topic.len()).ok()?;
        let mut body = Arc::<[u8]>::new_uninit_slice(topic.len() + payload.len());
        let body = match Arc::get_mut(&mut body) {
            Some(slots) => {
                let (head, tail) = slots.split_at_mut(topic.len());
                head.write_copy_of_slice(topic.as_bytes());
                tail.write_copy_of_slice(payload);
                // SAFETY: both parts, which cover the whole slice, were
                // initialised just above. One allocation and two memcpy per
                // message, on the hot path.
                unsafe { body.assume_init() }
            }
            // Unreachable (the Arc was just made), but safe all the same.
            None => Arc::from([topic.as_bytes(), payload].concat()),
        };
        Some(Message {
            body,
            topic_len,
            qos,
            retain,
        })
    }

    /// A message with an empty topic and payload: what a store gives for a
    /// QoS 2 message past PUBREC, whose body it no longer keeps.
    pub(crate) fn empty(qos: QoS) -> Message {
        Message {
            body: Arc::from(&[][..]),
            topic_len: 0,
            qos,
            retain: false,
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
        &self.body[self.topic_len as usize..]
    }

    /// The QoS it was published with.
    pub fn qos(&self) -> QoS {
        self.qos
    }

    /// Whether it was published with the retain flag.
    pub fn retain(&self) -> bool {
        self.retain
    }

    /// The same message with another QoS and retain flag, sharing the body.
    pub fn with_flags(&self, qos: QoS, retain: bool) -> Message {
        Message {
            body: Arc::clone(&self.body),
            topic_len: self.topic_len,
            qos,
            retain,
        }
    }

    /// Topic plus payload length: what the message costs in a queue.
    pub fn size(&self) -> usize {
        self.body.len()
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("topic", &self.topic())
            .field("payload_len", &self.payload().len())
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .finish()
    }
}
