//! Topic matching per MQTT 3.1.1 section 4.7: the spec's examples, filter and
//! name validation, and randomized cross-checks of the two tries against the
//! plain `matches()`.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};

use mqlite::topic::*;
use mqlite::QoS;
use support::Rng;

/// Whether `filter` matches `topic`, asked of `matches()` and of both trees;
/// panics if they disagree.
fn all_agree(filter: &str, topic: &str) -> bool {
    let plain = matches(filter, topic);

    let mut subs = SubscriptionTree::new();
    subs.subscribe(filter, 7u32, QoS::AtLeastOnce);
    let mut hits = Vec::new();
    subs.for_each_match(topic, |k, q| hits.push((k, q)));
    let expected = if plain {
        vec![(7, QoS::AtLeastOnce)]
    } else {
        vec![]
    };
    assert_eq!(hits, expected, "SubscriptionTree: {filter:?} vs {topic:?}");

    let mut retained = RetainedTree::new();
    retained.insert(topic, 1u8);
    let mut seen = Vec::new();
    retained.for_each_match(filter, |t, _| seen.push(t.to_string()));
    let expected: Vec<String> = if plain {
        vec![topic.to_string()]
    } else {
        vec![]
    };
    assert_eq!(seen, expected, "RetainedTree: {filter:?} vs {topic:?}");
    plain
}

#[test]
fn spec_multi_level_wildcard() {
    for topic in [
        "sport/tennis/player1",
        "sport/tennis/player1/ranking",
        "sport/tennis/player1/score/wimbledon",
    ] {
        assert!(all_agree("sport/tennis/player1/#", topic), "{topic}");
    }
    assert!(all_agree("sport/#", "sport"), "# includes the parent level");
    assert!(all_agree("sport/tennis/player1/#", "sport/tennis/player1"));
    assert!(!all_agree("sport/tennis/player1/#", "sport/tennis/player2"));
    assert!(!all_agree("sport/tennis/player1/#", "sport/tennis"));
    assert!(all_agree("#", "sport/tennis/player1"));
    assert!(all_agree("#", "/"));
    assert!(all_agree("#", "a//b"));
    assert!(all_agree("a/#", "a/"));
    assert!(all_agree("a/b/#", "a/b/"));
}

#[test]
fn spec_single_level_wildcard() {
    assert!(all_agree("sport/tennis/+", "sport/tennis/player1"));
    assert!(all_agree("sport/tennis/+", "sport/tennis/player2"));
    assert!(!all_agree("sport/tennis/+", "sport/tennis/player1/ranking"));
    assert!(!all_agree("sport/+", "sport"));
    assert!(all_agree("sport/+", "sport/"), "+ matches an empty level");
    assert!(all_agree("+", "sport"));
    assert!(!all_agree("+", "sport/tennis"));
    assert!(!all_agree("+", "/finance"));
    assert!(all_agree("+/+", "/finance"));
    assert!(all_agree("/+", "/finance"));
    assert!(all_agree("+/tennis/#", "sport/tennis/player1"));
    assert!(all_agree("+/tennis/#", "sport/tennis"));
    assert!(all_agree("sport/+/player1", "sport/tennis/player1"));
    assert!(all_agree("+/+/+", "//"));
}

#[test]
fn spec_empty_levels_and_separators() {
    assert!(all_agree("a//b", "a//b"));
    assert!(!all_agree("a/b", "a//b"));
    assert!(all_agree("a/+/b", "a//b"));
    assert!(
        all_agree("a/", "a/"),
        "a trailing / is a distinct empty level"
    );
    assert!(!all_agree("a", "a/"));
    assert!(!all_agree("a/", "a"));
    assert!(all_agree("/", "/"));
    assert!(!all_agree("/", "a"));
    assert!(all_agree("/finance", "/finance"));
    assert!(!all_agree("finance", "/finance"));
    assert!(!all_agree("ACCOUNTS", "Accounts"), "case sensitive");
    assert!(
        all_agree("Accounts payable", "Accounts payable"),
        "spaces allowed"
    );
    assert!(
        !all_agree("caf\u{e9}", "cafe\u{301}"),
        "no normalization [MQTT-4.7.3-4]"
    );
}

#[test]
fn spec_dollar_topics() {
    assert!(!all_agree("#", "$SYS/broker/uptime"), "[MQTT-4.7.2-1]");
    assert!(!all_agree("#", "$SYS"));
    assert!(!all_agree("+", "$SYS"));
    assert!(!all_agree("+/monitor/Clients", "$SYS/monitor/Clients"));
    assert!(!all_agree("+/#", "$SYS/x"));
    assert!(!all_agree("+", "$"));
    assert!(all_agree("$SYS/#", "$SYS/monitor/Clients"));
    assert!(all_agree("$SYS/#", "$SYS"));
    assert!(all_agree("$SYS/monitor/+", "$SYS/monitor/Clients"));
    assert!(all_agree("$SYS/+/Clients", "$SYS/monitor/Clients"));
    assert!(all_agree("$", "$"));
    assert!(
        all_agree("a/+", "a/$x"),
        "the $ rule applies to the first level only"
    );
    assert!(all_agree("a/#", "a/$x"));
    assert!(all_agree("#", "x$"));
}

