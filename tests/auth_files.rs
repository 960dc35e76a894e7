//! mosquitto-compatible password and ACL files (`mqlite::auth`).
//!
//! The password fixtures in `tests/fixtures/passwd_*` are real
//! `mosquitto_passwd` 2.0.11 output (and one `$6$` line computed by hand); the
//! ACL decisions in `MOSQUITTO_2_0_11` were recorded from a running
//! mosquitto 2.0.11 with `tests/fixtures/acl_crosscheck.py`. See
//! `tests/fixtures/README.md`.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use mqlite::auth::{hash_password_pbkdf2, Access, AclFile, PasswordFile, DEFAULT_ITERATIONS};
use mqlite::Error;

use Access::{Read, Subscribe, Write};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The `reason` of a `Config` error for `field`, or a panic.
fn config_reason(result: Result<impl std::fmt::Debug, Error>, field: &str) -> String {
    match result {
        Err(Error::Config { field: f, reason }) if f == field => reason,
        other => panic!("expected a Config error for {field}, got {other:?}"),
    }
}

/// The users of the fixtures and their passwords.
const PASSWORDS: &[(&str, &str)] = &[
    ("admin", "admin-pass"),
    ("alice", "wonderland"),
    ("bob", "correct horse battery staple"),
    ("carol", "pässwörd:with:colons"),
    ("dave", "slow"),
    ("eve smith", "x"),
    ("hand", "made by hand"),
];

fn password_of(user: &str) -> &'static str {
    PASSWORDS
        .iter()
        .find(|(u, _)| *u == user)
        .map(|(_, p)| *p)
        .unwrap_or_else(|| panic!("no password for {user}"))
}

fn assert_users(file: &PasswordFile, users: &[&str]) {
    assert_eq!(file.len(), users.len(), "{file:?}");
    for user in users {
        let password = password_of(user);
        assert!(
            file.check(user, password.as_bytes()),
            "{user} with the right password"
        );
        assert!(!file.check(user, b"wrong"), "{user} with a wrong password");
        assert!(!file.check(user, b""), "{user} with an empty password");
        let mut longer = password.as_bytes().to_vec();
        longer.push(b'!');
        assert!(!file.check(user, &longer), "{user} with a longer password");
        assert!(
            !file.check(user, &password.as_bytes()[1..]),
            "{user} with a shorter password"
        );
    }
    // Another user's password, an unknown user, usernames are exact.
    assert!(!file.check(users[0], password_of(users[1]).as_bytes()));
    assert!(!file.check("mallory", b"wonderland"));
    assert!(!file.check("", b""));
    assert!(!file.check(&users[0].to_uppercase(), password_of(users[0]).as_bytes()));
    assert!(!file.check(&format!(" {}", users[0]), password_of(users[0]).as_bytes()));
}

#[test]
fn mosquitto_passwd_pbkdf2_fixture() {
    let file = PasswordFile::load(&fixture("passwd_pbkdf2")).unwrap();
    assert_users(&file, &["alice", "bob", "carol", "dave", "eve smith"]);
}

#[test]
fn mosquitto_passwd_sha512_fixture() {
    let file = PasswordFile::load(&fixture("passwd_sha512")).unwrap();
    assert_users(&file, &["alice", "bob", "hand"]);
}

#[test]
fn mixed_fixture_with_comments_and_blank_lines() {
    let file = PasswordFile::load(&fixture("passwd_mixed")).unwrap();
    assert_users(&file, &["admin", "alice", "bob", "hand", "eve smith"]);
    assert!(file.contains("eve smith") && !file.contains("eve"));
}

/// `hash_password_pbkdf2` reproduces `mosquitto_passwd`'s lines byte for
/// byte given the same salt, including a non-default iteration count.
#[test]
fn hash_password_pbkdf2_matches_mosquitto_passwd() {
    let text = std::fs::read_to_string(fixture("passwd_pbkdf2")).unwrap();
    for line in text.lines() {
        let (user, hash) = line.split_once(':').unwrap();
        let fields: Vec<&str> = hash.split('$').collect();
        let iterations: NonZeroU32 = fields[2].parse().unwrap();
        let salt: [u8; 12] = base64::engine::general_purpose::STANDARD
            .decode(fields[3])
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(
            hash_password_pbkdf2(password_of(user).as_bytes(), &salt, iterations),
            hash,
            "{user}"
        );
    }
}

#[test]
fn hash_password_pbkdf2_round_trips() {
    let salt = *b"0123456789ab";
    let hash = hash_password_pbkdf2(b"s3cret", &salt, DEFAULT_ITERATIONS);
    assert!(hash.starts_with("$7$101$MDEyMzQ1Njc4OWFi$"), "{hash}");
    assert!(
        hash.ends_with("=="),
        "64 bytes of base64 end with padding: {hash}"
    );
    let file = PasswordFile::parse(&format!("user:{hash}\n"), "generated").unwrap();
    assert!(file.check("user", b"s3cret"));
    assert!(!file.check("user", b"s3cret\0x"));
    // PBKDF2 keys HMAC with the password, and HMAC pads short keys with
    // zeros: trailing NULs do not change a `$7$` hash (in OpenSSL either).
    assert!(file.check("user", b"s3cret\0"));
    // Binary passwords are hashed as they are.
    let binary = [0xff, 0x00, 0x10];
    let hash = hash_password_pbkdf2(&binary, &salt, NonZeroU32::new(3).unwrap());
    let file = PasswordFile::parse(&format!("bin:{hash}"), "generated").unwrap();
    assert!(file.check("bin", &binary));
    assert!(!file.check("bin", &binary[..1]));
}

