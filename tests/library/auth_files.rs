//! mosquitto-compatible ACL files (`mqlite::auth::AclFile`).
//!
//! The ACL decisions in `MOSQUITTO_2_0_11` were recorded from a running
//! mosquitto 2.0.11 with `tests/fixtures/acl_crosscheck.py`. See
//! `tests/fixtures/README.md`. Password files are in
//! `auth_password_file.rs`.

use crate::support;

use mqlite::auth::{Access, AclFile};
use support::auth::{config_reason, fixture};

use Access::{Read, Subscribe, Write};

/// ACL decisions of a real mosquitto 2.0.11 with `tests/fixtures/acl_crosscheck`
/// (recorded by `tests/fixtures/acl_crosscheck.py`): access, client id,
/// username, topic, whether mosquitto allowed it. Read and Write were
/// observed as messages flowing or not; Subscribe as the SUBACK code.
const MOSQUITTO_2_0_11: &[(Access, &str, Option<&str>, &str, bool)] = &[
    (Read, "anon1", None, "public/news", true),
    (Write, "anon1", None, "public/news", false),
    (Read, "anon1", None, "public/private/x", false),
    (Read, "anon1", None, "sandbox/a", true),
    (Write, "anon1", None, "sandbox/a", true),
    (Write, "anon1", None, "sandbox/a/b", false),
    (Read, "anon1", None, "devices/anon1/temp", true),
    (Write, "anon1", None, "devices/anon1/temp", true),
    (Read, "anon1", None, "devices/anon1/locked", false),
    (Read, "anon1", None, "devices/other/temp", false),
    (Read, "anon1", None, "inbox/%u", false),
    (Read, "anon1", None, "global/news", true),
    (Write, "anon1", None, "global/news", false),
    (Read, "anon1", None, "$SYS/broker/version", true),
    (Write, "anon1", None, "$SYS/foo", false),
    (Read, "alice-1", Some("alice"), "anything/else", true),
    (Write, "alice-1", Some("alice"), "anything/else", true),
    (Read, "alice-1", Some("alice"), "secret/plans", false),
    (Write, "alice-1", Some("alice"), "secret/plans", false),
    (Read, "alice-1", Some("alice"), "secret", false),
    (Write, "alice-1", Some("alice"), "alerts/alice", true),
    (Read, "alice-1", Some("alice"), "extra/alice", true),
    (
        Read,
        "alice-1",
        Some("alice"),
        "devices/alice-1/locked",
        true,
    ),
    (Read, "alice-1", Some("alice"), "$SYS/broker/version", false),
    (Subscribe, "alice-1", Some("alice"), "#", true),
    (Subscribe, "alice-1", Some("alice"), "secret/#", true),
    (Subscribe, "anon1", None, "nothing/granted/#", true),
    (
        Read,
        "bob-1",
        Some("bob"),
        "sensors/kitchen/temperature",
        true,
    ),
    (
        Write,
        "bob-1",
        Some("bob"),
        "sensors/kitchen/temperature",
        false,
    ),
    (Write, "bob-1", Some("bob"), "sensors/bob/a/b", true),
    (Read, "bob-1", Some("bob"), "sensors/bob/a", false),
    (Read, "bob-1", Some("bob"), "inbox/bob", true),
    (Read, "bob-1", Some("bob"), "inbox/alice", false),
    (Write, "bob-1", Some("bob"), "outbox/bob/x", true),
    (Read, "bob-1", Some("bob"), "devices/bob-1/x", true),
    (Read, "bob-1", Some("bob"), "devices/bob-1/locked", false),
    (Read, "bob-1", Some("bob"), "room with spaces/1", true),
    (Write, "bob-1", Some("bob"), "room with spaces/1", true),
    (Read, "bob-1", Some("bob"), "public/news", false),
    (Read, "eve", Some("eve smith"), "inbox/eve smith", true),
    (Read, "eve", Some("eve smith"), "public/news", false),
    (Read, "hand-1", Some("hand"), "global/news", true),
    (Read, "hand-1", Some("hand"), "public/news", false),
    (Read, "dev+1", Some("bob"), "global/news", false),
    (Read, "dev+1", Some("bob"), "sensors/x/temperature", true),
    (Read, "a/b", None, "devices/a/b/x", true),
    (Read, "a/b", None, "global/news", true),
];

/// Where mqlite deliberately refuses what mosquitto 2.0.11 allows: a `%c`
/// pattern does not grant through a client id containing `/` (mosquitto 1.x
/// refused such clients; 2.0 dropped the check); a subscription whose every
/// topic is denied is refused (mosquitto grants it and delivers nothing).
const DIVERGENCES: &[(&str, &str)] = &[("a/b", "devices/a/b/x"), ("alice-1", "secret/#")];

