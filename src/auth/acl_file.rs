//! Access control lists in the format of mosquitto's `acl_file`: see
//! [`AclFile`].

use std::collections::HashMap;
use std::path::Path;

use crate::topic::{covers, is_valid_topic_filter, matches, overlaps};
use crate::Error;

/// The `field` of the [`Error::Config`] returned for ACL files.
const FIELD: &str = "acl_file";

/// What a client wants to do with a topic, for [`AclFile::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Receive a message published to a topic name (checked per delivered
    /// message, retained ones included).
    Read,
    /// Publish to a topic name (PUBLISH, and the will at CONNECT).
    Write,
    /// Subscribe to a topic filter. Refused only when `deny` lines refuse
    /// every topic the filter matches; otherwise allowed, as in mosquitto
    /// 2.0, and each message delivered is checked with [`Access::Read`].
    Subscribe,
}

/// What one ACL line grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    Read,
    Write,
    ReadWrite,
    Deny,
}

impl Grant {
    /// Whether this line grants `access` (`Read` or `Write`).
    fn allows(self, access: Access) -> bool {
        matches!(
            (self, access),
            (Grant::Read | Grant::ReadWrite, Access::Read)
                | (Grant::Write | Grant::ReadWrite, Access::Write)
        )
    }
}

/// One `topic` line.
#[derive(Debug, Clone)]
struct TopicRule {
    filter: String,
    grant: Grant,
}

/// One `pattern` line.
#[derive(Debug, Clone)]
struct PatternRule {
    pattern: String,
    grant: Grant,
    /// Contains `%c`.
    uses_client_id: bool,
    /// Contains `%u`.
    uses_username: bool,
}

/// A parsed ACL file: the anonymous clients' `topic` lines, each user's
/// `topic` lines, and the `pattern` lines for everyone.
///
/// Build one with [`AclFile::load`] or [`AclFile::parse`], then ask
/// [`AclFile::check`]. A broker with no ACL file allows everything; with one,
/// everything not granted is refused.
///
/// The format and the decisions mirror mosquitto 2.0's built-in ACL check
/// (`src/security_default.c`: `aclfile__parse`, `add__acl`,
/// `add__acl_pattern`, `acl__find_acls`, `mosquitto_acl_check_default`),
/// cross-checked against a running mosquitto 2.0.11 (see
/// `tests/fixtures/acl_crosscheck.py` and the table in `tests/library/auth_files.rs`).
///
/// # Format
///
/// ```text
/// # Lines before the first `user` line apply to anonymous clients only.
/// topic read $SYS/#
/// topic readwrite public/#
///
/// # Lines after `user <name>` apply to that username only.
/// user alice
/// topic readwrite #
/// topic deny secret/#
///
/// # Patterns apply to every client, wherever they appear in the file:
/// # `%c` is replaced by the client id and `%u` by the username.
/// pattern readwrite devices/%c/#
/// pattern read inbox/%u
/// ```
///
/// - `topic [read|write|readwrite|deny] <filter>` and
///   `pattern [read|write|readwrite|deny] <filter>`: the access defaults to
///   `readwrite` when there is only one word after the keyword (so
///   `topic read` grants readwrite on the topic `read`). A filter containing
///   spaces needs an explicit access. The filter may contain `+` and `#` and
///   must be a valid MQTT topic filter.
/// - `user <name>`: the rest of the line, trimmed, is the username (it may
///   contain spaces). Several sections for one user add up.
/// - Words are separated by spaces only (a tab is part of a word, as in
///   mosquitto). Lines whose first character is `#` are comments; blank
///   lines are skipped. Keywords and access words are lower case. Anything
///   else is an error naming the file and line, as mosquitto refuses to start
///   on it.
///
/// # Decisions
///
/// [`AclFile::check`] for a read or a write of a topic name:
///
/// 1. The client's own list: the `topic` lines of its `user` section, or the
///    anonymous lines if it has no username (a username without a section
///    has an empty list). A matching `deny` line refuses; otherwise a
///    matching line granting the access allows. A topic starting with `$`
///    is only matched by lines whose filter starts with `$`.
/// 2. Otherwise the patterns, if there are any: a client id or username
///    containing `+` or `#` is refused outright. Each pattern has `%c` and
///    `%u` substituted; a pattern using `%u` never applies to an anonymous
///    client. A matching `deny` pattern refuses; otherwise a matching pattern
///    granting the access allows.
/// 3. Otherwise access is refused.
///
/// So a user's own `topic` grant wins over a `deny` pattern, and `deny`
/// wins over a grant within the same list whatever their order.
///
/// Subscriptions: mosquitto 2.0's ACL file grants every SUBSCRIBE (the check
/// returns success for `MOSQ_ACL_SUBSCRIBE` with the comment "FIXME -
/// implement ACL subscription strings") and enforces the ACL on each message
/// delivered, as a read of its topic, retained messages included. The broker
/// does the same per delivered message ([`Access::Read`]): a client
/// subscribed to `#` receives everything it may read and nothing else. One
/// case differs: a SUBSCRIBE whose filter can only ever match denied topics
/// is refused (SUBACK 0x80), where mosquitto grants a subscription that
/// never delivers anything. That is the case when a `deny` line of the
/// client's own list covers the filter (every topic the filter matches, the
/// line matches: `topic deny secret/#` refuses `secret/#`, `secret/+` and
/// `secret`, not `#`), or when a `deny` pattern covers it and no line of the
/// client's own list granting read overlaps it. The client learns at once
/// that the subscription is refused, which a mosquitto user asking for a
/// topic "that must refuse subscriptions" expects of `deny`.
///
/// One deliberate difference: mosquitto 2.0 no longer refuses a client id or
/// username containing `/` (1.x did); here a pattern never *grants* access
/// through a `%c` whose client id, or a `%u` whose username, contains `/`,
/// because with client id `a/b` the pattern `devices/%c/#` would otherwise
/// grant `devices/a/b/#`, inside client `a`'s `devices/a/#`. `deny` patterns
/// still apply to such clients, and patterns not using the value still grant.
///
/// mosquitto also refuses, for every client whatever the ACL file says,
/// PUBLISH to `$SYS/...` (except `$SYS/broker/connection/+/state`, for
/// bridges) and reads and writes of `$share/...` topics; that is the broker's
/// policy, not this file's.
#[derive(Debug, Clone, Default)]
pub struct AclFile {
    anonymous: Vec<TopicRule>,
    users: HashMap<String, Vec<TopicRule>>,
    patterns: Vec<PatternRule>,
}

