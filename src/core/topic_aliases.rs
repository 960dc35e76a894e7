//! The topic aliases an MQTT 5 client sets on the PUBLISHes it sends
//! (§3.3.2.3.4): a number standing for a topic name on one connection.

use crate::codec::ReasonCode;

/// One connection's inbound aliases: alias `n` is slot `n - 1`.
#[derive(Default)]
pub(crate) struct TopicAliases {
    topics: Vec<Option<Box<str>>>,
}

impl TopicAliases {
    /// The topic a PUBLISH names, from its topic and Topic Alias: a topic
    /// with an alias (re)sets the alias; an empty topic with an alias uses
    /// it. `maximum` is the Topic Alias Maximum the broker announced. Errors
    /// with the reason the connection closes: an alias of 0 or above the
    /// maximum, or unknown, is Topic Alias invalid [MQTT-3.3.2-8],
    /// [MQTT-3.3.2-9]; an empty topic without an alias is a Protocol Error.
    pub(crate) fn resolve<'a>(
        aliases: &'a mut Option<Box<TopicAliases>>,
        topic: &'a str,
        alias: Option<u16>,
        maximum: u16,
    ) -> Result<&'a str, ReasonCode> {
        let Some(alias) = alias else {
            return if topic.is_empty() {
                Err(ReasonCode::PROTOCOL_ERROR)
            } else {
                Ok(topic)
            };
        };
        if alias == 0 || alias > maximum {
            return Err(ReasonCode::TOPIC_ALIAS_INVALID);
        }
        let slot = usize::from(alias - 1);
        let table = aliases.get_or_insert_with(Box::default);
        if topic.is_empty() {
            return match table.topics.get(slot) {
                Some(Some(known)) => Ok(known),
                _ => Err(ReasonCode::PROTOCOL_ERROR),
            };
        }
        if table.topics.len() <= slot {
            table.topics.resize(slot + 1, None);
        }
        table.topics[slot] = Some(topic.into());
        Ok(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_use_and_refuse() {
        let mut aliases = None;
        assert_eq!(TopicAliases::resolve(&mut aliases, "a", None, 0), Ok("a"));
        assert_eq!(
            TopicAliases::resolve(&mut aliases, "", None, 5),
            Err(ReasonCode::PROTOCOL_ERROR)
        );
        assert_eq!(
            TopicAliases::resolve(&mut aliases, "a", Some(0), 5),
            Err(ReasonCode::TOPIC_ALIAS_INVALID)
        );
        assert_eq!(
            TopicAliases::resolve(&mut aliases, "a", Some(6), 5),
            Err(ReasonCode::TOPIC_ALIAS_INVALID)
        );
        assert_eq!(
            TopicAliases::resolve(&mut aliases, "", Some(2), 5),
            Err(ReasonCode::PROTOCOL_ERROR)
        );
        assert_eq!(
            TopicAliases::resolve(&mut aliases, "x/y", Some(2), 5),
            Ok("x/y")
        );
        assert_eq!(
            TopicAliases::resolve(&mut aliases, "", Some(2), 5),
            Ok("x/y")
        );
        assert_eq!(
            TopicAliases::resolve(&mut aliases, "z", Some(2), 5),
            Ok("z")
        );
        assert_eq!(TopicAliases::resolve(&mut aliases, "", Some(2), 5), Ok("z"));
    }
}