#[test]
fn acl_decisions_match_mosquitto_2_0_11() {
    let acl = AclFile::load(&fixture("acl_crosscheck")).unwrap();
    for &(access, client_id, username, topic, mosquitto) in MOSQUITTO_2_0_11 {
        let expected = mosquitto != DIVERGENCES.contains(&(client_id, topic));
        assert_eq!(
            acl.check(client_id, username, topic, access),
            expected,
            "{access:?} {client_id:?} {username:?} {topic:?}"
        );
    }
}

/// `aclfile.example` as shipped with mosquitto.
const MOSQUITTO_EXAMPLE: &str = "\
# This affects access control for clients with no username.
topic read $SYS/#

# This only affects clients with username \"roger\".
user roger
topic foo/bar

# This affects all clients.
pattern write $SYS/broker/connection/%c/state
";

#[test]
fn mosquitto_example_acl() {
    let acl = AclFile::parse(MOSQUITTO_EXAMPLE, "aclfile.example").unwrap();
    // Anonymous clients may read $SYS, nothing else.
    assert!(acl.check("anon", None, "$SYS/broker/uptime", Read));
    assert!(!acl.check("anon", None, "$SYS/broker/uptime", Write));
    assert!(!acl.check("anon", None, "foo/bar", Read));
    // roger: readwrite on foo/bar only; the anonymous lines are not his.
    assert!(acl.check("c1", Some("roger"), "foo/bar", Read));
    assert!(acl.check("c1", Some("roger"), "foo/bar", Write));
    assert!(!acl.check("c1", Some("roger"), "foo/bar/baz", Read));
    assert!(!acl.check("c1", Some("roger"), "foo", Write));
    assert!(!acl.check("c1", Some("roger"), "$SYS/broker/uptime", Read));
    // The pattern, for everyone: a bridge's own state topic.
    for user in [None, Some("roger"), Some("other")] {
        assert!(acl.check("br1", user, "$SYS/broker/connection/br1/state", Write));
        assert!(!acl.check("br1", user, "$SYS/broker/connection/br2/state", Write));
        // The pattern grants write only; anonymous clients read all of $SYS.
        assert_eq!(
            acl.check("br1", user, "$SYS/broker/connection/br1/state", Read),
            user.is_none()
        );
    }
    assert!(!acl.check("x", Some("other"), "foo/bar", Read));
}

#[test]
fn deny_pattern_refuses_a_subscription_only_where_nothing_grants_read() {
    let acl = AclFile::parse(
        "user op\ntopic read devices/+/locked\n\
         pattern deny devices/%c/locked\npattern readwrite devices/%c/#\n",
        "acl",
    )
    .unwrap();
    assert!(!acl.check("c1", None, "devices/c1/locked", Subscribe));
    assert!(acl.check("c1", None, "devices/c1/#", Subscribe));
    assert!(acl.check("c1", None, "devices/c2/locked", Subscribe));
    // The user's own line grants the read the pattern would deny.
    assert!(acl.check("c1", Some("op"), "devices/c1/locked", Subscribe));
    assert!(acl.check("c1", Some("op"), "devices/c1/locked", Read));
}

#[test]
fn hash_subscriber_receives_all_but_denied_topics() {
    let acl = AclFile::parse(
        "user alice\ntopic readwrite #\ntopic deny secret/#\n",
        "acl",
    )
    .unwrap();
    // `#` is granted and each message filtered, as in mosquitto 2.0; a
    // filter holding only denied topics is refused (mosquitto grants it
    // and delivers nothing through it).
    assert!(acl.check("a", Some("alice"), "#", Subscribe));
    assert!(acl.check("a", Some("alice"), "+/plans", Subscribe));
    for filter in ["secret/#", "secret/+", "secret", "secret/a/+/b"] {
        assert!(
            !acl.check("a", Some("alice"), filter, Subscribe),
            "{filter}"
        );
    }
    for topic in ["news", "a/b/c", "/", "secretive", "x/secret/y"] {
        assert!(acl.check("a", Some("alice"), topic, Read), "{topic}");
        assert!(acl.check("a", Some("alice"), topic, Write), "{topic}");
    }
    for topic in ["secret", "secret/", "secret/plans", "secret/a/b"] {
        assert!(!acl.check("a", Some("alice"), topic, Read), "{topic}");
        assert!(!acl.check("a", Some("alice"), topic, Write), "{topic}");
    }
    // `#` does not reach $ topics.
    assert!(!acl.check("a", Some("alice"), "$SYS/broker/uptime", Read));
}