impl AclFile {
    /// Reads and parses the ACL file at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] with `field` `"acl_file"` if the file cannot be
    /// read, is not UTF-8, or has an invalid line; the `reason` names the
    /// file (and the line, for an invalid one).
    pub fn load(path: &Path) -> Result<AclFile, Error> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            field: FIELD.to_string(),
            reason: format!("{origin}: {e}"),
        })?;
        AclFile::parse(&text, &origin)
    }

    /// Parses the text of an ACL file; `origin` (usually the file's path) is
    /// only used in error messages.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] with `field` `"acl_file"` and a `reason` of the form
    /// `<origin>:<line>: <what is wrong>` for the first line mosquitto would
    /// refuse: an unknown keyword, a `topic` or `pattern` line without a
    /// topic, an unknown access word, an invalid topic filter, or a `user`
    /// line without a name.
    pub fn parse(text: &str, origin: &str) -> Result<AclFile, Error> {
        let mut acl = AclFile::default();
        let mut user: Option<String> = None;
        for (index, raw) in text.lines().enumerate() {
            let fail = |what: String| Error::Config {
                field: FIELD.to_string(),
                reason: format!("{origin}:{}: {what}", index + 1),
            };
            let line = raw.trim_end_matches(is_c_space);
            if line.starts_with('#') {
                continue;
            }
            // strtok(" "): leading spaces are skipped, the keyword ends at
            // the next space, the rest follows that one space.
            let line = line.trim_start_matches(' ');
            if line.is_empty() {
                continue;
            }
            let (keyword, rest) = match line.split_once(' ') {
                Some((keyword, rest)) => (keyword, rest),
                None => (line, ""),
            };
            match keyword {
                "topic" | "pattern" => {
                    let rest = rest.trim_start_matches(' ');
                    if rest.is_empty() {
                        return Err(fail(format!("missing topic after `{keyword}`")));
                    }
                    let (first, remainder) = match rest.split_once(' ') {
                        Some((first, remainder)) => (first, trim_c_space(remainder)),
                        None => (rest, ""),
                    };
                    let (grant, filter) = if remainder.is_empty() {
                        (Grant::ReadWrite, first)
                    } else {
                        let grant = match first {
                            "read" => Grant::Read,
                            "write" => Grant::Write,
                            "readwrite" => Grant::ReadWrite,
                            "deny" => Grant::Deny,
                            other => {
                                return Err(fail(format!(
                                    "invalid access `{other}` (expected `read`, `write`, \
                                     `readwrite` or `deny`; a topic containing spaces needs \
                                     an explicit access)"
                                )))
                            }
                        };
                        (grant, remainder)
                    };
                    if !is_valid_topic_filter(filter) {
                        return Err(fail(format!("invalid topic filter `{filter}`")));
                    }
                    if keyword == "pattern" {
                        acl.add_pattern(filter, grant);
                    } else {
                        let rule = TopicRule {
                            filter: filter.to_string(),
                            grant,
                        };
                        match &user {
                            Some(name) => acl.users.entry(name.clone()).or_default().push(rule),
                            None => acl.anonymous.push(rule),
                        }
                    }
                }
                "user" => {
                    let name = trim_c_space(rest);
                    if name.is_empty() {
                        return Err(fail("missing username after `user`".to_string()));
                    }
                    user = Some(name.to_string());
                }
                other => {
                    return Err(fail(format!(
                        "invalid line: unknown keyword `{other}` (expected `topic`, \
                         `pattern` or `user`)"
                    )))
                }
            }
        }
        Ok(acl)
    }

    fn add_pattern(&mut self, pattern: &str, grant: Grant) {
        let uses_client_id = pattern.contains("%c");
        let uses_username = pattern.contains("%u");
        if !uses_client_id && !uses_username {
            log::warn!("ACL pattern `{pattern}` does not contain `%c` or `%u`");
        }
        self.patterns.push(PatternRule {
            pattern: pattern.to_string(),
            grant,
            uses_client_id,
            uses_username,
        });
    }

    /// Whether the client with `client_id` and `username` (`None` for an
    /// anonymous client) may have `access` to `topic`.
    ///
    /// For [`Access::Read`] and [`Access::Write`], `topic` is a topic name,
    /// matched against the ACL's filters with the MQTT rules
    /// ([`crate::topic::matches`]), in the order given under "Decisions" in
    /// the [`AclFile`] documentation. For [`Access::Subscribe`], `topic` is
    /// a topic filter, refused only when `deny` lines refuse every topic it
    /// matches (see "Subscriptions" there).
    pub fn check(
        &self,
        client_id: &str,
        username: Option<&str>,
        topic: &str,
        access: Access,
    ) -> bool {
        if access == Access::Subscribe {
            return !self.denies_every_match(client_id, username, topic);
        }

        let own = self.own_rules(username);
        let dollar = topic.starts_with('$');
        let own_matching = || {
            own.iter()
                .filter(move |r| !dollar || r.filter.starts_with('$'))
                .filter(|r| matches(&r.filter, topic))
        };
        if own_matching().any(|r| r.grant == Grant::Deny) {
            return false;
        }
        if own_matching().any(|r| r.grant.allows(access)) {
            return true;
        }

        if self.patterns.is_empty() {
            return false;
        }
        let dangerous = |s: &str| s.contains(['+', '#']);
        if dangerous(client_id) || username.is_some_and(dangerous) {
            return false;
        }
        let pattern_matching = || {
            self.patterns
                .iter()
                .filter(|p| !(p.uses_username && username.is_none()))
                .filter(|p| matches(&substitute(&p.pattern, client_id, username), topic))
        };
        if pattern_matching().any(|p| p.grant == Grant::Deny) {
            return false;
        }
        let through_slash = |p: &PatternRule| {
            (p.uses_client_id && client_id.contains('/'))
                || (p.uses_username && username.is_some_and(|u| u.contains('/')))
        };
        pattern_matching().any(|p| p.grant.allows(access) && !through_slash(p))
    }

    /// Whether `deny` lines refuse a read of every topic `filter` matches:
    /// a `deny` line of the client's own list covering it, or a `deny`
    /// pattern covering it with no own line granting read overlapping it.
    fn denies_every_match(&self, client_id: &str, username: Option<&str>, filter: &str) -> bool {
        let own = self.own_rules(username);
        if own
            .iter()
            .any(|r| r.grant == Grant::Deny && covers(&r.filter, filter))
        {
            return true;
        }
        if own
            .iter()
            .any(|r| r.grant.allows(Access::Read) && overlaps(&r.filter, filter))
        {
            return false;
        }
        if [Some(client_id), username]
            .iter()
            .flatten()
            .any(|s| s.contains(['+', '#']))
        {
            return false;
        }
        self.patterns
            .iter()
            .filter(|p| p.grant == Grant::Deny && !(p.uses_username && username.is_none()))
            .any(|p| covers(&substitute(&p.pattern, client_id, username), filter))
    }

    /// The `topic` lines for `username`: its `user` section, or the lines
    /// for anonymous clients.
    fn own_rules(&self, username: Option<&str>) -> &[TopicRule] {
        match username {
            Some(name) => self.users.get(name).map(Vec::as_slice).unwrap_or(&[]),
            None => &self.anonymous,
        }
    }
}

