//! Topic names and filters: validation, the subscription trie, the retained tree.
//!
//! Implements MQTT 3.1.1 section 4.7. [`matches()`] is the plain definition of
//! filter matching; [`SubscriptionTree`] (filters to subscribers, for routing
//! PUBLISH) and [`RetainedTree`] (topic names to retained messages, for
//! SUBSCRIBE) implement the same rules: the retained tree and the wildcard
//! filters as tries of topic levels, wildcard-free filters as a hash index
//! of whole topics.

mod children;
mod exact;
mod prefetch;
mod relations;
mod retained;
mod stack;
mod sublist;
mod subscriptions;
mod topic_key;
mod validate;

pub use prefetch::CAN_PREFETCH;
pub use relations::{covers, overlaps};
pub use retained::RetainedTree;
pub use subscriptions::SubscriptionTree;
pub(crate) use validate::matches_valid;
pub use validate::{is_valid_topic_filter, is_valid_topic_name, matches, MAX_TOPIC_LEN};
