//! What routing reads: the subscriptions, the retained messages, and the
//! scratch lists one PUBLISH's matches are gathered in.

use super::local::LocalKey;
use super::sessions::Sessions;
use super::{SessionKey, Subscriber};
use crate::codec::{QoS, SubscriptionOptions};
use crate::message::Message;
use crate::topic::{RetainedTree, SubscriptionTree};

/// What one subscription grants, packed in four bytes for the trie: bits
/// 0-1 the QoS, bit 2 No Local, bit 3 Retain As Published, bits 4-31 the
/// Subscription Identifier (0: none; identifiers fit in 28 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Grant(u32);

impl Grant {
    const NO_LOCAL: u32 = 1 << 2;
    const RETAIN_AS_PUBLISHED: u32 = 1 << 3;

    /// A grant of `qos` with no MQTT 5 option (3.1.1, local subscriptions).
    pub(crate) const fn qos_only(qos: QoS) -> Grant {
        Grant(qos as u32)
    }

    /// A grant of the options and identifier of an MQTT 5 subscription.
    pub(crate) fn new(options: SubscriptionOptions, identifier: u32) -> Grant {
        let mut bits =
            options.qos as u32 | (identifier.min(crate::codec::MAX_SUBSCRIPTION_IDENTIFIER) << 4);
        if options.no_local {
            bits |= Grant::NO_LOCAL;
        }
        if options.retain_as_published {
            bits |= Grant::RETAIN_AS_PUBLISHED;
        }
        Grant(bits)
    }

    /// The maximum QoS granted.
    #[inline(always)]
    pub(crate) fn qos(self) -> QoS {
        // A table, not a match: read once per delivery, without branches.
        const QOS: [QoS; 4] = [
            QoS::AtMostOnce,
            QoS::AtLeastOnce,
            QoS::ExactlyOnce,
            QoS::ExactlyOnce,
        ];
        QOS[(self.0 & 0b11) as usize]
    }

    /// No Local: the subscriber's own messages are not sent to it.
    pub(crate) fn no_local(self) -> bool {
        self.0 & Grant::NO_LOCAL != 0
    }

    /// Retain As Published: forwarded messages keep their RETAIN flag.
    pub(crate) fn retain_as_published(self) -> bool {
        self.0 & Grant::RETAIN_AS_PUBLISHED != 0
    }

    /// The Subscription Identifier, 0 when none.
    pub(crate) fn identifier(self) -> u32 {
        self.0 >> 4
    }
}

/// One session's share of a PUBLISH: the highest QoS among its matching
/// subscriptions, whether any keeps the RETAIN flag, and the first
/// Subscription Identifier (further ones are in `Matched::extra_ids`).
#[derive(Clone, Copy, Debug)]
pub(super) struct SessionMatch {
    pub(super) key: SessionKey,
    pub(super) qos: QoS,
    pub(super) retain_as_published: bool,
    /// The message goes at `qos` whatever its own (a bridge's link, see
    /// `Session::crosses_at_granted_qos`).
    pub(super) at_granted_qos: bool,
    pub(super) identifier: u32,
}

/// The matches of one PUBLISH: each matching session once, and each
/// matching local subscription.
#[derive(Default)]
pub(super) struct Matched {
    pub(super) sessions: Vec<SessionMatch>,
    /// Subscription Identifiers past a session's first: (its index in
    /// `sessions`, identifier). Empty unless a session matches through
    /// several subscriptions that have one.
    pub(super) extra_ids: Vec<(u32, u32)>,
    pub(super) locals: Vec<(LocalKey, QoS)>,
    /// Shared subscription groups (each reached once: a group is one entry).
    pub(super) shared: Vec<u32>,
}

impl Matched {
    /// Every Subscription Identifier of the session at `index`.
    pub(super) fn identifiers(&self, index: usize) -> impl Iterator<Item = u32> + '_ {
        let first = self.sessions.get(index).map_or(0, |m| m.identifier);
        std::iter::once(first)
            .chain(
                self.extra_ids
                    .iter()
                    .filter(move |(slot, _)| *slot as usize == index)
                    .map(|(_, id)| *id),
            )
            .filter(|&id| id != 0)
    }
}

