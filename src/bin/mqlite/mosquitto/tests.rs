//! Unit tests of the mosquitto.conf reader: each option's mapping, the
//! skipped and refused ones, errors with file and line. Listeners and
//! `include_dir` are in `tests_listeners.rs`, bridges in `tests_bridges.rs`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use log::LevelFilter;
use mqlite::QoS;

use super::names::{REFUSED, SKIPPED};
use crate::logging::LogDest;
use crate::settings::FileSettings;

/// A directory of its own for a test, removed on drop.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new() -> Dir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "mqlite-mosq-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The settings of `text` as /etc/m.conf.
pub fn parse(text: &str) -> FileSettings {
    super::from_text(Path::new("/etc/m.conf"), text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// The error for `text` as /etc/m.conf.
pub fn refused(text: &str) -> String {
    match super::from_text(Path::new("/etc/m.conf"), text) {
        Err(error) => error.to_string(),
        Ok(settings) => panic!("{text:?} accepted: {settings:?}"),
    }
}

/// Asserts that `text` is refused at `line` naming `option`, saying `says`.
pub fn refused_at(text: &str, line: usize, option: &str, says: &str) {
    let error = refused(text);
    let at = format!("config file /etc/m.conf: line {line}: `{option}`: ");
    assert!(error.starts_with(&at), "{text:?}: {error}");
    assert!(error.contains(says), "{text:?}: {error}");
}

/// A listener so the file is not in local-only mode.
const L: &str = "listener 1883 127.0.0.1\n";

#[test]
fn a_file_with_nothing_set_is_mosquittos_local_only_defaults() {
    let settings = parse("# everything commented out\n#listener 1883\n\n#port 1883\n");
    let config = &settings.config;
    assert_eq!(config.listeners, vec!["127.0.0.1:1883".parse().unwrap()]);
    assert!(config.custom_listeners.is_empty());
    assert_eq!(config.allow_anonymous, Some(true));
    assert_eq!(config.persistence, None);
    assert_eq!(config.auto_id_prefix, "auto-");
    assert_eq!(settings.connection_messages, Some(true));
    assert!(settings.warnings.is_empty(), "{:?}", settings.warnings);
    // With a listener, anonymous clients are refused unless allowed.
    assert_eq!(parse(L).config.allow_anonymous, Some(false));
    let allowed = parse(&format!("{L}allow_anonymous true\n"));
    assert_eq!(allowed.config.allow_anonymous, Some(true));
    let explicit = parse("allow_anonymous false\npassword_file /pw\n");
    assert_eq!(explicit.config.allow_anonymous, Some(false));
    assert_eq!(explicit.config.password_file, Some(PathBuf::from("/pw")));
}

#[test]
fn limits_and_protocol_options() {
    let c = parse(&format!(
        "{L}max_inflight_messages 10\nmax_inflight_bytes 5000\nmax_queued_messages 50\n\
         max_queued_bytes 60000\nmax_packet_size 1000\nmax_keepalive 120\nsys_interval 30\n\
         retain_available false\nmax_qos 1\nmax_topic_alias 3\nallow_zero_length_clientid false\n\
         auto_id_prefix gw-\n"
    ))
    .config;
    assert_eq!(c.max_inflight, 10);
    assert_eq!(c.max_inflight_bytes, 5000);
    assert_eq!(c.max_queued_messages, 50);
    assert_eq!(c.max_queued_bytes, 60000);
    assert_eq!(c.max_packet_size, 1000);
    assert_eq!(c.max_keepalive, Some(120));
    assert_eq!(c.sys_interval, Some(Duration::from_secs(30)));
    assert!(!c.retain_available);
    assert_eq!(c.max_qos, QoS::AtLeastOnce);
    assert_eq!(c.max_topic_alias, 3);
    assert!(!c.allow_zero_length_client_id);
    assert_eq!(c.auto_id_prefix, "gw-");

    // mosquitto's "no limit" values.
    let c = parse(&format!(
        "{L}max_inflight_messages 0\nmax_inflight_bytes -1\nmax_queued_messages 0\n\
         max_queued_bytes -1\nmax_keepalive 0\nsys_interval 0\nmaximum_qos 0\n"
    ))
    .config;
    assert_eq!(c.max_inflight, u16::MAX);
    assert_eq!(c.max_inflight_bytes, 0);
    assert_eq!(c.max_queued_messages, usize::MAX);
    assert_eq!(c.max_queued_bytes, usize::MAX);
    assert_eq!(c.max_keepalive, None);
    assert_eq!(c.sys_interval, None);
    assert_eq!(c.max_qos, QoS::AtMostOnce);
    assert_eq!(
        parse("max_inflight_messages 65535\n").config.max_inflight,
        u16::MAX
    );

    let big = parse("max_packet_size 2000000000\n");
    assert_eq!(big.config.max_packet_size, 268_435_460);
    assert!(
        big.warnings[0].contains("line 1: `max_packet_size`"),
        "{:?}",
        big.warnings
    );

    refused_at(
        "\nmax_inflight_messages 70000\n",
        2,
        "max_inflight_messages",
        "more than 65535",
    );
    refused_at("max_packet_size 19\n", 1, "max_packet_size", "less than 20");
    refused_at(
        "max_keepalive 65536\n",
        1,
        "max_keepalive",
        "not within 0..65535",
    );
    refused_at("sys_interval -1\n", 1, "sys_interval", "not within");
    refused_at("max_qos 3\n", 1, "max_qos", "not within 0..2");
    refused_at(
        "max_topic_alias x\n",
        1,
        "max_topic_alias",
        "not a whole number",
    );
    refused_at(
        "retain_available yes\n",
        1,
        "retain_available",
        "not true or false",
    );
    refused_at(
        "max_queued_messages\n",
        1,
        "max_queued_messages",
        "needs a value",
    );
}

#[test]
fn persistent_client_expiration_takes_mosquittos_durations() {
    for (text, seconds) in [
        ("1h", 3600),
        ("2d", 2 * 86_400),
        ("3w", 21 * 86_400),
        ("1m", 30 * 86_400),
        ("1y", 365 * 86_400),
    ] {
        let c = parse(&format!("persistent_client_expiration {text}\n")).config;
        assert_eq!(
            c.session_expiry,
            Some(Duration::from_secs(seconds)),
            "{text}"
        );
    }
    for bad in ["5", "0d", "xh", "h", "-1d"] {
        refused_at(
            &format!("persistent_client_expiration {bad}\n"),
            1,
            "persistent_client_expiration",
            "not a duration like 1h",
        );
    }
}

#[test]
fn persistence_is_a_sqlite_file_at_location_and_file() {
    assert_eq!(parse("persistence false\n").config.persistence, None);
    assert_eq!(
        parse("persistence_location /var/lib/m/\n")
            .config
            .persistence,
        None,
        "off unless persistence true"
    );
    assert_eq!(
        parse("persistence true\n").config.persistence,
        Some(PathBuf::from("mosquitto.db"))
    );
    assert_eq!(
        parse("persistence true\npersistence_location /var/lib/mosquitto/\n")
            .config
            .persistence,
        Some(PathBuf::from("/var/lib/mosquitto/mosquitto.db"))
    );
    assert_eq!(
        parse("retained_persistence 1\npersistence_file m.db\npersistence_location /d\n")
            .config
            .persistence,
        Some(PathBuf::from("/d/m.db"))
    );
    refused_at(
        "persistence_file a.db\npersistence_file b.db\n",
        2,
        "persistence_file",
        "given twice for the same listener or broker (first at /etc/m.conf:1)",
    );
}

#[test]
fn logging_options() {
    let s = parse(
        "log_dest stdout\nlog_dest file /var/log/m.log\nlog_dest syslog\nlog_dest stdout\n\
         log_type error\nlog_type warning\nlog_timestamp false\n\
         log_timestamp_format %Y-%m-%dT%H:%M:%S\nlog_facility 5\nconnection_messages false\n",
    );
    assert_eq!(
        s.log.dests,
        Some(vec![
            LogDest::Stdout,
            LogDest::File("/var/log/m.log".into()),
            LogDest::Syslog
        ])
    );
    assert_eq!(s.log.level, Some(LevelFilter::Warn));
    assert!(!s.log.timestamp);
    assert_eq!(s.log.timestamp_format.as_deref(), Some("%Y-%m-%dT%H:%M:%S"));
    assert_eq!(s.log.syslog_facility, Some(5));
    assert_eq!(s.connection_messages, Some(false));
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);

    let s = parse("log_dest stderr\nlog_dest none\nlog_type all\n");
    assert_eq!(s.log.dests, Some(vec![]));
    assert_eq!(s.log.level, Some(LevelFilter::Debug));
    assert!(s.log.subscriptions && s.log.unsubscriptions);
    let s = parse("log_type none\nlog_type subscribe\n");
    assert_eq!(s.log.level, Some(LevelFilter::Info));
    assert!(s.log.subscriptions && !s.log.unsubscriptions);
    assert_eq!(parse("log_type none\n").log.level, Some(LevelFilter::Off));
    assert_eq!(
        parse("log_type information\n").log.level,
        Some(LevelFilter::Info)
    );
    assert_eq!(
        parse("log_type debug\n").log.level,
        Some(LevelFilter::Debug)
    );
    assert_eq!(parse("log_timestamp true\n").log.dests, None);

    let s = parse("log_dest topic\nlog_dest dlt\n");
    assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
    assert!(
        s.warnings[0].contains("line 1: `log_dest`: skipped"),
        "{:?}",
        s.warnings
    );
    refused_at(
        "log_dest printer\n",
        1,
        "log_dest",
        "`printer` is not none, stderr",
    );
    refused_at("log_dest file\n", 1, "log_dest", "`file` needs a path");
    refused_at(
        "log_dest file /a\nlog_dest file /b\n",
        2,
        "log_dest",
        "given twice",
    );
    refused_at(
        "log_type chatty\n",
        1,
        "log_type",
        "`chatty` is not a log type",
    );
    refused_at("log_facility 8\n", 1, "log_facility", "not within 0..7");
}

#[test]
fn pid_file_and_user() {
    let s = parse("pid_file /run/mosquitto/mosquitto.pid\nuser mosquitto\n");
    assert_eq!(
        s.pid_file,
        Some(PathBuf::from("/run/mosquitto/mosquitto.pid"))
    );
    assert_eq!(s.warnings.len(), 1);
    assert!(
        s.warnings[0].contains("line 2: `user`: skipped"),
        "{:?}",
        s.warnings
    );
    refused_at("user\n", 1, "user", "needs a value");
}

#[test]
fn skipped_options_are_named_in_a_warning() {
    for (option, why) in SKIPPED {
        let s = parse(&format!("# c\n{option} 1\n"));
        assert_eq!(s.warnings.len(), 1, "{option}: {:?}", s.warnings);
        let warning = &s.warnings[0];
        assert!(
            warning.starts_with(&format!(
                "config file /etc/m.conf: line 2: `{option}`: skipped"
            )),
            "{warning}"
        );
        if *option != "user" {
            assert!(warning.contains(why), "{warning}");
        }
    }
    // Options read with the one value mqlite has.
    let s = parse(
        "check_retain_source false\nqueue_qos0_messages false\nupgrade_outgoing_qos false\n\
         use_username_as_clientid false\nmemory_limit 0\nmessage_size_limit 0\ntls_keyform pem\n",
    );
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let s = parse("check_retain_source true\n");
    assert!(
        s.warnings[0].contains("`check_retain_source`: skipped"),
        "{:?}",
        s.warnings
    );
}

#[test]
fn refused_options_name_file_line_and_option() {
    for (option, why) in REFUSED {
        refused_at(&format!("\n\n{option} x\n"), 3, option, why);
    }
    refused_at("auth_opt_db x\n", 1, "auth_opt_db", "no plugins");
    refused_at("plugin_opt_x y\n", 1, "plugin_opt_x", "no plugins");
    refused_at(
        "port 1883\nfrobnicate 1\n",
        2,
        "frobnicate",
        "unknown option",
    );
    for option in [
        "queue_qos0_messages",
        "upgrade_outgoing_qos",
        "use_username_as_clientid",
    ] {
        refused_at(&format!("{option} true\n"), 1, option, "only `false`");
    }
    refused_at("memory_limit 100000\n", 1, "memory_limit", "only 0");
    refused_at(
        "message_size_limit 100\n",
        1,
        "message_size_limit",
        "max_packet_size",
    );
    refused_at("tls_keyform engine\n", 1, "tls_keyform", "OpenSSL engines");
}

#[test]
fn values_read_as_mosquitto_reads_them() {
    // A comment after a one-word value is fine; other words are ignored
    // with a warning, as mosquitto ignores them.
    let s = parse("sys_interval 20 # seconds\nmax_keepalive 30 60\n");
    assert_eq!(s.config.sys_interval, Some(Duration::from_secs(20)));
    assert_eq!(s.config.max_keepalive, Some(30));
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("line 2: `max_keepalive`: `60` after the value ignored"));
    // A path is the rest of the line, blanks inside included.
    let s = parse("password_file /etc/my files/pw\r\n");
    assert_eq!(
        s.config.password_file,
        Some(PathBuf::from("/etc/my files/pw"))
    );
    refused_at("acl_file /a\nacl_file /b\n", 2, "acl_file", "given twice");
    refused_at(
        "auto_id_prefix a\nauto_id_prefix b\n",
        2,
        "auto_id_prefix",
        "given twice",
    );
}

#[test]
fn per_listener_settings_must_come_first() {
    refused_at(
        "allow_anonymous true\nper_listener_settings true\n",
        2,
        "per_listener_settings",
        "must come before every security option (the first is at /etc/m.conf:1)",
    );
    // false may come anywhere.
    parse("allow_anonymous true\nper_listener_settings false\n");
}
