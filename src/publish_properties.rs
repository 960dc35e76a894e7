//! The MQTT 5 properties the host gives a message it publishes, and reads
//! from one it receives, as owned values.

use crate::codec::{property, PropertiesBuilder, PropertyValue};
use crate::message::Message;
use crate::topic::is_valid_topic_name;
use crate::Error;

/// The MQTT 5 properties of an application message: what a publisher
/// sets and a subscriber receives (MQTT 5.0 §3.3.2.3). MQTT 3.1.1
/// subscribers get the message without them.
///
/// ```
/// let properties = mqlite::PublishProperties {
///     content_type: Some("application/json".into()),
///     response_topic: Some("replies/42".into()),
///     user_properties: vec![("unit".into(), "celsius".into())],
///     message_expiry_interval: Some(60),
///     ..Default::default()
/// };
/// # let _ = properties;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishProperties {
    /// Payload Format Indicator: the payload is UTF-8 text.
    pub payload_is_utf8: bool,
    /// Message Expiry Interval, seconds: the message is dropped from
    /// queues and the retained store once it has waited that long, and
    /// subscribers get what is left of it.
    pub message_expiry_interval: Option<u32>,
    /// Content Type (a MIME type, by convention).
    pub content_type: Option<String>,
    /// Response Topic: where a responder should publish its answer (a
    /// topic name, no wildcards).
    pub response_topic: Option<String>,
    /// Correlation Data: lets the requester match the answer to its
    /// request.
    pub correlation_data: Option<Vec<u8>>,
    /// User Properties, in order (names may repeat).
    pub user_properties: Vec<(String, String)>,
}

impl PublishProperties {
    /// The properties `message` carries, its Message Expiry Interval
    /// being the seconds it has left now ([`Message::expiry_interval`]).
    pub fn of(message: &Message) -> PublishProperties {
        let mut owned = PublishProperties {
            message_expiry_interval: message.expiry_interval(),
            ..PublishProperties::default()
        };
        for (id, value) in message.properties().iter() {
            match (id, value) {
                (property::PAYLOAD_FORMAT_INDICATOR, PropertyValue::Byte(v)) => {
                    owned.payload_is_utf8 = v == 1;
                }
                (property::CONTENT_TYPE, PropertyValue::Str(v)) => {
                    owned.content_type = Some(v.to_string());
                }
                (property::RESPONSE_TOPIC, PropertyValue::Str(v)) => {
                    owned.response_topic = Some(v.to_string());
                }
                (property::CORRELATION_DATA, PropertyValue::Binary(v)) => {
                    owned.correlation_data = Some(v.to_vec());
                }
                (property::USER_PROPERTY, PropertyValue::StrPair(k, v)) => {
                    owned.user_properties.push((k.to_string(), v.to_string()));
                }
                _ => {}
            }
        }
        owned
    }

    /// Checks what the standard requires of them: a Response Topic is a
    /// valid topic name [MQTT-3.3.2-14], strings hold no U+0000 and fit in
    /// 65 535 bytes.
    ///
    /// # Errors
    /// [`Error::InvalidTopic`] for a bad Response Topic, [`Error::Config`]
    /// (field `properties`) for a string the protocol cannot carry.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(topic) = &self.response_topic {
            if !is_valid_topic_name(topic) {
                return Err(Error::InvalidTopic(topic.clone()));
            }
        }
        let strings = self
            .content_type
            .iter()
            .chain(self.user_properties.iter().flat_map(|(k, v)| [k, v]));
        for text in strings {
            if text.len() > usize::from(u16::MAX) || text.contains('\0') {
                return Err(Error::Config {
                    field: "properties".into(),
                    reason: "a string property must be at most 65535 bytes, without U+0000".into(),
                });
            }
        }
        if self
            .correlation_data
            .as_ref()
            .is_some_and(|data| data.len() > usize::from(u16::MAX))
        {
            return Err(Error::Config {
                field: "properties".into(),
                reason: "correlation data must be at most 65535 bytes".into(),
            });
        }
        Ok(())
    }

    /// The property block a message carries (without the expiry, which
    /// the broker turns into a deadline).
    pub(crate) fn to_block(&self) -> PropertiesBuilder {
        let mut block = PropertiesBuilder::new();
        if self.payload_is_utf8 {
            block.byte(property::PAYLOAD_FORMAT_INDICATOR, 1);
        }
        if let Some(content_type) = &self.content_type {
            block.string(property::CONTENT_TYPE, content_type);
        }
        if let Some(topic) = &self.response_topic {
            block.string(property::RESPONSE_TOPIC, topic);
        }
        if let Some(data) = &self.correlation_data {
            block.binary(property::CORRELATION_DATA, data);
        }
        for (key, value) in &self.user_properties {
            block.user_property(key, value);
        }
        block
    }

    /// A message of `topic` and `payload` with these properties (and no
    /// expiry yet).
    pub(crate) fn message(
        &self,
        topic: &str,
        payload: &[u8],
        qos: crate::QoS,
        retain: bool,
    ) -> Result<Message, Error> {
        if !is_valid_topic_name(topic) {
            return Err(Error::InvalidTopic(topic.to_string()));
        }
        self.validate()?;
        let block = self.to_block();
        Message::with_properties(topic, block.unchecked(), payload, qos, retain, None)
            .ok_or_else(|| Error::InvalidTopic(topic.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QoS;

    #[test]
    fn round_trip_through_a_message() {
        let properties = PublishProperties {
            payload_is_utf8: true,
            message_expiry_interval: None,
            content_type: Some("text/plain".into()),
            response_topic: Some("r/t".into()),
            correlation_data: Some(vec![0, 1]),
            user_properties: vec![("b".into(), "1".into()), ("a".into(), "2".into())],
        };
        let message = properties
            .message("t", b"x", QoS::AtLeastOnce, false)
            .unwrap();
        assert_eq!(PublishProperties::of(&message), properties);
        assert_eq!(message.payload(), b"x");
        assert_eq!(message.topic(), "t");
    }

    #[test]
    fn the_expiry_read_back_is_what_is_left() {
        let plain = PublishProperties::default()
            .message("t", b"x", QoS::AtLeastOnce, false)
            .unwrap();
        assert_eq!(PublishProperties::of(&plain).message_expiry_interval, None);
        let in_a_minute = plain.with_expiry(Some(crate::clock::now_ms() + 60_000));
        // Rounded up: whatever part of the 60th second is left counts.
        assert_eq!(
            PublishProperties::of(&in_a_minute).message_expiry_interval,
            Some(60)
        );
        let left = in_a_minute.expires_in().unwrap();
        assert!(left <= std::time::Duration::from_secs(60) && left.as_secs() >= 59);
        let passed = plain.with_expiry(Some(0));
        assert_eq!(passed.expires_in(), Some(std::time::Duration::ZERO));
        assert_eq!(passed.expiry_interval(), Some(0));
    }

    #[test]
    fn refusals() {
        let wildcard = PublishProperties {
            response_topic: Some("r/#".into()),
            ..Default::default()
        };
        assert!(matches!(
            wildcard.message("t", b"", QoS::AtMostOnce, false),
            Err(Error::InvalidTopic(_))
        ));
        let nul = PublishProperties {
            user_properties: vec![("k\0".into(), "v".into())],
            ..Default::default()
        };
        assert!(nul.validate().is_err());
    }
}
