//! Topic aliases (§3.3.2.3.4): a number standing for a topic name on one
//! connection, set by an MQTT 5 client on the PUBLISHes it sends, and by
//! the broker on those it sends a client that accepts them.

use std::collections::HashMap;
use std::sync::Arc;

use crate::codec::ReasonCode;

/// One connection's inbound aliases: alias `n` is slot `n - 1`.
#[derive(Default)]
pub(crate) struct TopicAliases {
    /// Shared, so a PUBLISH that uses an alias takes its topic with a
    /// reference count, not a copy.
    topics: Vec<Option<Arc<str>>>,
}

impl TopicAliases {
    /// The topic a PUBLISH names, from its topic and Topic Alias: a topic
    /// with an alias (re)sets the alias; an empty topic with an alias uses
    /// it. `None`: the PUBLISH's own topic; `Some`: the alias's. `maximum`
    /// is the Topic Alias Maximum the broker announced. Errors with the
    /// reason the connection closes: an alias of 0 or above the maximum, or
    /// unknown, is Topic Alias invalid [MQTT-3.3.2-8], [MQTT-3.3.2-9]; an
    /// empty topic without an alias is a Protocol Error.
    pub(crate) fn resolve(
        aliases: &mut Option<Box<TopicAliases>>,
        topic: &str,
        alias: Option<u16>,
        maximum: u16,
    ) -> Result<Option<Arc<str>>, ReasonCode> {
        let Some(alias) = alias else {
            return if topic.is_empty() {
                Err(ReasonCode::PROTOCOL_ERROR)
            } else {
                Ok(None)
            };
        };
        if alias == 0 || alias > maximum {
            return Err(ReasonCode::TOPIC_ALIAS_INVALID);
        }
        let slot = usize::from(alias - 1);
        let table = aliases.get_or_insert_with(Box::default);
        if topic.is_empty() {
            return match table.topics.get(slot) {
                Some(Some(known)) => Ok(Some(Arc::clone(known))),
                _ => Err(ReasonCode::PROTOCOL_ERROR),
            };
        }
        if table.topics.len() <= slot {
            table.topics.resize(slot + 1, None);
        }
        table.topics[slot] = Some(topic.into());
        Ok(None)
    }
}

/// What a PUBLISH to a client does with a topic alias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AliasUse {
    /// No alias: the topic goes out in full.
    None,
    /// The topic goes out in full and sets this alias.
    Set(u16),
    /// The topic is left out: this alias stands for it.
    Use(u16),
}

/// The aliases the broker has set on one connection: at most `maximum`
/// (the smaller of the client's Topic Alias Maximum and the broker's
/// `outgoing_topic_aliases`); once all are taken, the least recently set
/// one is set again for the new topic.
pub(crate) struct OutgoingAliases {
    maximum: u16,
    by_topic: HashMap<Box<str>, u16>,
    /// The topic of alias `n` at `n - 1`.
    topics: Vec<Box<str>>,
    /// The alias set again next once all are taken.
    next_reused: u16,
}

impl OutgoingAliases {
    /// A table of at most `maximum` aliases (at least 1).
    pub(crate) fn new(maximum: u16) -> OutgoingAliases {
        OutgoingAliases {
            maximum: maximum.max(1),
            by_topic: HashMap::new(),
            topics: Vec::new(),
            next_reused: 1,
        }
    }

    /// Whether `topic` has an alias: a PUBLISH on it would use it.
    pub(crate) fn knows(&self, topic: &str) -> bool {
        self.by_topic.contains_key(topic)
    }

    /// The alias use for a PUBLISH on `topic`.
    pub(crate) fn assign(&mut self, topic: &str) -> AliasUse {
        if let Some(&alias) = self.by_topic.get(topic) {
            return AliasUse::Use(alias);
        }
        let alias = if self.topics.len() < usize::from(self.maximum) {
            self.topics.push(topic.into());
            self.topics.len() as u16
        } else {
            let alias = self.next_reused;
            self.next_reused = if alias >= self.maximum { 1 } else { alias + 1 };
            let slot = usize::from(alias - 1);
            if let Some(old) = self.topics.get_mut(slot) {
                self.by_topic.remove(old);
                *old = topic.into();
            }
            alias
        };
        self.by_topic.insert(topic.into(), alias);
        AliasUse::Set(alias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_aliases_are_set_used_and_reused() {
        let mut out = OutgoingAliases::new(2);
        assert_eq!(out.assign("a"), AliasUse::Set(1));
        assert_eq!(out.assign("b"), AliasUse::Set(2));
        assert_eq!(out.assign("a"), AliasUse::Use(1));
        assert_eq!(out.assign("c"), AliasUse::Set(1));
        assert_eq!(out.assign("c"), AliasUse::Use(1));
        assert_eq!(out.assign("a"), AliasUse::Set(2));
        assert_eq!(out.assign("b"), AliasUse::Set(1));
    }

    #[test]
    fn set_use_and_refuse() {
        let mut aliases = None;
        assert_eq!(TopicAliases::resolve(&mut aliases, "a", None, 0), Ok(None));
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
            Ok(None)
        );
        assert_eq!(
            TopicAliases::resolve(&mut aliases, "", Some(2), 5),
            Ok(Some("x/y".into()))
        );
        assert_eq!(
            TopicAliases::resolve(&mut aliases, "z", Some(2), 5),
            Ok(None)
        );
        assert_eq!(
            TopicAliases::resolve(&mut aliases, "", Some(2), 5),
            Ok(Some("z".into()))
        );
    }
}
