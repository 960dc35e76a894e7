//! How a bridge's topics cross: a local topic going out gets its local
//! prefix replaced by the remote one, a topic coming in the other way round
//! (mosquitto's `topic PATTERN DIRECTION QOS LOCAL-PREFIX REMOTE-PREFIX`).

use crate::bridge::{Bridge, BridgeTopic};
use crate::topic::matches;

/// The upstream topic of the local topic `local`, by the first `out` /
/// `both` line whose local filter matches it; `None` when none does.
pub(crate) fn outgoing(bridge: &Bridge, local: &str) -> Option<String> {
    cross(bridge, local, BridgeTopic::goes_out, |t| {
        (&t.local_prefix, &t.remote_prefix)
    })
}

/// The local topic of the upstream topic `remote`, by the first `in` /
/// `both` line whose remote filter matches it; `None` when none does.
pub(crate) fn incoming(bridge: &Bridge, remote: &str) -> Option<String> {
    cross(bridge, remote, BridgeTopic::comes_in, |t| {
        (&t.remote_prefix, &t.local_prefix)
    })
}

fn cross(
    bridge: &Bridge,
    topic: &str,
    applies: fn(&BridgeTopic) -> bool,
    prefixes: fn(&BridgeTopic) -> (&String, &String),
) -> Option<String> {
    bridge.topics.iter().filter(|t| applies(t)).find_map(|t| {
        let (from, to) = prefixes(t);
        let rest = topic.strip_prefix(from.as_str())?;
        let filter = format!("{from}{}", t.pattern);
        // An empty pattern names the prefix alone (mosquitto's `""`).
        let matched = if t.pattern.is_empty() {
            rest.is_empty()
        } else {
            matches(&filter, topic)
        };
        matched.then(|| format!("{to}{rest}"))
    })
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