/// Replaces `%c` by the client id and `%u` by the username, scanning left to
/// right as mosquitto does (`%u` stays as it is without a username; a `%`
/// followed by anything else is kept).
fn substitute(pattern: &str, client_id: &str, username: Option<&str>) -> String {
    let mut out = String::with_capacity(pattern.len() + client_id.len());
    let mut rest = pattern;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match (after.as_bytes().first(), username) {
            (Some(b'c'), _) => {
                out.push_str(client_id);
                rest = &after[1..];
            }
            (Some(b'u'), Some(name)) => {
                out.push_str(name);
                rest = &after[1..];
            }
            _ => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What C's `isspace` calls whitespace.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Trims C whitespace from both ends, as mosquitto's `misc__trimblanks`.
fn trim_c_space(s: &str) -> &str {
    s.trim_matches(is_c_space)
}

#[cfg(test)]
mod tests {
    use super::substitute;

    #[test]
    fn substitution_scans_left_to_right() {
        assert_eq!(substitute("a/%c/%u", "id", Some("me")), "a/id/me");
        assert_eq!(substitute("a/%u", "id", None), "a/%u");
        assert_eq!(substitute("%%c", "id", None), "%id");
        assert_eq!(substitute("x%cy%", "id", None), "xidy%");
        assert_eq!(substitute("%c%c", "é", None), "éé");
    }
}