#[test]
fn validation() {
    for bad in [
        "sport/tennis#",
        "sport/#/ranking",
        "sport+",
        "",
        "#/",
        "a/b#",
        "+a",
        "a/+b/c",
        "a\0",
    ] {
        assert!(!is_valid_topic_filter(bad), "{bad:?}");
    }
    for ok in [
        "+",
        "#",
        "/",
        "+/tennis/#",
        "sport/#",
        "//",
        "+/+",
        "/+",
        "$SYS/#",
        "a b/c",
    ] {
        assert!(is_valid_topic_filter(ok), "{ok:?}");
    }
    for bad in ["", "a/+", "a/#", "+", "#", "a+b", "a\0b"] {
        assert!(!is_valid_topic_name(bad), "{bad:?}");
    }
    for ok in ["/", "a", "a//b", "/a/", "$SYS/x", " "] {
        assert!(is_valid_topic_name(ok), "{ok:?}");
    }
    assert!(is_valid_topic_name(&"x".repeat(MAX_TOPIC_LEN)));
    assert!(!is_valid_topic_name(&"x".repeat(MAX_TOPIC_LEN + 1)));
    let deepest = "+/".repeat(32_767) + "#";
    assert_eq!(deepest.len(), MAX_TOPIC_LEN);
    assert!(is_valid_topic_filter(&deepest));
    assert!(!is_valid_topic_filter(&"/".repeat(MAX_TOPIC_LEN + 1)));
    // Invalid input never matches and is never stored.
    assert!(!matches("sport/#/ranking", "sport/x/ranking"));
    assert!(!matches("#", "a/+"));
    let mut tree = SubscriptionTree::new();
    assert!(!tree.subscribe("sport/#/ranking", 1u32, QoS::AtMostOnce));
    assert!(!tree.subscribe("", 1u32, QoS::AtMostOnce));
    assert!(tree.is_empty());
    assert_eq!(tree.node_count(), 0);
    assert!(!tree.unsubscribe("sport+", 1));
}

const LEVELS: &[&str] = &["", "a", "b", "$SYS", "$", "c d", "a$"];

/// A random valid topic name (never empty) of levels from `levels`.
fn random_topic(rng: &mut Rng, levels: &[&str]) -> String {
    loop {
        let depth = 1 + rng.below(4);
        let topic = (0..depth)
            .map(|_| rng.pick(levels))
            .collect::<Vec<_>>()
            .join("/");
        if !topic.is_empty() {
            return topic;
        }
    }
}

/// A random valid topic filter of levels from `names` and wildcards.
fn random_filter(rng: &mut Rng, names: &[&str]) -> String {
    let depth = 1 + rng.below(4);
    let mut levels: Vec<&str> = (0..depth)
        .map(|_| {
            if rng.below(3) == 0 {
                "+"
            } else {
                rng.pick(names)
            }
        })
        .collect();
    if rng.below(3) == 0 {
        levels.push("#");
    }
    let filter = levels.join("/");
    if filter.is_empty() {
        "#".to_string()
    } else {
        filter
    }
}

#[test]
fn subscription_tree_agrees_with_matches() {
    agrees_with_matches(LEVELS, 3_000, 0x9E37_79B9_7F4A_7C15);
}

#[test]
fn subscription_tree_with_wide_levels_agrees_with_matches() {
    // Enough distinct levels that trie nodes grow past a small vector into
    // a hash table (and shrink back as filters go), with prefetching of
    // every topic before it is matched, as the broker does.
    let numbers: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let mut levels: Vec<&str> = LEVELS.to_vec();
    levels.extend(numbers.iter().map(String::as_str));
    agrees_with_matches(&levels, 20_000, 0x2545_F491_4F6C_DD1D);
}

