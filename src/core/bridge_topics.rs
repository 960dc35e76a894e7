//! How a bridge's topics cross: a local topic going out gets its local
//! prefix replaced by the remote one, a topic coming in the other way round
//! (mosquitto's `topic PATTERN DIRECTION QOS LOCAL-PREFIX REMOTE-PREFIX`).
//!
//! Every message a bridge carries crosses here, so each line's full filter
//! (prefix and pattern) is put together once, when the link is made, and a
//! topic whose prefixes are the same on both sides is not copied.

use crate::bridge::{Bridge, BridgeTopic};
use crate::topic::{is_valid_topic_filter, matches_valid};

/// A bridge's topic lines, ready to map topics in either direction.
#[derive(Debug)]
pub(crate) struct TopicMap {
    outgoing: Vec<Crossing>,
    incoming: Vec<Crossing>,
}

/// One line, one way.
#[derive(Debug)]
struct Crossing {
    /// The prefix a topic has on the side it comes from.
    from: String,
    /// The prefix it gets on the other side.
    to: String,
    /// `from` and the pattern: the filter the topic must match.
    filter: String,
    /// An empty pattern: the line names the prefix alone (mosquitto's `""`).
    prefix_only: bool,
    /// `filter` is valid (as [`Bridge::validate`] made sure): topics are
    /// matched against it without checking it again.
    valid: bool,
}

/// A topic as it crosses.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Crossed {
    /// The same on the other side.
    Same,
    /// This on the other side.
    Renamed(String),
}

impl TopicMap {
    /// The lines of `bridge`, in order, each way.
    pub(crate) fn new(bridge: &Bridge) -> TopicMap {
        let lines = |applies: fn(&BridgeTopic) -> bool, out: bool| -> Vec<Crossing> {
            bridge
                .topics
                .iter()
                .filter(|t| applies(t))
                .map(|t| {
                    let (from, to) = if out {
                        (&t.local_prefix, &t.remote_prefix)
                    } else {
                        (&t.remote_prefix, &t.local_prefix)
                    };
                    let filter = format!("{from}{}", t.pattern);
                    Crossing {
                        from: from.clone(),
                        to: to.clone(),
                        valid: is_valid_topic_filter(&filter),
                        filter,
                        prefix_only: t.pattern.is_empty(),
                    }
                })
                .collect()
        };
        TopicMap {
            outgoing: lines(BridgeTopic::goes_out, true),
            incoming: lines(BridgeTopic::comes_in, false),
        }
    }

    /// The upstream topic of the local topic `local`, by the first `out` /
    /// `both` line whose local filter matches it; `None` when none does.
    pub(crate) fn outgoing(&self, local: &str) -> Option<Crossed> {
        cross(&self.outgoing, local)
    }

    /// The local topic of the upstream topic `remote`, by the first `in` /
    /// `both` line whose remote filter matches it; `None` when none does.
    pub(crate) fn incoming(&self, remote: &str) -> Option<Crossed> {
        cross(&self.incoming, remote)
    }
}

fn cross(lines: &[Crossing], topic: &str) -> Option<Crossed> {
    lines.iter().find_map(|line| {
        let rest = topic.strip_prefix(line.from.as_str())?;
        // `topic` is a valid topic name: it was routed, or came in a PUBLISH.
        let matched = if line.prefix_only {
            rest.is_empty()
        } else {
            line.valid && matches_valid(&line.filter, topic)
        };
        if !matched {
            None
        } else if line.from == line.to {
            Some(Crossed::Same)
        } else {
            let mut crossed = String::with_capacity(line.to.len() + rest.len());
            crossed.push_str(&line.to);
            crossed.push_str(rest);
            Some(Crossed::Renamed(crossed))
        }
    })
}

/// The topic `crossed` names for `topic`.
#[cfg(test)]
fn named(topic: &str, crossed: Option<Crossed>) -> Option<String> {
    crossed.map(|c| match c {
        Crossed::Same => topic.to_string(),
        Crossed::Renamed(t) => t,
    })
}

/// [`TopicMap::outgoing`] as the topic itself.
#[cfg(test)]
fn outgoing(bridge: &Bridge, local: &str) -> Option<String> {
    named(local, TopicMap::new(bridge).outgoing(local))
}

/// [`TopicMap::incoming`] as the topic itself.
#[cfg(test)]
fn incoming(bridge: &Bridge, remote: &str) -> Option<String> {
    named(remote, TopicMap::new(bridge).incoming(remote))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::BridgeDirection;
    use crate::QoS;

    fn bridge(topics: Vec<BridgeTopic>) -> Bridge {
        Bridge::new("b", "localhost", topics)
    }

    fn topic(pattern: &str, direction: BridgeDirection, local: &str, remote: &str) -> BridgeTopic {
        BridgeTopic {
            local_prefix: local.into(),
            remote_prefix: remote.into(),
            ..BridgeTopic::new(pattern, direction, QoS::AtLeastOnce)
        }
    }

    #[test]
    fn prefixes_are_swapped_by_direction() {
        let b = bridge(vec![
            topic("sensors/#", BridgeDirection::Out, "site/", "gw1/"),
            topic("cmd/+", BridgeDirection::In, "local/", "cloud/"),
            topic("both/#", BridgeDirection::Both, "", ""),
        ]);
        assert_eq!(
            outgoing(&b, "site/sensors/t").as_deref(),
            Some("gw1/sensors/t")
        );
        assert_eq!(outgoing(&b, "sensors/t"), None);
        assert_eq!(
            incoming(&b, "cloud/cmd/reboot").as_deref(),
            Some("local/cmd/reboot")
        );
        // An `in` line carries nothing out, and the other way round.
        assert_eq!(outgoing(&b, "local/cmd/reboot"), None);
        assert_eq!(incoming(&b, "gw1/sensors/t"), None);
        assert_eq!(outgoing(&b, "both/x").as_deref(), Some("both/x"));
        assert_eq!(incoming(&b, "both/x").as_deref(), Some("both/x"));
    }

    #[test]
    fn an_empty_pattern_is_the_prefix_alone() {
        let b = bridge(vec![topic("", BridgeDirection::Out, "a/b", "c/d")]);
        assert_eq!(outgoing(&b, "a/b").as_deref(), Some("c/d"));
        assert_eq!(outgoing(&b, "a/b/c"), None);
    }

    #[test]
    fn the_first_matching_line_wins() {
        let b = bridge(vec![
            topic("x/#", BridgeDirection::Out, "", "first/"),
            topic("#", BridgeDirection::Out, "", "second/"),
        ]);
        assert_eq!(outgoing(&b, "x/1").as_deref(), Some("first/x/1"));
        assert_eq!(outgoing(&b, "y").as_deref(), Some("second/y"));
    }
}