#[test]
fn wildcard_acl_topics() {
    let acl = AclFile::parse(
        "topic read sport/+/score\n\
         topic write sport/tennis/#\n\
         topic read +/news\n\
         topic read $SYS/+/load\n\
         topic read /+\n",
        "acl",
    )
    .unwrap();
    let read = |t: &str| acl.check("c", None, t, Read);
    let write = |t: &str| acl.check("c", None, t, Write);
    assert!(read("sport/tennis/score") && read("sport//score"));
    assert!(!read("sport/tennis/score/x") && !read("sport/score"));
    assert!(write("sport/tennis") && write("sport/tennis/player1/ranking"));
    assert!(!write("sport/golf") && !read("sport/tennis"));
    assert!(read("world/news") && read("/news"));
    assert!(
        !read("$SYS/news"),
        "a leading wildcard never matches a $ topic"
    );
    assert!(read("$SYS/broker/load") && !read("$SYS/broker/load/1"));
    assert!(read("/x") && !read("x"));
    // Wildcards in the checked topic are not names: no match.
    assert!(!read("sport/+/score"));
    assert!(!acl.check("c", None, "sport/+/score", Write));
}

#[test]
fn deny_wins_over_grants_in_the_same_list_whatever_the_order() {
    let acl = AclFile::parse(
        "topic readwrite a/#\ntopic deny a/private/#\n\
         user u\ntopic deny b/+/x\ntopic read b/#\ntopic write b/#\n\
         pattern readwrite p/%c/#\npattern deny p/%c/locked\n",
        "acl",
    )
    .unwrap();
    assert!(acl.check("c", None, "a/public", Write));
    assert!(!acl.check("c", None, "a/private/y", Read));
    assert!(!acl.check("c", None, "a/private", Write));
    assert!(acl.check("c", Some("u"), "b/1/y", Read));
    assert!(acl.check("c", Some("u"), "b/1/y", Write));
    assert!(!acl.check("c", Some("u"), "b/1/x", Read));
    assert!(!acl.check("c", Some("u"), "b/1/x", Write));
    assert!(acl.check("c", Some("u"), "p/c/anything", Read));
    assert!(!acl.check("c", Some("u"), "p/c/locked", Read));
    assert!(!acl.check("c", None, "p/c/locked", Write));
}

#[test]
fn own_topic_grant_wins_over_a_deny_pattern() {
    let acl = AclFile::parse(
        "user admin\ntopic readwrite #\npattern deny #\npattern read shared/#\n",
        "acl",
    )
    .unwrap();
    assert!(acl.check("c", Some("admin"), "anything", Write));
    assert!(
        !acl.check("c", Some("other"), "shared/x", Read),
        "deny pattern first"
    );
    assert!(!acl.check("c", None, "shared/x", Read));
}

#[test]
fn sections_are_per_user_and_add_up() {
    let acl = AclFile::parse(
        "topic read anon/#\n\
         user alice\ntopic read alice/1\n\
         user bob smith\ntopic read bob/#\n\
         user alice\ntopic write alice/2\n",
        "acl",
    )
    .unwrap();
    assert!(acl.check("c", None, "anon/x", Read));
    assert!(
        !acl.check("c", Some("alice"), "anon/x", Read),
        "anonymous lines are not a user's"
    );
    assert!(
        !acl.check("c", Some(""), "anon/x", Read),
        "an empty username is a username"
    );
    assert!(acl.check("c", Some("alice"), "alice/1", Read));
    assert!(acl.check("c", Some("alice"), "alice/2", Write));
    assert!(!acl.check("c", Some("alice"), "alice/2", Read));
    assert!(acl.check("c", Some("bob smith"), "bob/x", Read));
    assert!(!acl.check("c", Some("bob"), "bob/x", Read));
    assert!(!acl.check("c", None, "alice/1", Read));
}

#[test]
fn no_matching_rule_denies() {
    let empty = AclFile::parse("# nothing granted\n\n", "acl").unwrap();
    assert!(!empty.check("c", None, "a", Read));
    assert!(!empty.check("c", Some("u"), "a", Write));
    assert!(empty.check("c", Some("u"), "a/#", Subscribe));
    let acl = AclFile::parse("user u\ntopic read a\npattern read %c/in\n", "acl").unwrap();
    assert!(
        !acl.check("c", Some("u"), "a", Write),
        "read does not grant write"
    );
    assert!(!acl.check("c", Some("u"), "b", Read));
    assert!(!acl.check("c", Some("nobody"), "a", Read));
    assert!(acl.check("c", Some("nobody"), "c/in", Read));
    assert!(!acl.check("c", Some("nobody"), "c/in", Write));
}

