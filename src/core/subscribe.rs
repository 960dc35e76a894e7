//! A session's subscriptions, plain or shared: the one place that keeps
//! the session's own list, the trie and the shared groups in step.

use super::router::Grant;
use super::shared::{parse_shared, SharedFilter};
use super::{Core, SessionKey, Subscriber};

impl Core {
    /// Subscribes a session to `filter` (valid, or a valid `$share/...`)
    /// with `grant`; true if the session did not have it.
    pub(super) fn add_subscription(&mut self, key: SessionKey, filter: &str, grant: Grant) -> bool {
        match parse_shared(filter) {
            SharedFilter::Yes { filter: inner, .. } => self.join_shared(filter, inner, key, grant),
            SharedFilter::No => {
                self.router
                    .subscriptions
                    .subscribe(filter, Subscriber::Session(key), grant);
            }
            SharedFilter::Invalid => return false,
        }
        match self.sessions.get_mut(key) {
            Some(session) => session.add_subscription(filter, grant),
            None => false,
        }
    }

    /// Unsubscribes a session from `filter`; true if it had it.
    pub(super) fn remove_subscription(&mut self, key: SessionKey, filter: &str) -> bool {
        self.unroute_subscription(key, filter);
        match self.sessions.get_mut(key) {
            Some(session) => session.remove_subscription(filter),
            None => false,
        }
    }

    /// Takes a session's subscription to `filter` out of the trie or its
    /// shared group, leaving the session's own list as it is (for a session
    /// being removed whole).
    pub(super) fn unroute_subscription(&mut self, key: SessionKey, filter: &str) {
        match parse_shared(filter) {
            SharedFilter::Yes { .. } => {
                self.leave_shared(filter, key);
            }
            SharedFilter::No => {
                self.router
                    .subscriptions
                    .unsubscribe(filter, Subscriber::Session(key));
            }
            SharedFilter::Invalid => {}
        }
    }
}
