//! Shared subscriptions, `$share/{group}/{filter}` (MQTT 5.0 §4.8.2, and
//! for 3.1.1 clients too, as mosquitto and EMQX offer them): the sessions
//! subscribed with one group name and filter share its messages, each
//! message going to one of them.
//!
//! A group is one entry in the subscription trie ([`Subscriber::Shared`]);
//! its members and their grants are here. A message picks a member round
//! robin, preferring one that is connected and can take it now (window and
//! output not full), then one that is connected, then a persistent one that
//! is offline (its queue keeps the message for when it is back), so that a
//! message is lost only when the group has no member that could ever
//! receive it.

use std::collections::HashMap;

use slab::Slab;

use super::router::Grant;
use super::{Core, Message, SessionKey, Subscriber};
use crate::codec::QoS;
use crate::topic::is_valid_topic_filter;

/// The prefix of a shared subscription's filter.
const SHARE_PREFIX: &str = "$share/";

/// What a `$share/...` filter names, or why it is not one.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SharedFilter<'a> {
    /// Not a shared subscription.
    No,
    /// A valid shared subscription: its group name and topic filter.
    Yes {
        /// The share name.
        group: &'a str,
        /// The topic filter the group subscribes to.
        filter: &'a str,
    },
    /// A `$share/` filter with an empty or wildcard group name, or no valid
    /// topic filter after it [MQTT-4.8.2-1], [MQTT-4.8.2-2].
    Invalid,
}

/// Reads a filter as a shared subscription.
pub(crate) fn parse_shared(filter: &str) -> SharedFilter<'_> {
    let Some(rest) = filter.strip_prefix(SHARE_PREFIX) else {
        return SharedFilter::No;
    };
    let Some((group, inner)) = rest.split_once('/') else {
        return SharedFilter::Invalid;
    };
    if group.is_empty() || group.contains(['+', '#']) || !is_valid_topic_filter(inner) {
        return SharedFilter::Invalid;
    }
    SharedFilter::Yes {
        group,
        filter: inner,
    }
}

/// One group: its topic filter and members, and where the next message
/// starts looking.
struct Group {
    /// The whole `$share/{group}/{filter}` string, its key.
    name: Box<str>,
    /// Where the topic filter starts in `name`.
    filter_at: usize,
    members: Vec<(SessionKey, Grant)>,
    next: usize,
}

impl Group {
    fn filter(&self) -> &str {
        &self.name[self.filter_at..]
    }
}

/// Every shared subscription group.
#[derive(Default)]
pub(super) struct SharedGroups {
    groups: Slab<Group>,
    by_name: HashMap<Box<str>, u32>,
}

impl SharedGroups {
    /// How many groups there are (each one entry in the trie).
    pub(super) fn groups(&self) -> usize {
        self.groups.len()
    }

    /// How many (group, session) memberships there are.
    pub(super) fn members(&self) -> usize {
        self.groups
            .iter()
            .map(|(_, group)| group.members.len())
            .sum()
    }

    /// Adds `key` to the group of `name` (`$share/{group}/{filter}`, valid)
    /// with `grant`, or updates its grant. Returns the group's key when the
    /// group is new (the caller puts it in the trie).
    pub(super) fn join(
        &mut self,
        name: &str,
        filter: &str,
        key: SessionKey,
        grant: Grant,
    ) -> Option<u32> {
        if let Some(&index) = self.by_name.get(name) {
            if let Some(group) = self.groups.get_mut(index as usize) {
                match group.members.iter_mut().find(|(member, _)| *member == key) {
                    Some(member) => member.1 = grant,
                    None => group.members.push((key, grant)),
                }
            }
            return None;
        }
        let index = self.groups.insert(Group {
            name: name.into(),
            filter_at: name.len() - filter.len(),
            members: vec![(key, grant)],
            next: 0,
        }) as u32;
        self.by_name.insert(name.into(), index);
        Some(index)
    }

    /// Takes `key` out of the group of `name`. Returns whether it was a
    /// member, and the group's filter and key when the group is now empty
    /// (the caller takes it out of the trie).
    pub(super) fn leave(&mut self, name: &str, key: SessionKey) -> (bool, Option<(String, u32)>) {
        let Some(&index) = self.by_name.get(name) else {
            return (false, None);
        };
        let Some(group) = self.groups.get_mut(index as usize) else {
            return (false, None);
        };
        let before = group.members.len();
        group.members.retain(|(member, _)| *member != key);
        let left = group.members.len() < before;
        if !group.members.is_empty() {
            return (left, None);
        }
        let group = self.groups.remove(index as usize);
        self.by_name.remove(name);
        (left, Some((group.filter().to_string(), index)))
    }
}

