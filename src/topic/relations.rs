//! Relations between two topic filters, decided from their levels alone:
//! whether one holds every topic the other matches ([`covers`]) and whether
//! some topic matches both ([`overlaps`]). The ACL file uses them to judge a
//! SUBSCRIBE before any message exists.

/// Whether every topic name `inner` matches is also matched by `outer`.
///
/// Both must be valid filters (otherwise the answer means nothing). `#`
/// covers its parent level (`a/#` covers `a`), `+` covers any one level,
/// and a filter starting with a wildcard covers no filter naming a `$`
/// topic (it matches no such topic [MQTT-4.7.2-1]).
pub fn covers(outer: &str, inner: &str) -> bool {
    if inner.starts_with('$') && outer.starts_with(['+', '#']) {
        return false;
    }
    let mut outer_levels = outer.split('/');
    let mut inner_levels = inner.split('/');
    loop {
        match (outer_levels.next(), inner_levels.next()) {
            (Some("#"), _) => return true,
            (Some(_), Some("#")) => return false,
            (Some("+"), Some(_)) => {}
            (Some(o), Some(i)) if o == i && i != "+" => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether some topic name is matched by both `a` and `b` (valid filters).
pub fn overlaps(a: &str, b: &str) -> bool {
    let wild_first = |f: &str| f.starts_with(['+', '#']);
    if (wild_first(a) && b.starts_with('$')) || (wild_first(b) && a.starts_with('$')) {
        return false;
    }
    let mut a_levels = a.split('/');
    let mut b_levels = b.split('/');
    loop {
        match (a_levels.next(), b_levels.next()) {
            (Some("#"), _) | (_, Some("#")) => return true,
            (Some(x), Some(y)) if x == "+" || y == "+" || x == y => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic::matches;

    const FILTERS: &[&str] = &[
        "#", "+", "+/+", "+/#", "a", "a/#", "a/+", "a/b", "a/b/#", "a/+/c", "b", "b/+", "$SYS/#",
        "$SYS/+", "$SYS", "+/b", "/#", "/", "a/b/c",
    ];
    const TOPICS: &[&str] = &[
        "a", "b", "a/b", "a/c", "a/b/c", "a/x/c", "b/b", "$SYS", "$SYS/x", "$SYS/x/y", "/", "/a",
        "", "x/b", "a/b/c/d", "a/",
    ];

    /// Both relations agree with `matches` over a sample of topics wherever
    /// the sample can tell (a missing witness does not refute `overlaps`).
    #[test]
    fn relations_agree_with_matching() {
        for outer in FILTERS {
            for inner in FILTERS {
                let both = |t: &&&str| matches(outer, t) && matches(inner, t);
                if TOPICS
                    .iter()
                    .any(|t| matches(inner, t) && !matches(outer, t))
                {
                    assert!(!covers(outer, inner), "{outer} covers {inner}");
                }
                if covers(outer, inner) {
                    for t in TOPICS.iter().filter(|t| matches(inner, t)) {
                        assert!(matches(outer, t), "{outer} {inner} {t}");
                    }
                }
                if TOPICS.iter().any(|t| both(&t)) {
                    assert!(overlaps(outer, inner), "{outer} overlaps {inner}");
                }
                assert_eq!(overlaps(outer, inner), overlaps(inner, outer));
            }
        }
    }

    #[test]
    fn examples() {
        assert!(covers("a/#", "a"));
        assert!(covers("a/#", "a/+/c"));
        assert!(covers("+/+", "a/+"));
        assert!(!covers("a/+", "a/#"));
        assert!(!covers("a/b", "a/+"));
        assert!(!covers("#", "$SYS/#"));
        assert!(covers("#", "+/x"));
        assert!(covers("$SYS/#", "$SYS/+"));
        assert!(overlaps("a/+", "+/b"));
        assert!(overlaps("a", "a/#"));
        assert!(!overlaps("a/b", "a/c"));
        assert!(!overlaps("#", "$SYS/x"));
        assert!(!overlaps("a/+", "a"));
    }
}