/// Random subscribes and unsubscribes of filters over `levels`, checking
/// after some of them that matching a random topic gives what
/// [`matches`] says, then removing everything.
fn agrees_with_matches(levels: &[&str], rounds: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut tree = SubscriptionTree::new();
    // The model: (filter, key) -> qos.
    let mut model: BTreeMap<(String, u32), QoS> = BTreeMap::new();
    let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
    let mut hits = 0;
    for round in 0..rounds {
        let filter = random_filter(&mut rng, levels);
        let key = rng.below(8) as u32;
        if rng.below(3) == 0 {
            let was = model.remove(&(filter.clone(), key)).is_some();
            assert_eq!(
                tree.unsubscribe(&filter, key),
                was,
                "unsubscribe {filter:?} {key}"
            );
        } else {
            let q = qos[rng.below(3)];
            let new = model.insert((filter.clone(), key), q).is_none();
            assert_eq!(
                tree.subscribe(&filter, key, q),
                new,
                "subscribe {filter:?} {key}"
            );
        }
        assert_eq!(tree.len(), model.len());
        if round % 5 == 0 {
            let topic = random_topic(&mut rng, levels);
            tree.prefetch_early(topic.as_bytes());
            tree.prefetch(topic.as_bytes());
            let mut got = Vec::new();
            tree.for_each_match(&topic, |k, q| got.push((k, q)));
            got.sort();
            let mut want: Vec<(u32, QoS)> = model
                .iter()
                .filter(|((f, _), _)| matches(f, &topic))
                .map(|((_, k), q)| (*k, *q))
                .collect();
            want.sort();
            assert_eq!(got, want, "topic {topic:?}");
            hits += got.len();
        }
    }
    assert!(hits > 1_000, "the random cases should match often: {hits}");
    // Removing everything, in random order, leaves no nodes behind.
    let mut rest: Vec<(String, u32)> = model.keys().cloned().collect();
    while !rest.is_empty() {
        let (filter, key) = rest.swap_remove(rng.below(rest.len()));
        assert!(tree.unsubscribe(&filter, key));
    }
    assert!(tree.is_empty());
    assert_eq!(tree.node_count(), 0);
}

#[test]
fn same_filter_many_keys_and_overlaps() {
    let mut tree = SubscriptionTree::new();
    for key in 0..5_000u32 {
        assert!(tree.subscribe("big/filter", key, QoS::AtMostOnce));
    }
    tree.subscribe("big/+", 3, QoS::ExactlyOnce);
    tree.subscribe("big/#", 3, QoS::AtLeastOnce);
    let mut count = 0;
    let mut for_three = Vec::new();
    tree.for_each_match("big/filter", |k, q| {
        count += 1;
        if k == 3 {
            for_three.push(q);
        }
    });
    assert_eq!(count, 5_002, "one call per matching (filter, key) pair");
    for_three.sort();
    assert_eq!(
        for_three,
        vec![QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
    );
    for key in (0..5_000u32).rev() {
        assert!(tree.unsubscribe("big/filter", key));
    }
    assert_eq!(tree.len(), 2);
    // One node, `big`: it holds the `big/+` and `big/#` subscribers.
    assert_eq!(tree.node_count(), 1);
}

#[test]
fn retained_tree_agrees_with_a_map() {
    retained_agrees_with_a_map(LEVELS, 3_000);
}

#[test]
fn retained_tree_with_wide_levels_agrees_with_a_map() {
    let numbers: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let mut levels: Vec<&str> = LEVELS.to_vec();
    levels.extend(numbers.iter().map(String::as_str));
    retained_agrees_with_a_map(&levels, 20_000);
}

/// Random inserts, removals and lookups of topics over `levels` against a
/// map, matching random filters now and then, then removing everything.
fn retained_agrees_with_a_map(levels: &[&str], rounds: u32) {
    let mut rng = Rng::new(0x2545_F491_4F6C_DD1D);
    let mut tree = RetainedTree::new();
    let mut model: BTreeMap<String, u32> = BTreeMap::new();
    let mut hits = 0;
    for round in 0..rounds {
        let topic = random_topic(&mut rng, levels);
        match rng.below(4) {
            0 => assert_eq!(
                tree.remove(&topic),
                model.remove(&topic),
                "remove {topic:?}"
            ),
            1 => assert_eq!(tree.get(&topic), model.get(&topic), "get {topic:?}"),
            _ => assert_eq!(
                tree.insert(&topic, round),
                model.insert(topic.clone(), round)
            ),
        }
        assert_eq!(tree.len(), model.len());
        if round % 5 == 0 {
            let filter = random_filter(&mut rng, levels);
            let mut got = Vec::new();
            tree.for_each_match(&filter, |t, v| got.push((t.to_string(), *v)));
            got.sort();
            let want: Vec<(String, u32)> = model
                .iter()
                .filter(|(t, _)| matches(&filter, t))
                .map(|(t, v)| (t.clone(), *v))
                .collect();
            assert_eq!(got, want, "filter {filter:?}");
            hits += got.len();
        }
    }
    assert!(hits > 1_000, "the random cases should match often: {hits}");
    let mut all = BTreeSet::new();
    tree.for_each(|t, _| assert!(all.insert(t.to_string()), "visited twice: {t:?}"));
    assert_eq!(all, model.keys().cloned().collect());
    for topic in model.keys() {
        assert!(tree.remove(topic).is_some());
    }
    assert!(tree.is_empty());
    let mut left = 0;
    tree.for_each(|_, _| left += 1);
    assert_eq!(left, 0);
}