impl Core {
    /// Subscribes a session to a shared subscription (`name` its whole
    /// filter, `filter` the topic filter part).
    pub(super) fn join_shared(&mut self, name: &str, filter: &str, key: SessionKey, grant: Grant) {
        if let Some(index) = self.shared.join(name, filter, key, grant) {
            // The trie's grant is not used: each member has its own.
            self.router.subscriptions.subscribe(
                filter,
                Subscriber::Shared(index),
                Grant::qos_only(QoS::ExactlyOnce),
            );
        }
    }

    /// Takes a session out of a shared subscription; true if it was in it.
    pub(super) fn leave_shared(&mut self, name: &str, key: SessionKey) -> bool {
        let (left, emptied) = self.shared.leave(name, key);
        if let Some((filter, index)) = emptied {
            self.router
                .subscriptions
                .unsubscribe(&filter, Subscriber::Shared(index));
        }
        left
    }

    /// Delivers a message to one member of group `index`: round robin over
    /// those that can take it now, else one that is connected, else one
    /// that keeps it offline. ACL-refused members are passed over.
    pub(super) fn deliver_shared(
        &mut self,
        index: u32,
        message: &Message,
        body_id: &mut Option<u64>,
    ) -> bool {
        let Some(group) = self.shared.groups.get(index as usize) else {
            return false;
        };
        let count = group.members.len();
        let start = group.next % count.max(1);
        let members: Vec<(SessionKey, Grant)> = (0..count)
            .filter_map(|i| group.members.get((start + i) % count).copied())
            .collect();
        let check_acl = self.hooks.has_acl();
        let mut ready = None;
        let mut online = None;
        let mut offline = None;
        for (position, &(key, grant)) in members.iter().enumerate() {
            let Some(session) = self.sessions.get(key) else {
                continue;
            };
            let qos = message.qos().min(grant.qos());
            let choice = (position, key, grant);
            match session.conn.and_then(|id| self.conns.get(id)) {
                Some(conn) => {
                    let output_full = conn.pending_output() >= self.config.max_pending_output;
                    let room = qos == QoS::AtMostOnce
                        || (session.queue_is_empty()
                            && session.window_has_room(
                                usize::from(session.window),
                                self.config.max_inflight_bytes,
                                message.size(),
                            ));
                    if room && !output_full {
                        if check_acl && !self.may_receive(key, message.topic()) {
                            continue;
                        }
                        ready = Some(choice);
                        break;
                    }
                    online = online.or(Some(choice));
                }
                None if !session.clean && qos != QoS::AtMostOnce => {
                    offline = offline.or(Some(choice));
                }
                None => {}
            }
        }
        let Some((position, key, grant)) = ready.or(online).or(offline) else {
            self.stats.messages_dropped += 1;
            return false;
        };
        if ready.is_none() && check_acl && !self.may_receive(key, message.topic()) {
            return false;
        }
        if let Some(group) = self.shared.groups.get_mut(index as usize) {
            group.next = start + position + 1;
        }
        let qos = message.qos().min(grant.qos());
        let retain = grant.retain_as_published() && message.retain();
        match grant.identifier() {
            0 => self.deliver(key, message, qos, retain, body_id),
            id => {
                let ids = super::delivery::subscription_identifiers(std::iter::once(id));
                let own = message.with_extra_properties(&ids);
                self.deliver(key, &own, qos, retain, &mut None);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_filters_parse() {
        assert_eq!(parse_shared("a/b"), SharedFilter::No);
        assert_eq!(parse_shared("$shared/g/a"), SharedFilter::No);
        assert_eq!(
            parse_shared("$share/g/a/+"),
            SharedFilter::Yes {
                group: "g",
                filter: "a/+"
            }
        );
        assert_eq!(
            parse_shared("$share/g/#"),
            SharedFilter::Yes {
                group: "g",
                filter: "#"
            }
        );
        for bad in [
            "$share/g",
            "$share//a",
            "$share/+/a",
            "$share/g#/a",
            "$share/g/",
            "$share/g/a/#/b",
        ] {
            assert_eq!(parse_shared(bad), SharedFilter::Invalid, "{bad}");
        }
    }
}
