//! mosquitto-compatible password files (`mqlite::auth::PasswordFile`).
//!
//! The password fixtures in `tests/fixtures/passwd_*` are real
//! `mosquitto_passwd` 2.0.11 output (and one `$6$` line computed by hand).
//! See `tests/fixtures/README.md`. ACL files are in `auth_files.rs`.

use crate::support;

use std::num::NonZeroU32;

use base64::Engine as _;
use mqlite::auth::{hash_password_pbkdf2, PasswordFile, DEFAULT_ITERATIONS};
use support::auth::{config_reason, fixture};

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
