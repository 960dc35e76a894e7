//! What routing reads: the subscriptions, the retained messages, and the
//! scratch lists one PUBLISH's matches are gathered in.

use super::local::LocalKey;
use super::sessions::Sessions;
use super::{SessionKey, Subscriber};
use crate::codec::QoS;
use crate::message::Message;
use crate::topic::{RetainedTree, SubscriptionTree};

/// The matches of one PUBLISH: each matching session once, at the highest
/// QoS among its matching filters, and each matching local subscription.
#[derive(Default)]
pub(super) struct Matched {
    pub(super) sessions: Vec<(SessionKey, QoS)>,
    pub(super) locals: Vec<(LocalKey, QoS)>,
}

/// The routing tables.
pub(super) struct Router {
    pub(super) subscriptions: SubscriptionTree<Subscriber>,
    pub(super) retained: RetainedTree<Message>,
    /// Reused between publishes (taken while one is routed).
    scratch: Matched,
    /// Numbers the publishes, so a session matched twice by one is found
    /// in the match list without a hash set (see `Session::match_stamp`).
    stamp: u64,
}

impl Router {
    pub(super) fn new() -> Router {
        Router {
            subscriptions: SubscriptionTree::new(),
            retained: RetainedTree::new(),
            scratch: Matched::default(),
            stamp: 0,
        }
    }

    /// Who `topic` reaches. Give the lists back with [`Router::recycle`].
    pub(super) fn matches(&mut self, topic: &str, sessions: &mut Sessions) -> Matched {
        self.stamp += 1;
        let stamp = self.stamp;
        let mut matched = std::mem::take(&mut self.scratch);
        matched.sessions.clear();
        matched.locals.clear();
        let Matched {
            sessions: found,
            locals,
        } = &mut matched;
        self.subscriptions
            .for_each_match(topic, |subscriber, qos| match subscriber {
                Subscriber::Session(key) => {
                    let Some(session) = sessions.get_mut(key) else {
                        return;
                    };
                    if session.match_stamp == stamp {
                        if let Some(entry) = found.get_mut(session.match_slot as usize) {
                            entry.1 = entry.1.max(qos);
                        }
                    } else {
                        session.match_stamp = stamp;
                        session.match_slot = found.len() as u32;
                        found.push((key, qos));
                    }
                }
                Subscriber::Local(key) => locals.push((key, qos)),
            });
        matched
    }

    /// Keeps the lists of a routed publish for the next one.
    pub(super) fn recycle(&mut self, matched: Matched) {
        self.scratch = matched;
    }
}