/// The routing tables.
pub(super) struct Router {
    pub(super) subscriptions: SubscriptionTree<Subscriber, Grant>,
    /// Read freely; changed only through `set_retained` and
    /// `remove_retained`, which keep `retained_bytes`.
    pub(super) retained: RetainedTree<Message>,
    /// The sum of `Message::size` over `retained` (for `$SYS`).
    pub(super) retained_bytes: u64,
    /// Reused between publishes (taken while one is routed).
    /// Boxed: it moves out and back once per PUBLISH, a pointer rather
    /// than four vectors.
    scratch: Option<Box<Matched>>,
    /// Numbers the publishes, so a session matched twice by one is found
    /// in the match list without a hash set (see `Session::match_stamp`).
    stamp: u64,
}

impl Router {
    pub(super) fn new() -> Router {
        Router {
            subscriptions: SubscriptionTree::new(),
            retained: RetainedTree::new(),
            retained_bytes: 0,
            scratch: None,
            stamp: 0,
        }
    }

    /// Sets the retained message of `topic`.
    pub(super) fn set_retained(&mut self, topic: &str, message: Message) {
        self.retained_bytes += message.size() as u64;
        if let Some(old) = self.retained.insert(topic, message) {
            self.retained_bytes -= old.size() as u64;
        }
    }

    /// Removes the retained message of `topic`; whether there was one.
    pub(super) fn remove_retained(&mut self, topic: &str) -> bool {
        match self.retained.remove(topic) {
            Some(old) => {
                self.retained_bytes -= old.size() as u64;
                true
            }
            None => false,
        }
    }

    /// Who `topic` reaches, leaving out the No Local subscriptions of
    /// `origin` (the publishing session). Give the lists back with
    /// [`Router::recycle`].
    pub(super) fn matches(
        &mut self,
        topic: &str,
        sessions: &mut Sessions,
        origin: Option<SessionKey>,
    ) -> Box<Matched> {
        self.stamp += 1;
        let stamp = self.stamp;
        let mut matched = self.scratch.take().unwrap_or_default();
        matched.sessions.clear();
        matched.extra_ids.clear();
        matched.locals.clear();
        matched.shared.clear();
        let Matched {
            sessions: found,
            extra_ids,
            locals,
            shared,
        } = &mut *matched;
        self.subscriptions
            .for_each_match(topic, |subscriber, grant| match subscriber {
                Subscriber::Session(key) => {
                    if grant.no_local() && origin == Some(key) {
                        return;
                    }
                    let Some(session) = sessions.get_mut(key) else {
                        return;
                    };
                    if session.match_stamp == stamp {
                        merge_match(found, extra_ids, session.match_slot, grant);
                    } else {
                        session.match_stamp = stamp;
                        session.match_slot = found.len() as u32;
                        found.push(SessionMatch {
                            key,
                            qos: grant.qos(),
                            retain_as_published: grant.retain_as_published(),
                            at_granted_qos: session.crosses_at_granted_qos,
                            identifier: grant.identifier(),
                        });
                    }
                }
                Subscriber::Local(key) => locals.push((key, grant.qos())),
                Subscriber::Shared(index) => shared.push(index),
            });
        matched
    }

    /// Keeps the lists of a routed publish for the next one.
    pub(super) fn recycle(&mut self, matched: Box<Matched>) {
        self.scratch = Some(matched);
    }
}

/// A session matched again, through another of its subscriptions: the
/// highest QoS, RETAIN kept if any keeps it, identifiers added. Rare (a
/// session with overlapping filters), so kept out of the match loop.
#[cold]
#[inline(never)]
fn merge_match(
    found: &mut [SessionMatch],
    extra_ids: &mut Vec<(u32, u32)>,
    slot: u32,
    grant: Grant,
) {
    if let Some(entry) = found.get_mut(slot as usize) {
        entry.qos = entry.qos.max(grant.qos());
        entry.retain_as_published |= grant.retain_as_published();
        match grant.identifier() {
            0 => {}
            id if entry.identifier == 0 => entry.identifier = id,
            id => extra_ids.push((slot, id)),
        }
    }
}
