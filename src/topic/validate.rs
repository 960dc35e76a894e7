//! Topic name and topic filter validation, and the reference matcher
//! (MQTT 3.1.1 section 4.7).
//!
//! These are the plain, allocation-free definitions. The tries in
//! [`super::SubscriptionTree`] and [`super::RetainedTree`] implement the same
//! matching rules level by level; the tests cross-check them against
//! [`matches`].

/// The largest encoded length of a topic name or filter, in bytes
/// [MQTT-4.7.3-3].
pub const MAX_TOPIC_LEN: usize = 65_535;

/// Whether `name` is a valid topic name, as carried by PUBLISH and wills.
///
/// A topic name is at least one byte long [MQTT-4.7.3-1], at most 65 535
/// bytes [MQTT-4.7.3-3], contains no U+0000 [MQTT-4.7.3-2] and no wildcard
/// character `+` or `#` [MQTT-4.7.1-1]. Empty levels (`a//b`, `/a`, `a/`)
/// and spaces are allowed; names are case sensitive and never normalized.
pub fn is_valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOPIC_LEN
        && !name.bytes().any(|b| matches!(b, b'+' | b'#' | 0))
}

/// Whether `filter` is a valid topic filter, as carried by SUBSCRIBE and
/// UNSUBSCRIBE.
///
/// A filter is at least one byte long [MQTT-4.7.3-1], at most 65 535 bytes
/// [MQTT-4.7.3-3] and contains no U+0000 [MQTT-4.7.3-2]. `#` is allowed only
/// as the whole last level (`#`, `a/#`) [MQTT-4.7.1-2]; `+` only as a whole
/// level (`+`, `a/+/b`) [MQTT-4.7.1-3].
pub fn is_valid_topic_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.len() > MAX_TOPIC_LEN {
        return false;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.len() == 1 && (level == "+" || (level == "#" && levels.peek().is_none())) {
            continue;
        }
        if level.bytes().any(|b| matches!(b, b'+' | b'#' | 0)) {
            return false;
        }
    }
    true
}

/// Whether the topic filter `filter` matches the topic name `topic`.
///
/// Returns `false` unless `filter` is a valid filter and `topic` a valid
/// name. Levels compare byte for byte with no normalization [MQTT-4.7.3-4];
/// `+` matches exactly one level, which may be empty; `#` matches any number
/// of levels including none, so `sport/#` matches `sport`. A filter whose
/// first character is a wildcard (`#`, `+`, `+/...`) never matches a topic
/// name beginning with `$` [MQTT-4.7.2-1].
pub fn matches(filter: &str, topic: &str) -> bool {
    is_valid_topic_filter(filter) && is_valid_topic_name(topic) && matches_valid(filter, topic)
}

/// [`matches`] for a filter and a topic already known to be valid: one
/// pass over the bytes of both, level by level.
pub(crate) fn matches_valid(filter: &str, topic: &str) -> bool {
    let (filter, topic) = (filter.as_bytes(), topic.as_bytes());
    if topic.first() == Some(&b'$') && matches!(filter.first(), Some(b'+' | b'#')) {
        return false;
    }
    let (mut f, mut t) = (0, 0);
    loop {
        // Both at the start of a level.
        match filter.get(f) {
            // Valid filters have `#` only as the whole last level.
            Some(b'#') => return true,
            Some(b'+') => {
                while topic.get(t).is_some_and(|&b| b != b'/') {
                    t += 1;
                }
                f += 1;
            }
            _ => {
                while let Some(&b) = filter.get(f).filter(|&&b| b != b'/') {
                    if topic.get(t) != Some(&b) {
                        return false;
                    }
                    f += 1;
                    t += 1;
                }
                if topic.get(t).is_some_and(|&b| b != b'/') {
                    return false;
                }
            }
        }
        // Both at the end of a level: a separator or the end.
        match (f < filter.len(), t < topic.len()) {
            (false, false) => return true,
            (true, true) => {
                f += 1;
                t += 1;
            }
            // `a/#` matches its parent `a` too.
            (true, false) => return &filter[f..] == b"/#",
            (false, true) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "/", "a/b", "a//b", "/a", "a/", " ", "$SYS/x", "é/ü"] {
            assert!(is_valid_topic_name(ok), "{ok:?}");
        }
        for bad in ["", "a+", "a/#", "+", "#", "a\0b"] {
            assert!(!is_valid_topic_name(bad), "{bad:?}");
        }
        assert!(is_valid_topic_name(&"a".repeat(MAX_TOPIC_LEN)));
        assert!(!is_valid_topic_name(&"a".repeat(MAX_TOPIC_LEN + 1)));
    }

    #[test]
    fn filters() {
        for ok in [
            "+",
            "#",
            "/",
            "+/tennis/#",
            "a/+/b",
            "a//#",
            "/#",
            "+/+",
            "$SYS/#",
        ] {
            assert!(is_valid_topic_filter(ok), "{ok:?}");
        }
        for bad in [
            "",
            "sport/tennis#",
            "sport/#/ranking",
            "sport+",
            "#/",
            "##",
            "++",
            "a/+b",
        ] {
            assert!(!is_valid_topic_filter(bad), "{bad:?}");
        }
        assert!(!is_valid_topic_filter("a/\0"));
        assert!(!is_valid_topic_filter(&"+/".repeat(40_000)));
    }

    #[test]
    fn matching() {
        assert!(matches("sport/#", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(!matches("#", "$SYS/x"));
        assert!(!matches("+/x", "$SYS/x"));
        assert!(matches("$SYS/#", "$SYS/x"));
        assert!(matches("a/+/#", "a/b"));
        assert!(!matches("a/b", "A/b"));
        assert!(!matches("a/+", "a/+"), "wildcards are not valid in names");
    }

    /// The level-by-level reference the byte matcher must agree with.
    fn matches_by_levels(filter: &str, topic: &str) -> bool {
        if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
            return false;
        }
        let mut filter_levels = filter.split('/');
        let mut topic_levels = topic.split('/');
        loop {
            match (filter_levels.next(), topic_levels.next()) {
                (Some("#"), _) => return true,
                (Some("+"), Some(_)) => {}
                (Some(f), Some(t)) if f == t => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }

    #[test]
    fn the_byte_matcher_agrees_with_levels() {
        let parts = ["a", "b", "", "$x", "ab"];
        let wild = ["a", "b", "", "+", "#", "$x", "ab"];
        let mut topics = Vec::new();
        let mut filters = Vec::new();
        for x in parts {
            topics.push(x.to_string());
            for y in parts {
                topics.push(format!("{x}/{y}"));
                for z in parts {
                    topics.push(format!("{x}/{y}/{z}"));
                }
            }
        }
        for x in wild {
            filters.push(x.to_string());
            for y in wild {
                filters.push(format!("{x}/{y}"));
                for z in wild {
                    filters.push(format!("{x}/{y}/{z}"));
                }
            }
        }
        let mut checked = 0;
        for filter in filters.iter().filter(|f| is_valid_topic_filter(f)) {
            for topic in topics.iter().filter(|t| is_valid_topic_name(t)) {
                assert_eq!(
                    matches_valid(filter, topic),
                    matches_by_levels(filter, topic),
                    "{filter:?} {topic:?}"
                );
                checked += 1;
            }
        }
        assert!(checked > 10_000, "{checked}");
    }
}