#[test]
fn patterns_substitute_client_id_and_username() {
    let acl = AclFile::parse(
        "pattern readwrite users/%u/#\n\
         pattern read clients/%c\n\
         pattern read mixed/%c/%u\n\
         pattern read lit/%x/%\n\
         pattern read joined/%c-%u\n",
        "acl",
    )
    .unwrap();
    assert!(acl.check("id1", Some("ann"), "users/ann/x", Write));
    assert!(acl.check("id1", Some("ann"), "users/ann", Read));
    assert!(!acl.check("id1", Some("ann"), "users/bob/x", Read));
    assert!(acl.check("id1", Some("ann"), "clients/id1", Read));
    assert!(!acl.check("id1", Some("ann"), "clients/id2", Read));
    assert!(acl.check("id1", Some("ann"), "mixed/id1/ann", Read));
    assert!(
        acl.check("id1", Some("ann"), "joined/id1-ann", Read),
        "substituted inside a level"
    );
    assert!(
        acl.check("id1", None, "lit/%x/%", Read),
        "other % sequences are literal"
    );
    // A %u pattern never applies to an anonymous client, even literally.
    assert!(!acl.check("id1", None, "users/%u/x", Read));
    assert!(!acl.check("id1", None, "mixed/id1/%u", Read));
    assert!(acl.check("id1", None, "clients/id1", Read));
    // An empty username substitutes as empty.
    assert!(acl.check("id1", Some(""), "users//x", Read));
}

#[test]
fn dangerous_client_ids_and_usernames() {
    let acl = AclFile::parse(
        "user u\ntopic read own/#\n\
         pattern read dev/%c/#\npattern read inbox/%u\npattern read global/#\n\
         pattern deny global/%c/#\n",
        "acl",
    )
    .unwrap();
    // `+` or `#` in the client id or username: no pattern applies at all
    // (mosquitto logs "ACL denying access to client with dangerous ...").
    for (id, user) in [
        ("a+", Some("u")),
        ("a#", None),
        ("ok", Some("u#")),
        ("ok", Some("+")),
    ] {
        assert!(!acl.check(id, user, "global/news", Read), "{id} {user:?}");
    }
    // ... but the client's own topic lines still do.
    assert!(acl.check("a+", Some("u"), "own/x", Read));
    // `/`: a pattern does not grant through the value containing it ...
    assert!(!acl.check("a/b", None, "dev/a/b/x", Read));
    assert!(!acl.check("c", Some("x/y"), "inbox/x/y", Read));
    // ... other patterns still grant ...
    assert!(acl.check("a/b", Some("x/y"), "global/news", Read));
    assert!(acl.check("a", None, "dev/a/b/x", Read));
    // ... and deny patterns still refuse.
    assert!(!acl.check("a/b", None, "global/a/b/x", Read));
    assert!(acl.check("a/b", None, "global/a/x", Read));
}

#[test]
fn acl_line_syntax_quirks_follow_mosquitto() {
    let acl = AclFile::parse(
        "topic read\r\n\
         topic  readwrite   room with spaces/+  \r\n\
         topic write\tabs\n\
         \x20 topic deny x\n\
         pattern read\n\
         user   alice smith  \n\
         topic read $SYS/#\n",
        "acl",
    )
    .unwrap();
    // `topic read`: one word, so a readwrite grant on the topic `read`.
    assert!(acl.check("c", None, "read", Write));
    assert!(acl.check("c", None, "room with spaces/1", Write));
    // The tab is part of the topic.
    assert!(acl.check("c", None, "write\tabs", Write));
    assert!(!acl.check("c", None, "x", Read));
    // `pattern read`: readwrite on the pattern `read`, for everyone.
    assert!(acl.check("c", Some("alice smith"), "read", Write));
    assert!(acl.check("c", Some("alice smith"), "$SYS/broker/load", Read));
}

#[test]
fn invalid_acl_lines_name_file_and_line() {
    let cases = [
        ("frob x", "unknown keyword `frob`"),
        ("Topic read a", "unknown keyword `Topic`"),
        ("  # indented comment", "unknown keyword `#`"),
        ("\ttopic read a", "unknown keyword `\ttopic`"),
        ("topic\tread a", "unknown keyword `topic\tread`"),
        ("topic", "missing topic after `topic`"),
        ("pattern   ", "missing topic after `pattern`"),
        ("topic READ a", "invalid access `READ`"),
        ("topic room with spaces", "invalid access `room`"),
        ("topic read a/#/b", "invalid topic filter `a/#/b`"),
        ("pattern write a+", "invalid topic filter `a+`"),
        ("topic deny #/x", "invalid topic filter `#/x`"),
        ("user", "missing username after `user`"),
        ("user    ", "missing username after `user`"),
    ];
    for (bad, expected) in cases {
        let text = format!("# acl\ntopic read a\n\n{bad}\ntopic read b\n");
        let reason = config_reason(AclFile::parse(&text, "conf/acl"), "acl_file");
        assert!(reason.starts_with("conf/acl:4: "), "{bad:?}: {reason}");
        assert!(reason.contains(expected), "{bad:?}: {reason}");
    }
}

#[test]
fn missing_acl_file_is_a_config_error() {
    let reason = config_reason(AclFile::load(&fixture("no_such_acl")), "acl_file");
    assert!(reason.contains("no_such_acl"), "{reason}");
}