#[test]
fn password_lines_are_trimmed_and_the_last_duplicate_wins() {
    let alice = std::fs::read_to_string(fixture("passwd_pbkdf2")).unwrap();
    let alice = alice.lines().next().unwrap().split_once(':').unwrap().1;
    let other = hash_password_pbkdf2(b"other", b"saltsaltsalt", DEFAULT_ITERATIONS);
    let text = format!(
        "# comment\r\n\r\n   \t\r\n  alice  :  {alice}  \r\ntwice:{alice}\ntwice:{other}\n"
    );
    let file = PasswordFile::parse(&text, "crlf").unwrap();
    assert_eq!(file.len(), 2);
    assert!(file.check("alice", b"wonderland"));
    // mosquitto 2.0.11 accepts only the last line's password for a
    // duplicated username (checked by hand).
    assert!(file.check("twice", b"other"));
    assert!(!file.check("twice", b"wonderland"));
    assert!(PasswordFile::parse("", "empty").unwrap().is_empty());
}

#[test]
fn password_file_debug_shows_no_hashes() {
    let file = PasswordFile::load(&fixture("passwd_mixed")).unwrap();
    let debug = format!("{file:?}");
    assert!(debug.contains("alice") && !debug.contains('$'), "{debug}");
}

#[test]
fn malformed_password_lines_name_file_and_line() {
    let good = hash_password_pbkdf2(b"pw", b"saltsaltsalt", DEFAULT_ITERATIONS);
    let salt = "c2FsdHNhbHRzYWx0"; // 12 bytes
    let hash64 = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
    let cases: Vec<(String, &str)> = vec![
        ("no colon here".into(), "no `:`"),
        (format!(":{good}"), "empty username"),
        ("   :x".into(), "empty username"),
        ("user:plaintext".into(), "not a `$6$` or `$7$` hash"),
        ("user:".into(), "not a `$6$` or `$7$` hash"),
        (
            format!("user:$5${salt}${hash64}"),
            "unknown password hash type `$5$`",
        ),
        (
            format!("user:$2b$10${salt}${hash64}"),
            "unknown password hash type `$2b$`",
        ),
        (format!("user:$7${salt}${hash64}"), "malformed `$7$` hash"),
        (
            format!("user:$7$101${salt}${hash64}$extra"),
            "malformed `$7$` hash",
        ),
        (
            format!("user:$7$0${salt}${hash64}"),
            "invalid iteration count `0`",
        ),
        (
            format!("user:$7$-1${salt}${hash64}"),
            "invalid iteration count `-1`",
        ),
        (
            format!("user:$7$ten${salt}${hash64}"),
            "invalid iteration count `ten`",
        ),
        (
            format!("user:$6$101${salt}${hash64}"),
            "malformed `$6$` hash",
        ),
        (format!("user:$6${salt}"), "malformed `$6$` hash"),
        (
            format!("user:$6$c2FsdA==${hash64}"),
            "the salt is 4 bytes long, expected 12",
        ),
        (
            format!("user:$6${salt}$c2FsdA=="),
            "the hash is 4 bytes long, expected 64",
        ),
        (
            format!("user:$6${salt}$not*base64"),
            "invalid base64 in the hash",
        ),
        (
            format!("user:$7$101$@@@${hash64}"),
            "invalid base64 in the salt",
        ),
        (
            format!("user:{good}:extra"),
            "unexpected `:` after the password hash",
        ),
        (
            format!("{}:{good}", "u".repeat(65_536)),
            "username longer than 65535 bytes",
        ),
    ];
    for (bad, expected) in cases {
        let text = format!("# users\nok:{good}\n\n{bad}\nlater:{good}\n");
        let reason = config_reason(
            PasswordFile::parse(&text, "/etc/mqlite/passwd"),
            "password_file",
        );
        assert!(
            reason.starts_with("/etc/mqlite/passwd:4: "),
            "{bad:?}: {reason}"
        );
        assert!(reason.contains(expected), "{bad:?}: {reason}");
    }
}

#[test]
fn missing_password_file_is_a_config_error() {
    let path = fixture("no_such_passwd");
    let reason = config_reason(PasswordFile::load(&path), "password_file");
    assert!(reason.contains("no_such_passwd"), "{reason}");
}

// ---------------------------------------------------------------------------
// ACL files

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
/// refused such clients; 2.0 dropped the check).
const DIVERGENCES: &[(&str, &str)] = &[("a/b", "devices/a/b/x")];

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
fn hash_subscriber_receives_all_but_denied_topics() {
    let acl = AclFile::parse(
        "user alice\ntopic readwrite #\ntopic deny secret/#\n",
        "acl",
    )
    .unwrap();
    // mosquitto 2.0 grants the subscriptions and filters each message.
    assert!(acl.check("a", Some("alice"), "#", Subscribe));
    assert!(acl.check("a", Some("alice"), "secret/#", Subscribe));
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
